// A network stack's side of the NetDevice service (lib/protocol/net.h):
// attach a channel to a NIC provider's service endpoint and move frames
// through the shared rings, as the net::FrameIo the stack is written
// against (lib/net/frame_io.h). Used by the netstack and by net_probe.
//
// Slots: the client holds none at Attach; the provider hands every free
// one over through tx_done, and this side lends kRxLend of them to
// receive into at once (re-lending each as the stack gives it back) and
// keeps the rest to transmit from. Tokens name a slot and the attach it
// belongs to: a token from before a reattach, or one this side does not
// hold in that state, is ignored. Nothing the provider writes is trusted
// either: a descriptor outside the packet buffer or off a slot boundary,
// or a slot this side does not expect back, is dropped and counted
// (protocol_errors()).
//
// Notifications (NetRings::client_awake, provider_awake): the client kicks
// only a provider that said it sleeps, and says it sleeps itself only
// inside wait(), after which the provider signals each publish. So the
// owner must sleep for the NIC only in wait(), or, sleeping on more than
// the NIC at once (a waitset holding notification()), call
// prepare_to_sleep() first and sleep only when it says so: between two
// such calls the client counts as awake and is not signalled.
//
// Provider restart: when wait() hears nothing for kLivenessCheckNs it
// pings; Stale (the provider died, or closed the channel) makes it attach
// again, to the restarted provider (the endpoint outlives it). Frames
// taken before a reattach are gone with the old mapping: the stack must
// drop them (their tokens are ignored). When no provider answers after
// kAttachAttempts, wait() returns the error: the provider gave up
// (devmgr's restart limit) — TornDown.
#pragma once

#include "abi/ipc.h"
#include "net/frame_io.h"
#include "protocol/net.h"
#include "rt/handle.h"
#include "util/result.h"

namespace rt {

class NetClient final : public net::FrameIo {
public:
    static constexpr u32 kAttachAttempts = 8;
    static constexpr u64 kLivenessCheckNs = 1'000'000'000;
    static constexpr u32 kRxLend = abi::kNetBufferCount / 2;
    static constexpr u32 kTxReserve = 32;  // empty slots kept to transmit from before lending to receive
    // Receive buffers given back wake a sleeping provider only once this
    // many wait for it: it takes them on each of its own wakes (every
    // interrupt), and the device keeps kRxLend - kRxReturnBatch of them at
    // least. A wake per frame cost a round trip a provider wake and two
    // address-space switches, ahead of the application's.
    static constexpr u32 kRxReturnBatch = 32;
    static_assert(kRxReturnBatch < kRxLend / 2);

    explicit NetClient(u32 service) : m_service(service) {}
    ~NetClient() override { (void)detach(); }

    Result<abi::NetInfo> info();
    Result<void> attach();
    Result<void> detach();
    Result<void> ping();
    bool attached() const { return m_rings != nullptr; }

    // For an owner that sleeps on a waitset holding notification() rather
    // than in wait(): says the client sleeps, then looks at the rings
    // again. True: nothing came, sleep now (the provider will signal the
    // next publish); false: frames or completions are there, go round
    // first. The next wait() (even with timeout 0) marks it awake again.
    bool prepare_to_sleep();

    // Takes what the provider published (free slots, sent slots) and waits
    // up to timeout_ns for a received frame or a notification. Timeout when
    // nothing came. Pings and reattaches as above: true in *reattached
    // when it did.
    Result<void> wait(u64 timeout_ns, bool* reattached = nullptr);

    // net::FrameIo
    net::LinkInfo link() const override;
    bool rx_take(net::RxFrame& frame) override;
    void rx_give_back(u32 token) override;
    void rx_flush() override;
    u8* tx_buffer(u32& token, u32& capacity) override;
    void tx_commit(u32 token, u32 length) override;
    void tx_flush() override;

    u32 reattaches() const { return m_reattaches; }
    u64 protocol_errors() const { return m_protocol_errors; }
    u64 tx_dropped() const { return m_tx_dropped; }
    u64 generation() const { return m_generation; }
    // Notifications this side sent (kicks) and woke to (wakes), for counting.
    u64 kicks() const { return m_kicks; }
    u64 wakes() const { return m_wakes; }
    u32 channel() const { return m_channel; }
    // The notification the provider signals (a new one at each attach):
    // for a caller that waits on more than the NIC (a waitset).
    u32 notification() const { return m_note.get(); }
    // For adversary tests: the shared rings, to misuse on purpose.
    abi::NetRings* rings() const { return m_rings; }
    u8* packets() const { return m_packets; }
    bool lent_to_receive(u32 slot) const { return slot < abi::kNetBufferCount && m_slots[slot] == Slot::LentRx; }
    bool holds_empty(u32 slot) const { return slot < abi::kNetBufferCount && m_slots[slot] == Slot::Free; }

private:
    // Provider: the provider's since before this attach (the device may
    // still hold it from an earlier channel: it comes back through either
    // ring); LentRx / LentTx: lent by this side; Free: empty, ours; Rx:
    // the stack holds a received frame in it; Tx: the stack is filling it.
    enum class Slot : u8 { Provider, LentRx, LentTx, Free, Rx, Tx };
    Status attach_once();
    void forget();
    Result<void> call(abi::Message& m);
    abi::Message channel_message(abi::NetOp op) const;
    // The slot a provider's descriptor names, if it is one we lent.
    bool slot_of(const abi::NetBuffer& d, u32& slot);
    void reap_tx_done();
    void lend_rx(u32 slot);
    // An empty slot of ours: to receive into while fewer than kRxLend are
    // lent, else to transmit from.
    void keep_empty(u32 slot);
    u32 token(u32 slot) const { return (m_epoch & 0xffff) << 16 | slot; }
    bool token_slot(u32 token, Slot expect, u32& slot) const;
    void kick(bool& pending);

    u32 m_service;
    u32 m_channel = 0;
    u64 m_generation = 0;
    u32 m_epoch = 0;  // attaches so far: tokens carry it
    Handle m_ring_memory, m_packet_buffer, m_note, m_provider_note;
    abi::NetRings* m_rings = nullptr;
    u8* m_packets = nullptr;
    u16 m_mtu = 0;
    u8 m_mac[abi::kNetMacBytes] = {};
    ring::Producer<abi::NetBuffer, abi::kNetRingEntries> m_rx_free, m_tx_ready;
    ring::Consumer<abi::NetBuffer, abi::kNetRingEntries> m_rx_used, m_tx_done;
    Slot m_slots[abi::kNetBufferCount] = {};
    u32 m_free[abi::kNetBufferCount] = {};  // empty slots held, to transmit from
    u32 m_free_count = 0;
    u32 m_rx_lent = 0;
    u32 m_rx_unsignalled = 0;  // receive buffers lent since the provider was last kicked for them
    bool m_rx_pending = false, m_tx_pending = false;
    u64 m_next_ping = 0;  // when wait() next asks the provider whether the channel lives
    u32 m_reattaches = 0;
    u64 m_protocol_errors = 0, m_tx_dropped = 0;
    u64 m_kicks = 0, m_wakes = 0;
    u32 m_provider_told = 0;  // the provider's sleep token last kicked
    u32 m_sleeps = 0;         // this side's sleep tokens (NetRings::client_awake)
};

}  // namespace rt
