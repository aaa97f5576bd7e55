#include "rt/net_client.h"

#include "protocol/message.h"
#include "rt/rights.h"
#include "rt/sys.h"

namespace rt {

Result<void> NetClient::call(abi::Message& m) { return endpoint_call(m_service, m); }

Result<abi::NetInfo> NetClient::info() {
    abi::Message m{};
    abi::put_body(m, abi::NetOpRequest{abi::NetOp::Info, 0});
    TRY(call(m));
    if (Status s = abi::reply_status(m); s != Status::Ok) return s;
    if (m.length < sizeof(abi::NetInfo)) return Status::Malformed;
    return abi::body_of<abi::NetInfo>(m);
}

Result<void> NetClient::attach() {
    if (m_rings) return Status::Busy;
    Status last = Status::Stale;
    for (u32 attempt = 0; attempt < kAttachAttempts; attempt++) {
        last = attach_once();
        // A provider dying as it answers: its successor answers the next.
        if (last != Status::Stale && last != Status::TornDown) break;
        sleep_ns(50'000'000);
    }
    return last == Status::Ok ? Result<void>() : Result<void>(last);
}

Status NetClient::attach_once() {
    auto info_now = info();
    if (!info_now.ok()) return info_now.status();
    const abi::NetInfo& i = info_now.value();
    if (i.buffer_bytes != abi::kNetBufferBytes || i.buffer_count != abi::kNetBufferCount ||
        u32{i.mtu} + abi::kNetMinFrame > abi::kNetBufferBytes)
        return Status::Unsupported;
    auto note = notification_create();
    if (!note.ok()) return note.status();
    auto note_copy = duplicate(note.value().get(), cap_rights::kSignal | cap_rights::kTransfer);
    if (!note_copy.ok()) return note_copy.status();
    abi::Message m{};
    abi::put_body(m, abi::NetOpRequest{abi::NetOp::Attach, 0});
    m.handle_count = 1;
    m.handles[0] = note_copy.value().release();
    if (auto answered = call(m); !answered.ok()) return answered.status();
    Status s = abi::reply_status(m);
    if (s == Status::Ok && (m.length < sizeof(abi::NetAttachReply) || m.handle_count != 3)) s = Status::Malformed;
    auto reply = abi::body_of<abi::NetAttachReply>(m);
    if (s == Status::Ok && (reply.buffer_bytes != abi::kNetBufferBytes || reply.buffer_count != abi::kNetBufferCount))
        s = Status::Unsupported;
    if (s != Status::Ok) {
        for (u32 k = 0; k < m.handle_count; k++) (void)close(m.handles[k]);
        return s;
    }
    Handle ring(m.handles[0]), packets(m.handles[1]), provider_note(m.handles[2]);
    m_channel = reply.channel;
    m_generation = reply.generation;
    // Sizes checked against what this side will touch, not trusted.
    auto rings_at = memory_map_checked(ring.get(), sizeof(abi::NetRings), abi::kMapWrite);
    auto packets_at =
        rings_at.ok()
            ? memory_map_checked(packets.get(), u64{abi::kNetBufferCount} * abi::kNetBufferBytes, abi::kMapWrite)
            : Result<u64>(rings_at.status());
    if (!packets_at.ok()) {
        abi::Message d = channel_message(abi::NetOp::Detach);
        if (packets_at.status() != Status::TornDown) (void)call(d);
        return packets_at.status();
    }
    m_ring_memory = static_cast<Handle&&>(ring);
    m_packet_buffer = static_cast<Handle&&>(packets);
    m_provider_note = static_cast<Handle&&>(provider_note);
    m_note = static_cast<Handle&&>(note.value());
    m_rings = reinterpret_cast<abi::NetRings*>(rings_at.value());
    m_provider_told = 0;  // tokens are per channel
    m_packets = reinterpret_cast<u8*>(packets_at.value());
    m_rx_free = m_rings->rx_free.producer();
    m_tx_ready = m_rings->tx_ready.producer();
    m_rx_used = m_rings->rx_used.consumer();
    m_tx_done = m_rings->tx_done.consumer();
    m_mtu = i.mtu;
    __builtin_memcpy(m_mac, i.mac, sizeof m_mac);
    m_epoch++;
    for (Slot& slot : m_slots) slot = Slot::Provider;
    m_free_count = 0;
    m_rx_lent = 0;
    m_rx_pending = m_tx_pending = false;
    m_rx_unsignalled = 0;
    m_next_ping = clock_ns() + kLivenessCheckNs;
    // The free slots come in tx_done (published before the reply).
    reap_tx_done();
    rx_flush();
    return Status::Ok;
}

abi::Message NetClient::channel_message(abi::NetOp op) const {
    abi::Message m{};
    abi::put_body(m, abi::NetChannelRequest{op, m_channel, m_generation});
    return m;
}

void NetClient::forget() {
    m_rings = nullptr;
    m_packets = nullptr;
    m_rx_free = {};
    m_tx_ready = {};
    m_rx_used = {};
    m_tx_done = {};
    m_packet_buffer.reset();
    m_provider_note.reset();
    m_ring_memory.reset();
    m_note.reset();
    m_free_count = 0;
}

Result<void> NetClient::detach() {
    if (!m_rings) return {};
    abi::Message m = channel_message(abi::NetOp::Detach);
    (void)call(m);
    forget();
    return {};
}

Result<void> NetClient::ping() {
    if (!m_rings) return Status::Stale;
    abi::Message m = channel_message(abi::NetOp::Ping);
    TRY(call(m));
    if (Status s = abi::reply_status(m); s != Status::Ok) return s;
    return {};
}

bool NetClient::slot_of(const abi::NetBuffer& d, u32& slot) {
    if (d.offset % abi::kNetBufferBytes || d.offset / abi::kNetBufferBytes >= abi::kNetBufferCount) {
        m_protocol_errors++;
        return false;
    }
    slot = d.offset / abi::kNetBufferBytes;
    return true;
}

void NetClient::lend_rx(u32 slot) {
    m_slots[slot] = Slot::LentRx;
    (void)m_rx_free.put(abi::NetBuffer{slot * abi::kNetBufferBytes, 0});  // room: no more slots than entries
    m_rx_lent++;
    m_rx_unsignalled++;
    m_rx_pending = true;
}

void NetClient::keep_empty(u32 slot) {
    // Transmit keeps a reserve first: after a reattach to the same
    // provider the device may still hold half the slots for receive, and
    // lending every empty one to receive left none to send the frame that
    // would bring them back (a restarted netstack never got its lease).
    if (m_rx_lent < kRxLend && m_free_count >= kTxReserve) {
        lend_rx(slot);
    } else {
        m_slots[slot] = Slot::Free;
        m_free[m_free_count++] = slot;
    }
}

void NetClient::reap_tx_done() {
    if (!m_rings) return;
    if (!m_tx_done.refresh().ok()) {
        m_protocol_errors++;
        return;
    }
    (void)m_rx_free.refresh();
    abi::NetBuffer d;
    while (m_tx_done.take(&d)) {
        u32 slot;
        if (!slot_of(d, slot)) continue;
        if (m_slots[slot] != Slot::LentTx && m_slots[slot] != Slot::Provider) {  // not lent: the provider lies
            m_protocol_errors++;
            continue;
        }
        if (d.length != 0) m_tx_dropped++;
        keep_empty(slot);
    }
    m_tx_done.release();
}

void NetClient::kick(bool& pending) {
    if (!pending || !m_rings) return;
    pending = false;
    // Only a provider that said it sleeps needs telling (NetRings::provider_awake).
    if (!abi::net_signal_needed(&m_rings->provider_awake, m_provider_told)) return;
    m_kicks++;
    (void)notification_signal(m_provider_note.get(), 1);
}

bool NetClient::prepare_to_sleep() {
    if (!m_rings) return true;
    abi::net_going_to_sleep(&m_rings->client_awake, m_sleeps);
    auto rx = m_rx_used.refresh();
    auto tx = m_tx_done.refresh();
    // A broken index is for the next take to count; it is no reason to spin.
    if (!rx.ok() || !tx.ok() || (!rx.value() && !tx.value())) return true;
    abi::net_awake(&m_rings->client_awake);
    return false;
}

net::LinkInfo NetClient::link() const {
    net::LinkInfo l{};
    __builtin_memcpy(l.mac, m_mac, sizeof l.mac);
    l.mtu = m_mtu;
    l.link_up = m_rings && (__atomic_load_n(&m_rings->link, __ATOMIC_ACQUIRE) & abi::kNetLinkUp);
    return l;
}

bool NetClient::rx_take(net::RxFrame& frame) {
    if (!m_rings) return false;
    for (;;) {
        if (!m_rx_used.ready() && !m_rx_used.refresh().ok()) {
            m_protocol_errors++;
            return false;
        }
        abi::NetBuffer d;
        if (!m_rx_used.take(&d)) return false;
        m_rx_used.release();
        u32 slot;
        if (!slot_of(d, slot)) continue;
        if (m_slots[slot] != Slot::LentRx && m_slots[slot] != Slot::Provider) {
            m_protocol_errors++;
            continue;
        }
        if (m_slots[slot] == Slot::LentRx) m_rx_lent--;
        if (d.length < abi::kNetMinFrame || d.length > abi::kNetBufferBytes) {
            // Nothing usable (the provider could not post it, or refused
            // what the device wrote): empty again.
            (void)m_rx_free.refresh();
            keep_empty(slot);
            continue;
        }
        m_slots[slot] = Slot::Rx;
        frame = net::RxFrame{m_packets + u64{slot} * abi::kNetBufferBytes, d.length, token(slot)};
        return true;
    }
}

bool NetClient::token_slot(u32 t, Slot expect, u32& slot) const {
    slot = t & 0xffff;
    return m_rings && (t >> 16) == (m_epoch & 0xffff) && slot < abi::kNetBufferCount && m_slots[slot] == expect;
}

void NetClient::rx_give_back(u32 t) {
    u32 slot;
    if (!token_slot(t, Slot::Rx, slot)) return;  // stale or foreign: ignored
    (void)m_rx_free.refresh();
    keep_empty(slot);
}

void NetClient::rx_flush() {
    if (!m_rings) return;
    m_rx_free.publish();
    // Taken on the provider's next wake (kRxReturnBatch) — unless what it
    // already holds runs low: a device out of buffers raises no interrupt
    // to wake it.
    // (It may have taken unsignalled buffers on wakes of its own: then it
    // holds at least none.)
    const u32 held = m_rx_lent > m_rx_unsignalled ? m_rx_lent - m_rx_unsignalled : 0;
    if (m_rx_unsignalled < kRxReturnBatch && held >= kRxLend / 2) return;
    m_rx_unsignalled = 0;
    kick(m_rx_pending);
}

u8* NetClient::tx_buffer(u32& t, u32& capacity) {
    if (!m_rings) return nullptr;
    if (!m_free_count) reap_tx_done();
    if (!m_free_count) return nullptr;
    u32 slot = m_free[--m_free_count];
    m_slots[slot] = Slot::Tx;
    t = token(slot);
    capacity = abi::kNetBufferBytes;
    return m_packets + u64{slot} * abi::kNetBufferBytes;
}

void NetClient::tx_commit(u32 t, u32 length) {
    u32 slot;
    if (!token_slot(t, Slot::Tx, slot)) return;
    if (length < abi::kNetMinFrame || length > u32{m_mtu} + abi::kNetMinFrame) {
        // The provider would refuse it (and close the channel): keep the
        // slot, count the frame as dropped.
        m_slots[slot] = Slot::Free;
        m_free[m_free_count++] = slot;
        m_tx_dropped++;
        return;
    }
    (void)m_tx_ready.refresh();
    m_slots[slot] = Slot::LentTx;
    (void)m_tx_ready.put(abi::NetBuffer{slot * abi::kNetBufferBytes, length});
    m_tx_pending = true;
}

void NetClient::tx_flush() {
    if (!m_rings) return;
    m_tx_ready.publish();
    kick(m_tx_pending);
}

Result<void> NetClient::wait(u64 timeout_ns, bool* reattached) {
    if (reattached) *reattached = false;
    u64 deadline = clock_ns() + timeout_ns;
    for (;;) {
        if (m_rings) {
            abi::net_awake(&m_rings->client_awake);  // the provider need not signal
            u32 seen = m_tx_done.tail_seen();
            reap_tx_done();
            rx_flush();
            if (!m_rx_used.ready()) (void)m_rx_used.refresh();
            // Heard from the provider: the next liveness check is a period
            // from now (kept across calls: a caller waiting in short slices
            // must still ping when the silence adds up).
            if (m_rx_used.ready() || m_tx_done.tail_seen() != seen) m_next_ping = clock_ns() + kLivenessCheckNs;
            if (m_rx_used.ready()) return {};
        }
        u64 now = clock_ns();
        if (now >= m_next_ping || !m_rings) {
            // Nothing for a while (or no channel): is the channel still live?
            auto p = ping();
            if (!p.ok()) {
                if (p.status() != Status::Stale && p.status() != Status::TornDown && m_rings) return p.status();
                forget();
                TRY(attach());
                m_reattaches++;
                if (reattached) *reattached = true;
                return {};
            }
            m_next_ping = now + kLivenessCheckNs;
        }
        if (now >= deadline) return Status::Timeout;
        u64 until = deadline < m_next_ping ? deadline : m_next_ping;
        // Asleep only when nothing came since the look above: else round again.
        if (prepare_to_sleep() && notification_wait(m_note.get(), until - now).ok()) m_wakes++;
    }
}

}  // namespace rt
