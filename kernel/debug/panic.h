// Kernel panic: a report on the serial console, then QEMU exits with a
// failing status through isa-debug-exit (so no test can pass through a
// panic), or the CPU halts on real hardware.
#pragma once

#include "arch/x86_64/interrupt_frame.h"

// Writing v to the isa-debug-exit port makes QEMU exit with (v << 1) | 1.
constexpr u16 kDebugExitPort = 0xf4;
constexpr u32 kDebugExitPanic = 1;  // QEMU exit status 3

[[noreturn]] __attribute__((format(printf, 1, 2))) void panic(const char* fmt, ...);
[[noreturn]] void panic_from_exception(const InterruptFrame& frame);

#define KASSERT(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__); \
    } while (0)
