// DMA remapping faults (VT-d §7.3, issue 15): what a device tried outside
// its domain, read from the unit's fault recording registers when its fault
// event interrupt arrives, and turned into a refusal (kernel/events/
// refusals.h) against the provider holding the device's DMA grant — counted,
// logged at a rate nobody can raise, delivered to the device manager.
//
// A device can fault as fast as it can issue requests. Each interrupt
// reads at most the unit's recording registers, and past kStormPerTick
// faults in one timer tick the fault event is masked until the next tick:
// a storm costs the kernel a bounded share of the CPU (its log lines are
// under the system-wide budget). Faults the unit could not record
// meanwhile (its registers full: FSTS.PFO) are logged as lost.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace faults {

constexpr u32 kStormPerTick = 32;

// Routes unit `unit`'s fault event to a kernel vector and unmasks it
// (remapping::init, before translation is turned on).
Result<void> init(u32 unit);
u8 vector(u32 unit);
// Timer tick: fault events masked for a storm are let in again.
void tick();

struct Fault {
    u64 address;  // the page the device tried
    u16 source;   // bus << 8 | device << 3 | function
    u8 reason;    // VT-d §7.2.3
    bool read;
};
// Since boot: faults read, and the newest one (for the self-test and
// diagnostics). Faults the unit could not record are logged as lost.
u64 total();
Fault newest();

// The VT-d fault reason's name (§7.2.3 table), "" for one not named here.
const char* reason_name(u8 reason);

}  // namespace faults
