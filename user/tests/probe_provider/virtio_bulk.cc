// probe_provider's "bulk" mode on virtio-blk: long chains and notification
// suppression through the kernel's virtqueue broker, for the host to check
// from QEMU's trace and the disk image.
//
//   1. a 1 MiB write at byte 1 MiB as ONE chain: a header, the data in
//      pieces taken from the buffer out of order (piece i of the disk range
//      from buffer piece 7i mod n), and the status byte. With "indirect" the
//      provider negotiates VIRTIO_F_INDIRECT_DESC and the pieces are 8 KiB
//      (130 segments: the kernel builds an indirect table); without it,
//      32 KiB (34 segments, chained directly in a 64-entry ring);
//   2. the same range read back into another buffer by one such chain and
//      compared with the pattern in the guest;
//   3. 8 batches of 8 reads of 4 KiB, each batch one VirtQueueSubmit, each
//      left to complete, reaped in pairs (the second batch completes while
//      the first is unreaped). With "event_idx" the provider negotiates
//      VIRTIO_F_EVENT_IDX.
// Before each phase and after the last it reads config dword 0xfc: QEMU
// traces the read (pci_cfg_read), and the scenario counts notifications
// (virtio_queue_notify), interrupts (virtio_notify) and chains taken
// (virtqueue_pop) between those delimiters (the last three spans: the
// kernel read the same dword once at boot).
#include "abi/virtio.h"
#include "rt/log.h"
#include "rt/sys.h"
#include "util/pattern.h"
#include "virtio/blk_layout.h"
#include "virtio/pci_layout.h"

namespace probe {
namespace {

using virtio::CommonConfig;
constexpr u64 kDiskOffset = 1u << 20, kBytes = 1u << 20;
constexpr u64 kSeed = 13;  // lib/util/pattern.h, checked in the image by the host

u64 reg(u32 window, u64 offset, u32 width) { return rt::mmio_read(window, offset, width).value_or(~0ull); }
void set(u32 window, u64 offset, u32 width, u64 value) { (void)rt::mmio_write(window, offset, width, value); }

// §3.1.1 with VERSION_1 and, as asked and offered, INDIRECT_DESC and
// EVENT_IDX. Returns the feature word 0 accepted.
u32 handshake(u32 window, bool indirect, bool event_idx) {
    set(window, offsetof(CommonConfig, device_status), 1, 0);
    for (u32 i = 0; i < 1000 && reg(window, offsetof(CommonConfig, device_status), 1) != 0; i++) rt::sleep_ns(100'000);
    set(window, offsetof(CommonConfig, device_status), 1, virtio::status::kAcknowledge);
    set(window, offsetof(CommonConfig, device_status), 1, virtio::status::kAcknowledge | virtio::status::kDriver);
    set(window, offsetof(CommonConfig, device_feature_select), 4, 0);
    u32 offered = static_cast<u32>(reg(window, offsetof(CommonConfig, device_feature), 4));
    u32 want =
        (indirect ? 1u << virtio::feature::kIndirectDesc : 0) | (event_idx ? 1u << virtio::feature::kEventIdx : 0);
    set(window, offsetof(CommonConfig, driver_feature_select), 4, 0);
    set(window, offsetof(CommonConfig, driver_feature), 4, offered & want);
    set(window, offsetof(CommonConfig, device_feature_select), 4, 1);
    const u32 high = static_cast<u32>(reg(window, offsetof(CommonConfig, device_feature), 4));
    set(window, offsetof(CommonConfig, driver_feature_select), 4, 1);
    // VERSION_1 (bit 32), and ACCESS_PLATFORM (33) when offered: behind an
    // IOMMU the device refuses FEATURES_OK without it
    set(window, offsetof(CommonConfig, driver_feature), 4, 1 | (high & 2));
    set(window, offsetof(CommonConfig, device_status), 1,
        virtio::status::kAcknowledge | virtio::status::kDriver | virtio::status::kFeaturesOk);
    return offered & want;
}

abi::VirtioSegment seg(u32 buffer, u64 offset, u64 length, bool device_writes) {
    return abi::VirtioSegment{buffer, device_writes ? abi::kVirtioSegmentDeviceWrites : 0u, offset, length};
}

struct Bulk {
    u32 pci, queue, irq, ws;
    u32 control;  // headers at 64 * k, status bytes at 2048 + k
    volatile u8* control_at;
    u32 waits = 0;

    void delimit() { (void)rt::pci_config_read(pci, 0xfc, 4); }

    // Reaps until `want` entries came back (or 5 s pass); each wait is one
    // interrupt (or several that came before the wait).
    u32 reap(u32 want, abi::VirtioCompletion* out, u32* bad) {
        u32 got = 0;
        for (u32 tries = 0; got < want && tries < 50; tries++) {
            abi::WaitEvent ev{};
            if (rt::waitset_wait(ws, &ev, 1, 100'000'000ull).ok()) waits++;
            (void)rt::interrupt_ack(irq);
            auto n = rt::virtqueue_complete(queue, out + got, want - got);
            if (!n.ok()) break;
            for (u32 i = 0; i < n.value(); i++)
                if (out[got + i].verdict != abi::VirtioVerdict::Ok) ++*bad;
            got += n.value();
        }
        return got;
    }

    // One request as one chain: header k, the 1 MiB range in `pieces`
    // pieces of `data` (out of order), status k.
    Result<u16> big(u32 k, u32 type, u32 data, u32 pieces, abi::VirtioSegment* segs) {
        auto* h = reinterpret_cast<volatile virtio::blk::RequestHeader*>(control_at + 64 * k);
        h->type = type;
        h->reserved = 0;
        h->sector = kDiskOffset / 512;
        control_at[2048 + k] = 0xff;
        bool writes = type == static_cast<u32>(virtio::blk::RequestType::In);  // the device writes what it reads
        u64 piece = kBytes / pieces;
        segs[0] = seg(control, 64 * k, sizeof(virtio::blk::RequestHeader), false);
        for (u32 i = 0; i < pieces; i++) segs[1 + i] = seg(data, (i * 7 % pieces) * piece, piece, writes);
        segs[1 + pieces] = seg(control, 2048 + k, 1, true);
        abi::VirtioChain chain{static_cast<u16>(pieces + 2), 0, 0};
        TRY(rt::virtqueue_submit(queue, &chain, 1, segs, pieces + 2));
        return chain.head;
    }
};

}  // namespace

void virtio_blk_bulk(u32 pci, u32 window, u32 pool, u32 irq, bool indirect, bool event_idx) {
    u32 accepted = handshake(window, indirect, event_idx);
    // Indirect: 8 KiB pieces (130 segments, within the device's seg_max of
    // queue size - 2); direct: 32 KiB pieces, 34 descriptors of 64.
    u32 pieces = indirect ? 128 : 32;
    u16 size = indirect ? 16 : 64;
    auto q = rt::virtqueue_create(pool, 0, size, 0, pieces + 2);
    auto control = rt::dma_buffer_create(pool, 4096);
    auto out = rt::dma_buffer_create(pool, kBytes), in = rt::dma_buffer_create(pool, kBytes);
    auto ws = rt::waitset_create();
    if (!q.ok() || !control.ok() || !out.ok() || !in.ok() || !ws.ok())
        return rt::log("provider: bulk: queue %s, buffers %s", status_name(q.status()),
                       status_name(in.ok() ? out.status() : in.status()));
    auto control_at = rt::memory_map(control.value().get(), 0, abi::kMapWrite);
    auto out_at = rt::memory_map(out.value().get(), 0, abi::kMapWrite);
    auto in_at = rt::memory_map(in.value().get(), 0, 0);
    if (!control_at.ok() || !out_at.ok() || !in_at.ok() ||
        !rt::waitset_add(ws.value().get(), irq, abi::kSignalReady, 1).ok())
        return rt::log("provider: bulk: mappings");
    set(window, offsetof(CommonConfig, device_status), 1,
        virtio::status::kAcknowledge | virtio::status::kDriver | virtio::status::kFeaturesOk |
            virtio::status::kDriverOk);
    rt::log("provider: bulk: features indirect %s, event index %s; chains of %u segments",
            accepted & (1u << virtio::feature::kIndirectDesc) ? "on" : "off",
            accepted & (1u << virtio::feature::kEventIdx) ? "on" : "off", pieces + 2);

    Bulk b{pci,
           q.value().get(),
           irq,
           ws.value().get(),
           control.value().get(),
           reinterpret_cast<volatile u8*>(control_at.value())};
    // The data, laid out as the chain takes it: disk piece i from buffer
    // piece 7i mod n.
    u64 piece = kBytes / pieces;
    auto* data = reinterpret_cast<u8*>(out_at.value());
    for (u32 i = 0; i < pieces; i++)
        util::fill_pattern(kSeed, kDiskOffset + i * piece, data + (i * 7 % pieces) * piece, piece);
    static abi::VirtioSegment segs[abi::kVirtioMaxChainSegments];
    abi::VirtioCompletion done[16];  // 2 batches of 8

    // 1. the write, one chain.
    u32 bad = 0;
    b.delimit();
    auto head = b.big(0, static_cast<u32>(virtio::blk::RequestType::Out), out.value().get(), pieces, segs);
    u32 got = head.ok() ? b.reap(1, done, &bad) : 0;
    rt::log(
        "provider: bulk: 1 MiB write in one chain of %u segments: %s, %u used entries (head %u, len %u, %u not "
        "ok), status %u",
        pieces + 2, status_name(head.ok() ? Status::Ok : head.status()), got, got ? done[0].id : 0,
        got ? done[0].len : 0, bad, b.control_at[2048]);

    // 2. the read back, one chain, compared in the guest.
    bad = 0;
    b.delimit();
    auto head2 = b.big(1, static_cast<u32>(virtio::blk::RequestType::In), in.value().get(), pieces, segs);
    got = head2.ok() ? b.reap(1, done, &bad) : 0;
    const auto* back = reinterpret_cast<const u8*>(in_at.value());
    u32 mismatches = 0;
    for (u32 i = 0; i < pieces; i++)
        mismatches +=
            util::check_pattern(kSeed, kDiskOffset + i * piece, back + (i * 7 % pieces) * piece, piece) != piece;
    rt::log(
        "provider: bulk: 1 MiB read back in one chain: %s, %u used entries (len %u, %u not ok), status %u, %u "
        "pieces differ",
        status_name(head2.ok() ? Status::Ok : head2.status()), got, got ? done[0].len : 0, bad, b.control_at[2049],
        mismatches);

    // 3. batches of reads: one submit each, reaped once all completed.
    constexpr u32 kBatches = 8, kPerBatch = 8;
    u32 taken = 0, failed = 0;
    bad = 0;
    b.waits = 0;
    b.delimit();
    for (u32 batch = 0; batch < kBatches; batch++) {
        abi::VirtioChain chains[kPerBatch];
        abi::VirtioSegment s[3 * kPerBatch];
        for (u32 k = 0; k < kPerBatch; k++) {
            auto* h = reinterpret_cast<volatile virtio::blk::RequestHeader*>(b.control_at + 64 * (k + 2));
            h->type = static_cast<u32>(virtio::blk::RequestType::In);
            h->reserved = 0;
            h->sector = (kDiskOffset + k * 4096) / 512;
            s[3 * k] = seg(b.control, 64 * (k + 2), sizeof(virtio::blk::RequestHeader), false);
            s[3 * k + 1] = seg(in.value().get(), k * 4096, 4096, true);
            s[3 * k + 2] = seg(b.control, 2048 + 2 + k, 1, true);
            chains[k] = abi::VirtioChain{3, 0, 0};
        }
        if (!rt::virtqueue_submit(b.queue, chains, kPerBatch, s, 3 * kPerBatch).ok()) {
            failed++;
            continue;
        }
        // The device completes the whole batch (and raises its interrupt)
        // before anything is reaped; the second batch of each pair
        // completes while the first is still unreaped: with EVENT_IDX the
        // kernel's used_event says the provider has not caught up, and the
        // device raises no second interrupt.
        rt::sleep_ns(20'000'000);
        if (batch & 1) taken += b.reap(2 * kPerBatch, done, &bad);
    }
    b.delimit();
    rt::log("provider: bulk: %u batches of %u reads: %u completed, %u refused, %u not ok, %u wake-ups", kBatches,
            kPerBatch, taken, failed, bad, b.waits);
    (void)q.value().release();  // until teardown
}

}  // namespace probe
