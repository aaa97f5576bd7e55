// The serial console as a capability.
#include "arch/x86_64/user_copy.h"
#include "cap/console.h"
#include "syscall/common.h"

namespace sys {

i64 console_read(u64 h, u64 out, u64 len, u64 timeout) {
    auto c = kcap::lookup<kobj::Console>(self(), handle_arg(h), cap::kRightRead);
    if (!c.ok()) return err(c.status());
    if (len == 0) return err(Status::InvalidArgument);
    if (!user::range_ok(out, len)) return err(Status::OutOfBounds);
    u8 buf[256];
    if (len > sizeof buf) len = sizeof buf;
    auto n = c.value()->read(buf, len, deadline_from_timeout(timeout));  // holds a ref while blocked
    if (!n.ok()) return err(n.status());
    if (auto r = user::copy_to(out, buf, n.value()); !r.ok()) return err(r.status());
    return static_cast<i64>(n.value());
}

i64 console_write(u64 h, u64 text, u64 len) {
    auto c = kcap::lookup<kobj::Console>(self(), handle_arg(h), cap::kRightWrite);
    if (!c.ok()) return err(c.status());
    char buf[256];
    for (u64 done = 0; done < len;) {
        usize part = len - done < sizeof buf ? len - done : sizeof buf;
        if (auto r = user::copy_from(buf, text + done, part); !r.ok()) return err(r.status());
        c.value()->write(buf, part);
        done += part;
    }
    return 0;
}

}  // namespace sys
