// QEMU's "edu" teaching device (hw/misc/edu.c), which the kernel's
// self-tests drive: it raises MSIs on request (irq/msi_selftest) and copies
// between its 4 KiB buffer and any bus address it is given
// (iommu/vtd_selftest) — a device whose every DMA the test chooses.
#pragma once

#include "pci/enumerate.h"
#include "util/types.h"

namespace edu {

constexpr u16 kVendor = 0x1234, kDevice = 0x11e8;
// BAR0 registers.
constexpr u32 kIrqStatus = 0x24, kIrqRaise = 0x60, kIrqAck = 0x64;
constexpr u32 kDmaSource = 0x80, kDmaDestination = 0x88, kDmaCount = 0x90, kDmaCommand = 0x98;
constexpr u64 kDmaRun = 1, kDmaToRam = 2;  // command bits: start (clears when done); buffer -> RAM
constexpr u64 kBuffer = 0x40000;           // the device's buffer, as DMA addresses name it (4 KiB)

// The first edu function (pci_enum index), or ~0u.
inline u32 find() {
    for (u32 i = 0; i < pci_enum::count(); i++) {
        const auto& h = pci_enum::function(i).header;
        if (h.vendor == kVendor && h.device == kDevice) return i;
    }
    return ~0u;
}

}  // namespace edu
