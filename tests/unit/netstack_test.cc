// The netstack's core (lib/netstack/: lwIP over a net::FrameIo) against a
// fake NIC in memory (tests/support/fake_frame_io.h), with frames built
// and checked by hand from the RFCs (tests/support/net_frames.h): ARP, the
// DHCP exchange and its renewal, ICMP echo both ways, DNS, TCP (its
// initial sequence numbers too), receive copied out of the provider's
// buffers with every one given back at once, a burst waiting for ARP, the
// Info snapshot, and malformed frames dropped.
#define GTEST_HAS_CXXABI_H_ 0  // its <cxxabi.h> aliases `namespace abi` (docs/testing.md)
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../support/fake_frame_io.h"
#include "../support/net_frames.h"
#include "lwip/dns.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "netstack/info.h"
#include "netstack/ping.h"
#include "netstack/stack.h"
#include "netstack/tcp_isn.h"

namespace {

using frames::Bytes;
using frames::Ip;
using frames::kOurIp;
using frames::kOurMac;
using frames::kPeerIp;
using frames::kPeerMac;
using frames::Mac;
using frames::Parsed;

constexpr Ip kDnsIp{10, 0, 2, 3};
constexpr Ip kMask{255, 255, 255, 0};
constexpr Ip kAny{0, 0, 0, 0};
constexpr Ip kBroadcastIp{255, 255, 255, 255};

ip4_addr_t lwip_ip(const Ip& a) {
    ip4_addr_t out;
    IP4_ADDR(&out, a[0], a[1], a[2], a[3]);
    return out;
}

std::string text(const ip4_addr_t& a) {
    char buf[16];
    return ip4addr_ntoa_r(&a, buf, sizeof buf);
}

fake::Host& test_host() {
    static fake::Host host;
    return host;
}

class NetstackTest : public ::testing::Test {
protected:
    void SetUp() override {
        netstack::set_host(test_host());
        test_host().lines = &log;
    }

    void TearDown() override {
        stack.stop();
        test_host().lines = nullptr;
        // Every test ends with every RX buffer back with the provider, no
        // breach of the FrameIo contract, and no pool pbuf left in use.
        EXPECT_EQ(io->rx_held(), 0u);
        EXPECT_EQ(io->contract_breaches, 0u);
        EXPECT_EQ(lwip_stats.memp[MEMP_PBUF_POOL]->used, 0);
    }

    void start_static() {
        netstack::StackConfig config;
        config.dhcp = false;
        config.address = lwip_ip(kOurIp);
        config.netmask = lwip_ip(kMask);
        config.gateway = lwip_ip(kPeerIp);
        config.dns = lwip_ip(kDnsIp);
        ASSERT_TRUE(stack.start(*io, config).ok());
        stack.poll();
        io->take_sent();  // the gratuitous ARP of a new address
    }

    // Time passes in steps, the loop polling as the netstack program does.
    void advance_ms(u64 ms, u64 step_ms = 10) {
        for (u64 t = 0; t < ms; t += step_ms) {
            test_host().now += step_ms * 1'000'000;
            stack.poll();
        }
    }

    std::vector<Parsed> deliver(const Bytes& frame) {
        EXPECT_TRUE(io->deliver(frame));
        stack.poll();
        std::vector<Parsed> out;
        for (auto& f : io->take_sent()) out.push_back(frames::parse(f));
        return out;
    }

    // The peer asks for our MAC: lwIP answers and remembers the peer's.
    void learn_peer(const Ip& peer = kPeerIp) {
        auto replies = deliver(frames::ethernet(frames::kBroadcastMac, kPeerMac, frames::kEtherArp,
                                                frames::arp(1, kPeerMac, peer, Mac{}, kOurIp)));
        ASSERT_EQ(replies.size(), 1u);
    }

    std::vector<Parsed> syn_to_listener(struct TcpApp& app, bool hold = false);

    std::vector<std::string> log;
    std::unique_ptr<fake::FrameIo> io = std::make_unique<fake::FrameIo>();
    netstack::Stack stack;
};

TEST_F(NetstackTest, ArpRequestGetsReply) {
    start_static();
    auto sent = deliver(frames::ethernet(frames::kBroadcastMac, kPeerMac, frames::kEtherArp,
                                         frames::arp(1, kPeerMac, kPeerIp, Mac{}, kOurIp)));
    ASSERT_EQ(sent.size(), 1u);
    const Parsed& r = sent[0];
    EXPECT_EQ(r.dst, kPeerMac);
    EXPECT_EQ(r.src, kOurMac);
    ASSERT_EQ(r.type, frames::kEtherArp);
    ASSERT_GE(r.bytes.size(), 42u);
    EXPECT_EQ(frames::get16(r.bytes, 14), 1);       // Ethernet
    EXPECT_EQ(frames::get16(r.bytes, 16), 0x0800);  // IPv4
    EXPECT_EQ(r.bytes[18], 6);
    EXPECT_EQ(r.bytes[19], 4);
    EXPECT_EQ(frames::get16(r.bytes, 20), 2);  // reply
    EXPECT_EQ(Bytes(r.bytes.begin() + 22, r.bytes.begin() + 28), Bytes(kOurMac.begin(), kOurMac.end()));
    EXPECT_EQ(Bytes(r.bytes.begin() + 28, r.bytes.begin() + 32), Bytes(kOurIp.begin(), kOurIp.end()));
    EXPECT_EQ(Bytes(r.bytes.begin() + 32, r.bytes.begin() + 38), Bytes(kPeerMac.begin(), kPeerMac.end()));
    EXPECT_EQ(Bytes(r.bytes.begin() + 38, r.bytes.begin() + 42), Bytes(kPeerIp.begin(), kPeerIp.end()));

    // A request for another address is not ours to answer.
    EXPECT_TRUE(deliver(frames::ethernet(frames::kBroadcastMac, kPeerMac, frames::kEtherArp,
                                         frames::arp(1, kPeerMac, kPeerIp, Mac{}, Ip{10, 0, 2, 16})))
                    .empty());
}

// A DHCP message the stack sent (UDP 68 -> 67, well formed), or fails.
Bytes dhcp_from_client(const Parsed& p) {
    EXPECT_EQ(p.type, frames::kEtherIpv4);
    EXPECT_EQ(p.proto, frames::kProtoUdp);
    EXPECT_TRUE(p.ip_checksum_ok);
    EXPECT_TRUE(p.l4_checksum_ok);
    if (p.proto != frames::kProtoUdp || p.l4_len < 8 + frames::kDhcpOptions) return {};
    EXPECT_EQ(frames::get16(p.bytes, p.l4), 68);
    EXPECT_EQ(frames::get16(p.bytes, p.l4 + 2), 67);
    EXPECT_EQ(frames::get16(p.bytes, p.l4 + 4), p.l4_len);
    Bytes m(p.bytes.begin() + static_cast<long>(p.l4) + 8, p.bytes.begin() + static_cast<long>(p.l4 + p.l4_len));
    EXPECT_EQ(m[0], 1);  // BOOTREQUEST
    EXPECT_EQ(m[1], 1);  // Ethernet
    EXPECT_EQ(m[2], 6);
    EXPECT_EQ(Bytes(m.begin() + 28, m.begin() + 34), Bytes(kOurMac.begin(), kOurMac.end()));  // chaddr
    EXPECT_EQ(Bytes(m.begin() + 236, m.begin() + 240), (Bytes{99, 130, 83, 99}));             // magic cookie
    return m;
}

std::vector<Parsed> only(const std::vector<Parsed>& sent, u16 type) {
    std::vector<Parsed> out;
    for (auto& p : sent)
        if (p.type == type) out.push_back(p);
    return out;
}

Bytes server_frame(const Bytes& dhcp) {
    return frames::ethernet(
        frames::kBroadcastMac, kPeerMac, frames::kEtherIpv4,
        frames::ipv4(kPeerIp, kBroadcastIp, frames::kProtoUdp, frames::udp(kPeerIp, kBroadcastIp, 67, 68, dhcp)));
}

std::vector<Parsed> sent_frames(fake::FrameIo& io) {
    std::vector<Parsed> out;
    for (auto& f : io.take_sent()) out.push_back(frames::parse(f));
    return out;
}

TEST_F(NetstackTest, DhcpLeaseThenRenewal) {
    netstack::StackConfig config;  // DHCP
    ASSERT_TRUE(stack.start(*io, config).ok());
    stack.poll();
    EXPECT_FALSE(stack.address().bound);

    // DISCOVER: broadcast from 0.0.0.0 [RFC 2131 §4.1, §4.4.1].
    auto sent = only(sent_frames(*io), frames::kEtherIpv4);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].dst, frames::kBroadcastMac);
    EXPECT_EQ(sent[0].src, kOurMac);
    EXPECT_EQ(sent[0].ip_src, kAny);
    EXPECT_EQ(sent[0].ip_dst, kBroadcastIp);
    Bytes discover = dhcp_from_client(sent[0]);
    ASSERT_FALSE(discover.empty());
    EXPECT_EQ(frames::dhcp_option(discover, 53), Bytes{1});
    u32 xid = frames::get32(discover, 4);

    // OFFER -> REQUEST naming the offered address and the server.
    sent =
        only(deliver(server_frame(frames::dhcp_reply(2, xid, kOurMac, kOurIp, kPeerIp, 600, kMask, kPeerIp, kDnsIp))),
             frames::kEtherIpv4);
    ASSERT_EQ(sent.size(), 1u);
    Bytes request = dhcp_from_client(sent[0]);
    ASSERT_FALSE(request.empty());
    EXPECT_EQ(frames::get32(request, 4), xid);
    EXPECT_EQ(frames::dhcp_option(request, 53), Bytes{3});
    EXPECT_EQ(frames::dhcp_option(request, 50), Bytes(kOurIp.begin(), kOurIp.end()));
    EXPECT_EQ(frames::dhcp_option(request, 54), Bytes(kPeerIp.begin(), kPeerIp.end()));
    EXPECT_FALSE(stack.address().bound);

    // ACK: bound, with the lease's address, mask, router and DNS server.
    deliver(server_frame(frames::dhcp_reply(5, xid, kOurMac, kOurIp, kPeerIp, 600, kMask, kPeerIp, kDnsIp)));
    netstack::AddressInfo a = stack.address();
    ASSERT_TRUE(a.bound);
    EXPECT_EQ(text(a.address), "10.0.2.15");
    EXPECT_EQ(text(a.netmask), "255.255.255.0");
    EXPECT_EQ(text(a.gateway), "10.0.2.2");
    EXPECT_EQ(text(a.dns), "10.0.2.3");
    EXPECT_EQ(a.lease_s, 600u);
    EXPECT_EQ(a.renew_s, 300u);  // T1: half the lease [RFC 2131 §4.4.5]
    bool logged = false;
    for (auto& line : log)
        logged |=
            line.find(" address 10.0.2.15 netmask 255.255.255.0 gateway 10.0.2.2 dns 10.0.2.3") != std::string::npos;
    EXPECT_TRUE(logged);

    // The server (QEMU's slirp does) asks for our MAC: the stack learns its.
    learn_peer();

    // Nothing until T1; then RENEWING: a REQUEST unicast to the server,
    // ciaddr filled, no requested address option [RFC 2131 §4.3.2, §4.4.5].
    // lwIP counts T1 in ticks of its 60 s DHCP timer, whose phase is its
    // own: the renewal comes in the last tick before T1, (240 s, 300 s].
    u32 seconds = 0;
    sent.clear();
    while (sent.empty() && seconds < 400) {
        advance_ms(1000, 1000);
        seconds++;
        sent = only(sent_frames(*io), frames::kEtherIpv4);
    }
    EXPECT_GT(seconds, 240u);
    EXPECT_LE(seconds, 300u);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].dst, kPeerMac);
    EXPECT_EQ(sent[0].ip_src, kOurIp);
    EXPECT_EQ(sent[0].ip_dst, kPeerIp);
    Bytes renew = dhcp_from_client(sent[0]);
    ASSERT_FALSE(renew.empty());
    EXPECT_EQ(frames::dhcp_option(renew, 53), Bytes{3});
    EXPECT_TRUE(frames::dhcp_option(renew, 50).empty());
    EXPECT_EQ(Bytes(renew.begin() + 12, renew.begin() + 16), Bytes(kOurIp.begin(), kOurIp.end()));  // ciaddr
    u32 renew_xid = frames::get32(renew, 4);

    // The server's ACK (unicast now) renews the lease: still bound, same address.
    Bytes ack = frames::dhcp_reply(5, renew_xid, kOurMac, kOurIp, kPeerIp, 600, kMask, kPeerIp, kDnsIp);
    deliver(
        frames::ethernet(kOurMac, kPeerMac, frames::kEtherIpv4,
                         frames::ipv4(kPeerIp, kOurIp, frames::kProtoUdp, frames::udp(kPeerIp, kOurIp, 67, 68, ack))));
    // Past the old lease's end (600 s after the first ACK): still bound.
    advance_ms((600 - seconds + 20) * 1000, 1000);
    for (auto& p : only(sent_frames(*io), frames::kEtherIpv4)) {
        EXPECT_NE(p.ip_dst, kBroadcastIp) << "rebinding or restarting: the renewal was not taken";
    }
    a = stack.address();
    EXPECT_TRUE(a.bound);
    EXPECT_EQ(text(a.address), "10.0.2.15");
}

// The Info snapshot (lib/protocol/socket.h SocketInfo) says what the lease
// gave, the interface's identity, and counts the frames and datagrams of
// the exchange: before the lease, searching with no address; after, bound
// with the lease's addresses and its length.
TEST_F(NetstackTest, InfoSnapshotDescribesTheLeaseAndCounts) {
    ASSERT_TRUE(stack.start(*io, netstack::StackConfig{}).ok());
    stack.poll();
    abi::SocketInfo before{};
    netstack::fill_info(stack, before);
    EXPECT_EQ(before.bound, 0);
    EXPECT_EQ(before.dhcp, abi::SocketDhcpState::Searching);
    EXPECT_EQ(before.address, 0u);
    EXPECT_EQ(before.lease_s, 0u);
    EXPECT_EQ(std::string(before.name).substr(0, 2), "en");  // lwIP numbers each interface added: en0 in the netstack
    EXPECT_EQ(Bytes(before.mac, before.mac + 6), Bytes(kOurMac.begin(), kOurMac.end()));
    EXPECT_EQ(before.link_up, 1);
    EXPECT_EQ(before.mtu, 1500);
    EXPECT_GE(before.tx_frames, 1u);  // the DISCOVER
    EXPECT_EQ(before.rx_frames, 0u);

    auto sent = only(sent_frames(*io), frames::kEtherIpv4);
    ASSERT_EQ(sent.size(), 1u);
    u32 xid = frames::get32(dhcp_from_client(sent[0]), 4);
    deliver(server_frame(frames::dhcp_reply(2, xid, kOurMac, kOurIp, kPeerIp, 600, kMask, kPeerIp, kDnsIp)));
    deliver(server_frame(frames::dhcp_reply(5, xid, kOurMac, kOurIp, kPeerIp, 600, kMask, kPeerIp, kDnsIp)));
    advance_ms(61'000, 1000);  // one of lwIP's one-minute DHCP ticks

    abi::SocketInfo after{};
    netstack::fill_info(stack, after);
    auto ip = [](u32 be) {
        ip4_addr_t a;
        ip4_addr_set_u32(&a, be);
        return text(a);
    };
    EXPECT_EQ(after.bound, 1);
    EXPECT_EQ(after.dhcp, abi::SocketDhcpState::Bound);
    EXPECT_EQ(ip(after.address), "10.0.2.15");
    EXPECT_EQ(ip(after.netmask), "255.255.255.0");
    EXPECT_EQ(ip(after.gateway), "10.0.2.2");
    EXPECT_EQ(ip(after.dns[0]), "10.0.2.3");
    EXPECT_EQ(after.dns[1], 0u);
    EXPECT_EQ(after.lease_s, 600u);
    EXPECT_EQ(after.lease_left_s, 540u);               // ten ticks of lease, one used
    EXPECT_EQ(after.rx_frames, before.rx_frames + 2);  // OFFER, ACK
    EXPECT_GT(after.rx_bytes, 2u * 300);
    EXPECT_GE(after.tx_frames, before.tx_frames + 1);  // REQUEST (and ARP probes)
    EXPECT_GE(after.udp.rx, before.udp.rx + 2);
    EXPECT_GE(after.udp.tx, before.udp.tx + 1);
    EXPECT_GE(after.ip.rx, before.ip.rx + 2);
    // The provider, socket service and uptime fields are the program's.
    EXPECT_EQ(after.provider[0], '\0');
    EXPECT_EQ(after.clients, 0u);
}

// The stack answers an echo request [RFC 792]: same identifier, sequence
// and data, checksums right.
TEST_F(NetstackTest, IcmpEchoRequestGetsReply) {
    start_static();
    learn_peer();
    Bytes data;
    for (u32 i = 0; i < 56; i++) data.push_back(static_cast<u8>(i * 3));
    auto sent = deliver(
        frames::ethernet(kOurMac, kPeerMac, frames::kEtherIpv4,
                         frames::ipv4(kPeerIp, kOurIp, frames::kProtoIcmp, frames::icmp_echo(8, 0x1234, 7, data))));
    ASSERT_EQ(sent.size(), 1u);
    const Parsed& r = sent[0];
    EXPECT_EQ(r.dst, kPeerMac);
    EXPECT_EQ(r.src, kOurMac);
    ASSERT_EQ(r.proto, frames::kProtoIcmp);
    EXPECT_EQ(r.ip_src, kOurIp);
    EXPECT_EQ(r.ip_dst, kPeerIp);
    EXPECT_TRUE(r.ip_checksum_ok);
    EXPECT_TRUE(r.l4_checksum_ok);
    ASSERT_EQ(r.l4_len, 8 + data.size());
    EXPECT_EQ(r.bytes[r.l4], 0);  // echo reply
    EXPECT_EQ(r.bytes[r.l4 + 1], 0);
    EXPECT_EQ(frames::get16(r.bytes, r.l4 + 4), 0x1234);
    EXPECT_EQ(frames::get16(r.bytes, r.l4 + 6), 7);
    EXPECT_EQ(Bytes(r.bytes.begin() + static_cast<long>(r.l4) + 8, r.bytes.end()), data);
}

struct Lookup {
    bool done = false;
    bool found = false;
    std::string address;
    static void found_cb(const char* name, const ip_addr_t* addr, void* arg) {
        auto* self = static_cast<Lookup*>(arg);
        self->done = true;
        self->found = addr != nullptr;
        if (addr != nullptr) self->address = text(*ip_2_ip4(addr));
    }
};

// A name looked up through the configured DNS server (the one DHCP gives,
// DhcpLeaseThenRenewal): a well-formed query [RFC 1035 §4.1] to port 53,
// an answer with a forged ID ignored, the real answer's A record returned.
TEST_F(NetstackTest, DnsLookupAsksTheConfiguredServer) {
    start_static();
    learn_peer(kDnsIp);
    Lookup lookup;
    ip_addr_t cached;
    ASSERT_EQ(dns_gethostbyname("status.sluice.test", &cached, Lookup::found_cb, &lookup), ERR_INPROGRESS);
    stack.poll();
    auto sent = sent_frames(*io);
    ASSERT_EQ(sent.size(), 1u);
    const Parsed& q = sent[0];
    ASSERT_EQ(q.proto, frames::kProtoUdp);
    EXPECT_EQ(q.ip_dst, kDnsIp);
    EXPECT_TRUE(q.ip_checksum_ok && q.l4_checksum_ok);
    EXPECT_EQ(frames::get16(q.bytes, q.l4 + 2), 53);
    u16 sport = frames::get16(q.bytes, q.l4);
    Bytes query(q.bytes.begin() + static_cast<long>(q.l4) + 8, q.bytes.end());
    const Bytes qname{6, 's', 't', 'a', 't', 'u', 's', 6, 's', 'l', 'u', 'i', 'c', 'e', 4, 't', 'e', 's', 't', 0};
    ASSERT_EQ(query.size(), 12 + qname.size() + 4);
    EXPECT_EQ(frames::get16(query, 2) & 0x8000, 0);  // a query
    EXPECT_EQ(frames::get16(query, 4), 1);           // one question
    EXPECT_EQ(Bytes(query.begin() + 12, query.begin() + 12 + static_cast<long>(qname.size())), qname);
    EXPECT_EQ(frames::get16(query, 12 + qname.size()), 1);      // type A
    EXPECT_EQ(frames::get16(query, 12 + qname.size() + 2), 1);  // class IN

    auto answer = [&](u16 id) {
        Bytes a = query;
        frames::set16(a, 0, id);
        frames::set16(a, 2, 0x8180);  // response, recursion desired and available
        frames::set16(a, 6, 1);       // one answer
        frames::put16(a, 0xc00c);     // the question's name
        frames::put16(a, 1);
        frames::put16(a, 1);
        frames::put32(a, 60);
        frames::put16(a, 4);
        a.insert(a.end(), {10, 0, 2, 99});
        return frames::ethernet(
            kOurMac, kPeerMac, frames::kEtherIpv4,
            frames::ipv4(kDnsIp, kOurIp, frames::kProtoUdp, frames::udp(kDnsIp, kOurIp, 53, sport, a)));
    };
    u16 id = frames::get16(query, 0);
    deliver(answer(static_cast<u16>(id ^ 0x5555)));
    EXPECT_FALSE(lookup.done);
    deliver(answer(id));
    ASSERT_TRUE(lookup.done);
    EXPECT_TRUE(lookup.found);
    EXPECT_EQ(lookup.address, "10.0.2.99");
}

struct PingLog {
    std::vector<netstack::PingResult> results;
    static void on_result(void* ctx, const netstack::PingResult& r) {
        static_cast<PingLog*>(ctx)->results.push_back(r);
    }
};

// The ping sender: requests well formed, a genuine reply timed, a forged
// one (wrong data) ignored, an unanswered one reported lost.
TEST_F(NetstackTest, PingMeasuresRoundTripAndLoss) {
    start_static();
    learn_peer();
    PingLog results;
    netstack::Ping ping;
    ip4_addr_t target = lwip_ip(kPeerIp);
    ASSERT_TRUE(ping.start(target, 2, 1'000'000'000, 500'000'000, PingLog::on_result, &results).ok());
    ping.poll();
    stack.poll();
    auto sent = sent_frames(*io);
    ASSERT_EQ(sent.size(), 1u);
    const Parsed& req = sent[0];
    ASSERT_EQ(req.proto, frames::kProtoIcmp);
    EXPECT_EQ(req.ip_dst, kPeerIp);
    EXPECT_TRUE(req.ip_checksum_ok);
    EXPECT_TRUE(req.l4_checksum_ok);
    EXPECT_EQ(req.bytes[req.l4], 8);
    u16 id = frames::get16(req.bytes, req.l4 + 4), seq = frames::get16(req.bytes, req.l4 + 6);
    Bytes data(req.bytes.begin() + static_cast<long>(req.l4) + 8, req.bytes.end());
    EXPECT_EQ(data.size(), netstack::Ping::kPayload);

    test_host().now += 3'000'000;  // 3 ms on the wire
    Bytes forged = data;
    forged[0] ^= 1;
    deliver(frames::ethernet(kOurMac, kPeerMac, frames::kEtherIpv4,
                             frames::ipv4(kPeerIp, kOurIp, frames::kProtoIcmp, frames::icmp_echo(0, id, seq, forged))));
    EXPECT_TRUE(results.results.empty());
    deliver(frames::ethernet(kOurMac, kPeerMac, frames::kEtherIpv4,
                             frames::ipv4(kPeerIp, kOurIp, frames::kProtoIcmp, frames::icmp_echo(0, id, seq, data))));
    ASSERT_EQ(results.results.size(), 1u);
    EXPECT_TRUE(results.results[0].replied);
    EXPECT_EQ(results.results[0].seq, seq);
    EXPECT_EQ(results.results[0].rtt_ns, 3'000'000u);

    // The second request goes unanswered: lost after the timeout.
    for (u32 i = 0; i < 200 && !ping.done(); i++) {
        test_host().now += 10'000'000;
        ping.poll();
        stack.poll();
    }
    EXPECT_TRUE(ping.done());
    ASSERT_EQ(results.results.size(), 2u);
    EXPECT_FALSE(results.results[1].replied);
    EXPECT_EQ(ping.sent(), 2u);
    EXPECT_EQ(ping.received(), 1u);
    ping.stop();
    io->take_sent();
}

// An application on lwIP's raw TCP API: a listening pcb, connections
// accepted, data received (and checked never to sit in an RX buffer: the
// netif copies every frame out of the provider's memory), optionally held
// instead of consumed.
struct TcpApp {
    fake::FrameIo* io = nullptr;
    struct tcp_pcb* listener = nullptr;
    struct tcp_pcb* conn = nullptr;
    Bytes received;
    bool saw_provider_memory = false;
    bool hold = false;
    bool peer_closed = false;
    std::vector<struct pbuf*> held;

    void listen(u16 port) {
        struct tcp_pcb* pcb = tcp_new();
        ASSERT_NE(pcb, nullptr);
        ASSERT_EQ(tcp_bind(pcb, IP_ANY_TYPE, port), ERR_OK);
        listener = tcp_listen(pcb);
        ASSERT_NE(listener, nullptr);
        tcp_arg(listener, this);
        tcp_accept(listener, accept_cb);
    }
    static err_t accept_cb(void* arg, struct tcp_pcb* pcb, err_t err) {
        auto* self = static_cast<TcpApp*>(arg);
        self->conn = pcb;
        tcp_arg(pcb, self);
        tcp_recv(pcb, recv_cb);
        return ERR_OK;
    }
    static err_t recv_cb(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err) {
        auto* self = static_cast<TcpApp*>(arg);
        if (p == nullptr) {
            self->peer_closed = true;
            tcp_close(pcb);
            self->conn = nullptr;
            return ERR_OK;
        }
        for (struct pbuf* q = p; q != nullptr; q = q->next) {
            self->saw_provider_memory |= self->io->in_rx_buffer(q->payload);
            self->received.insert(self->received.end(), static_cast<u8*>(q->payload),
                                  static_cast<u8*>(q->payload) + q->len);
        }
        if (self->hold) {
            self->held.push_back(p);
            return ERR_OK;
        }
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
    }
    void release() {
        for (struct pbuf* p : held) pbuf_free(p);
        held.clear();
    }
    void close() {
        release();
        if (conn != nullptr) tcp_abort(conn);
        conn = nullptr;
        if (listener != nullptr) tcp_close(listener);
        listener = nullptr;
    }
};

Bytes peer_tcp(u32 seq, u32 ack, u8 flags, const Bytes& data = {}, u16 mss = 0) {
    return frames::ethernet(kOurMac, kPeerMac, frames::kEtherIpv4,
                            frames::ipv4(kPeerIp, kOurIp, frames::kProtoTcp,
                                         frames::tcp(kPeerIp, kOurIp, 40000, 80, seq, ack, flags, 65535, data, mss)));
}

// The application listens on port 80 (`hold`: it keeps what it receives)
// and the peer, known by ARP, sends it a SYN: what the stack answered.
std::vector<Parsed> NetstackTest::syn_to_listener(TcpApp& app, bool hold) {
    learn_peer();
    app.io = io.get();
    app.hold = hold;
    app.listen(80);
    return deliver(peer_tcp(1000, 0, frames::kTcpSyn, {}, 1460));
}

TEST_F(NetstackTest, TcpSynToListenerGetsSynAckAndDataComesIn) {
    start_static();
    TcpApp app;
    // SYN -> SYN-ACK [RFC 793 §3.4]: acknowledges seq + 1, offers an MSS.
    auto sent = syn_to_listener(app);
    ASSERT_EQ(sent.size(), 1u);
    const Parsed& sa = sent[0];
    ASSERT_EQ(sa.proto, frames::kProtoTcp);
    EXPECT_EQ(sa.dst, kPeerMac);
    EXPECT_EQ(sa.ip_src, kOurIp);
    EXPECT_EQ(sa.ip_dst, kPeerIp);
    EXPECT_TRUE(sa.ip_checksum_ok);
    EXPECT_TRUE(sa.l4_checksum_ok);
    EXPECT_EQ(frames::get16(sa.bytes, sa.l4), 80);
    EXPECT_EQ(frames::get16(sa.bytes, sa.l4 + 2), 40000);
    EXPECT_EQ(sa.bytes[sa.l4 + 13], frames::kTcpSyn | frames::kTcpAck);
    EXPECT_EQ(frames::get32(sa.bytes, sa.l4 + 8), 1001u);
    ASSERT_GE(sa.bytes[sa.l4 + 12] >> 4, 6);  // an option: the MSS
    EXPECT_EQ(sa.bytes[sa.l4 + 20], 2);
    EXPECT_EQ(frames::get16(sa.bytes, sa.l4 + 22), 1460);
    u32 iss = frames::get32(sa.bytes, sa.l4 + 4);

    // ACK: accepted. Then data, received where the device put it.
    EXPECT_TRUE(deliver(peer_tcp(1001, iss + 1, frames::kTcpAck)).empty());
    ASSERT_NE(app.conn, nullptr);
    Bytes data(1000);
    for (u32 i = 0; i < data.size(); i++) data[i] = static_cast<u8>(i * 13 + 5);
    deliver(peer_tcp(1001, iss + 1, frames::kTcpAck | frames::kTcpPsh, data));
    EXPECT_EQ(app.received, data);
    EXPECT_FALSE(app.saw_provider_memory);
    // lwIP delays the ACK (at most its fast timer, 250 ms).
    advance_ms(300);
    auto acks = sent_frames(*io);
    ASSERT_EQ(acks.size(), 1u);
    EXPECT_EQ(frames::get32(acks[0].bytes, acks[0].l4 + 8), 2001u);
    EXPECT_TRUE(acks[0].l4_checksum_ok);

    // The peer closes; the application closes; the peer acknowledges our FIN.
    sent = deliver(peer_tcp(2001, iss + 1, frames::kTcpFin | frames::kTcpAck));
    EXPECT_TRUE(app.peer_closed);
    ASSERT_GE(sent.size(), 1u);
    EXPECT_TRUE(sent.back().bytes[sent.back().l4 + 13] & frames::kTcpFin);
    EXPECT_EQ(frames::get32(sent.back().bytes, sent.back().l4 + 8), 2002u);
    deliver(peer_tcp(2002, iss + 2, frames::kTcpAck));
    app.close();
    EXPECT_EQ(io->rx_held(), 0u);
}

struct Segment {
    u32 seq, ack;
    u8 flags;
    u16 window;
    Bytes data;
};

Segment segment(const Parsed& p) {
    Segment s{};
    EXPECT_EQ(p.proto, frames::kProtoTcp);
    EXPECT_TRUE(p.ip_checksum_ok && p.l4_checksum_ok);
    if (p.proto != frames::kProtoTcp || p.l4_len < 20) return s;
    s.seq = frames::get32(p.bytes, p.l4 + 4);
    s.ack = frames::get32(p.bytes, p.l4 + 8);
    s.flags = p.bytes[p.l4 + 13];
    s.window = frames::get16(p.bytes, p.l4 + 14);
    usize offset = (p.bytes[p.l4 + 12] >> 4) * 4u;
    s.data.assign(p.bytes.begin() + static_cast<long>(p.l4 + offset),
                  p.bytes.begin() + static_cast<long>(p.l4 + p.l4_len));
    return s;
}

// A few MiB each way through one connection, the peer keeping to the
// window the stack advertises and the application consuming as it comes:
// lwipopts.h's sizes carry a stream (no stall, nothing lost or reordered),
// and the RX buffers all come back.
TEST_F(NetstackTest, TcpStreamsSeveralMebibytesBothWays) {
    constexpr usize kBytes = 3 * 1024 * 1024;
    start_static();
    TcpApp app;
    auto sent = syn_to_listener(app);
    ASSERT_EQ(sent.size(), 1u);
    Segment synack = segment(sent[0]);
    u32 our_next = synack.seq + 1;  // the stack's next sequence number, as the peer sees it
    u32 peer_una = 1001, peer_next = 1001;
    u32 window = synack.window;
    EXPECT_TRUE(deliver(peer_tcp(peer_next, our_next, frames::kTcpAck)).empty());
    ASSERT_NE(app.conn, nullptr);

    Bytes data(kBytes);
    u64 x = 0x9e3779b97f4a7c15ull;
    for (auto& b : data) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b = static_cast<u8>(x);
    }

    // Peer -> stack: full segments while the window allows.
    u32 rounds = 0;
    while (peer_una - 1001 < kBytes && rounds++ < 200000) {
        while (peer_next - 1001 < kBytes && peer_next - peer_una + 1460 <= window) {
            usize at = peer_next - 1001, n = std::min<usize>(1460, kBytes - at);
            io->deliver(
                peer_tcp(peer_next, our_next, frames::kTcpAck,
                         Bytes(data.begin() + static_cast<long>(at), data.begin() + static_cast<long>(at + n))));
            peer_next += static_cast<u32>(n);
            if (io->rx_held() >= fake::FrameIo::kRxBuffers / 2) stack.poll();
        }
        test_host().now += 1'000'000;
        stack.poll();
        for (auto& p : sent_frames(*io)) {
            Segment s = segment(p);
            ASSERT_TRUE(s.flags & frames::kTcpAck);
            ASSERT_TRUE(s.data.empty());
            if (s.ack - peer_una <= peer_next - peer_una) peer_una = s.ack;
            window = s.window;
        }
    }
    ASSERT_EQ(app.received.size(), kBytes);
    EXPECT_TRUE(app.received == data);
    EXPECT_FALSE(app.saw_provider_memory);

    // Stack -> peer: the application writes as lwIP's send buffer allows;
    // the peer takes segments in order and acknowledges each.
    Bytes got;
    usize written = 0;
    rounds = 0;
    while (got.size() < kBytes && rounds++ < 200000) {
        while (written < kBytes && tcp_sndbuf(app.conn) > 0) {
            usize n = std::min<usize>({tcp_sndbuf(app.conn), kBytes - written, 16384});
            ASSERT_EQ(tcp_write(app.conn, data.data() + written, static_cast<u16>(n), TCP_WRITE_FLAG_COPY), ERR_OK);
            written += n;
        }
        tcp_output(app.conn);
        test_host().now += 1'000'000;
        stack.poll();
        u32 acked = our_next;
        for (auto& p : sent_frames(*io)) {
            Segment s = segment(p);
            if (s.data.empty()) continue;
            ASSERT_EQ(s.seq, our_next) << "out of order or retransmitted at " << got.size();
            got.insert(got.end(), s.data.begin(), s.data.end());
            our_next += static_cast<u32>(s.data.size());
        }
        if (our_next != acked) io->deliver(peer_tcp(peer_next, our_next, frames::kTcpAck));
    }
    ASSERT_EQ(got.size(), kBytes);
    EXPECT_TRUE(got == data);
    stack.poll();  // the peer's last ACK
    app.close();
    io->take_sent();
}

// TCP's initial sequence numbers follow RFC 6528 (lib/netstack/tcp_isn.h):
// a keyed hash of the four-tuple under a secret plus a 4 µs clock — not
// lwIP's own global counter stepped by its timer ticks, which anyone who
// saw one connection could predict. Two SYNs from neighbouring ports at
// the same moment get unrelated ISNs; a new secret gives new ones.
TEST_F(NetstackTest, TcpInitialSequenceNumbersAreKeyedHashesOfTheConnection) {
    start_static();
    netstack::tcp_isn_reset_secret();
    TcpApp app;
    auto sent = syn_to_listener(app);
    ASSERT_EQ(sent.size(), 1u);
    u32 iss = frames::get32(sent[0].bytes, sent[0].l4 + 4);
    auto ip = [](const Ip& a) { return lwip_ip(a).addr; };
    EXPECT_EQ(iss, netstack::tcp_isn(ip(kOurIp), 80, ip(kPeerIp), 40000));
    // The neighbouring port, same time: a different, unrelated number.
    u32 next = netstack::tcp_isn(ip(kOurIp), 80, ip(kPeerIp), 40001);
    EXPECT_GT(std::min(next - iss, iss - next), 1u << 16);
    // Time advances M only (4 µs ticks): same four-tuple, 1 ms later.
    test_host().now += 1'000'000;
    EXPECT_EQ(netstack::tcp_isn(ip(kOurIp), 80, ip(kPeerIp), 40000) - iss, 250u);
    netstack::tcp_isn_reset_secret();
    EXPECT_NE(netstack::tcp_isn(ip(kOurIp), 80, ip(kPeerIp), 40000) - iss, 250u);
    app.close();
    io->take_sent();
}

// Packets to a neighbour whose MAC is being resolved wait for the ARP
// reply — all of a burst, not lwIP's default 3 (it dropped the oldest: a
// SYN-ACK among UDP replies to the gateway right after DHCP, and the peer
// waited 3 s for lwIP's retransmission).
TEST_F(NetstackTest, ABurstToAnUnresolvedNeighbourWaitsForArpWhole) {
    start_static();
    struct udp_pcb* pcb = udp_new();
    ASSERT_NE(pcb, nullptr);
    ASSERT_EQ(udp_bind(pcb, IP_ANY_TYPE, 5000), ERR_OK);
    ip_addr_t peer;
    IP_ADDR4(&peer, kPeerIp[0], kPeerIp[1], kPeerIp[2], kPeerIp[3]);
    constexpr u32 kBurst = 8;
    for (u32 i = 0; i < kBurst; i++) {
        struct pbuf* p = pbuf_alloc(PBUF_TRANSPORT, 4, PBUF_RAM);
        ASSERT_NE(p, nullptr);
        u8 body[4] = {'b', 'u', 'r', static_cast<u8>('0' + i)};
        pbuf_take(p, body, sizeof body);
        ASSERT_EQ(udp_sendto(pcb, p, &peer, 6000), ERR_OK);
        pbuf_free(p);
    }
    stack.poll();
    auto before = sent_frames(*io);  // the ARP request only
    ASSERT_EQ(before.size(), 1u);
    EXPECT_EQ(before[0].type, frames::kEtherArp);
    auto after = deliver(
        frames::ethernet(kOurMac, kPeerMac, frames::kEtherArp, frames::arp(2, kPeerMac, kPeerIp, kOurMac, kOurIp)));
    u32 udp = 0;
    for (auto& f : after) udp += f.type == frames::kEtherIpv4 && f.proto == frames::kProtoUdp;
    EXPECT_EQ(udp, kBurst);
    udp_remove(pcb);
}

// What lwIP holds is its own copy, never the provider's buffer: every RX
// buffer goes back as soon as its frame is read, and a provider rewriting
// its buffers afterwards (or dying, which unmaps them) changes nothing lwIP
// parses. Out-of-order TCP segments (TCP_QUEUE_OOSEQ keeps pointers into
// them) and IPv4 fragments (ip4_frag.c keeps a struct pbuf* inside the
// first one's header) are the frames lwIP holds longest.
TEST_F(NetstackTest, FramesLwipHoldsAreCopiesTheProviderCannotReach) {
    start_static();
    TcpApp app;
    auto sent = syn_to_listener(app, true);
    ASSERT_EQ(sent.size(), 1u);
    u32 iss = frames::get32(sent[0].bytes, sent[0].l4 + 4);
    deliver(peer_tcp(1001, iss + 1, frames::kTcpAck));
    Bytes all;
    for (u32 i = 0; i < 4; i++) {
        Bytes chunk(100, static_cast<u8>('a' + i));
        all.insert(all.end(), chunk.begin(), chunk.end());
    }
    // Segments 2..4 first: lwIP queues them out of order.
    for (u32 i = 1; i < 4; i++) {
        deliver(peer_tcp(1001 + i * 100, iss + 1, frames::kTcpAck | frames::kTcpPsh,
                         Bytes(all.begin() + i * 100, all.begin() + (i + 1) * 100)));
    }
    EXPECT_TRUE(app.received.empty());
    EXPECT_EQ(io->rx_held(), 0u);  // lwIP holds three segments, the provider has every buffer
    io->scribble_rx(0xcc);
    deliver(peer_tcp(1001, iss + 1, frames::kTcpAck | frames::kTcpPsh, Bytes(all.begin(), all.begin() + 100)));
    EXPECT_EQ(app.received, all);
    EXPECT_FALSE(app.saw_provider_memory);
    app.close();
    io->take_sent();

    // A UDP datagram in two IPv4 fragments, the buffer of the first
    // rewritten (as a hostile provider would, to aim lwIP's reassembly
    // pointer) before the second arrives.
    struct Received {
        Bytes data;
        static void cb(void* arg, struct udp_pcb*, struct pbuf* p, const ip_addr_t*, u16) {
            auto* self = static_cast<Received*>(arg);
            self->data.resize(p->tot_len);
            pbuf_copy_partial(p, self->data.data(), p->tot_len, 0);
            pbuf_free(p);
        }
    } got;
    struct udp_pcb* pcb = udp_new();
    ASSERT_NE(pcb, nullptr);
    ASSERT_EQ(udp_bind(pcb, IP_ANY_TYPE, 7000), ERR_OK);
    udp_recv(pcb, Received::cb, &got);
    Bytes payload(2000);
    for (usize i = 0; i < payload.size(); i++) payload[i] = static_cast<u8>(i * 7);
    Bytes datagram = frames::udp(kPeerIp, kOurIp, 4000, 7000, payload);
    // Fragment offsets count 8-byte units [RFC 791 §3.1]: 1480 bytes, then the rest.
    auto fragment = [&](usize from, usize to, bool more) {
        Bytes ip = frames::ipv4(
            kPeerIp, kOurIp, frames::kProtoUdp,
            Bytes(datagram.begin() + static_cast<long>(from), datagram.begin() + static_cast<long>(to)), 77);
        frames::set16(ip, 6, static_cast<u16>((more ? 0x2000 : 0) | (from / 8)));
        frames::set16(ip, 10, 0);
        frames::set16(ip, 10, frames::checksum(ip.data(), 20));
        return frames::ethernet(kOurMac, kPeerMac, frames::kEtherIpv4, ip);
    };
    deliver(fragment(0, 1480, true));
    EXPECT_TRUE(got.data.empty());
    EXPECT_EQ(io->rx_held(), 0u);
    io->scribble_rx(0xee);
    deliver(fragment(1480, datagram.size(), false));
    EXPECT_EQ(got.data, payload);
    udp_remove(pcb);
    io->take_sent();
}

// Frames no honest peer sends: each dropped, its buffer given back, and
// the stack answers the next honest frame as before.
TEST_F(NetstackTest, MalformedFramesAreDroppedWithoutHarm) {
    start_static();
    learn_peer();
    Bytes echo = frames::ipv4(kPeerIp, kOurIp, frames::kProtoIcmp, frames::icmp_echo(8, 1, 1, Bytes(16, 0x5a)));
    auto eth = [](const Bytes& payload, u16 type = frames::kEtherIpv4) {
        return frames::ethernet(kOurMac, kPeerMac, type, payload);
    };
    std::vector<Bytes> bad;
    bad.push_back({});                                           // nothing
    bad.push_back(Bytes(13, 0xff));                              // shorter than an Ethernet header
    bad.push_back(eth({}));                                      // a header and no IPv4 packet
    bad.push_back(Bytes(1515, 0x45));                            // past MTU + 14
    bad.push_back(eth(Bytes(echo.begin(), echo.begin() + 10)));  // truncated IPv4 header
    {
        Bytes b = echo;  // total length past the frame
        frames::set16(b, 2, 1000);
        frames::set16(b, 10, 0);
        frames::set16(b, 10, frames::checksum(b.data(), 20));
        bad.push_back(eth(b));
    }
    {
        Bytes b = echo;  // header length 60 > the packet's
        b.resize(28);
        b[0] = 0x4f;
        frames::set16(b, 2, 28);
        frames::set16(b, 10, 0);
        frames::set16(b, 10, frames::checksum(b.data(), 20));
        bad.push_back(eth(b));
    }
    {
        Bytes b = echo;  // header length 16 < 20
        b[0] = 0x44;
        bad.push_back(eth(b));
    }
    {
        Bytes b = echo;  // IP checksum wrong
        b[10] ^= 0x40;
        bad.push_back(eth(b));
    }
    {
        Bytes b = echo;  // ICMP checksum wrong
        b[22] ^= 0x01;
        bad.push_back(eth(b));
    }
    bad.push_back(eth(frames::ipv4(kPeerIp, kOurIp, frames::kProtoIcmp, Bytes{8, 0})));  // ICMP of 2 bytes
    {
        Bytes u = frames::udp(kPeerIp, kOurIp, 1234, 9, Bytes(8, 1));
        frames::set16(u, 4, 500);  // UDP length past the packet
        bad.push_back(eth(frames::ipv4(kPeerIp, kOurIp, frames::kProtoUdp, u)));
    }
    {
        Bytes t = frames::tcp(kPeerIp, kOurIp, 40000, 80, 1, 0, frames::kTcpSyn, 100, {});
        t[12] = 0xf0;  // data offset 60 bytes in a 20-byte segment
        bad.push_back(eth(frames::ipv4(kPeerIp, kOurIp, frames::kProtoTcp, t)));
    }
    bad.push_back(eth(Bytes(10, 0x01), frames::kEtherArp));  // truncated ARP
    {
        Bytes a = frames::arp(1, kPeerMac, kPeerIp, Mac{}, kOurIp);
        a[4] = 16;  // hardware address length 16
        bad.push_back(eth(a, frames::kEtherArp));
    }
    for (usize i = 0; i < bad.size(); i++) {
        auto sent = deliver(bad[i]);
        for (auto& p : sent) {
            // An ICMP error is allowed; anything the stack sends is well formed.
            EXPECT_TRUE(p.type != frames::kEtherIpv4 || (p.ip_checksum_ok && p.l4_checksum_ok)) << "frame " << i;
        }
        EXPECT_EQ(io->rx_held(), 0u) << "frame " << i;
    }
    EXPECT_GE(stack.netif().counters().rx_dropped, 3u);  // the ones the netif itself refuses

    auto sent = deliver(eth(echo));
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].bytes[sent[0].l4], 0);  // still answers
}

// No transmit buffer free: the frame is dropped and counted, nothing breaks.
TEST_F(NetstackTest, TransmitWithoutBuffersIsDroppedAndCounted) {
    start_static();
    io->tx_exhausted = true;
    EXPECT_TRUE(deliver(frames::ethernet(frames::kBroadcastMac, kPeerMac, frames::kEtherArp,
                                         frames::arp(1, kPeerMac, kPeerIp, Mac{}, kOurIp)))
                    .empty());
    EXPECT_EQ(stack.netif().counters().tx_busy, 1u);
    io->tx_exhausted = false;
    EXPECT_EQ(deliver(frames::ethernet(frames::kBroadcastMac, kPeerMac, frames::kEtherArp,
                                       frames::arp(1, kPeerMac, kPeerIp, Mac{}, kOurIp)))
                  .size(),
              1u);
}

}  // namespace
