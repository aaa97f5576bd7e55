// I/O APIC (82093AA data sheet): routes ISA/GSI lines to vectors.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace ioapic {

struct Route {
    u32 gsi;
    bool active_low;
    bool level;
};

Result<void> init(u64 phys_base, u32 gsi_base);
// Route a GSI to `vector` on the CPU with `apic_id`, unmasked.
Result<void> route(const Route& r, u8 vector, u32 apic_id);

// Interrupt remapping (kernel/iommu/interrupt_remapping.h): every route
// made so far, and every later one, is written in remappable format naming
// the entry `entry_for` makes for it. Returns how many were rewritten.
using EntryFor = Result<u16> (*)(u8 vector, u32 apic_id, bool level);
Result<u32> use_remapping(EntryFor entry_for);

}  // namespace ioapic
