// The VT-d remapping units the ACPI DMAR table names (issue 15): found,
// their register page mapped, and what each can do read and logged at
// boot (lib/iommu/vtd.h decodes it). Programming them — root and context
// tables, invalidation, translation on — is kernel/iommu/remapping.h.
#pragma once

#include "iommu/vtd.h"
#include "util/types.h"

namespace vtd_units {

struct Unit {
    u64 base = 0;
    u32 dmar_index = 0;  // in kacpi::dmar()->units (acpi::dmar_find_unit's answer)
    volatile u8* regs = nullptr;
    u32 version = 0;
    vtd::Capability cap;
    vtd::ExtCapability ecap;
    u32 levels = 0;  // of the second-level tables it will get (0: none it supports)
};

// Maps and reads every unit of the DMAR table (none without one).
void probe();
u32 count();
const Unit* unit(u32 i);

}  // namespace vtd_units
