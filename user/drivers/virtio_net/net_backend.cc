#include "net_backend.h"

#include <stddef.h>

#include "rt/log.h"
#include "rt/sys.h"
#include "virtio/pci_layout.h"

namespace virtio_net {

using virtio::net::Config;
using virtio::net::Header;

namespace {

abi::VirtioSegment segment(u32 buffer, u64 offset, u64 length, bool device_writes) {
    return abi::VirtioSegment{buffer, device_writes ? abi::kVirtioSegmentDeviceWrites : 0u, offset, length};
}

// §5.1.4: mac (6 bytes, read a byte at a time), status, max_virtqueue_pairs,
// mtu — each at its width.
constexpr rt::VirtioTransport::ConfigField kConfigFields[] = {
    {0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 2}, {8, 2}, {10, 2},
};
constexpr rt::VirtioTransport::ConfigField kStatusField[] = {{offsetof(Config, status), 2}};

}  // namespace

Result<void> NetBackend::start() {
    u64 offered = TRY(m_transport.begin());
    // §3.1.1 step 4 lets the configuration be read before the features are
    // accepted: the MTU decides whether MTU is taken.
    u8 raw[sizeof(Config)] = {};
    TRY(m_transport.read_config(kConfigFields, sizeof kConfigFields / sizeof kConfigFields[0], raw, sizeof raw));
    Config config;
    __builtin_memcpy(&config, raw, sizeof config);
    // Without MAC: a locally administered address of our own (§5.1.5).
    u64 seed = rt::clock_ns() ^ u64 { rt::startup().pid } << 24;
    const u8 fallback[6] = {
        0x02, 0x53, 0x4c, static_cast<u8>(seed >> 16), static_cast<u8>(seed >> 8), static_cast<u8>(seed)};
    u16 max_mtu = static_cast<u16>(abi::kNetBufferBytes - virtio::net::kEthernetHeader);
    m_device = TRY(virtio::net::negotiate(offered, config, max_mtu, fallback));
    TRY(m_transport.accept(m_device.features));
    // One header per slot to receive into, and the zeroed transmit header.
    m_headers = TRY(rt::dma_buffer_create(m_pool, (abi::kNetBufferCount + 1) * kHeaderStride));
    m_headers_at = reinterpret_cast<u8*>(TRY(rt::memory_map(m_headers.get(), 0, abi::kMapWrite)));
    m_rx = TRY(rt::virtqueue_create(m_pool, virtio::net::kRxQueue, kQueueSize, 0, 2));
    m_tx = TRY(rt::virtqueue_create(m_pool, virtio::net::kTxQueue, kQueueSize, m_irq_count > 1 ? 1 : 0, 2));
    if (m_irq_count > 2) TRY(m_transport.set_config_vector(2));
    for (u32& s : m_rx_slot_of_head) s = kNoSlot;
    for (u32& s : m_tx_slot_of_head) s = kNoSlot;
    TRY(m_transport.driver_ok());
    tx_interrupts(false);  // nothing is transmitted yet (kTxIrqOnAt)
    return {};
}

net::LinkInfo NetBackend::link() {
    net::LinkInfo l{};
    __builtin_memcpy(l.mac, m_device.mac, sizeof l.mac);
    l.mtu = m_device.mtu;
    u16 status = 0;
    if (m_device.has_status) {
        u8 raw[sizeof(Config)] = {};
        // Unreadable now: keep what was said last (up), not a flap.
        if (m_transport.read_config(kStatusField, 1, raw, sizeof raw).ok())
            status = static_cast<u16>(raw[6] | raw[7] << 8);
        else
            status = virtio::net::kStatusLinkUp;
    }
    l.link_up = virtio::net::link_up(m_device, status);
    // The transmit deadline runs only while the link is up (as Linux's
    // watchdog needs the carrier): a device may hold frames while its
    // cable is out, and that is no fault of the device.
    if (!l.link_up) m_tx_progress_ns = rt::clock_ns();
    // §2.1.2: the device hit an error it cannot recover from without a reset.
    if (!m_fault && m_transport.needs_reset()) m_fault = "the device set DEVICE_NEEDS_RESET";
    return l;
}

Result<void> NetBackend::use_packet_buffer(u32 buffer, u32 slot_bytes, u32 slot_count) {
    if (slot_count > abi::kNetBufferCount || slot_bytes < u32{m_device.mtu} + virtio::net::kEthernetHeader)
        return Status::InvalidArgument;
    m_packet = buffer;
    m_slot_bytes = slot_bytes;
    m_slot_count = slot_count;
    return {};
}

bool NetBackend::flush(rt::Handle& queue, u32* slot_of_head, u32 first, u32& posted, Status& why) {
    if (!m_chain_count) return true;
    auto sent = rt::virtqueue_submit(queue.get(), m_chains, m_chain_count, m_segments, 2 * m_chain_count);
    m_refill_calls++;
    u32 n = m_chain_count;
    m_chain_count = 0;
    if (!sent.ok()) {
        why = sent.status();
        return false;
    }
    for (u32 i = 0; i < n; i++) slot_of_head[m_chains[i].head % kQueueSize] = m_chain_slots[i];
    posted = first + n;
    return true;
}

// Both queues alike: chains of (header, slot), one broker call per
// abi::kVirtioMaxBatch. `chain(i, slot, header_offset, length)` says what
// the i-th is; the device writes both (receive) or reads both (transmit).
template <typename Chain>
u32 NetBackend::post(bool rx, u32 count, Status& why, Chain chain) {
    rt::Handle& queue = rx ? m_rx : m_tx;
    u32* slot_of_head = rx ? m_rx_slot_of_head : m_tx_slot_of_head;
    u32 room = rx ? rx_room() : tx_room();
    if (count > room) {
        count = room;
        why = Status::Busy;
    }
    u32 posted = 0;
    bool failed = false;
    for (u32 i = 0; i < count; i++) {
        u32 slot = 0, length = 0;
        u64 header = 0;
        chain(i, slot, header, length);
        m_segments[2 * m_chain_count] = segment(m_headers.get(), header, sizeof(Header), rx);
        m_segments[2 * m_chain_count + 1] = segment(m_packet, u64{slot} * m_slot_bytes, length, rx);
        m_chains[m_chain_count] = abi::VirtioChain{2, 0, 0};
        m_chain_slots[m_chain_count++] = slot;
        if (m_chain_count == abi::kVirtioMaxBatch && !flush(queue, slot_of_head, posted, posted, why)) {
            failed = true;
            break;
        }
    }
    if (!failed) (void)flush(queue, slot_of_head, posted, posted, why);
    m_chain_count = 0;
    // The transmit deadline runs from the first frame the device owes.
    if (!rx && posted && m_tx_posted == 0) m_tx_progress_ns = rt::clock_ns();
    (rx ? m_rx_posted : m_tx_posted) += posted;
    return posted;
}

u32 NetBackend::post_rx(const u32* slots, u32 count, Status& why) {
    // Each slot whole, behind a header of its own the device writes.
    return post(true, count, why, [&](u32 i, u32& slot, u64& header, u32& length) {
        slot = slots[i];
        header = u64{slot} * kHeaderStride;
        length = m_slot_bytes;
    });
}

u32 NetBackend::post_tx(const net::TxFrame* frames, u32 count, Status& why) {
    // The frame behind the one zeroed header (never written: all flags 0,
    // GSO none), after the receive headers.
    u32 posted = post(false, count, why, [&](u32 i, u32& slot, u64& header, u32& length) {
        slot = frames[i].slot;
        header = u64{abi::kNetBufferCount} * kHeaderStride;
        length = frames[i].length;
    });
    if (m_tx_posted >= kTxIrqOnAt) tx_interrupts(true);
    return posted;
}

void NetBackend::tx_interrupts(bool on) {
    if (m_irq_count < 2 || on == m_tx_irq_on) return;
    // A refusal leaves it as it was (the periodic check still reaps).
    if (rt::interrupt_mask(m_irqs[1], !on).ok()) m_tx_irq_on = on;
}

Result<u32> NetBackend::reap_queue(bool rx, Completion* out, u32 max, bool& more) {
    if (!max) {
        more = true;  // not asked: it may hold some
        return 0u;
    }
    abi::VirtioCompletion done[64];
    if (max > 64) max = 64;
    auto taken = rt::virtqueue_complete((rx ? m_rx : m_tx).get(), done, max);
    if (!taken.ok()) {
        // Malformed: the used index jumped (the kernel recorded it).
        if (taken.status() == Status::Malformed && !m_fault) m_fault = "the device's used index jumped";
        return taken.status();
    }
    u32 n = taken.value();
    // Counted before lies are dropped: a full take means there may be more.
    if (n == max) more = true;
    u32* slot_of_head = rx ? m_rx_slot_of_head : m_tx_slot_of_head;
    u32 kept = 0;
    for (u32 i = 0; i < n; i++) {
        const abi::VirtioCompletion& c = done[i];
        // Ignored entries (the device lied about an id; the kernel logged
        // it against the device) name nothing of ours. A chain whose length
        // was a lie (LenTooLong) stays held by the kernel until a reset:
        // its slot stays the device's.
        // Either way the device holds a chain for good: fail closed.
        if (c.verdict != abi::VirtioVerdict::Ok) {
            if (!m_fault)
                m_fault = c.verdict == abi::VirtioVerdict::LenTooLong
                              ? "the device reported a length past a chain (the chain stays held)"
                              : "the device reported a chain it was not given (the one it overwrote stays held)";
            continue;
        }
        u32 slot = slot_of_head[c.id % kQueueSize];
        if (slot == kNoSlot) continue;
        slot_of_head[c.id % kQueueSize] = kNoSlot;
        Completion& o = out[kept++];
        o = Completion{rx, slot, 0, Status::Ok};
        if (!rx) {
            m_tx_posted--;
            m_tx_progress_ns = rt::clock_ns();
            continue;
        }
        m_rx_posted--;
        // The header the device wrote, copied out once, and the length
        // against the chain (header + slot).
        Header h;
        __builtin_memcpy(&h, const_cast<const u8*>(m_headers_at) + u64{slot} * kHeaderStride, sizeof h);
        auto frame = virtio::net::rx_frame_length(h, c.len, sizeof(Header) + m_slot_bytes, m_device.mtu);
        if (frame.ok()) {
            o.length = frame.value();
        } else if (m_refused_frames++ < 8) {  // a device that keeps lying is not logged for ever
            rt::log("virtio-net: received packet refused (used length %u, gso %u, flags 0x%x): %s", c.len, h.gso_type,
                    h.flags, status_name(frame.status()));
        }
    }
    return kept;
}

Result<u32> NetBackend::reap(Completion* out, u32 max, bool& more, bool every_queue) {
    more = false;
    u32 got = TRY(reap_queue(true, out, max, more));
    if (m_fault) return got;  // the transmit queue is left to the reset
    bool rx_more = more;
    more = false;
    // Transmit completions wait while few are out and only a receive
    // interrupt woke us: taken kTxIrqOffBelow at a time (one
    // VirtQueueComplete per round trip less). The transmit interrupt and
    // the server's periodic check always take them, so the transmit
    // deadline is judged at least every check.
    if (!every_queue && !m_tx_irq_fired && got != 0 && m_tx_posted < kTxIrqOffBelow) {
        more = rx_more;
        return got;
    }
    m_tx_irq_fired = false;
    got += TRY(reap_queue(false, out + got, max - got, more));
    // Every transmit completion there was is taken (the queue was asked and
    // did not fill the take): a transmit still owed past the deadline is
    // the device's fault, not a late reap.
    if (!more && m_tx_posted && !m_fault && rt::clock_ns() - m_tx_progress_ns > kTxDeadlineNs)
        m_fault = "transmits posted and none completed for 5 s (the transmit deadline)";
    if (m_tx_posted < kTxIrqOffBelow) tx_interrupts(false);
    more |= rx_more;
    return got;
}

bool NetBackend::acknowledge(u32 i) {
    if (i >= m_irq_count) return false;
    if (i == 1) m_tx_irq_fired = true;
    (void)rt::interrupt_ack(m_irqs[i]);
    return i == 2;
}

}  // namespace virtio_net
