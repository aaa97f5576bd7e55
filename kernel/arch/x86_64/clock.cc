#include "arch/x86_64/clock.h"

#include "arch/x86_64/cpu.h"
#include "util/tsc_clock.h"

namespace clock {
namespace {

constexpr u32 kPitHz = 1193182;
u64 g_tsc_hz;
u64 g_tsc_base;

// PIT channel 2, mode 0 (interrupt on terminal count), gate via port 0x61
// (8254 data sheet; the classic calibration loop).
void pit_oneshot_wait(u32 ms) {
    u32 count = kPitHz * ms / 1000;
    u8 gate = cpu::inb(0x61);
    cpu::outb(0x61, (gate & ~0x02) | 0x01);  // speaker off, gate on
    cpu::outb(0x43, 0xb0);                   // channel 2, lobyte/hibyte, mode 0
    cpu::outb(0x42, count & 0xff);
    cpu::outb(0x42, (count >> 8) & 0xff);
    // Restart the count by toggling the gate.
    u8 v = cpu::inb(0x61);
    cpu::outb(0x61, v & ~0x01);
    cpu::outb(0x61, v | 0x01);
    while (!(cpu::inb(0x61) & 0x20)) cpu::pause();
}

}  // namespace

void pit_window(u32 ms, void (*begin)(), void (*end)()) {
    begin();
    pit_oneshot_wait(ms);
    end();
}

void calibrate() {
    constexpr u32 kMs = 50;  // 16-bit PIT counter: at most ~54 ms per shot
    u64 start = cpu::rdtsc();
    pit_oneshot_wait(kMs);
    u64 end = cpu::rdtsc();
    g_tsc_hz = (end - start) * (1000 / kMs);
    if (g_tsc_hz == 0) g_tsc_hz = 1;
    g_tsc_base = start;
}

u64 tsc_hz() { return g_tsc_hz; }
u64 tsc_base() { return g_tsc_base; }

u64 monotonic_ns() {
    if (!g_tsc_hz) return 0;
    return util::tsc_to_ns(cpu::rdtsc() - g_tsc_base, g_tsc_hz);
}

void delay_ns(u64 ns) {
    u64 until = monotonic_ns() + ns;
    while (monotonic_ns() < until) cpu::pause();
}

}  // namespace clock
