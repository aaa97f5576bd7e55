// preempt: two threads of one process. A low-priority thread spins without
// ever entering the kernel; the main thread, at a higher priority, sleeps
// 10 ms five times. Each time it must be woken — the timer preempts the
// spinner; without preemption it would never wake at all, so the bound (one
// second) only has to absorb a busy host — and the spinner must still make
// progress between wakeups (it is not starved while the main thread sleeps).
#include "rt/log.h"
#include "rt/sys.h"
#include "rt/thread.h"

namespace {

alignas(16) u8 g_spinner_stack[16384];
alignas(16) u8 g_short_stack[16384];
volatile u64 g_spins;
volatile u64 g_short_result;

void spin(u64) {
    for (;;) g_spins = g_spins + 1;
}

void short_lived(u64 arg) { g_short_result = arg * 3; }

}  // namespace

int main(u64) {
    auto spinner = rt::thread_create(spin, 0, g_spinner_stack, sizeof g_spinner_stack, 4);
    if (!spinner.ok()) {
        rt::log("preempt: FAILED thread_create: %s", status_name(spinner.status()));
        return 1;
    }
    // Join a short-lived thread through a WaitSet.
    auto short_thread = rt::thread_create(short_lived, 14, g_short_stack, sizeof g_short_stack, 20);
    auto ws = rt::waitset_create();
    if (!short_thread.ok() || !ws.ok() ||
        !rt::waitset_add(ws.value().get(), short_thread.value().get(), abi::kSignalDead, 7).ok()) {
        rt::log("preempt: FAILED to set up the join");
        return 1;
    }
    abi::WaitEvent ev{};
    auto joined = rt::waitset_wait(ws.value().get(), &ev, 1, 1'000'000'000ull);
    rt::log("preempt: joined a thread: %s, key %llu, result %llu", joined.ok() ? "ok" : status_name(joined.status()),
            static_cast<unsigned long long>(ev.key), static_cast<unsigned long long>(g_short_result));
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
    rt::log("preempt: spinner spun %s; main thread woke at most %llu us late",
            spinner_progressed ? "during every sleep" : "NOT always", static_cast<unsigned long long>(worst_late_us));
    // Starvation would mean never waking at all; the bound only has to
    // tolerate a busy shared host descheduling the emulator now and then.
    rt::log("preempt: %s", worst_late_us < 1000000 ? "woken on time despite the spinner" : "LATE wakeups");
    return 0;  // exiting ends the spinner too
}
