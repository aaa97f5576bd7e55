// The virtqueue broker's ABI (DESIGN §4, brokered lane). The kernel owns a
// virtqueue's descriptor table, its indirect tables and its available ring
// (they hold or steer to device-visible addresses); a provider submits
// chains of (DmaBuffer handle, offset, length, direction) and the kernel
// writes the descriptors from its ledger, publishes them and notifies the
// device when the device asks for it. The used ring carries only
// descriptor ids and lengths and is mapped read-only into the provider;
// VirtQueueComplete hands back its entries checked.
#pragma once

#include "util/types.h"

namespace abi {

constexpr u32 kVirtioMaxBatch = 64;             // chains per VirtQueueSubmit (a NIC refills 64 buffers a call)
constexpr u32 kVirtioMaxChainSegments = 512;    // segments per chain (a 1 MiB request in 4 KiB pieces fits)
constexpr u32 kVirtioMaxSubmitSegments = 1024;  // segments per VirtQueueSubmit, all chains together
constexpr u32 kVirtioMaxQueueSize = 256;
// With VIRTIO_F_INDIRECT_DESC the kernel keeps an indirect table of
// max_segments descriptors for each of the queue's entries: size ×
// max_segments is bounded so the tables (16 bytes an entry, from the pool)
// and their shadow (4 bytes an entry, kernel memory charged to the
// creator) stay small.
constexpr u32 kVirtioMaxIndirectEntries = 8192;

constexpr u32 kVirtioSegmentDeviceWrites = 1u << 0;  // VIRTQ_DESC_F_WRITE: the device writes this segment

struct VirtioSegment {
    u32 buffer;  // DmaBuffer handle of the queue's pool
    u32 flags;   // kVirtioSegment*
    u64 offset;  // into the buffer
    u64 length;  // bytes, 1..4 GiB - 1
};
static_assert(sizeof(VirtioSegment) == 24);

// One chain of a VirtQueueSubmit batch: its segments are the next
// `segments` entries of the call's segment array (chains take them in
// order; the counts add up to the array's length).
struct VirtioChain {
    u16 segments;  // 1..the queue's max_segments
    u16 head;      // out: the descriptor id the used ring will report for this chain
    u32 reserved;  // 0
};
static_assert(sizeof(VirtioChain) == 8);

// The used ring as mapped (virtio 1.1 §2.6.8): flags, idx, then `size`
// elements.
struct VirtioUsedElement {
    u32 id;
    u32 len;
};

// What the kernel made of one used-ring entry (VirtQueueComplete).
enum class VirtioVerdict : u32 {
    Ok = 0,          // a chain the provider submitted: `id` is its head, `len` the bytes the device wrote
    LenTooLong = 1,  // that chain, but the device claimed more than it could write: len 0, held until a reset
    OutOfRange = 2,  // id past the queue: ignored (the device lied)
    NotGiven = 3,    // id heads no chain the device holds: ignored (the device lied)
};

struct VirtioCompletion {
    u32 id;   // the head (the device's raw id when ignored)
    u32 len;  // bytes the device wrote; 0 unless Ok
    VirtioVerdict verdict;
    u32 reserved;
};
static_assert(sizeof(VirtioCompletion) == 16);

}  // namespace abi
