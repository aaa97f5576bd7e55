// The virtio-blk provider's block::Backend (lib/block/backend.h): how the
// block layer's generic commands become virtio-blk requests (virtio 1.1
// §5.2.6) on one virtqueue the kernel brokers (DESIGN §4, brokered lane),
// and how they come back. Channels, rings, validation, splitting, retries
// and timeouts are the shared block layer's (lib/block/engine.h,
// user/rt/block_server.h).
//
// A request is one chain: the 16-byte header (device-readable), the data
// (readable for a write, writable for a read, split at SIZE_MAX), or one
// 16-byte discard / write-zeroes range, then the status byte the device
// writes last. Headers, ranges and status bytes live in one DMA buffer of
// the provider's, a 64-byte slot per tag; the data is the channel's data
// buffer the engine names. With VIRTIO_F_INDIRECT_DESC the kernel puts a
// whole chain in one ring entry, so every tag can be in flight at once.
//
// The mapping: Read IN(0), Write OUT(1), Flush FLUSH(4) (only with the
// FLUSH feature: without it the device is write-through and the engine
// answers Flush itself), Write Zeroes WRITE_ZEROES(13), Discard
// DISCARD(11), each where its feature was negotiated. virtio-blk has no
// FUA (native_fua false: the engine follows a FUA write with a Flush).
// Sectors are 512 bytes whatever the block size (§5.2.6).
#pragma once

#include "abi/virtio.h"
#include "block/backend.h"
#include "rt/handle.h"
#include "rt/virtio_transport.h"
#include "virtio/blk_device.h"

namespace virtio_blk {

class BlockBackend final : public block::Backend {
public:
    static constexpr u16 kQueueSize = 128;
    static constexpr u32 kMaxTags = kQueueSize;
    // What a request needs besides its data, one per tag in the slots buffer:
    // the header the device reads, a discard / write-zeroes range it reads
    // (or the 20 id bytes GET_ID writes), the status byte it writes last.
    struct Slot {
        virtio::blk::RequestHeader header;
        union {
            virtio::blk::DiscardWriteZeroes range;
            u8 id[virtio::blk::kIdBytes];
        };
        u8 status;
    };
    static constexpr u32 kSlotBytes = 64;
    static_assert(sizeof(Slot) <= kSlotBytes);

    BlockBackend(rt::VirtioTransport& transport, u32 pool, u32 irq)
        : m_transport(transport), m_pool(pool), m_irq(irq) {}

    // Negotiation, configuration, the queue, DRIVER_OK, then the id string
    // (GET_ID, waited for up to `timeout_ns`).
    Result<void> start(u64 timeout_ns);
    const virtio::blk::Geometry& geometry() const { return m_geometry; }

    u32 device_count() const override { return 1; }
    const block::DeviceInfo& device(u32) const override { return m_info; }
    u32 max_in_flight() const override { return m_max_in_flight; }
    Status submit(const block::Command* commands, const u16* tags, u32 count) override;
    Result<u32> poll(block::Outcome* out, u32 max, bool ack_interrupt) override;
    Status reset() override;
    void describe(const block::Command& c, u16 tag, char* text, usize size) const override;
    void describe_detail(u32 detail, char* text, usize size) const override;

private:
    Result<void> bring_up();
    void describe_device();
    // Appends command `c`'s chain (tag `tag`) to the batch being built.
    Status add_chain(const block::Command& c, u16 tag);
    Status flush_batch();
    // A command of a batch whose later VirtQueueSubmit was refused: its
    // outcome (the refusal) waits for the next poll().
    void refuse_later(u16 tag, Status why);
    Result<void> read_id(u64 timeout_ns);
    Slot& slot(u16 tag) const { return *reinterpret_cast<Slot*>(m_slots_at + u64{tag} * kSlotBytes); }
    // Where a field of tag's slot is in the slots buffer (a segment's offset).
    static u64 at(u16 tag, usize field_offset) { return u64{tag} * kSlotBytes + field_offset; }

    rt::VirtioTransport& m_transport;
    u32 m_pool, m_irq;
    virtio::blk::Geometry m_geometry{};
    block::DeviceInfo m_info{};
    u32 m_max_in_flight = 0;
    u32 m_segment_bytes = 0;  // data segments are cut at these boundaries (0: one segment)
    rt::Handle m_queue;
    rt::Handle m_slots;
    u8* m_slots_at = nullptr;
    // Head the kernel gave each tag's chain, and the tag of each head.
    static constexpr u16 kNoTag = 0xffff;
    u16 m_tag_of_head[kQueueSize] = {};
    u32 m_read_bytes[kMaxTags] = {};  // a read's data length: the device must report at least it + 1
    // The batch being built (VirtQueueSubmit takes kVirtioMaxBatch chains).
    abi::VirtioChain m_chains[abi::kVirtioMaxBatch] = {};
    u16 m_chain_tags[abi::kVirtioMaxBatch] = {};
    abi::VirtioSegment m_segments[abi::kVirtioMaxSubmitSegments] = {};
    u32 m_chain_count = 0, m_segment_count = 0;
    block::Outcome m_refused[kMaxTags] = {};
    u32 m_refused_count = 0;
};

}  // namespace virtio_blk
