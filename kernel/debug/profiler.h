// A sampling profiler for finding where a benchmark's time goes under TCG,
// where no hardware counters exist: kernel command line `profile=HZ`
// (100..10000) runs the LAPIC timer at HZ instead of 100 and counts, on
// each tick, the interrupted instruction and the process it belongs to
// (idle counted as pid 0). Each time a process exits, the counts are
// printed as "profile: ..." lines (the busiest first) and start over;
// bench/profile.py turns them into functions with the build's ELF files.
//
// Idle periods are summed by what ended them (idle_period) and printed too.
//
// The kernel runs with interrupts off (it is not preemptible), so a tick
// that comes during a system call or an interrupt handler is taken where
// interrupts come back on: at the instruction after the caller's
// `syscall` (its system call stub: kernel time) or in the idle loop.
#pragma once

#include "arch/x86_64/interrupt_frame.h"
#include "util/types.h"

namespace profiler {

// Reads `profile=HZ`; the timer rate to use (100 without it).
u32 init_from_cmdline();
bool enabled();
// From the timer interrupt: one sample of the interrupted context.
void sample(const InterruptFrame& f);
// From the idle loop: an idle period of idle_ns ended, `woken` (a process
// name) to run next, `vector` the interrupt taken last, caught while
// polling or after a halt. Summed per (woken, vector): what the CPU waited
// for, and how long.
void idle_period(u64 idle_ns, const char* woken, u32 vector, bool polled);
// Prints the counts gathered since the last dump and starts over.
void dump(const char* why);

}  // namespace profiler
