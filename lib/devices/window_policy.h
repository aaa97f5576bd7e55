// What part of a device a provider may be given (DESIGN §3), as pure
// functions the kernel applies and the unit tests pin down:
//  - a DeviceMmio window must lie inside one memory BAR, page-aligned, and
//    must not touch the pages that hold the MSI-X table or PBA (an MSI is
//    a DMA write to an address the table holds: only the kernel programs it);
//  - a *filtered* window is mapped read-only, and writes go through the
//    kernel, which allows only registers that carry no device-visible
//    address (the "selected-write claim"): per device class, default deny.
#pragma once

#include "pci/bar.h"
#include "pci/msix.h"
#include "util/result.h"

namespace devices {

constexpr u64 kPageSize = 4096;

// OutOfBounds: not inside the BAR / not page aligned / empty.
// Unsupported: an I/O or absent BAR.
// NoRights: overlaps the MSI-X table or PBA pages of this BAR.
Result<void> check_window(const pci::Bar& bar, u8 bar_index, const pci::MsixInfo* msix, u64 offset, u64 length);

enum class RegisterPolicy : u8 {
    DenyAll,  // unknown device class: nothing is writable through the filter
    Nvme,     // NVMe controller registers (BAR0), NVMe 1.4 §3.1
};

// May a *direct* (read/write mapped) window cover [offset, offset+length)
// of the BAR? Not where registers hold device-visible addresses: for NVMe
// the register page (0..4K: ASQ, ACQ, ...) is filtered-only; doorbells are
// fine.
bool direct_window_allowed(RegisterPolicy policy, u64 offset, u64 length);

// May a provider write `width` bytes (4 or 8) at `offset` of the BAR
// through a filtered window? Offsets are BAR-relative.
bool filtered_write_allowed(RegisterPolicy policy, u64 offset, u32 width);

}  // namespace devices
