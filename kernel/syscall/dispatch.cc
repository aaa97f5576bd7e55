// System call dispatch: one entry per abi::Syscall. Every argument is
// validated here or in the object it names; nothing a user passes can
// fault the kernel (user memory goes through user::copy_*).
#include "abi/syscall.h"
#include "arch/x86_64/clock.h"
#include "arch/x86_64/interrupt_frame.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/user_copy.h"
#include "cap/process.h"
#include "console/log.h"
#include "proc/lifecycle.h"
#include "sched/scheduler.h"

namespace {

i64 err(Status s) { return abi::encode_error(static_cast<i32>(s)); }

i64 sys_log_write(u64 text, u64 len) {
    char buf[256];
    if (len > sizeof buf) len = sizeof buf;
    if (auto r = user::copy_from(buf, text, len); !r.ok()) return err(r.status());
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
    kobj::Process* p = sched::current()->process;
    LOG_INFO("[%s:%u] %.*s", p->name(), p->pid(), static_cast<int>(len), buf);
    return 0;
}

i64 sys_sleep(u64 ns) {
    if (ns == 0) return 0;
    u64 now = clock::monotonic_ns();
    u64 deadline = ns > ~u64{0} - now ? ~u64{0} : now + ns;
    (void)sched::block_current(deadline);
    return 0;
}

}  // namespace

extern "C" void syscall_dispatch(InterruptFrame* frame) {
    percpu::current_cpu()->syscalls++;
    u64 a0 = frame->rdi, a1 = frame->rsi;
    i64 result;
    switch (static_cast<abi::Syscall>(frame->rax)) {
        case abi::Syscall::LogWrite: result = sys_log_write(a0, a1); break;
        case abi::Syscall::ProcessExit: proc::exit_current(static_cast<i64>(a0));
        case abi::Syscall::Yield:
            sched::yield();
            result = 0;
            break;
        case abi::Syscall::ClockGet: result = static_cast<i64>(clock::monotonic_ns()); break;
        case abi::Syscall::Sleep: result = sys_sleep(a0); break;
        default: result = err(Status::Unsupported); break;
    }
    frame->rax = static_cast<u64>(result);
    sched::preempt_point();
}
