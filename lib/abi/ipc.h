// Endpoint messages, shared by the kernel and user/rt.
#pragma once

#include "util/types.h"

namespace abi {

constexpr u32 kMessageBytes = 64;
constexpr u32 kMessageHandles = 4;

struct Message {
    u32 length;        // bytes of data[] in use (<= kMessageBytes)
    u32 handle_count;  // entries of handles[] in use (<= kMessageHandles)
    // Sending: handles to transfer; bit i of copy_mask copies handles[i]
    // (a derived capability; the sender keeps its own) instead of moving it.
    // Receiving: the handles as installed in the receiver's space.
    u32 handles[kMessageHandles];
    u32 copy_mask;
    u32 reserved;
    u64 badge;  // receiving: the badge of the capability the caller used
    u8 data[kMessageBytes];
};
static_assert(sizeof(Message) == 104);

// Status reported to a caller whose server died before replying, or to a
// server whose caller died before the reply: Status::Stale.

}  // namespace abi
