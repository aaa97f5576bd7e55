// What a provider may submit through the NVMe queue broker (DESIGN §4,
// brokered lane): an allow-list per queue kind and opcode, default deny.
//
// On the brokered lane device-visible addresses are host physical
// addresses, so a provider must never write one or read one back. The
// broker rebuilds CDW0 (PSDT forced to PRP), PRP1/PRP2 and any PRP list from
// its ledger; this policy refuses every command whose *payload* would carry
// an address (queue creation, Doorbell Buffer Config, the Host Memory Buffer
// feature), every command that reshapes what the broker accounts for
// (queues, the number of queues), and the irreversible or destructive
// maintenance commands a block provider has no need for.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace nvme {

enum class QueueKind : u8 { Admin, Io };

// May a provider submit `opcode` on a queue of kind `q`, through the broker?
// `cdw10` is the command's CDW10: for Get/Set Features it holds the feature
// identifier (bits 7:0); ignored otherwise.
//   Forbidden  refused by the allow-list (anything not listed in policy.cc,
//              including vendor-specific and unknown opcodes and features)
Result<void> command_allowed(QueueKind q, u8 opcode, u32 cdw10);

// Feature identifiers only the broker may set: Number of Queues (the broker
// creates the I/O queues from its ledger, and §5.21.1.7 allows the feature
// only before any I/O queue exists) and Host Memory Buffer (its CDW13/14
// carry the descriptor list's address).
bool feature_owned_by_broker(u8 fid);

// Does the spec give this command a data pointer (PRP1/PRP2) that the
// device will use? When true, the broker must build PRP1/PRP2 itself, from a
// provider buffer (or, for the queue-creating commands only the broker
// issues, from its own memory); when false it writes them as zero. Get/Set
// Features answer true: some features transfer a data structure (LBA Range
// Type, Timestamp, Autonomous Power State Transition, ...). Unknown
// opcodes answer false.
bool command_uses_data(QueueKind q, u8 opcode);

// The most bytes Get/Set Features of `fid` moves through PRP1/PRP2 (§5.21.1):
// 0 when the feature lives entirely in CDW11..CDW14 and completion DW0; else
// the size of its data structure. The broker bounds-checks the provider's
// buffer against this: a data-carrying feature submitted without a buffer
// would leave PRP1 = 0 and aim the device's DMA at physical address 0.
//   LBA Range Type 4096 (64 entries of 64 bytes), Autonomous Power State
//   Transition 256 (32 entries of 8), Timestamp 8, Predictable Latency Mode
//   Config 512, Host Behavior Support 512, Host Identifier 8, or 16 when
//   CDW11 bit 0 (EXHID) asks for the extended one, Host Memory Buffer 4096
//   (the attributes Get returns; refused by command_allowed()).
//   Unsupported  an identifier 1.4 does not define for PCIe (reserved,
//                NVMe-MI, vendor specific): its size cannot be known.
Result<u32> feature_data_bytes(u8 fid, u32 cdw11);

// Bytes an admin command moves through PRP1/PRP2, computed from the command
// itself: the device transfers what the command says, whatever the
// provider believes, so the bounds check must use this.
//   Identify              4096 (NVMe 1.4 §5.15: always one structure)
//   Get Log Page          (NUMD + 1) dwords, NUMD = NUMDU (CDW11 15:0) << 16
//                         | NUMDL (CDW10 31:16), 0's based (§5.14)
//   Get/Set Features      feature_data_bytes() of the FID in CDW10 7:0
//   anything else         0
//   Unsupported           a feature whose data size is not known
Result<u64> admin_transfer_bytes(u8 opcode, u32 cdw10, u32 cdw11);

// Bytes an I/O command moves through PRP1/PRP2, computed from the command
// (the device transfers what the command says, whatever the provider
// claims) and the namespace's block size (1 << lba_shift):
//   Read, Write, Compare  (NLB + 1) blocks, NLB = CDW12 bits 15:0, 0's based
//   Dataset Management    (NR + 1) ranges of 16 bytes, NR = CDW10 bits 7:0
//   Flush, Write Zeroes   0
//   Forbidden             any other opcode (as command_allowed())
Result<u64> io_transfer_bytes(u8 opcode, u32 cdw10, u32 cdw12, u8 lba_shift);

}  // namespace nvme
