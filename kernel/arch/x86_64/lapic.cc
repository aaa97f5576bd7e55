#include "arch/x86_64/lapic.h"

#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/idt.h"
#include "console/log.h"
#include "mm/paging.h"

namespace lapic {
namespace {

// Register offsets, SDM Vol. 3A Table 10-1.
constexpr u32 kId = 0x20, kEoi = 0xb0, kSvr = 0xf0, kLvtTimer = 0x320, kTimerInit = 0x380, kTimerCurrent = 0x390,
              kTimerDivide = 0x3e0;
constexpr u32 kTimerPeriodic = 1u << 17, kMasked = 1u << 16;
constexpr u32 kTickHookHz = 100;  // the scheduler's tick

volatile u32* g_regs;
u32 g_counts_per_window;

u32 read(u32 reg) { return g_regs[reg / 4]; }
void write(u32 reg, u32 v) { g_regs[reg / 4] = v; }

void (*g_tick_hook)();
void (*g_sample_hook)(const InterruptFrame&);

// The scheduler's tick stays at 100 Hz whatever the timer runs at (the
// profiler's rate): time slices must not change with what measures them.
u32 g_ticks_per_hook = 1, g_ticks;

void on_timer(InterruptFrame& f) {
    if (g_sample_hook) g_sample_hook(f);
    if (++g_ticks < g_ticks_per_hook) return;
    g_ticks = 0;
    if (g_tick_hook) g_tick_hook();
}

}  // namespace

Result<void> init(u64 phys_base) {
    g_regs = static_cast<volatile u32*>(TRY(paging::map_mmio(phys_base, 4096)));
    u64 base = cpu::rdmsr(cpu::kMsrApicBase);
    cpu::wrmsr(cpu::kMsrApicBase, base | (1 << 11));  // global enable
    write(kSvr, 0x100 | idt::kVectorSpurious);        // software enable
    write(kLvtTimer, kMasked);
    return {};
}

u32 id() { return read(kId) >> 24; }
void eoi() {
    if (g_regs) write(kEoi, 0);
}

void start_timer(u32 hz) {
    constexpr u32 kWindowMs = 20;
    write(kTimerDivide, 0x3);  // divide by 16
    clock::pit_window(
        kWindowMs, [] { write(kTimerInit, 0xffffffff); },
        [] {
            g_counts_per_window = 0xffffffff - read(kTimerCurrent);
            write(kTimerInit, 0);
        });
    u64 counts_per_second = u64(g_counts_per_window) * (1000 / kWindowMs);
    u32 initial = static_cast<u32>(counts_per_second / hz);
    if (initial == 0) initial = 1;
    g_ticks_per_hook = hz > kTickHookHz ? hz / kTickHookHz : 1;
    idt::set_handler(idt::kVectorTimer, on_timer);
    write(kLvtTimer, kTimerPeriodic | idt::kVectorTimer);
    write(kTimerInit, initial);
    LOG_INFO("lapic: id %u timer %u Hz (bus/16 %llu Hz)", id(), hz, static_cast<unsigned long long>(counts_per_second));
}

void set_tick_hook(void (*hook)()) { g_tick_hook = hook; }
void set_sample_hook(void (*hook)(const InterruptFrame&)) { g_sample_hook = hook; }

}  // namespace lapic
