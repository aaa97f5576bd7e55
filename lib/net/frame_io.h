// What a network stack needs from a NIC, and nothing more: Ethernet frames
// in and out of buffers the NIC's provider shares with the stack (DESIGN
// §6, NetDevice). The stack's netif (the netstack process, over lwIP) is
// written against this; the NetDevice client (user/rt/) implements it over
// the service's rings, and unit tests implement it over memory.
//
// Receive: rx_take() hands out a frame where the device wrote it, and
// rx_give_back() returns the buffer to the provider for refilling. The
// provider can still write the buffer while the stack reads it, so the
// stack copies a frame out before parsing it and gives the buffer back at
// once (lib/netstack/netif.h says why it never keeps one).
// Transmit fills a buffer the provider will hand to the device as it is.
// Tokens name buffers; the implementation checks every token it is given
// (a stale or foreign token is ignored, never trusted).
//
// Batching: tx_commit() and rx_give_back() only queue; tx_flush() and
// rx_flush() publish what was queued with one notification each, so a
// burst costs the provider one wake-up.
#pragma once

#include "util/types.h"

namespace net {

constexpr u32 kMacBytes = 6;

struct LinkInfo {
    u8 mac[kMacBytes];
    u16 mtu;       // IP MTU: frames carry at most mtu + 14 bytes (no FCS, no VLAN tag)
    bool link_up;  // the device's link status (always up when it reports none)
};

struct RxFrame {
    // The Ethernet header's first byte, in memory the provider shares:
    // read it once (copy it out), never parse it in place.
    const u8* data;
    u32 length;  // bytes, header included
    u32 token;   // give back with rx_give_back()
};

class FrameIo {
public:
    virtual ~FrameIo() = default;

    virtual LinkInfo link() const = 0;

    // Receive: the next frame the device delivered, or false when none is
    // waiting. The buffer stays the stack's until given back.
    virtual bool rx_take(RxFrame& frame) = 0;
    virtual void rx_give_back(u32 token) = 0;
    virtual void rx_flush() = 0;

    // Transmit: a buffer of at least `capacity` (≥ mtu + 14) bytes to fill,
    // or nullptr while every transmit buffer is in flight (try again after
    // the provider reports completions). tx_commit queues `length` bytes of
    // it for sending; the buffer is the provider's until its completion.
    virtual u8* tx_buffer(u32& token, u32& capacity) = 0;
    virtual void tx_commit(u32 token, u32 length) = 0;
    virtual void tx_flush() = 0;
};

}  // namespace net
