// PCI Express enhanced configuration access (ECAM, PCIe Base 4.0 §7.2.2)
// through the regions the MCFG table describes. The only path to config
// space in the kernel: later issues wrap it in checked PciFunction
// operations, and nothing outside the kernel ever maps it.
#pragma once

#include "acpi/mcfg.h"
#include "util/result.h"

namespace ecam {

struct Address {
    u16 segment;
    u8 bus, device, function;
};

Result<void> init(const acpi::McfgInfo& mcfg);
bool available();
// Bus range covered on segment 0 (first MCFG entry for it).
u8 start_bus();
u8 end_bus();

// Dword-aligned accesses only; unaligned or out-of-range offsets are refused.
Result<u32> read32(const Address& a, u16 offset);
Result<void> write32(const Address& a, u16 offset, u32 value);
Result<u16> read16(const Address& a, u16 offset);
Result<void> write16(const Address& a, u16 offset, u16 value);

}  // namespace ecam
