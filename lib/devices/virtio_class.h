// Which virtio device classes get DMA on the brokered lane (DESIGN §4:
// "Device classes whose payloads carry addresses the broker cannot see ...
// get no queue"). The virtqueue broker writes every descriptor and ring
// address itself, but what a class puts *inside* a buffer it cannot read:
// a balloon's page-frame arrays (virtio 1.2 §5.5.6), a GPU's
// RESOURCE_ATTACH_BACKING entries (§5.7.6.8), virtio-fs's DAX mappings,
// virtio-mem's and virtio-pmem's guest-physical regions. Default deny:
// only classes whose requests and responses carry no guest-physical
// address get a DMA grant and virtqueues — today network (§5.1) and block
// (§5.2). Adding one is a review of its payload formats, not a table edit.
#pragma once

#include "util/types.h"

namespace devices {

inline constexpr u16 kVirtioVendor = 0x1af4;

// Is (vendor, device_id) a virtio PCI device at all (virtio 1.2 §4.1.2.1:
// 0x1000-0x103f transitional, 0x1040-0x107f modern)?
bool is_virtio(u16 vendor, u16 device_id);

// The virtio device ID (virtio 1.2 §5: 1 network, 2 block, 5 balloon, ...)
// of a PCI device ID; 0 when not virtio or an unknown transitional ID.
u16 virtio_device_type(u16 vendor, u16 device_id);

// May the broker serve this virtio function (a DMA grant, virtqueues)?
// Network and block, transitional or modern; nothing else.
bool virtio_class_brokered(u16 vendor, u16 device_id);

// "network", "block", "balloon", ... for log lines ("unknown" otherwise).
const char* virtio_class_name(u16 vendor, u16 device_id);

}  // namespace devices
