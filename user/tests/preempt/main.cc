// preempt: two threads of one process. A low-priority thread spins without
// ever entering the kernel; the main thread, at a higher priority, sleeps
// 10 ms five times. Each time it must be woken promptly (the timer preempts
// the spinner), and the spinner must still make progress between wakeups
// (it is not starved while the main thread sleeps).
#include "rt/log.h"
#include "rt/sys.h"
#include "rt/thread.h"

namespace {

alignas(16) u8 g_spinner_stack[16384];
volatile u64 g_spins;

void spin(u64) {
    for (;;) g_spins = g_spins + 1;
}

}  // namespace

int main(u64) {
    auto tid = rt::thread_create(spin, 0, g_spinner_stack, sizeof g_spinner_stack, 4);
    if (!tid.ok()) {
        rt::log("preempt: FAILED thread_create: %s", status_name(tid.status()));
        return 1;
    }
    rt::sleep_ns(5'000'000);  // let the spinner start
    u64 worst_late_us = 0;
    bool spinner_progressed = true;
    for (int round = 0; round < 5; round++) {
        u64 spins_before = g_spins;
        u64 t0 = rt::clock_ns();
        rt::sleep_ns(10'000'000);
        u64 late_us = (rt::clock_ns() - t0 - 10'000'000) / 1000;
        if (late_us > worst_late_us) worst_late_us = late_us;
        if (g_spins == spins_before) spinner_progressed = false;
    }
    rt::log("preempt: thread %llu spun %s; main thread woke at most %llu us late",
            static_cast<unsigned long long>(tid.value()), spinner_progressed ? "during every sleep" : "NOT always",
            static_cast<unsigned long long>(worst_late_us));
    rt::log("preempt: %s", worst_late_us < 50000 ? "woken on time despite the spinner" : "LATE wakeups");
    return 0;  // exiting ends the spinner too
}
