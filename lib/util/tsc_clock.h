// The monotonic clock's arithmetic: TSC ticks since the calibration base to
// nanoseconds at `hz` ticks per second. One definition for the kernel's
// ClockGet and for user programs, which read the same clock without a
// system call (rt::clock_ns, from the StartupBlock's tsc_hz/tsc_base): the
// two must agree to the nanosecond, because user deadlines are compared
// with the kernel's.
#pragma once

#include "util/types.h"

namespace util {

// ticks * 1e9 / hz without overflowing for centuries at GHz rates; 0 when
// uncalibrated (hz == 0).
constexpr u64 tsc_to_ns(u64 ticks, u64 hz) {
    if (!hz) return 0;
    return (ticks / hz) * 1000000000ull + ((ticks % hz) * 1000000000ull) / hz;
}

}  // namespace util
