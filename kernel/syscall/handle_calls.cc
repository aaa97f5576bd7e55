// Handles: close, duplicate with fewer rights, revoke; and the Log.
#include "arch/x86_64/user_copy.h"
#include "cap/log.h"
#include "console/log.h"
#include "syscall/common.h"

namespace sys {

i64 log_write(u64 h, u64 text, u64 len) {
    auto log = kcap::lookup<kobj::Log>(self(), handle_arg(h), cap::kRightWrite);
    if (!log.ok()) return err(log.status());
    char buf[256];
    if (len > sizeof buf) len = sizeof buf;
    if (auto r = user::copy_from(buf, text, len); !r.ok()) return err(r.status());
    // The serial port is polled by a kernel that is not preemptible: every
    // line is CPU time taken from everyone, so a process gets a generous
    // but bounded share (a burst, then a steady rate); what is over it is
    // refused, and counted in the next line that is logged.
    kobj::Process* p = self();
    if (!p->log_budget().take(clock::monotonic_ns())) {
        p->log_lines_dropped++;
        return err(Status::QuotaExceeded);
    }
    if (p->log_lines_dropped) {
        LOG_INFO("[%s:%u] (%llu lines not logged: over the log rate limit)", p->name(), p->pid(),
                 static_cast<unsigned long long>(p->log_lines_dropped));
        p->log_lines_dropped = 0;
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
    LOG_INFO("[%s:%u] %.*s", p->name(), p->pid(), static_cast<int>(len), buf);
    log.value()->lines_written++;
    return 0;
}

i64 handle_close(u64 h) { return ok_or(self()->caps().close(cap::Handle::from_raw(handle_arg(h))), 0); }

i64 handle_duplicate(u64 h, u64 rights) {
    if (rights > 0xffffffffu) return err(Status::InvalidArgument);
    auto r = self()->caps().duplicate(cap::Handle::from_raw(handle_arg(h)), static_cast<cap::Rights>(rights));
    return r.ok() ? r.value().raw() : err(r.status());
}

i64 handle_revoke(u64 h) {
    auto r = self()->caps().revoke(cap::Handle::from_raw(handle_arg(h)));
    return r.ok() ? r.value() : err(r.status());
}

}  // namespace sys
