// Local APIC (xAPIC MMIO mode, SDM Vol. 3A §10): EOI, timer.
#pragma once

#include "arch/x86_64/interrupt_frame.h"
#include "util/result.h"
#include "util/types.h"

namespace lapic {

Result<void> init(u64 phys_base);
u32 id();
void eoi();
// Periodic timer at `hz` on idt::kVectorTimer, calibrated against the PIT.
void start_timer(u32 hz);
// Called 100 times a second, in interrupt context (the scheduler's tick),
// whatever rate the timer runs at.
void set_tick_hook(void (*hook)());
// Called first on every tick with the interrupted context (debug/profiler).
void set_sample_hook(void (*hook)(const InterruptFrame&));

}  // namespace lapic
