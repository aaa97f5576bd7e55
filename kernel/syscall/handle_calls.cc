// Handles: close, duplicate with fewer rights, revoke; and the Log.
#include "arch/x86_64/user_copy.h"
#include "console/log.h"
#include "object/log.h"
#include "syscall/common.h"

namespace sys {

Result<u64> log_write(u64 h, u64 text, u64 len) {
    auto log = TRY(kcap::lookup<object::Log>(self(), handle_arg(h), cap::kRightWrite));
    char buf[256];
    if (len > sizeof buf) len = sizeof buf;
    TRY(user::copy_from(buf, text, len));
    // The serial port is polled by a kernel that is not preemptible: every
    // line is CPU time taken from everyone, so a process gets a generous
    // but bounded share (a burst, then a steady rate); what is over it is
    // refused, and counted in the next line that is logged.
    object::Process* p = self();
    if (!p->log_budget().take(clock::monotonic_ns())) {
        p->log_lines_dropped++;
        return Status::QuotaExceeded;
    }
    if (p->log_lines_dropped) {
        LOG_INFO("[%s:%u] (%llu lines not logged: over the log rate limit)", p->name(), p->pid(),
                 static_cast<unsigned long long>(p->log_lines_dropped));
        p->log_lines_dropped = 0;
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
    LOG_INFO("[%s:%u] %.*s", p->name(), p->pid(), static_cast<int>(len), buf);
    log->lines_written++;
    return 0;
}

Result<u64> handle_close(u64 h) {
    TRY(self()->caps().close(cap::Handle::from_raw(handle_arg(h))));
    return 0;
}

Result<u64> handle_duplicate(u64 h, u64 rights) {
    if (rights > 0xffffffffu) return Status::InvalidArgument;
    auto r = TRY(self()->caps().duplicate(cap::Handle::from_raw(handle_arg(h)), static_cast<cap::Rights>(rights)));
    return r.raw();
}

Result<u64> handle_revoke(u64 h) { return TRY(self()->caps().revoke(cap::Handle::from_raw(handle_arg(h)))); }

}  // namespace sys
