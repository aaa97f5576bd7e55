// Translation on (issue 15): the kernel's VT-d driver proper. For every
// remapping unit vtd_units found it builds a root table, sets up
// invalidation (queued when the unit has it, registers otherwise), routes
// the fault event to the kernel (kernel/iommu/faults.h) and turns DMA
// remapping on. From then on a function behind the unit reaches memory only
// through the context entry of its domain (kernel/iommu/domain.h); a
// function with none — nothing granted, or its grant torn down — is
// blocked, and what it tries is a recorded fault.
//
// The brokered lane keeps working behind a translating unit: its sessions
// get a domain that maps each DMA range at its own physical address
// (kdma::Session), so the device reaches exactly its ledger and nothing
// else — the kernel's broker still writes every address the device sees.
//
// Left off (and logged) when the kernel command line says `iommu=off`, for
// a DMAR listing RMRR regions (identity maps for firmware-owned devices are
// not built yet: turning translation on would cut them off), or when a step
// of the enabling sequence fails.
#pragma once

#include "iommu/vtd.h"
#include "util/result.h"
#include "util/types.h"

namespace remapping {

// Boot, after PCI enumeration and the interrupt controllers.
void init();
// Is any unit translating?
bool active();
// The unit (vtd_units index) translating pci_enum function `function`, or
// NotFound when none is (no unit covers it, or its unit is not on);
// Unsupported when the DMAR cannot say (the caller fails closed).
Result<u32> unit_of(u32 function);

// Domain ids of a unit (1 .. min(CAP.ND, kMaxDomains) - 1; 0 is reserved).
constexpr u32 kMaxDomains = 4096;
Result<u16> allocate_domain(u32 unit);
void free_domain(u32 unit, u16 domain);

// The function's context entry points at a domain's second-level tables
// (root `table`, `levels` deep): from now on its DMA is translated by them.
Result<void> attach(u32 unit, u32 function, u16 domain, u64 table, u32 levels);
// The function's context entry cleared and the unit's context cache and the
// domain's IOTLB entries invalidated: once this returns the device reaches
// nothing (it blocks until the unit confirms).
Result<void> detach(u32 unit, u32 function, u16 domain);
// The domain's cached translations of [iova, iova + bytes) invalidated
// (page-selective where the unit can, else the whole domain), returning
// once the unit confirms: only then may unmapped frames be reused.
Result<void> invalidate(u32 unit, u16 domain, u64 iova, u64 bytes);
// Table memory the unit reads was written: flushed to memory when its page
// walks do not snoop the caches (ECAP.C = 0).
void flush(u32 unit, const void* p, u64 bytes);

// For interrupt remapping (kernel/iommu/interrupt_remapping.h), on a unit
// being enabled: invalidation descriptors through its queue (returns once
// the unit got past them), and a global command bit set or cleared.
Result<void> queue(u32 unit, const vtd::Descriptor* list, u32 count);
Result<void> set_global(u32 unit, u32 bit, bool on);

// The source id (bus << 8 | device << 3 | function) of a pci_enum function.
u16 source_id(u32 function);

}  // namespace remapping
