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
};

// NotFound when the function has no common configuration capability;
// Malformed when the capability is too short or names BAR > 5.
Result<VirtioRegion> find_virtio_common_cfg(ByteView cfg);

}  // namespace devices
