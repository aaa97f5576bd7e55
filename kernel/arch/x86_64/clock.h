// Monotonic nanosecond clock from the TSC, calibrated against the PIT.
#pragma once

#include "util/types.h"

namespace clock {

// Measures the TSC rate over ~50 ms of PIT channel 2. Until then
// monotonic_ns() returns 0.
void calibrate();
u64 monotonic_ns();
u64 tsc_hz();
// Busy-waits; for early boot and device timeouts before threads exist.
void delay_ns(u64 ns);

// Runs `fn` while PIT channel 2 counts `ms` milliseconds (one-shot); used
// to calibrate other timers (LAPIC) against the same reference.
void pit_window(u32 ms, void (*begin)(), void (*end)());

}  // namespace clock
