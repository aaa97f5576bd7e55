// The calling thread (yield, sleep, the clock, its end) and the threads of
// its process.
#include "arch/x86_64/user_copy.h"
#include "proc/lifecycle.h"
#include "syscall/common.h"

namespace sys {

Result<u64> yield() {
    sched::yield();
    return 0;
}

Result<u64> clock_get() { return clock::monotonic_ns(); }

Result<u64> syscall_count() { return self()->syscalls(); }

Result<u64> sleep(u64 ns) {
    if (ns) (void)sched::block_current(deadline_from_timeout(ns));
    return 0;
}

Result<u64> thread_create(u64 entry, u64 stack_top, u64 arg, u64 priority) {
    // The entry and stack must be user addresses; a bad one faults the new
    // thread (and so its process), never the kernel.
    if (!user::range_ok(entry, 1) || !user::range_ok(stack_top - 16, 16) || (stack_top & 15))
        return Status::OutOfBounds;
    if (priority >= object::Thread::kPriorities) return Status::InvalidArgument;
    auto t = TRY(self()->spawn_thread(entry, stack_top, arg, static_cast<u8>(priority)));
    // The caller gets a handle to wait for the thread's end (kSignalDead).
    return TRY(kcap::install(self(), object::RefPtr<object::Thread>::share(t)));
}

Result<u64> thread_exit() {
    object::Process* p = self();
    if (p->thread_finished(sched::current())) proc::exit_current(0);
    sched::switch_away();
    __builtin_unreachable();
}

}  // namespace sys
