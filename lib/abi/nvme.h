// The NVMe queue broker's ABI (DESIGN §4, brokered lane). A provider names
// memory only as (DmaBuffer handle, offset, length); the kernel builds
// every device-visible field (PRP1/PRP2, queue base addresses) from its
// ledger, writes the submission entry into kernel-owned memory and rings
// the doorbell. The completion queue carries no address and is mapped
// read-only into the provider.
#pragma once

#include "util/types.h"

namespace abi {

enum class NvmeQueueKind : u32 {
    Admin = 0,  // queue 0; creating it (re)enables the controller
};

// One command as a provider submits it (NvmeSubmit). The kernel sets the
// command identifier's queue slot, FUSE = 0 and PSDT = PRP, and refuses
// opcodes not on the queue kind's allow-list (lib/nvme/policy.h).
struct NvmeCommand {
    u8 opcode;
    u8 reserved0;
    u16 cid;  // < queue entries, not outstanding
    u32 nsid;
    u32 cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
    u32 buffer;  // DmaBuffer handle of the same pool; 0 for commands without data
    u32 reserved1;
    u64 offset;  // into the buffer (dword aligned)
    u64 length;  // bytes the command moves; must equal what the broker computes from the command
};
static_assert(sizeof(NvmeCommand) == 56);

constexpr u32 kNvmeMaxBatch = 64;
constexpr u32 kNvmeMaxEntries = 64;  // admin queue depth limit (one 4 KiB SQ page)

}  // namespace abi
