#include "devices/virtio_pci.h"

#include "pci/capabilities.h"

namespace devices {
namespace {

// The first vendor-specific capability of `cfg_type`: its offset.
Result<u16> find_virtio_cap(ByteView cfg, u8 wanted) {
    auto caps = TRY(pci::walk_capabilities(cfg));
    for (u32 i = 0; i < caps.count; i++) {
        if (caps.caps[i].id != pci::kCapVendorSpecific) continue;
        u16 at = caps.caps[i].offset;
        // struct virtio_pci_cap: id, next, cap_len, cfg_type, bar, id, pad[2], offset, length
        if (TRY(cfg.read_le<u8>(at + 3)) == wanted) return at;
    }
    return Status::NotFound;
}

}  // namespace

Result<VirtioRegion> find_virtio_cfg(ByteView cfg, u8 wanted) {
    u16 at = TRY(find_virtio_cap(cfg, wanted));
    u8 cap_len = TRY(cfg.read_le<u8>(at + 2));
    // struct virtio_pci_notify_cap appends notify_off_multiplier.
    if (cap_len < (wanted == 2 ? 20 : 16)) return Status::Malformed;
    u8 bar = TRY(cfg.read_le<u8>(at + 4));
    if (bar > 5) return Status::Malformed;
    u32 offset = TRY(cfg.read_le<u32>(at + 8));
    u32 length = TRY(cfg.read_le<u32>(at + 12));
    u32 multiplier = wanted == 2 ? TRY(cfg.read_le<u32>(at + 16)) : 0;
    return VirtioRegion{bar, offset, length, multiplier};
}

Result<u16> find_virtio_pci_cfg_data(ByteView cfg) {
    u16 at = TRY(find_virtio_cap(cfg, 5));
    // struct virtio_pci_cfg_cap: a virtio_pci_cap, then pci_cfg_data[4].
    if (TRY(cfg.read_le<u8>(at + 2)) < 20) return Status::Malformed;
    return static_cast<u16>(at + 16);
}

}  // namespace devices
