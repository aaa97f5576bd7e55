// Locating a virtio 1.x device's common configuration structure through
// its vendor-specific PCI capabilities (virtio 1.1 §4.1.4: cap id 0x09,
// cfg_type 1 = VIRTIO_PCI_CAP_COMMON_CFG), so the kernel knows which
// registers hold queue addresses.
#pragma once

#include "util/byte_view.h"
#include "util/result.h"

namespace devices {

struct VirtioRegion {
    u8 bar;
    u32 offset;
    u32 length;
    u32 notify_off_multiplier;  // notify configuration only (virtio 1.1 §4.1.4.4)
};

// The first structure of `cfg_type` (1 common, 2 notify, 3 ISR, 4 device).
// NotFound when the function has none; Malformed when the capability is
// too short (16 bytes, 20 for notify) or names BAR > 5.
Result<VirtioRegion> find_virtio_cfg(ByteView cfg, u8 cfg_type);
inline Result<VirtioRegion> find_virtio_common_cfg(ByteView cfg) { return find_virtio_cfg(cfg, 1); }
inline Result<VirtioRegion> find_virtio_notify_cfg(ByteView cfg) { return find_virtio_cfg(cfg, 2); }

// The configuration-space offset of pci_cfg_data in the PCI configuration
// access capability (cfg_type 5, struct virtio_pci_cfg_cap, virtio 1.1
// §4.1.4.7): 4 bytes through which a config read reads BAR memory at
// whatever BAR and offset the capability names — another way to read any
// register, ring addresses included. NotFound when the function has none,
// Malformed when the capability is shorter than its 20 bytes.
Result<u16> find_virtio_pci_cfg_data(ByteView cfg);

}  // namespace devices
