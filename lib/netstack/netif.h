// An lwIP network interface over a net::FrameIo (lib/net/frame_io.h): the
// one place frames cross between the NIC's provider and lwIP.
//
// Receive is zero-copy: each frame the device wrote becomes an lwIP custom
// pbuf whose payload is the frame in place; lwIP keeps it as long as it
// needs (a TCP segment waiting for the application, an out-of-order
// segment, a fragment being reassembled) and freeing it gives the buffer
// back to the provider (FrameIo::rx_give_back). The stack may write into
// the frame while it holds it: lwIP edits headers in place (tcp_input turns
// the TCP header to host byte order), so RX buffers must be mapped
// writable to the stack even though FrameIo hands them out as const.
//
// The provider's RX buffers are few, and a device with none left drops
// everything: the netif never holds more than `max_held` of them. Past
// that, a frame is copied into a pool pbuf and its buffer given back at
// once, so held data (an application not reading) costs a copy, never the
// link.
//
// Transmit copies once: lwIP's pbuf chain (headers in one pbuf, TCP data in
// others) into a FrameIo transmit buffer, which the provider hands to the
// device as it is. No transmit buffer free is a dropped frame (ERR_MEM):
// TCP retransmits, the others are datagrams. A transmit buffer too small
// for the frame (the provider promised mtu + 14 bytes) is kept for the
// next, shorter frame rather than sent with garbage in it.
//
// Nothing from the provider is trusted: a frame shorter than an Ethernet
// header or longer than the MTU allows is given back unread.
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
    u64 rx_copied = 0;   // copied into a pool pbuf (too many held)
    u64 rx_dropped = 0;  // malformed, or no memory for a copy
    u64 tx_frames = 0;   // committed to the FrameIo
    u64 tx_bytes = 0;
    u64 tx_busy = 0;      // dropped: no transmit buffer free
    u64 tx_too_long = 0;  // dropped: longer than the transmit buffer
};

class Netif {
public:
    // RX frames held at once by lwIP, at most (wrappers for custom pbufs).
    static constexpr u32 kMaxHeld = 128;
    // Ethernet header: destination, source, EtherType [IEEE 802.3 §3.1.1].
    static constexpr u32 kEthHeader = 14;

    Netif() = default;
    Netif(const Netif&) = delete;
    Netif& operator=(const Netif&) = delete;
    ~Netif() { remove(); }

    // Adds the interface to lwIP (lwip_init must have run: Stack does it)
    // with the FrameIo's MAC, MTU and link state, as the default route's
    // interface, administratively up. `max_held` ≤ kMaxHeld: give the
    // provider's RX buffer count minus a margin for the device.
    [[nodiscard]] Result<void> add(net::FrameIo& io, u32 max_held);
    // Out of lwIP. Frames lwIP still holds keep their buffers until freed
    // (their pbufs point into them): the FrameIo must outlive those, and
    // add() refuses another FrameIo (Busy) until they are all back.
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
    u32 held() const { return m_held; }

private:
    struct RxPbuf {
        struct pbuf_custom custom;  // first: lwIP hands back its address
        Netif* owner;
        u32 token;
        RxPbuf* next_free;
    };

    static err_t init_cb(struct netif* nif);
    static err_t linkoutput_cb(struct netif* nif, struct pbuf* p);
    static void free_rx_cb(struct pbuf* p);
    struct pbuf* wrap(const net::RxFrame& frame);

    net::FrameIo* m_io = nullptr;  // stays set while frames are held
    bool m_added = false;
    struct netif m_netif {};
    RxPbuf m_rx[kMaxHeld]{};
    RxPbuf* m_free = nullptr;
    u32 m_held = 0;
    u32 m_max_held = 0;
    bool m_rx_pending = false;  // buffers given back since the last flush
    bool m_tx_pending = false;  // frames committed since the last flush
    // A transmit buffer taken but too small for its frame, for the next one.
    u8* m_spare_tx = nullptr;
    u32 m_spare_token = 0;
    u32 m_spare_capacity = 0;
    NetifCounters m_counters;
};

}  // namespace netstack
