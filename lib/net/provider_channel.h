// The provider's side of a NetDevice channel (lib/protocol/net.h), as pure
// code: the four ring views and who holds each slot of the packet buffer.
// The provider's service loop (user/rt/net_server.h) calls it with what
// the client wrote and what the device completed; unit tests and
// tests/fuzz/fuzz_net_channel.cc call it with anything at all.
//
// The ledger: every slot is held by exactly one of
//   Free    the provider, with no client to give it to (no channel; or
//           just closed): handed to the next client at open()
//   Client  the client (given through rx_used / tx_done, not yet lent back)
//   Rx      the device, to receive into (taken from rx_free)
//   Tx      the device, to send from (taken from tx_ready)
// A descriptor the client writes is accepted only for a slot it holds,
// named by an offset on a slot boundary inside the buffer, and (tx_ready)
// with a length from an Ethernet header to the largest frame; the slot
// then moves to Rx or Tx and the caller hands it to the device. A device
// completion moves Rx/Tx back to Client through rx_used / tx_done, or to
// Free when no channel is open. So the device is never given a slot twice,
// and the client never gets one twice, whatever either side does.
//
// A client that breaks any rule (a bad descriptor, an index moved back or
// run ahead, a used ring it does not drain) gets Malformed/OutOfBounds/
// InvalidArgument/NotOwner from the call that saw it; refusal() says what,
// for the log line against the client. The caller closes the channel then
// (close()); slots the client held become Free, slots the device holds
// stay the device's until it completes them.
#pragma once

// Speaks lib/protocol/, between user processes only.
#ifdef SLUICE_KERNEL
#error "lib/net/ is user space's"
#endif

#include "protocol/net.h"
#include "util/result.h"
#include "util/types.h"

namespace net {

enum class Holder : u8 { Free, Client, Rx, Tx };

// What was refused, for the log: the ring, the descriptor as the client
// wrote it (or the bad index, for a ring), and why.
struct Refusal {
    const char* ring;
    const char* why;
    u32 offset;
    u32 length;
};

struct TxFrame {
    u32 slot;
    u32 length;
};

class ProviderChannel {
public:
    // The packet buffer's geometry (fixed for the provider's life) and the
    // largest frame the device takes (mtu + 14).
    //   InvalidArgument  no slots, more than abi::kNetBufferCount, or a
    //                    frame that does not fit a slot
    Result<void> init(u32 buffer_bytes, u32 buffer_count, u32 max_frame);

    // A channel over `rings` (the provider's mapping of fresh ring memory:
    // all indices 0): every Free slot goes to the client through tx_done.
    // Publish afterwards. Only with no channel open.
    Result<void> open(abi::NetRings* rings);
    // Forgets the rings; Client slots become Free.
    void close();
    bool is_open() const { return m_rings != nullptr; }

    // Up to `max` slots the client lent to receive into (now Rx), slot
    // indices in `slots`. Releases the rx_free slots taken. Refusals as
    // above; entries after a refused one stay in the ring.
    Result<u32> take_rx_free(u32* slots, u32 max);
    // Up to `max` frames the client lent to send (now Tx).
    Result<u32> take_tx_ready(TxFrame* frames, u32 max);

    // The device completed a slot: a received frame of `length` bytes, or a
    // sent one (`status` Ok, or why it was dropped). To the client when a
    // channel is open, else Free. Refused InvalidArgument (nothing changes)
    // when the slot is not the device's in that direction: the provider's
    // own bug, or a device completing what it was never given (the broker
    // already refuses that; checked again here for free).
    //   Malformed  the client has not drained the ring (no room): close
    Result<void> rx_complete(u32 slot, u32 length);
    Result<void> tx_complete(u32 slot, Status status);

    // Publishes what rx_complete/tx_complete put (one release store per
    // ring); true when the client has something new to be told of.
    bool publish();

    // Link state for the client (NetRings::link): written at once when it
    // changed; true when it did.
    bool set_link(bool up);

    // Notify-needed (NetRings::client_awake, provider_awake). After
    // publish(): does the client want a signal (it said it sleeps, and was
    // not told yet during this sleep)? The fence orders the published tails
    // before the read of its word.
    bool client_sleeping();
    // The provider is about to sleep: it says so (provider_awake 0), then
    // looks again at the client's rings; true when the client published
    // something meanwhile (or broke an index: the next take says so) — do
    // not sleep then. awake(): it runs again (the client need not kick).
    bool about_to_sleep();
    void awake();

    Holder holder(u32 slot) const { return m_holders[slot]; }
    u32 held_by(Holder h) const;
    u32 buffer_bytes() const { return m_buffer_bytes; }
    u32 buffer_count() const { return m_count; }
    const Refusal& refusal() const { return m_refusal; }

private:
    using Producer = ring::Producer<abi::NetBuffer, abi::kNetRingEntries>;
    using Consumer = ring::Consumer<abi::NetBuffer, abi::kNetRingEntries>;

    Result<u32> slot_of(const abi::NetBuffer& d, const char* ring);
    Status refuse(Status s, const char* ring, const char* why, u32 offset, u32 length);
    Result<void> put(Producer& p, const char* ring, const abi::NetBuffer& d);
    template <typename Accept>
    Result<u32> take(Consumer& c, const char* ring, u32 max, Holder to, Accept accept);

    u32 m_buffer_bytes = 0, m_count = 0, m_max_frame = 0;
    Holder m_holders[abi::kNetBufferCount] = {};
    abi::NetRings* m_rings = nullptr;
    Consumer m_rx_free, m_tx_ready;
    Producer m_rx_used, m_tx_done;
    bool m_link_up = true;
    u32 m_link_changes = 0;
    bool m_pending = false;  // put since the last publish
    u32 m_client_told = 0;   // the client's sleep token last signalled
    u32 m_sleeps = 0;        // the provider's sleep tokens (NetRings::provider_awake)
    Refusal m_refusal{};
    u32 m_taken[abi::kNetBufferCount] = {};  // slots one take() moved, to undo on a refusal
};

}  // namespace net
