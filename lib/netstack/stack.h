// The netstack's core: lwIP over one NIC (netstack::Netif on a
// net::FrameIo), brought up with DHCP or a static address, driven by a
// poll loop. Used by the netstack program (user/system/netstack) and, over
// a FrameIo in memory, by the unit tests and the fuzzer.
//
// DHCP is lwIP's [RFC 2131]: DISCOVER/OFFER/REQUEST/ACK at start, then
// renewal at T1 (unicast to the server) and rebinding at T2, from the
// timers poll() runs; the DNS servers it is given become lwIP's resolvers.
//
// Threading: one thread calls everything, and nothing else calls lwIP.
// One Stack per process (lwIP's state is global): set_host() first.
#pragma once

#include "lwip/ip4_addr.h"
#include "net/frame_io.h"
#include "netif.h"
#include "util/result.h"
#include "util/types.h"

namespace netstack {

struct StackConfig {
    // The addresses when not using DHCP (lwIP's type: network byte order).
    bool dhcp = true;
    ip4_addr_t address{};
    ip4_addr_t netmask{};
    ip4_addr_t gateway{};
    ip4_addr_t dns{};
};

struct AddressInfo {
    bool bound = false;  // an address is configured (DHCP: lease bound)
    ip4_addr_t address{};
    ip4_addr_t netmask{};
    ip4_addr_t gateway{};
    ip4_addr_t dns{};
    u32 lease_s = 0;  // DHCP: the lease's length, its renewal (T1) and rebinding (T2) times
    u32 renew_s = 0;
    u32 rebind_s = 0;
};

class Stack {
public:
    // Frames handed to lwIP per poll() before its timers get a turn.
    static constexpr u32 kRxBudget = 64;

    Stack() = default;
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;
    ~Stack() { stop(); }

    // lwip_init (once per process), the interface over `io`, then DHCP or
    // the static addresses.
    [[nodiscard]] Result<void> start(net::FrameIo& io, const StackConfig& config);
    // Releases the DHCP lease (a RELEASE to the server) and takes the
    // interface out of lwIP.
    void stop();

    // One turn of the loop: received frames into lwIP, link state, due
    // timers, then everything queued published. Returns the frames handled.
    u32 poll();
    // Publishes what lwIP queued outside poll() (a socket turn's window
    // update or ACK after the client read its ring): without it that frame
    // waits for the next wake, a timer up to 250 ms away.
    void flush();
    // Milliseconds until lwIP's next timer is due: how long the program
    // may sleep when no frame arrives.
    u32 next_timer_ms() const;

    AddressInfo address() const;
    Netif& netif() { return m_netif; }

private:
    Netif m_netif;
    bool m_started = false;
    bool m_dhcp = false;
};

// "a.b.c.d" into `out`; false unless exactly four decimal parts ≤ 255.
bool parse_ip4(const char* text, ip4_addr_t& out);

}  // namespace netstack
