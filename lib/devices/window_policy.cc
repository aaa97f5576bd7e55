#include "devices/window_policy.h"

namespace devices {
namespace {

bool overlaps(u64 a0, u64 a1, u64 b0, u64 b1) { return a0 < b1 && b0 < a1; }

u64 page_down(u64 v) { return v & ~(kPage - 1); }
u64 page_up(u64 v) { return (v + kPage - 1) & ~(kPage - 1); }

struct Register {
    u64 offset;
    u32 width;
};

bool listed(const Register* list, u32 count, u64 offset, u32 width) {
    for (u32 i = 0; i < count; i++)
        if (list[i].offset == offset && list[i].width == width) return true;
    return false;
}

// NVMe 1.4 §3.1. Writable: INTMS, INTMC. Never: ASQ, ACQ, BPMBL, CMBMSC,
// PMRMSC (each holds a device-visible address); CC (setting CC.EN makes the
// controller fetch from whatever ASQ/ACQ hold: enabling is the queue
// broker's job, after the kernel has written them); AQA (the broker sizes
// its queues); BPRSEL (starts a boot-partition read, a DMA to BPMBL); NSSR;
// nothing unnamed. And no doorbell (§3.1.24-25): on the brokered lane every
// queue is the broker's, and a tail write makes the controller (re)fetch
// entries — entries the kernel wrote for buffers that may since be freed.
constexpr Register kNvmeWritable[] = {{0x0c, 4}, {0x10, 4}};

// virtio 1.1 §4.1.4.3 common configuration. Writable: the feature selects
// and driver features (checked by virtio_driver_features_allowed), the
// config vector and device_status. Never: queue_desc / queue_driver /
// queue_device (device-visible addresses), queue_enable (starts the device
// using them), and queue_select / queue_size / queue_msix_vector — the
// queue broker's: QEMU applies a size written to an enabled queue, and a
// device that disagrees with the broker about the ring size walks stale
// slots naming descriptors of freed buffers. Nothing unnamed.
constexpr Register kVirtioWritable[] = {{0x00, 4}, {0x08, 4}, {0x0c, 4}, {0x10, 2}, {0x14, 1}};

// Registers that carry a device-visible address, relative to the block
// (window_policy.h, read_reveals_address, cites the sections).
constexpr Register kNvmeAddressRegisters[] = {{0x28, 8}, {0x30, 8}, {0x48, 8}, {0x50, 8}, {0xe14, 8}};
constexpr Register kVirtioAddressRegisters[] = {{0x20, 8}, {0x28, 8}, {0x30, 8}};

template <u32 N>
bool overlaps_any(const Register (&list)[N], u64 block, u64 start, u64 end) {
    for (const Register& r : list)
        if (overlaps(start, end, block + r.offset, block + r.offset + r.width)) return true;
    return false;
}

bool aligned(u64 offset, u32 width) {
    return (width == 1 || width == 2 || width == 4 || width == 8) && (offset & (width - 1)) == 0;
}

}  // namespace

Result<void> check_window(const pci::Bar& bar, u8 bar_index, const pci::MsixInfo* msix, u64 offset, u64 length) {
    if (bar.kind != pci::BarKind::Mem32 && bar.kind != pci::BarKind::Mem64) return Status::Unsupported;
    if (length == 0 || (offset % kPage) || (length % kPage)) return Status::OutOfBounds;
    if (offset > bar.size || length > bar.size - offset) return Status::OutOfBounds;
    if (msix) {
        u64 end = offset + length;
        if (msix->table_bir == bar_index) {
            u64 t0 = page_down(msix->table_offset), t1 = page_up(msix->table_offset + pci::msix_table_bytes(*msix));
            if (overlaps(offset, end, t0, t1)) return Status::NoRights;
        }
        if (msix->pba_bir == bar_index) {
            u64 p0 = page_down(msix->pba_offset), p1 = page_up(msix->pba_offset + pci::msix_pba_bytes(*msix));
            if (overlaps(offset, end, p0, p1)) return Status::NoRights;
        }
    }
    return {};
}

RegisterMap nvme_register_map(u64 bar0_size) { return RegisterMap{RegisterMap::Kind::Nvme, 0, 0, bar0_size}; }

RegisterMap virtio_register_map(u8 bar, u64 offset, u64 length) {
    return RegisterMap{RegisterMap::Kind::Virtio, bar, offset, length};
}

bool direct_window_allowed(const RegisterMap& map, u8 bar, u64 offset, u64 length) {
    if (map.kind == RegisterMap::Kind::DenyAll || bar != map.bar || map.length == 0) return true;
    if (offset > ~u64{0} - length) return false;
    return !overlaps(offset, offset + length, page_down(map.offset), page_up(map.offset + map.length));
}

bool filtered_write_allowed(const RegisterMap& map, u8 bar, u64 offset, u32 width) {
    if (map.kind == RegisterMap::Kind::DenyAll || !aligned(offset, width)) return false;
    bool in_block = bar == map.bar && offset >= map.offset && offset - map.offset < map.length;
    u64 rel = offset - map.offset;
    switch (map.kind) {
        case RegisterMap::Kind::Nvme:
            return in_block && listed(kNvmeWritable, sizeof kNvmeWritable / sizeof kNvmeWritable[0], rel, width);
        case RegisterMap::Kind::Virtio:
            if (in_block)
                return listed(kVirtioWritable, sizeof kVirtioWritable / sizeof kVirtioWritable[0], rel, width);
            // Notify, ISR and device-specific configuration carry no address.
            return true;
        case RegisterMap::Kind::DenyAll: return false;
    }
    return false;
}

bool read_reveals_address(const RegisterMap& map, u8 bar, u64 offset, u64 width) {
    if (map.kind == RegisterMap::Kind::DenyAll || bar != map.bar || width == 0) return false;
    u64 end = offset > ~u64{0} - width ? ~u64{0} : offset + width;
    switch (map.kind) {
        case RegisterMap::Kind::Nvme: return overlaps_any(kNvmeAddressRegisters, map.offset, offset, end);
        case RegisterMap::Kind::Virtio: return overlaps_any(kVirtioAddressRegisters, map.offset, offset, end);
        case RegisterMap::Kind::DenyAll: return false;
    }
    return false;
}

bool filtered_read_allowed(const RegisterMap& map, u8 bar, u64 offset, u32 width) {
    return aligned(offset, width) && !read_reveals_address(map, bar, offset, width);
}

bool filtered_map_allowed(const RegisterMap& map, u8 bar, u64 offset, u64 length) {
    if (offset > ~u64{0} - length) return false;
    u64 start = page_down(offset), end = offset + length;
    end = end > ~u64{0} - (kPage - 1) ? ~u64{0} : page_up(end);
    return !read_reveals_address(map, bar, start, end - start);
}

bool virtio_driver_features_allowed(u32 select, u32 value) {
    // Word 1 holds feature bits 32..63: VIRTIO_F_RING_PACKED (34) changes the
    // ring layout the broker writes, VIRTIO_F_NOTIFICATION_DATA (38) the
    // meaning of the notifications it sends.
    constexpr u32 kBrokerIncompatible = (1u << (34 - 32)) | (1u << (38 - 32));
    return select != 1 || (value & kBrokerIncompatible) == 0;
}

}  // namespace devices
