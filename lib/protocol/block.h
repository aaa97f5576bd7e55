// The BlockDevice service (DESIGN §6): how a consumer named by a provider's
// `serve` lines reads and writes its disks.
//
// Control goes over the provider's service endpoint (slot named after the
// provider): Info and Identity describe a device; Attach sets up a
// channel. The data path then needs no IPC round trip per request
// (sDDF-style): requests and completions travel through two rings in a
// memory object, each side signals the other's notification after
// producing, and the data lives in a DmaBuffer — the device reads and
// writes it directly, nothing is copied.
//
// The provider owns the memory it depends on: it creates the rings and the
// data buffer and hands the consumer derived copies of them, keeping the
// capabilities they derive from. A consumer that revokes or closes what it
// holds loses its own view, never the provider's; whatever it writes into
// the rings is checked (BlockRings below), and one consumer's misbehaviour
// closes its own channel, nobody else's.
//
// A request names blocks of one device and a byte offset into the shared
// data buffer; the provider splits it to the device's limits and answers
// with one completion carrying a Status (0 = ok) and, for a device
// failure, an opaque detail for logs. Nothing here is specific to one
// kind of device: every storage provider speaks it through the same
// service library (lib/block/engine.h, user/rt/block_server.h), and Info
// says what each device offers before a consumer asks for it.
#pragma once

// A protocol between user processes (lib/protocol/), not the kernel's ABI.
#ifdef SLUICE_KERNEL
#error "lib/protocol/ is spoken between user processes: the kernel has no business including it"
#endif

#include <stddef.h>

#include "ring/spsc_ring.h"
#include "util/status.h"
#include "util/types.h"

namespace abi {

// Requests are the structs below (lib/protocol/message.h puts and gets
// them): data[0..4] is always the BlockOp.
enum class BlockOp : u32 {
    Info = 1,      // BlockDescribeRequest -> BlockInfo (length 0 past the last device)
    Identity = 2,  // BlockDescribeRequest -> BlockIdentity (likewise)
    // Attach: BlockAttachRequest; handles[0] = a notification the provider
    // signals after posting completions (signal|transfer), the only handle.
    // Reply: BlockAttachReply; handles[0] = the ring memory object
    // (kBlockRingBytes, BlockRings, read|write|map), handles[1] = the shared
    // data DmaBuffer (read|write|map), handles[2] = the notification the
    // consumer signals after queueing requests. All three are copies
    // derived from the provider's own: revoking or closing them reaches
    // only the consumer's view. A refusal is a BlockStatusReply.
    Attach = 3,
    // Detach and Ping are answered only to the consumer that attached the
    // channel (the badge of the endpoint capability it called with; the
    // service directory gives every consumer its own).
    // Detach: BlockChannelRequest -> BlockStatusReply (Stale when the
    // channel is not this provider's). The provider forgets the channel at
    // once: requests still in flight are abandoned (never answered), and
    // the consumer's copies of the rings, the data buffer and the
    // notification are revoked. A channel whose consumer breaks the ring
    // protocol is closed the same way.
    Detach = 4,
    // Ping: BlockChannelRequest -> BlockStatusReply: Ok while the channel
    // is live at this provider, Stale when it is not (the provider that had
    // it died; attach again). A consumer whose requests go unanswered asks
    // this instead of guessing from a timeout.
    Ping = 5,
};

struct BlockDescribeRequest {  // Info, Identity
    BlockOp op;
    u32 device;  // index at this provider
};
static_assert(sizeof(BlockDescribeRequest) == 8 && offsetof(BlockDescribeRequest, device) == 4);

struct BlockAttachRequest {
    BlockOp op;
    u32 data_bytes;  // data buffer bytes wanted (<= kBlockMaxDataBytes; 0: the provider's default)
};
static_assert(sizeof(BlockAttachRequest) == 8 && offsetof(BlockAttachRequest, data_bytes) == 4);

struct BlockAttachReply {
    Status status;
    // Opaque: it names this attach, not only the slot, so it is never
    // another channel's.
    u32 channel;
    u64 data_bytes;  // of the shared data buffer
    // The provider's generation: differs for every provider process, so a
    // restarted one never takes an old channel for its own.
    u64 generation;
};
static_assert(sizeof(BlockAttachReply) == 24 && offsetof(BlockAttachReply, channel) == 4 &&
              offsetof(BlockAttachReply, data_bytes) == 8 && offsetof(BlockAttachReply, generation) == 16);

struct BlockChannelRequest {  // Detach, Ping: the channel as Attach named it
    BlockOp op;
    u32 channel;
    u64 generation;
};
static_assert(sizeof(BlockChannelRequest) == 16 && offsetof(BlockChannelRequest, channel) == 4 &&
              offsetof(BlockChannelRequest, generation) == 8);

struct BlockStatusReply {  // Detach, Ping, refusals (an unknown op: InvalidArgument)
    Status status;
};
static_assert(sizeof(BlockStatusReply) == 4);

enum class BlockRequestOp : u8 { Read = 1, Write = 2, Flush = 3, WriteZeroes = 4, Discard = 5 };
// BlockInfo::ops: bit block_op_bit(op) set when the device offers `op`
// (a request for one it does not is answered Unsupported).
constexpr u32 block_op_bit(BlockRequestOp op) { return 1u << static_cast<u32>(op); }

struct BlockInfo {
    u64 blocks;        // device size in blocks
    u32 block_size;    // bytes: 512 or 4096 (whatever the device is formatted with)
    u32 max_transfer;  // bytes one device command moves (Read/Write; larger requests are split)
    // The number the device is named by after its provider instance:
    // <instance>n<unit> (nvme0n1). NVMe: the namespace id.
    u32 unit;
    u32 ops;                      // block_op_bit(...) of the operations offered
    u32 flags;                    // kBlock* below
    u32 device_count;             // how many devices this provider serves
    u32 alignment;                // a Read/Write offset into the data buffer is a multiple of this
    u32 max_write_zeroes_blocks;  // per device command (larger requests are split); 0 when not offered
    u32 max_discard_blocks;       // likewise
    u32 reserved;
};
static_assert(sizeof(BlockInfo) == 48 && offsetof(BlockInfo, unit) == 16 && offsetof(BlockInfo, ops) == 20 &&
              offsetof(BlockInfo, alignment) == 32 && offsetof(BlockInfo, max_discard_blocks) == 40);
constexpr u32 kBlockReadOnly = 1u << 0;       // writes, Write Zeroes and Discard are refused ReadOnly
constexpr u32 kBlockVolatileCache = 1u << 1;  // completed writes may sit in a cache: Flush (or FUA) makes them durable
constexpr u32 kBlockNativeFua = 1u << 2;  // FUA goes to the device; else the provider follows the write with a Flush

struct BlockIdentity {
    char model[41];
    char serial[21];
};
static_assert(sizeof(BlockIdentity) <= 64);

// BlockRequest::flags.
// Force Unit Access (Write, WriteZeroes): the completion comes only once
// the blocks are on stable media, not merely in a volatile cache. The
// device's own FUA where it has one (NVMe: CDW12 bit 30), else a Flush
// after the write; on a device without a volatile cache it changes
// nothing; on one with a cache and neither FUA nor Flush, Unsupported.
// Any other bit, or FUA on another operation: InvalidArgument.
constexpr u8 kBlockFua = 1u << 0;

struct BlockRequest {
    u64 id;  // the consumer's; echoed in the completion
    BlockRequestOp op;
    u8 flags;        // kBlockFua
    u8 reserved[2];  // 0 (else InvalidArgument)
    u32 device;      // index, as Info
    u64 lba;
    u32 blocks;     // 0 only for Flush
    u32 reserved2;  // 0 (else InvalidArgument)
    u64 offset;     // into the data buffer (Read/Write); block_size * blocks bytes from there
};
static_assert(sizeof(BlockRequest) == 40 && offsetof(BlockRequest, flags) == 9 && offsetof(BlockRequest, device) == 12);

struct BlockCompletion {
    u64 id;
    // A Status: 0 ok. Refused before reaching the device: OutOfBounds (past
    // the device or the buffer), InvalidArgument (a bad op, flag, length
    // or alignment), Unsupported (an operation the device does not offer:
    // see BlockInfo::ops), ReadOnly (a write to a read-only device),
    // NotFound (no such device). Failed by the device: MediaError,
    // ReadOnly, NoSpace, OutOfBounds, BadChecksum, Busy, Unsupported, ...
    // or DeviceError when nothing finer is known. Timeout: no answer even
    // after the device was reset.
    i32 status;
    // When the device failed the request: its own status, opaque (NVMe:
    // the status field, SC 7:0, SCT 10:8, DNR 14), for logs only — the
    // Status says what it means. Else 0.
    u32 detail;
};
static_assert(sizeof(BlockCompletion) == 16 && offsetof(BlockCompletion, detail) == 12);

// The ring memory object: two single-producer single-consumer rings
// (lib/ring/spsc_ring.h: free-running u32 indices, slot = index %
// kBlockRingEntries, release/acquire on the indices). The consumer
// produces requests and the provider completions. Each index has one
// writer: request.tail and completion.head the consumer, request.head and
// completion.tail the provider.
//
// What the provider trusts of it: nothing (the ring library's rules). It
// keeps its own copies of the indices it writes and never reads them back;
// it copies a request out of its slot once and uses only the copy; and
// every index the consumer wrote only moves forward and stays within a
// ring's length of the provider's own — request.tail at most
// kBlockRingEntries ahead of request.head, completion.head never past
// completion.tail — or the consumer is breaking the protocol and its
// channel is closed. A consumer has at most kBlockRingEntries requests
// outstanding (taken by the provider and not yet answered into the
// completion ring): the provider takes no more from it until it makes room
// by consuming completions.
constexpr u32 kBlockRingEntries = 128;
struct BlockRings {
    ring::Indices request;  // head: the provider's (next to take); tail: the consumer's (next free slot)
    u32 pad0[14];
    ring::Indices completion;  // head: the consumer's; tail: the provider's
    u32 pad1[14];
    BlockRequest requests[kBlockRingEntries];
    BlockCompletion completions[kBlockRingEntries];
};
constexpr u64 kBlockRingBytes = 16384;
static_assert(sizeof(BlockRings) <= kBlockRingBytes);
// The layout consumers map (each index pair on a cache line of its own).
static_assert(offsetof(BlockRings, request) == 0 && offsetof(BlockRings, completion) == 64 &&
              offsetof(BlockRings, requests) == 128 &&
              offsetof(BlockRings, completions) == 128 + 40 * kBlockRingEntries);
// The two views of each ring.
using BlockRequestProducer = ring::Producer<BlockRequest, kBlockRingEntries>;        // the consumer's
using BlockRequestConsumer = ring::Consumer<BlockRequest, kBlockRingEntries>;        // the provider's
using BlockCompletionProducer = ring::Producer<BlockCompletion, kBlockRingEntries>;  // the provider's
using BlockCompletionConsumer = ring::Consumer<BlockCompletion, kBlockRingEntries>;  // the consumer's
constexpr u64 kBlockMaxDataBytes = 2ull << 20;

}  // namespace abi
