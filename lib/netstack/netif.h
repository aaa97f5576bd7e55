// An lwIP network interface over a net::FrameIo (lib/net/frame_io.h): the
// one place frames cross between the NIC's provider and lwIP.
//
// Receive copies once, at the stack's edge: each frame is copied out of
// the provider's buffer into a pool pbuf of our own and the buffer given
// back at once. Zero-copy receive (the frame itself as a custom pbuf, kept
// as long as lwIP needs it) was tried and given up, because lwIP keeps
// state *inside* frames it holds: IPv4 reassembly stores a struct pbuf*
// in a held fragment's header (ip4_frag.c), an out-of-order TCP segment
// keeps pointers into its frame. The provider can write its packet buffer
// at any time, so it could rewrite those pointers and steer lwIP's writes
// anywhere in the netstack — the process that holds every socket client's
// rings; and a provider that dies takes its buffer's mapping with it,
// faulting the netstack on the next held frame it touches. With the copy,
// what lwIP parses is the netstack's own memory, read once from the
// provider's: nothing the provider does afterwards reaches it, and a
// restart (the NIC's client reattaching to a new provider) leaves no
// dangling frame. The cost is one ~1.5 KB memcpy per frame (the device
// itself still writes into the provider's buffers: DESIGN §6's "no copy
// between device and stack" holds up to the stack's edge), and RX buffers
// go back to the provider as fast as frames are read, whatever lwIP holds.
//
// Transmit copies once: lwIP's pbuf chain (headers in one pbuf, TCP data in
// others) into a FrameIo transmit buffer, which the provider hands to the
// device as it is. No transmit buffer free is a dropped frame (ERR_MEM):
// TCP retransmits, the others are datagrams. A transmit buffer too small
// for the frame (the provider promised mtu + 14 bytes) is kept for the
// next, shorter frame rather than sent with garbage in it.
//
// Nothing from the provider is trusted: a frame shorter than an Ethernet
// header or longer than the MTU allows is given back unread. No pool pbuf
// free (lwIP holds PBUF_POOL_SIZE frames already) drops the frame, counted:
// TCP retransmits, as from a full NIC queue.
//
// Threading: the stack's one thread calls everything.
#pragma once

#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "net/frame_io.h"
#include "util/result.h"
#include "util/types.h"

namespace netstack {

struct NetifCounters {
    u64 rx_frames = 0;  // taken from the FrameIo
    u64 rx_bytes = 0;
    u64 rx_dropped = 0;  // malformed, or no pool pbuf for its copy
    u64 tx_frames = 0;   // committed to the FrameIo
    u64 tx_bytes = 0;
    u64 tx_busy = 0;      // dropped: no transmit buffer free
    u64 tx_too_long = 0;  // dropped: longer than the transmit buffer
};

class Netif {
public:
    // Ethernet header: destination, source, EtherType [IEEE 802.3 §3.1.1].
    static constexpr u32 kEthHeader = 14;

    Netif() = default;
    Netif(const Netif&) = delete;
    Netif& operator=(const Netif&) = delete;
    ~Netif() { remove(); }

    // Adds the interface to lwIP (lwip_init must have run: Stack does it)
    // with the FrameIo's MAC, MTU and link state, as the default route's
    // interface, administratively up. Busy when already added.
    [[nodiscard]] Result<void> add(net::FrameIo& io);
    // Out of lwIP. Nothing of the FrameIo's is held (receive copies), so
    // it may go away at once.
    void remove();
    bool added() const { return m_added; }

    // Hands up to `budget` received frames to lwIP; returns how many.
    u32 poll_rx(u32 budget);
    // Follows the device's link state (FrameIo::link) into lwIP.
    void update_link();
    // Publishes what was queued since the last flush: one notification per
    // direction at most.
    void flush();

    struct netif* lwip() {
        return &m_netif;
    }
    const NetifCounters& counters() const { return m_counters; }

private:
    static err_t init_cb(struct netif* nif);
    static err_t linkoutput_cb(struct netif* nif, struct pbuf* p);

    net::FrameIo* m_io = nullptr;
    bool m_added = false;
    struct netif m_netif {};
    bool m_rx_pending = false;  // buffers given back since the last flush
    bool m_tx_pending = false;  // frames committed since the last flush
    // A transmit buffer taken but too small for its frame, for the next one.
    u8* m_spare_tx = nullptr;
    u32 m_spare_token = 0;
    u32 m_spare_capacity = 0;
    NetifCounters m_counters;
};

}  // namespace netstack
