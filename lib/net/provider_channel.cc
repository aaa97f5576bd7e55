#include "net/provider_channel.h"

namespace net {

Result<void> ProviderChannel::init(u32 buffer_bytes, u32 buffer_count, u32 max_frame) {
    if (buffer_count == 0 || buffer_count > abi::kNetBufferCount || max_frame < abi::kNetMinFrame ||
        max_frame > buffer_bytes)
        return Status::InvalidArgument;
    m_buffer_bytes = buffer_bytes;
    m_count = buffer_count;
    m_max_frame = max_frame;
    for (u32 i = 0; i < m_count; i++) m_holders[i] = Holder::Free;
    return {};
}

Status ProviderChannel::refuse(Status s, const char* ring, const char* why, u32 offset, u32 length) {
    m_refusal = Refusal{ring, why, offset, length};
    return s;
}

Result<void> ProviderChannel::open(abi::NetRings* rings) {
    if (m_rings || !m_count) return Status::Busy;
    m_rings = rings;
    m_rx_free = rings->rx_free.consumer();
    m_tx_ready = rings->tx_ready.consumer();
    m_rx_used = rings->rx_used.producer();
    m_tx_done = rings->tx_done.producer();
    m_client_told = 0;  // tokens are per channel
    __atomic_store_n(&rings->link, (m_link_changes << abi::kNetLinkChangeShift) | (m_link_up ? abi::kNetLinkUp : 0),
                     __ATOMIC_RELEASE);
    // Every Free slot to the client, empty: the ring holds them all
    // (kNetBufferCount <= kNetRingEntries) and the client has taken none.
    for (u32 i = 0; i < m_count; i++) {
        if (m_holders[i] != Holder::Free) continue;
        (void)m_tx_done.put(abi::NetBuffer{i * m_buffer_bytes, 0});
        m_holders[i] = Holder::Client;
        m_pending = true;
    }
    return {};
}

void ProviderChannel::close() {
    m_rings = nullptr;
    m_rx_free = Consumer();
    m_tx_ready = Consumer();
    m_rx_used = Producer();
    m_tx_done = Producer();
    m_pending = false;
    for (u32 i = 0; i < m_count; i++)
        if (m_holders[i] == Holder::Client) m_holders[i] = Holder::Free;
}

u32 ProviderChannel::held_by(Holder h) const {
    u32 n = 0;
    for (u32 i = 0; i < m_count; i++) n += m_holders[i] == h;
    return n;
}

// The slot a descriptor names, if it is one the client holds.
Result<u32> ProviderChannel::slot_of(const abi::NetBuffer& d, const char* ring) {
    if (d.offset % m_buffer_bytes)
        return refuse(Status::InvalidArgument, ring, "offset not on a slot boundary", d.offset, d.length);
    u32 slot = d.offset / m_buffer_bytes;
    if (slot >= m_count) return refuse(Status::OutOfBounds, ring, "offset past the packet buffer", d.offset, d.length);
    if (m_holders[slot] != Holder::Client)
        return refuse(Status::NotOwner, ring,
                      m_holders[slot] == Holder::Free ? "a slot the client was never given"
                                                      : "a slot the device holds (lent twice)",
                      d.offset, d.length);
    return slot;
}

// Both client-produced rings work alike: refresh (every call, one acquire
// load: an index lie is seen at the next pass even when nothing is
// wanted), take, check, hand over. On a refusal the slots this
// call already took go back to the client (the caller closes the channel,
// which makes them Free): the caller is given none of them, so none can be
// lost to the device.
template <typename Accept>
Result<u32> ProviderChannel::take(Consumer& c, const char* ring, u32 max, Holder to, Accept accept) {
    if (!m_rings) return Status::Stale;
    auto r = c.refresh();
    if (!r.ok()) return refuse(r.status(), ring, "index moved back or ran ahead", c.bad_index(), 0);
    u32 n = 0;
    Status failed = Status::Ok;
    abi::NetBuffer d;
    while (n < max && c.take(&d)) {
        auto slot = slot_of(d, ring);
        if (!slot.ok()) {
            failed = slot.status();
            break;
        }
        if (to == Holder::Tx && (d.length < abi::kNetMinFrame || d.length > m_max_frame)) {
            failed = refuse(Status::InvalidArgument, ring, "frame length outside 14..mtu+14", d.offset, d.length);
            break;
        }
        m_holders[slot.value()] = to;
        m_taken[n] = slot.value();
        accept(n++, slot.value(), d.length);
    }
    c.release();
    if (failed != Status::Ok) {
        for (u32 i = 0; i < n; i++) m_holders[m_taken[i]] = Holder::Client;
        return failed;
    }
    return n;
}

Result<u32> ProviderChannel::take_rx_free(u32* slots, u32 max) {
    if (max > abi::kNetBufferCount) max = abi::kNetBufferCount;
    return take(m_rx_free, "rx_free", max, Holder::Rx, [&](u32 i, u32 slot, u32) { slots[i] = slot; });
}

Result<u32> ProviderChannel::take_tx_ready(TxFrame* frames, u32 max) {
    if (max > abi::kNetBufferCount) max = abi::kNetBufferCount;
    return take(m_tx_ready, "tx_ready", max, Holder::Tx, [&](u32 i, u32 slot, u32 length) {
        frames[i] = TxFrame{slot, length};
    });
}

Result<void> ProviderChannel::put(Producer& p, const char* ring, const abi::NetBuffer& d) {
    if (!p.room()) {
        auto r = p.refresh();
        if (!r.ok()) return refuse(r.status(), ring, "index moved back or passed the tail", p.bad_index(), 0);
        // Full with every slot accounted for: the client lent back slots
        // whose entries it never released. Not a state a client following
        // the protocol reaches (there are no more slots than entries).
        if (!r.value()) return refuse(Status::Malformed, ring, "ring not drained", d.offset, d.length);
    }
    (void)p.put(d);
    m_pending = true;
    return {};
}

Result<void> ProviderChannel::rx_complete(u32 slot, u32 length) {
    if (slot >= m_count || m_holders[slot] != Holder::Rx || length > m_buffer_bytes) return Status::InvalidArgument;
    if (!m_rings) {
        m_holders[slot] = Holder::Free;
        return {};
    }
    TRY(put(m_rx_used, "rx_used", abi::NetBuffer{slot * m_buffer_bytes, length}));
    m_holders[slot] = Holder::Client;
    return {};
}

Result<void> ProviderChannel::tx_complete(u32 slot, Status status) {
    if (slot >= m_count || m_holders[slot] != Holder::Tx) return Status::InvalidArgument;
    if (!m_rings) {
        m_holders[slot] = Holder::Free;
        return {};
    }
    TRY(put(m_tx_done, "tx_done", abi::NetBuffer{slot * m_buffer_bytes, static_cast<u32>(status)}));
    m_holders[slot] = Holder::Client;
    return {};
}

bool ProviderChannel::publish() {
    if (!m_rings || !m_pending) return false;
    m_rx_used.publish();
    m_tx_done.publish();
    m_pending = false;
    return true;
}

bool ProviderChannel::set_link(bool up) {
    if (up == m_link_up) return false;
    m_link_up = up;
    m_link_changes++;
    if (m_rings)
        __atomic_store_n(&m_rings->link,
                         (m_link_changes << abi::kNetLinkChangeShift) | (m_link_up ? abi::kNetLinkUp : 0),
                         __ATOMIC_RELEASE);
    return true;
}

bool ProviderChannel::client_sleeping() {
    return m_rings && abi::net_signal_needed(&m_rings->client_awake, m_client_told);
}

bool ProviderChannel::about_to_sleep() {
    if (!m_rings) return false;
    abi::net_going_to_sleep(&m_rings->provider_awake, m_sleeps);
    // A refresh that fails is left to the next take (it refuses and closes).
    auto rx = m_rx_free.refresh();
    auto tx = m_tx_ready.refresh();
    return !rx.ok() || !tx.ok() || rx.value() || tx.value();
}

void ProviderChannel::awake() {
    if (m_rings) abi::net_awake(&m_rings->provider_awake);
}

}  // namespace net
