// The virtqueue broker's ABI (DESIGN §4, brokered lane). The kernel owns a
// virtqueue's descriptor table and available ring (they hold or steer to
// device-visible addresses); a provider submits chains of
// (DmaBuffer handle, offset, length, direction) and the kernel writes the
// descriptors from its ledger, publishes them and notifies the device. The
// used ring carries only descriptor ids and lengths and is mapped
// read-only into the provider.
#pragma once

#include "util/types.h"

namespace abi {

constexpr u32 kVirtioMaxSegments = 4;
constexpr u32 kVirtioMaxBatch = 16;
constexpr u32 kVirtioMaxQueueSize = 256;

constexpr u32 kVirtioSegmentDeviceWrites = 1u << 0;  // VIRTQ_DESC_F_WRITE: the device writes this segment

struct VirtioSegment {
    u32 buffer;  // DmaBuffer handle of the queue's pool
    u32 flags;   // kVirtioSegment*
    u64 offset;  // into the buffer
    u64 length;  // bytes, 1..4 GiB - 1
};

struct VirtioChain {
    u16 segments;  // 1..kVirtioMaxSegments
    u16 head;      // out: the descriptor id the used ring will report for this chain
    u32 reserved;
    VirtioSegment segment[kVirtioMaxSegments];
};
static_assert(sizeof(VirtioChain) == 104);

// The used ring as mapped (virtio 1.1 §2.6.8): flags, idx, then `size`
// elements.
struct VirtioUsedElement {
    u32 id;
    u32 len;
};

}  // namespace abi
