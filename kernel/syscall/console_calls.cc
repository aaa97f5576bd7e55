// The serial console as a capability.
#include "arch/x86_64/user_copy.h"
#include "object/console.h"
#include "syscall/common.h"

namespace sys {

Result<u64> console_read(u64 h, u64 out, u64 len, u64 timeout) {
    auto c = TRY(kcap::lookup<object::Console>(self(), handle_arg(h), cap::kRightRead));
    if (len == 0) return Status::InvalidArgument;
    if (!user::range_ok(out, len)) return Status::OutOfBounds;
    u8 buf[256];
    if (len > sizeof buf) len = sizeof buf;
    auto n = TRY(c->read(buf, len, deadline_from_timeout(timeout)));  // holds a ref while blocked
    TRY(user::copy_to(out, buf, n));
    return n;
}

Result<u64> console_write(u64 h, u64 text, u64 len) {
    auto c = TRY(kcap::lookup<object::Console>(self(), handle_arg(h), cap::kRightWrite));
    char buf[256];
    for (u64 done = 0; done < len;) {
        usize part = len - done < sizeof buf ? len - done : sizeof buf;
        TRY(user::copy_from(buf, text + done, part));
        c->write(buf, part);
        done += part;
    }
    return 0;
}

}  // namespace sys
