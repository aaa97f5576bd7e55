// What part of a device a provider may be given (DESIGN §3), as pure
// functions the kernel applies and the unit tests pin down:
//  - a DeviceMmio window must lie inside one memory BAR, page-aligned, and
//    must not touch the pages that hold the MSI-X table or PBA (an MSI is
//    a DMA write to an address the table holds: only the kernel programs it);
//  - registers that carry device-visible addresses are never in a *direct*
//    (read/write mapped) window: each device class names the register block
//    that holds them (NVMe's controller registers, virtio's common
//    configuration);
//  - a *filtered* window is mapped read-only, and writes go through the
//    kernel, which allows only registers that carry no address and start no
//    DMA (the "selected-write claim"): per device class, default deny;
//  - registers that carry a device-visible address are not readable either
//    (DESIGN §4: a provider never learns one): a read through the kernel
//    (MmioRead) that touches one is refused, and a filtered window with
//    such a register on any of its pages is not mappable at all — the
//    provider reads it with MmioRead. Writes are default deny; reads are
//    default allow with a deny list, because what a register *reveals* is
//    known per class (the address registers below), while what a write
//    *starts* is not.
#pragma once

#include "pci/bar.h"
#include "pci/msix.h"
#include "util/page.h"
#include "util/result.h"

namespace devices {

// OutOfBounds: not inside the BAR / not page aligned / empty.
// Unsupported: an I/O or absent BAR.
// NoRights: overlaps the MSI-X table or PBA pages of this BAR.
Result<void> check_window(const pci::Bar& bar, u8 bar_index, const pci::MsixInfo* msix, u64 offset, u64 length);

// Where a function keeps the registers that hold device-visible addresses.
struct RegisterMap {
    enum class Kind : u8 {
        DenyAll,  // unknown class: nothing is writable through the filter
        Nvme,     // NVMe controller registers, NVMe 1.4 §3.1
        Virtio,   // virtio 1.x common configuration, virtio 1.1 §4.1.4.3
    };
    Kind kind = Kind::DenyAll;
    u8 bar = 0;      // the BAR holding the protected block
    u64 offset = 0;  // the block: [offset, offset + length) of that BAR
    u64 length = 0;
};

// BAR0 whole: the registers and every doorbell (the broker's on the
// brokered lane).
RegisterMap nvme_register_map(u64 bar0_size);
RegisterMap virtio_register_map(u8 bar, u64 offset, u64 length);

// May a direct window cover [offset, offset+length) of `bar`? Not over the
// protected block (rounded out to pages, since mappings are).
bool direct_window_allowed(const RegisterMap& map, u8 bar, u64 offset, u64 length);

// May a provider write `width` bytes (1, 2, 4 or 8, naturally aligned) at
// BAR-relative `offset` of `bar` through a filtered window?
bool filtered_write_allowed(const RegisterMap& map, u8 bar, u64 offset, u32 width);

// Does the read [offset, offset + width) of `bar` (BAR-relative; any width)
// touch a register that carries a device-visible address? NVMe (NVMe 2.0
// §3.1.3): ASQ 28h, ACQ 30h, BPMBL 48h, CMBMSC 50h (its CBA is the CMB's
// address in the controller's space), PMRMSCL/PMRMSCU E14h-E1Bh; each 8
// bytes. virtio (virtio 1.2 §4.1.4.3): queue_desc 20h, queue_driver 28h,
// queue_device 30h of the common configuration, 8 bytes each (the later
// fields, queue_notify_data, queue_reset and virtio 1.3's admin queue
// index and count, carry none).
bool read_reveals_address(const RegisterMap& map, u8 bar, u64 offset, u64 width);

// May a provider read `width` bytes (1, 2, 4 or 8, naturally aligned) at
// BAR-relative `offset` of `bar` through the kernel (MmioRead)?
bool filtered_read_allowed(const RegisterMap& map, u8 bar, u64 offset, u32 width);

// May a filtered window over [offset, offset+length) of `bar` be mapped
// (read-only) into its holder? Not when any of its pages holds an address
// register: a mapping cannot filter reads.
bool filtered_map_allowed(const RegisterMap& map, u8 bar, u64 offset, u64 length);

// virtio: may the provider offer `value` for driver_feature word `select`
// (driver_feature_select)? Not features that change the split-ring format
// or the notification format the virtqueue broker implements.
inline constexpr u64 kVirtioDriverFeatureSelect = 0x08, kVirtioDriverFeature = 0x0c, kVirtioDeviceStatus = 0x14;
bool virtio_driver_features_allowed(u32 select, u32 value);

}  // namespace devices
