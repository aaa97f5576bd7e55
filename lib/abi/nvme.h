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
    // Queue 0. Creating it resets the controller and enables it again; the
    // broker then runs its own bring-up on it (Identify, Set Features
    // Number of Queues, Doorbell Buffer Config when the controller reports
    // it). Creating it while an earlier one lives is the provider's
    // controller reset: every queue of the earlier generation answers
    // Stale from then on and its in-flight buffers are released.
    Admin = 0,
    // An I/O queue pair (QID 1..): the broker issues Create I/O CQ and
    // Create I/O SQ itself, with PRP1 pointing at kernel-owned queue memory.
    Io = 1,
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

// A completion as NvmeComplete copies it out: checked by the kernel (phase,
// queue, command id outstanding) before the provider sees it.
struct NvmeCompletion {
    u32 result;  // completion DW0 (command specific)
    u16 cid;
    u16 status;  // the status field without the phase tag: SC 7:0, SCT 10:8, CRD 12:11, M 13, DNR 14
};
static_assert(sizeof(NvmeCompletion) == 8);

// NvmeComplete flags.
// Acknowledge the Interrupt the I/O queue was created with first (what
// InterruptAck does: its pending deliveries are cleared and it is re-armed),
// then take completions: one call instead of two after an interrupt. A
// completion posted after the acknowledgement raises the interrupt again.
constexpr u64 kNvmeCompleteAckInterrupt = 1u << 0;

constexpr u32 kNvmeMaxBatch = 64;
constexpr u32 kNvmeMaxEntries = 256;  // queue depth limit (SQ 16 KiB, CQ 4 KiB)
// On the admin queue the broker keeps the last command id for its own
// commands: a provider's admin cids are < entries - 1.
constexpr u32 kNvmeMaxIoQueues = 16;

}  // namespace abi
