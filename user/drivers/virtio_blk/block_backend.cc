#include "block_backend.h"

#include <stddef.h>

#include "rt/log.h"
#include "rt/sys.h"
#include "util/format.h"
#include "virtio/pci_layout.h"

namespace virtio_blk {

using virtio::blk::RequestType;

namespace {

constexpr u8 kNoStatus = 0xff;  // written before submission: the device overwrites it

RequestType type_of(abi::BlockRequestOp op) {
    switch (op) {
        case abi::BlockRequestOp::Read: return RequestType::In;
        case abi::BlockRequestOp::Write: return RequestType::Out;
        case abi::BlockRequestOp::Flush: return RequestType::Flush;
        case abi::BlockRequestOp::WriteZeroes: return RequestType::WriteZeroes;
        case abi::BlockRequestOp::Discard: return RequestType::Discard;
    }
    return RequestType::GetId;
}

const char* type_name(RequestType t) {
    switch (t) {
        case RequestType::In: return "read";
        case RequestType::Out: return "write";
        case RequestType::Flush: return "flush";
        case RequestType::GetId: return "get-id";
        case RequestType::Discard: return "discard";
        case RequestType::WriteZeroes: return "write-zeroes";
    }
    return "?";
}

// The configuration (§5.2.4), every field up to write_zeroes_may_unmap at
// its width; the 64-bit capacity as two 32-bit reads (§4.1.3.1), which the
// transport's generation check makes consistent.
Result<virtio::blk::Config> read_config(rt::VirtioTransport& transport) {
    static constexpr rt::VirtioTransport::ConfigField kFields[] = {
        {0, 4},  {4, 4},  {8, 4},  {12, 4}, {16, 2}, {18, 1}, {19, 1}, {20, 4}, {24, 1}, {25, 1},
        {26, 2}, {28, 4}, {32, 1}, {34, 2}, {36, 4}, {40, 4}, {44, 4}, {48, 4}, {52, 4}, {56, 1},
    };
    u8 raw[sizeof(virtio::blk::Config)] = {};
    TRY(transport.read_config(kFields, sizeof kFields / sizeof kFields[0], raw, sizeof raw));
    virtio::blk::Config c;
    __builtin_memcpy(&c, raw, sizeof c);  // little-endian fields, as x86 reads them
    return c;
}

abi::VirtioSegment segment(u32 buffer, u64 offset, u64 length, bool device_writes) {
    return abi::VirtioSegment{buffer, device_writes ? abi::kVirtioSegmentDeviceWrites : 0u, offset, length};
}

}  // namespace

Result<void> BlockBackend::bring_up() {
    u64 offered = TRY(m_transport.begin());
    TRY(m_transport.accept(
        TRY(virtio::blk::negotiate(offered, virtio::blk::driver_features(), virtio::blk::required_features()))));
    auto config = TRY(read_config(m_transport));
    // Without SEG_MAX the driver's own bound (§5.2.6.1: a request may use
    // the whole queue): the queue size less header and status.
    m_geometry = TRY(virtio::blk::read_geometry(config, m_transport.features(), kQueueSize - 2));
    // A chain is header + data segments + status. The kernel bounds the
    // indirect tables (queue size x segments per chain); the data segments
    // a request may use are what is left of that bound.
    u32 max_segments = m_geometry.max_segments + 2;
    if (max_segments > abi::kVirtioMaxChainSegments) max_segments = abi::kVirtioMaxChainSegments;
    if (max_segments > abi::kVirtioMaxIndirectEntries / kQueueSize)
        max_segments = abi::kVirtioMaxIndirectEntries / kQueueSize;
    m_geometry.max_segments = max_segments - 2;
    m_queue = TRY(rt::virtqueue_create(m_pool, 0, kQueueSize, 0, max_segments));
    for (u16& t : m_tag_of_head) t = kNoTag;
    TRY(m_transport.driver_ok());
    return {};
}

Result<void> BlockBackend::start(u64 timeout_ns) {
    m_slots = TRY(rt::dma_buffer_create(m_pool, kMaxTags * kSlotBytes));
    m_slots_at = reinterpret_cast<u8*>(TRY(rt::memory_map(m_slots.get(), 0, abi::kMapWrite)));
    TRY(bring_up());
    describe_device();
    TRY(read_id(timeout_ns));
    return {};
}

void BlockBackend::describe_device() {
    const virtio::blk::Geometry& g = m_geometry;
    block::DeviceInfo d{};
    d.blocks = g.blocks;
    d.block_shift = static_cast<u8>(__builtin_ctz(g.block_size));
    d.unit = 1;
    d.ops = abi::block_op_bit(abi::BlockRequestOp::Read) | abi::block_op_bit(abi::BlockRequestOp::Write) |
            (g.flush ? abi::block_op_bit(abi::BlockRequestOp::Flush) : 0) |
            (g.write_zeroes ? abi::block_op_bit(abi::BlockRequestOp::WriteZeroes) : 0) |
            (g.discard ? abi::block_op_bit(abi::BlockRequestOp::Discard) : 0);
    d.read_only = g.read_only;
    d.volatile_cache = g.flush;  // FLUSH offered: completed writes may sit in a cache
    d.native_fua = false;
    // Data segments: at most SIZE_MAX bytes each, cut at multiples of it
    // (a page multiple, so the engine's count of segments holds); without
    // SIZE_MAX one segment per request.
    m_segment_bytes = g.max_segment_bytes >= 4096 ? g.max_segment_bytes & ~4095u : g.max_segment_bytes;
    d.segment_bytes = m_segment_bytes ? m_segment_bytes : 4096;
    d.max_segments = m_segment_bytes ? g.max_segments : 0;
    u64 transfer = 1ull << 20;  // the engine's data buffers are 1 MiB
    if (m_segment_bytes && u64{m_segment_bytes} * g.max_segments < transfer)
        transfer = u64{m_segment_bytes} * g.max_segments;
    d.max_transfer = static_cast<u32>(transfer & ~u64{g.block_size - 1});
    d.alignment = 1;
    u32 sectors_per_block = g.block_size / virtio::blk::kSectorSize;
    d.max_write_zeroes_blocks = g.write_zeroes ? g.max_write_zeroes_sectors / sectors_per_block : 0;
    d.max_discard_blocks = g.discard ? g.max_discard_sectors / sectors_per_block : 0;
    format(d.model, sizeof d.model, "virtio-blk");
    __builtin_memcpy(d.serial, m_info.serial, sizeof d.serial);  // kept across a reset
    m_info = d;
    // One ring entry per request with indirect tables; else each takes
    // header + data + status descriptors.
    bool indirect = m_transport.features() & virtio::feature::bit(virtio::feature::kIndirectDesc);
    m_max_in_flight = indirect ? kQueueSize : kQueueSize / (m_segment_bytes ? g.max_segments + 2 : 3);
    if (m_max_in_flight > kMaxTags) m_max_in_flight = kMaxTags;
    if (m_max_in_flight == 0) m_max_in_flight = 1;
}

Status BlockBackend::add_chain(const block::Command& c, u16 tag) {
    RequestType type = type_of(c.op);
    Slot& s = slot(tag);
    u32 sectors_per_block = m_geometry.block_size / virtio::blk::kSectorSize;
    s.header = virtio::blk::RequestHeader{static_cast<u32>(type), 0,
                                          c.op == abi::BlockRequestOp::Flush ? 0 : c.lba * sectors_per_block};
    s.status = kNoStatus;
    u32 first = m_segment_count;
    auto add = [&](abi::VirtioSegment seg) { m_segments[m_segment_count++] = seg; };
    add(segment(m_slots.get(), at(tag, offsetof(Slot, header)), sizeof s.header, false));
    m_read_bytes[tag] = 0;
    switch (c.op) {
        case abi::BlockRequestOp::Read:
        case abi::BlockRequestOp::Write: {
            u64 bytes = u64{c.blocks} * m_geometry.block_size;
            bool writes = c.op == abi::BlockRequestOp::Read;
            if (writes) m_read_bytes[tag] = static_cast<u32>(bytes);
            for (u64 at = c.offset, end = c.offset + bytes; at < end;) {
                u64 piece = end - at;
                if (m_segment_bytes) {
                    u64 boundary = (at / m_segment_bytes + 1) * m_segment_bytes;
                    if (boundary - at < piece) piece = boundary - at;
                }
                if (m_segment_count + 1 >= abi::kVirtioMaxSubmitSegments) return Status::Busy;
                add(segment(c.buffer, at, piece, writes));
                at += piece;
            }
            break;
        }
        case abi::BlockRequestOp::WriteZeroes:
        case abi::BlockRequestOp::Discard:
            // No unmap flag: zeroes must read back as zeroes.
            s.range = virtio::blk::DiscardWriteZeroes{c.lba * sectors_per_block, c.blocks * sectors_per_block, 0};
            add(segment(m_slots.get(), at(tag, offsetof(Slot, range)), sizeof s.range, false));
            break;
        case abi::BlockRequestOp::Flush: break;
    }
    add(segment(m_slots.get(), at(tag, offsetof(Slot, status)), 1, true));
    m_chains[m_chain_count] = abi::VirtioChain{static_cast<u16>(m_segment_count - first), 0, 0};
    m_chain_tags[m_chain_count++] = tag;
    return Status::Ok;
}

Status BlockBackend::flush_batch() {
    if (!m_chain_count) return Status::Ok;
    auto sent = rt::virtqueue_submit(m_queue.get(), m_chains, m_chain_count, m_segments, m_segment_count);
    if (sent.ok())
        for (u32 i = 0; i < m_chain_count; i++) m_tag_of_head[m_chains[i].head % kQueueSize] = m_chain_tags[i];
    m_chain_count = m_segment_count = 0;
    return sent.ok() ? Status::Ok : sent.status();
}

Status BlockBackend::submit(const block::Command* commands, const u16* tags, u32 count) {
    // The engine's batch may need more than one VirtQueueSubmit (each takes
    // kVirtioMaxBatch chains, all or none). A refusal of the first call is
    // the whole batch's. A refusal of a later one must not be reported for
    // the whole batch — the earlier chains are with the device and will
    // complete — so those commands get an outcome of their own, the
    // refusal, handed out by the next poll().
    m_chain_count = m_segment_count = 0;
    bool some_sent = false;
    u32 batch_start = 0;
    auto send = [&](u32 upto) -> Status {
        Status s = flush_batch();
        if (s != Status::Ok && some_sent) {
            for (u32 k = batch_start; k < upto; k++) refuse_later(tags[k], s);
            s = Status::Ok;
        }
        some_sent = true;
        batch_start = upto;
        return s;
    };
    for (u32 i = 0; i < count; i++) {
        if (m_chain_count == abi::kVirtioMaxBatch ||
            m_segment_count + m_geometry.max_segments + 3 > abi::kVirtioMaxSubmitSegments) {
            if (Status s = send(i); s != Status::Ok) return s;
        }
        if (Status s = add_chain(commands[i], tags[i]); s != Status::Ok) {
            if (!some_sent) return s;
            m_chain_count = m_segment_count = 0;
            for (u32 k = batch_start; k < count; k++) refuse_later(tags[k], s);
            return Status::Ok;
        }
    }
    return send(count);
}

void BlockBackend::refuse_later(u16 tag, Status why) {
    block::Outcome& o = m_refused[m_refused_count++];
    o = block::Outcome{};
    o.tag = tag;
    o.status = why;
    o.retry = true;
}

Result<u32> BlockBackend::poll(block::Outcome* out, u32 max, bool ack_interrupt) {
    if (ack_interrupt) (void)rt::interrupt_ack(m_irq);
    // As many as the engine reaps per call (64): fewer would end its reap
    // loop early and leave the rest of a burst to the next interrupt.
    abi::VirtioCompletion done[64];
    if (max > 64) max = 64;
    u32 room = max > m_refused_count ? max - m_refused_count : 0;
    auto n = room ? rt::virtqueue_complete(m_queue.get(), done, room) : Result<u32>(0u);
    if (!n.ok()) return n.status();  // TornDown: BlockServer ends the provider
    u32 kept = 0;
    while (m_refused_count && kept < max) out[kept++] = m_refused[--m_refused_count];
    for (u32 i = 0; i < n.value() && kept < max; i++) {
        const abi::VirtioCompletion& c = done[i];
        // Ignored entries (a device lie) were recorded by the kernel; the
        // chain they might name stays with the device until its timeout.
        // So does a chain the device lied about (LenTooLong): the kernel
        // keeps it held until a reset, so the request is left to the
        // engine's timeout, whose reset gives every held chain back —
        // retrying at once would leave a descriptor behind per lie, and a
        // device lying often enough would fill the queue for good.
        if (c.verdict == abi::VirtioVerdict::OutOfRange || c.verdict == abi::VirtioVerdict::NotGiven ||
            c.verdict == abi::VirtioVerdict::LenTooLong)
            continue;
        u16 tag = m_tag_of_head[c.id % kQueueSize];
        if (tag == kNoTag) continue;
        m_tag_of_head[c.id % kQueueSize] = kNoTag;
        // The device wrote it: read once, after VirtQueueComplete.
        u8 status = *static_cast<volatile u8*>(&slot(tag).status);
        block::Outcome& o = out[kept++];
        o.tag = tag;
        o.detail = status;
        if (status == 0 && m_read_bytes[tag] && c.len < m_read_bytes[tag] + 1) {
            o.status = Status::DeviceError;  // what it wrote is not believed
            o.retry = true;
        } else if (status == static_cast<u8>(virtio::blk::RequestStatus::Ok)) {
            o.status = Status::Ok;
        } else if (status == static_cast<u8>(virtio::blk::RequestStatus::IoError)) {
            o.status = Status::MediaError;
            o.retry = true;
        } else if (status == static_cast<u8>(virtio::blk::RequestStatus::Unsupported)) {
            o.status = Status::Unsupported;
        } else {
            o.status = Status::DeviceError;  // no status written, or one the spec does not define
            o.retry = true;
        }
    }
    return kept;
}

Status BlockBackend::reset() {
    // Closing the queue resets the device (the kernel's virtqueue broker:
    // virtio has no per-queue stop) and releases what it held; then the
    // device is brought up from the start.
    m_queue = rt::Handle();
    m_refused_count = 0;  // nothing is in flight after a reset: the engine submits it all again
    auto r = bring_up();
    describe_device();
    return r.ok() ? Status::Ok : r.status();
}

Result<void> BlockBackend::read_id(u64 timeout_ns) {
    // GET_ID (§5.2.6): header, 20 writable bytes, status. Slot 0 is free:
    // the service has not started.
    Slot& s = slot(0);
    s.header = virtio::blk::RequestHeader{static_cast<u32>(RequestType::GetId), 0, 0};
    for (u8& b : s.id) b = 0;
    s.status = kNoStatus;
    abi::VirtioChain chain{3, 0, 0};
    abi::VirtioSegment segs[3] = {segment(m_slots.get(), at(0, offsetof(Slot, header)), sizeof s.header, false),
                                  segment(m_slots.get(), at(0, offsetof(Slot, id)), sizeof s.id, true),
                                  segment(m_slots.get(), at(0, offsetof(Slot, status)), 1, true)};
    TRY(rt::virtqueue_submit(m_queue.get(), &chain, 1, segs, 3));
    for (u64 start = rt::clock_ns(); rt::clock_ns() - start < timeout_ns;) {
        abi::VirtioCompletion c{};
        if (TRY(rt::virtqueue_complete(m_queue.get(), &c, 1)) == 1) {
            u8 raw[virtio::blk::kIdBytes];
            for (u32 i = 0; i < sizeof raw; i++) raw[i] = static_cast<volatile u8*>(s.id)[i];
            if (c.verdict != abi::VirtioVerdict::Ok || *static_cast<volatile u8*>(&s.status) != 0) {
                m_info.serial[0] = '\0';  // no id: the device may not implement GET_ID
                return {};
            }
            char id[virtio::blk::kIdBytes + 1];
            virtio::blk::id_string(raw, id);
            __builtin_memcpy(m_info.serial, id, sizeof m_info.serial - 1);
            m_info.serial[sizeof m_info.serial - 1] = '\0';
            return {};
        }
        rt::sleep_ns(100'000);
    }
    return Status::Timeout;
}

void BlockBackend::describe(const block::Command& c, u16 tag, char* text, usize size) const {
    u32 spb = m_geometry.block_size / virtio::blk::kSectorSize;
    format(text, size, "%s tag %u sector %llu", type_name(type_of(c.op)), tag,
           static_cast<unsigned long long>(c.lba * spb));
}

void BlockBackend::describe_detail(u32 detail, char* text, usize size) const {
    const char* what = detail == 0 ? "ok" : detail == 1 ? "io-error" : detail == 2 ? "unsupported" : "no status";
    format(text, size, "%s (0x%x)", what, detail);
}

}  // namespace virtio_blk
