// Preemptive priority scheduler, one CPU. 32 priorities, round-robin
// within a priority, a time slice of one timer tick (10 ms).
//
// Concurrency model: the kernel is not preemptible. Interrupts are off in
// kernel mode except in the idle loop, so kernel code runs to completion
// or until it blocks; user mode is preempted by the timer. With SMP this
// becomes a per-CPU run queue under a per-CPU lock (DESIGN §7).
#pragma once

#include "object/thread.h"

namespace sched {

void init(object::Thread* idle);
object::Thread* current();

// Thread becomes runnable (New/Blocked -> Ready).
void make_ready(object::Thread* t);
// Blocks the calling thread until wake() or until monotonic time reaches
// deadline_ns (0 = no deadline). Returns the wake status (Ok or Timeout).
// `cancel` (with ctx) is called if the thread is retired while blocked, so
// the object it waits on forgets it.
Status block_current(u64 deadline_ns, void (*cancel)(object::Thread*, void*) = nullptr, void* ctx = nullptr);
// Wakes a blocked thread with `why`; no effect on other states.
void wake(object::Thread* t, Status why);
// Removes a thread from every scheduler queue and marks it Dead. If it is
// the current thread the caller must follow with switch_away().
void retire(object::Thread* t);
// Gives up the CPU to an equal or higher priority thread, if any.
void yield();
// The current thread is Dead or Blocked: run something else. Never returns
// for a Dead thread.
void switch_away();
// Timer interrupt: wakes expired sleepers, rotates the time slice.
void tick();
// Called on the way back to user mode: switches if a higher priority
// thread became ready.
void preempt_point();
// The boot thread becomes the idle thread and never returns. `when_idle`
// runs each time nothing is runnable, before the CPU halts.
[[noreturn]] void run_idle(void (*when_idle)());

u64 context_switches();

}  // namespace sched
