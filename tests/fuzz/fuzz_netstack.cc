// Fuzzer for the netstack (lib/netstack/: lwIP behind our netif) fed
// arbitrary frames through its net::FrameIo, as a hostile peer on the wire
// or a lying provider would. A stack at 10.0.2.15 per input, knowing its
// peer's MAC, with a TCP listener (port 80, consuming what it gets) and a
// UDP echo (port 7), so frames reach every layer and the stack answers.
//
// The input is a sequence of records [kind][length u16][bytes]:
//   kind 0: the bytes are a whole frame, as they are;
//   kind 1: an IPv4 packet from the peer to us around the bytes (first
//           byte: protocol), header checksum right, and TCP/UDP/ICMP
//           checksums made right too, so the fuzzer gets past them;
//   kind 2: time passes (bytes[0] * 10 ms), lwIP's timers run;
//   kind 3: the provider has no transmit buffer free (or has again);
//   kind 4: the link goes down (or up again).
// After every record:
//   - ASan/UBSan see no bad access (lwIP reads only inside the frame);
//   - every RX buffer is back with the provider once the stack polled
//     (the netif copies each frame out), and the provider then rewrites
//     them all, as a hostile one may: lwIP must hold nothing in them;
//   - the FrameIo contract is kept (no foreign or twice-given token);
//   - every frame the stack sends is well formed: an Ethernet header from
//     our MAC, and for IPv4 a header and checksums that verify.
// After the input, the stack is torn down: every RX buffer must be back.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "../support/fake_frame_io.h"
#include "../support/net_frames.h"
#include "../support/netstack_teardown.h"
#include "fuzz_support.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "netstack/stack.h"

namespace {

using frames::kOurIp;
using frames::kOurMac;
using frames::kPeerIp;
using frames::kPeerMac;

using frames::Bytes;
using fuzz_support::check;

err_t tcp_recv_cb(void*, struct tcp_pcb* pcb, struct pbuf* p, err_t) {
    if (p == nullptr) {
        tcp_close(pcb);
        return ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

err_t tcp_accept_cb(void*, struct tcp_pcb* pcb, err_t) {
    tcp_recv(pcb, tcp_recv_cb);
    return ERR_OK;
}

void udp_echo_cb(void*, struct udp_pcb* pcb, struct pbuf* p, const ip_addr_t* addr, u16_t port) {
    udp_sendto(pcb, p, addr, port);
    pbuf_free(p);
}

// lwIP's state is global and lives for the run; each input gets a stack
// started afresh on it (interface, ARP table, connections, DHCP none), so
// a crashing input reproduces alone.
struct World {
    fake::Host host;
    std::unique_ptr<fake::FrameIo> io = std::make_unique<fake::FrameIo>();
    netstack::Stack stack;
    struct tcp_pcb* listener = nullptr;
    struct udp_pcb* echo = nullptr;

    World() {
        host.quiet = true;
        netstack::set_host(host);
    }

    void start() {
        io->tx_exhausted = false;
        io->info.link_up = true;
        netstack::StackConfig config;
        config.dhcp = false;
        IP4_ADDR(&config.address, 10, 0, 2, 15);
        IP4_ADDR(&config.netmask, 255, 255, 255, 0);
        IP4_ADDR(&config.gateway, 10, 0, 2, 2);
        IP4_ADDR(&config.dns, 10, 0, 2, 3);
        check(stack.start(*io, config).ok());
        struct tcp_pcb* pcb = tcp_new();
        check(pcb != nullptr && tcp_bind(pcb, IP_ANY_TYPE, 80) == ERR_OK);
        listener = tcp_listen(pcb);
        check(listener != nullptr);
        tcp_accept(listener, tcp_accept_cb);
        echo = udp_new();
        check(echo != nullptr && udp_bind(echo, IP_ANY_TYPE, 7) == ERR_OK);
        udp_recv(echo, udp_echo_cb, nullptr);
        // The peer announces itself, so replies go out instead of waiting on ARP.
        io->deliver(frames::ethernet(frames::kBroadcastMac, kPeerMac, frames::kEtherArp,
                                     frames::arp(1, kPeerMac, kPeerIp, frames::Mac{}, kOurIp)));
        stack.poll();
        io->take_sent();
    }

    // Everything the input left goes, and with it every RX buffer: one
    // still out after this is a buffer the stack lost.
    void stop() {
        tcp_close(listener);
        udp_remove(echo);
        check(fake::stop_stack_and_drain(stack, *io, host));
    }
};

World& world() {
    static World* w = new World;  // never destroyed: lwIP's state outlives the run
    return *w;
}

// The peer's packet around `body` (body[0]: protocol), checksums made right.
Bytes ipv4_from_peer(const u8* body, usize n) {
    u8 proto = n > 0 ? body[0] : 0;
    Bytes l4(body + (n > 0 ? 1 : 0), body + n);
    usize sum_at = proto == frames::kProtoTcp    ? 16
                   : proto == frames::kProtoUdp  ? 6
                   : proto == frames::kProtoIcmp ? 2
                                                 : 0;
    if (sum_at != 0 && l4.size() >= sum_at + 2) {
        frames::set16(l4, sum_at, 0);
        u32 pseudo = proto == frames::kProtoIcmp ? 0 : frames::pseudo_sum(kPeerIp, kOurIp, proto, l4.size());
        frames::set16(l4, sum_at, frames::checksum(l4.data(), l4.size(), pseudo));
    }
    return frames::ethernet(kOurMac, kPeerMac, frames::kEtherIpv4, frames::ipv4(kPeerIp, kOurIp, proto, l4));
}

void check_sent(fake::FrameIo& io) {
    for (auto& f : io.take_sent()) {
        frames::Parsed p = frames::parse(f);
        check(f.size() >= 14);
        check(std::memcmp(p.src.data(), io.info.mac, 6) == 0);
        if (p.type == frames::kEtherIpv4) {
            check(p.l4 != 0);
            check(p.ip_checksum_ok);
            if (p.proto == frames::kProtoTcp || p.proto == frames::kProtoUdp || p.proto == frames::kProtoIcmp)
                check(p.l4_checksum_ok);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    World& w = world();
    w.start();
    fuzz_support::Records records(data, size);
    u8 kind;
    const u8* body;
    usize n;
    while (records.next(kind, body, n)) {
        switch (kind % 5) {
            case 0: w.io->deliver(Bytes(body, body + n)); break;
            case 1: w.io->deliver(ipv4_from_peer(body, n)); break;
            case 2: w.host.now += static_cast<u64>(n > 0 ? body[0] : 1) * 10'000'000; break;
            case 3: w.io->tx_exhausted = !w.io->tx_exhausted; break;  // every TX buffer in flight, or none
            case 4: w.io->info.link_up = !w.io->info.link_up; break;
        }
        w.stack.poll();
        check(w.io->rx_held() == 0);
        w.io->scribble_rx(0xa5);
        check(w.io->contract_breaches == 0);
        check_sent(*w.io);
    }
    w.stop();
    return 0;
}
