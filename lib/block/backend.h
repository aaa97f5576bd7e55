// What a storage driver implements to plug into the block layer
// (lib/block/engine.h; DESIGN §6 "one service layer per class"). The
// engine speaks the BlockDevice protocol to consumers (lib/protocol/
// block.h) and turns their requests into generic device Commands, already
// validated and split to the limits the backend declares; the backend
// turns each into its device's own command (NVMe: a submission queue
// entry through the broker; virtio-blk: a request header, data segments
// and a status byte) and reports each one's end.
//
// Threading and lifetime: one thread (the provider's service loop) calls
// everything; a Backend outlives the engine that uses it.
#pragma once

#include "protocol/block.h"
#include "util/result.h"
#include "util/status.h"
#include "util/types.h"

namespace block {

// One device (NVMe namespace, virtio-blk disk) as the backend describes
// it. The engine enforces every limit here before a command reaches the
// backend, so the backend may rely on them.
struct DeviceInfo {
    u64 blocks = 0;
    u8 block_shift = 9;
    u32 unit = 0;  // BlockInfo::unit: how consumers name it (NVMe: the nsid)
    // abi::block_op_bit(...) of the operations the device offers. Read and
    // Write are expected; Flush, WriteZeroes and Discard only where the
    // device has a command for them (NVMe ONCS/VWC; virtio FLUSH, DISCARD,
    // WRITE_ZEROES feature bits).
    u32 ops = 0;
    bool read_only = false;       // writes refused ReadOnly (virtio RO)
    bool volatile_cache = false;  // completed writes may be in a cache: Flush / FUA matter
    bool native_fua = false;      // Command::fua reaches the device (NVMe); else the engine adds a Flush
    // Read/Write: bytes one command moves (NVMe MDTS; virtio SIZE_MAX x
    // SEG_MAX), a multiple of the block size.
    u32 max_transfer = 0;
    // The device sees data memory in segments of segment_bytes (a page:
    // the broker maps each page of a DmaBuffer on its own), at most
    // max_segments of them per command (virtio SEG_MAX; 0: no limit but
    // max_transfer). A command starting mid-segment spans one more.
    u32 segment_bytes = 4096;
    u32 max_segments = 0;
    u32 alignment = 1;                // of a data offset (NVMe PRP entries: dword, 4)
    u32 max_write_zeroes_blocks = 0;  // per command (NVMe NLB: 65536; virtio max_write_zeroes_sectors)
    u32 max_discard_blocks = 0;       // per command (NVMe DSM range: 2^32-1; virtio max_discard_sectors)
    char model[41] = {};
    char serial[21] = {};
};

// One device command the engine asks for. Read/Write name the channel's
// data buffer (a handle of the provider's own, never a consumer's) and a
// range in it that the engine checked against the buffer and the device's
// alignment and segment limits; Flush has no range; WriteZeroes and
// Discard name blocks only.
struct Command {
    abi::BlockRequestOp op{};
    bool fua = false;  // only when DeviceInfo::native_fua, on Write / WriteZeroes
    u32 device = 0;
    u64 lba = 0;
    u32 blocks = 0;
    u32 buffer = 0;
    u64 offset = 0;
};

// How one command ended, as the backend read it from the device (checked
// there: a tag the engine did not give out is the backend's to drop).
struct Outcome {
    u16 tag = 0;
    // Ok, or what the device's failure means. The engine passes on only
    // the codes that mean something to a consumer (status_for_consumer).
    Status status = Status::Ok;
    u32 detail = 0;      // the device's own status, opaque, for logs and BlockCompletion::detail
    bool retry = false;  // the device allows the same command again (NVMe: DNR clear)
};

class Backend {
public:
    virtual u32 device_count() const = 0;
    virtual const DeviceInfo& device(u32 index) const = 0;
    // Commands in flight at most; tags are 0 .. max_in_flight() - 1, each
    // used by one command at a time (NVMe: the command id).
    virtual u32 max_in_flight() const = 0;
    // Submits `count` commands (tags[i] for commands[i]) to the device at
    // once, or none of them: the Status refuses the whole batch.
    virtual Status submit(const Command* commands, const u16* tags, u32 count) = 0;
    // Outcomes posted since the last call, up to `max`. ack_interrupt: the
    // device's interrupt fired; re-arm it first.
    virtual Result<u32> poll(Outcome* out, u32 max, bool ack_interrupt) = 0;
    // A command got no answer in time: reset the device. Afterwards it
    // holds nothing of what was in flight (the engine submits it again).
    virtual Status reset() = 0;
    // Log text: a command as the device knew it ("opcode 0x02 nsid 1 lba
    // 2040"), a device status ("unrecovered read error (0x281)"), the
    // device's name for itself ("controller").
    virtual void describe(const Command& c, u16 tag, char* text, usize size) const = 0;
    virtual void describe_detail(u32 detail, char* text, usize size) const = 0;

protected:
    ~Backend() = default;
};

// The operations a consumer may ask for (BlockInfo::ops): the device's,
// and Flush on a device without a volatile cache whatever it offers —
// completed writes are durable there already, so the engine answers such
// a Flush at once without the device (virtio-blk without FLUSH is write-
// through, virtio 1.2 §5.2.6.2). A device with a cache and no Flush is
// refused Unsupported.
constexpr u32 offered_ops(const DeviceInfo& d) {
    return d.ops | (d.volatile_cache ? 0 : abi::block_op_bit(abi::BlockRequestOp::Flush));
}

// The Status a consumer receives for a device failure: the codes that
// carry a meaning for it pass; Ok (a failure whose bits name nothing) and
// anything that would read as a statement about the channel or its
// handles (Stale, Revoked, TornDown, ...: a consumer takes Stale for "the
// provider restarted") become DeviceError.
constexpr Status status_for_consumer(Status s) {
    switch (s) {
        case Status::MediaError:
        case Status::ReadOnly:
        case Status::NoSpace:
        case Status::DeviceError:
        case Status::Timeout:
        case Status::OutOfBounds:
        case Status::InvalidArgument:
        case Status::Unsupported:
        case Status::BadChecksum:
        case Status::Busy:
        case Status::NotFound:
        case Status::Forbidden: return s;
        default: return Status::DeviceError;
    }
}

}  // namespace block
