// Reading a split virtqueue's used ring without trusting the device
// (virtio 1.1 §2.6.8): the checks the kernel's virtqueue broker applies to
// what a device writes there, as pure code the unit tests drive with a
// lying device. The used ring is device-writable memory, so every value
// read from it is an input, not a fact:
//   - idx may only have advanced by at most a ring's worth since the
//     driver last looked (a jump further would make it re-read slots the
//     device never wrote this round, or skip some);
//   - each element's id must name a descriptor that heads a chain the
//     driver published and has not had back yet (not out of range, not a
//     non-head, not a duplicate), else it is ignored — the chain it names
//     stays with the device, its buffers held.
// The driver frees a chain by its own shadow of the chain's links, never
// by the device-writable descriptor table.
#pragma once

#include "util/types.h"

namespace virtio {

// Is the device's used idx believable, given the driver's last_used?
constexpr bool used_index_plausible(u16 device_idx, u16 last_used, u16 size) {
    return static_cast<u16>(device_idx - last_used) <= size;
}

enum class UsedId : u8 {
    Chain,       // a chain the driver published: take it back
    OutOfRange,  // id >= queue size
    NotGiven,    // not the head of a chain the device holds (never published, or already returned)
};

// `head_outstanding[id]` is the driver's shadow: true while the chain
// headed by `id` is in the device's hands.
inline UsedId check_used_id(u32 id, u16 size, const bool* head_outstanding) {
    if (id >= size) return UsedId::OutOfRange;
    return head_outstanding[id] ? UsedId::Chain : UsedId::NotGiven;
}

}  // namespace virtio
