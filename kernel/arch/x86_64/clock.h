// Monotonic nanosecond clock from the TSC, calibrated against the PIT.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace clock {

// Measures the TSC rate over ~50 ms of PIT channel 2. Until then
// monotonic_ns() returns 0.
void calibrate();
u64 monotonic_ns();
u64 tsc_hz();
// The TSC value monotonic_ns() counts from (its 0).
u64 tsc_base();
// Busy-waits; for early boot and device timeouts before threads exist.
void delay_ns(u64 ns);

// Polls `done()` every microsecond until it holds (returns the ns waited)
// or `limit_ns` passes (Timeout): device handshakes in the
// non-preemptible kernel (controller ready, reset confirmed).
template <typename Done>
Result<u64> spin_until(u64 limit_ns, Done done) {
    u64 start = monotonic_ns();
    while (!done()) {
        if (monotonic_ns() - start > limit_ns) return Status::Timeout;
        delay_ns(1000);
    }
    return monotonic_ns() - start;
}

// Runs `fn` while PIT channel 2 counts `ms` milliseconds (one-shot); used
// to calibrate other timers (LAPIC) against the same reference.
void pit_window(u32 ms, void (*begin)(), void (*end)());

}  // namespace clock
