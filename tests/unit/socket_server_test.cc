// The Socket service's server side (lib/netstack/socket_server.h) over
// the real lwIP and a fake NIC (tests/support/fake_frame_io.h): a fake
// client drives the shared rings as a process would, and the test plays
// the peer on the wire with frames built by hand (tests/support/
// net_frames.h). UDP and TCP round trips, and hostile clients refused
// without harming another client.
#define GTEST_HAS_CXXABI_H_ 0  // its <cxxabi.h> aliases `namespace abi` (docs/testing.md)
#include "netstack/socket_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../support/fake_frame_io.h"
#include "../support/net_frames.h"
#include "lwip/def.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "netstack/resolve.h"
#include "netstack/stack.h"

namespace {

using frames::Bytes;
using frames::Ip;
using frames::kOurIp;
using frames::kOurMac;
using frames::kPeerIp;
using frames::kPeerMac;
using frames::Mac;
using frames::Parsed;

constexpr u32 kPeerAddr = PP_HTONL(0x0a000202);  // 10.0.2.2, network byte order
constexpr Ip kDnsIp{10, 0, 2, 3};                // slirp's resolver, as the lease names it
constexpr Mac kDnsMac{0x52, 0x55, 0x0a, 0x00, 0x02, 0x03};
constexpr u32 kDataBytes = abi::kSocketDataBytes;  // 16 ring slots (rings_request)
constexpr u32 kRing = 4096;
// A TCP socket's rx ring holds lwIP's whole window (kSocketMinTcpRxBytes).
constexpr u32 kTcpRing = abi::kSocketMinTcpRxBytes;

ip4_addr_t lwip_ip(const Ip& a) {
    ip4_addr_t out;
    IP4_ADDR(&out, a[0], a[1], a[2], a[3]);
    return out;
}

fake::Host& test_host() {
    static fake::Host host;
    return host;
}

// A client process's side of a channel: the memory the netstack created
// (here owned by the test) and the client's views of the rings.
struct Client {
    std::unique_ptr<abi::SocketRings> rings = std::make_unique<abi::SocketRings>();
    std::vector<u8> data = std::vector<u8>(kDataBytes);
    netstack::SocketChannel channel;
    abi::SocketRequestProducer requests;
    abi::SocketEventConsumer events;
    u64 next_tag = 1;
    // Per socket: the client's rx head and tx tail, where its rings are.
    struct Stream {
        u32 rx_offset = 0, rx_bytes = 0, tx_offset = 0, tx_bytes = 0;
        u32 rx_head = 0, tx_tail = 0;
    } streams[abi::kSocketMaxSockets];

    netstack::SocketClientConfig base{};  // open() starts from it

    void open(std::vector<u16> ports, u64 badge, u32 max_sockets = abi::kSocketMaxSockets) {
        m_ports = std::move(ports);
        netstack::SocketClientConfig config = base;
        config.badge = badge;
        config.ports = m_ports.data();
        config.port_count = static_cast<u32>(m_ports.size());
        config.max_sockets = max_sockets;
        ASSERT_TRUE(channel.open(rings.get(), data.data(), kDataBytes, config).ok());
        requests = rings->requests.producer();
        events = rings->events.consumer();
    }

    u64 send(abi::SocketRequest r) {
        r.tag = next_tag++;
        EXPECT_TRUE(requests.refresh().ok());
        EXPECT_TRUE(requests.put(r));
        requests.publish();
        return r.tag;
    }
    std::vector<abi::SocketEvent> take_events() {
        std::vector<abi::SocketEvent> out;
        EXPECT_TRUE(events.refresh().ok());
        abi::SocketEvent e;
        while (events.take(&e)) out.push_back(e);
        events.release();
        return out;
    }
    // True when no event answers `tag` (a Send taken: lib/protocol/socket.h).
    bool unanswered(u64 tag) {
        for (auto& e : take_events())
            if (e.tag == tag) return false;
        return true;
    }
    // The event answering `tag` (failing the test when there is none).
    abi::SocketEvent answer(u64 tag) {
        for (auto& e : take_events())
            if (e.tag == tag) return e;
        ADD_FAILURE() << "no answer to request " << tag;
        return {};
    }

    // Ring slot `slot` of the data area: an rx ring of `rx_bytes`, a tx
    // ring of kRing.
    static abi::SocketRequest rings_request(abi::SocketRequestOp op, u32 slot, u32 rx_bytes = kRing) {
        abi::SocketRequest r{};
        r.op = op;
        r.rx_offset = slot * 2 * kTcpRing;
        r.rx_bytes = rx_bytes;
        r.tx_offset = slot * 2 * kTcpRing + kTcpRing;
        r.tx_bytes = kRing;
        return r;
    }
    void place(u32 index, const abi::SocketRequest& r) {
        streams[index] = {r.rx_offset, r.rx_bytes, r.tx_offset, r.tx_bytes, 0, 0};
    }

    // Everything readable in socket `index`'s rx ring, consumed.
    Bytes read(u32 index) {
        auto& s = streams[index];
        u32 tail = __atomic_load_n(&rings->streams[index].rx.tail, __ATOMIC_ACQUIRE);
        Bytes out;
        for (; s.rx_head != tail; s.rx_head++) out.push_back(data[s.rx_offset + s.rx_head % s.rx_bytes]);
        __atomic_store_n(&rings->streams[index].rx.head, s.rx_head, __ATOMIC_RELEASE);
        return out;
    }
    // Bytes into socket `index`'s tx ring, published.
    void write(u32 index, const Bytes& bytes) {
        auto& s = streams[index];
        for (u8 b : bytes) data[s.tx_offset + s.tx_tail++ % s.tx_bytes] = b;
        __atomic_store_n(&rings->streams[index].tx.tail, s.tx_tail, __ATOMIC_RELEASE);
    }
    static Bytes datagram(u32 address, u16 port, const Bytes& payload) {
        abi::SocketDatagram d{address, port, static_cast<u16>(payload.size())};
        Bytes out(abi::socket_record_bytes(static_cast<u32>(payload.size())));
        std::memcpy(out.data(), &d, sizeof d);
        std::memcpy(out.data() + sizeof d, payload.data(), payload.size());
        return out;
    }

private:
    std::vector<u16> m_ports;
};

class SocketServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        netstack::set_host(test_host());
        test_host().lines = &log;
        netstack::StackConfig config;
        config.dhcp = false;
        config.address = lwip_ip(kOurIp);
        config.netmask = lwip_ip({255, 255, 255, 0});
        config.gateway = lwip_ip(kPeerIp);
        config.dns = lwip_ip(kDnsIp);
        ASSERT_TRUE(stack.start(io, config).ok());
        stack.poll();
        io.take_sent();
        // The peer asks for our MAC: lwIP answers and learns the peer's.
        deliver(frames::ethernet(frames::kBroadcastMac, kPeerMac, frames::kEtherArp,
                                 frames::arp(1, kPeerMac, kPeerIp, Mac{}, kOurIp)));
    }
    void TearDown() override {
        a.channel.close();
        b.channel.close();
        stack.stop();
        test_host().lines = nullptr;
        EXPECT_EQ(io.rx_held(), 0u);
        EXPECT_EQ(io.contract_breaches, 0u);
    }

    // One turn of the netstack's loop: the stack, then every channel.
    std::vector<Parsed> turn() {
        test_host().now += 1'000'000;
        stack.poll();
        a.channel.poll();
        b.channel.poll();
        stack.poll();
        std::vector<Parsed> out;
        for (auto& f : io.take_sent()) out.push_back(frames::parse(f));
        return out;
    }
    std::vector<Parsed> deliver(const Bytes& frame) {
        EXPECT_TRUE(io.deliver(frame));
        return turn();
    }
    Bytes peer_udp(u16 sport, u16 dport, const Bytes& payload) {
        return frames::ethernet(
            kOurMac, kPeerMac, frames::kEtherIpv4,
            frames::ipv4(kPeerIp, kOurIp, frames::kProtoUdp, frames::udp(kPeerIp, kOurIp, sport, dport, payload)));
    }
    Bytes peer_tcp(u32 seq, u32 ack, u8 flags, const Bytes& data = {}, u16 mss = 0) {
        return frames::ethernet(
            kOurMac, kPeerMac, frames::kEtherIpv4,
            frames::ipv4(kPeerIp, kOurIp, frames::kProtoTcp,
                         frames::tcp(kPeerIp, kOurIp, 40000, 80, seq, ack, flags, 65535, data, mss)));
    }

    // A UDP socket of `c` bound to `port` in ring slot `slot`: its index.
    u32 udp_socket(Client& c, u16 port, u32 slot) {
        auto open = Client::rings_request(abi::SocketRequestOp::Open, slot);
        open.kind = abi::SocketKind::Udp;
        u64 tag = c.send(open);
        turn();
        auto e = c.answer(tag);
        EXPECT_EQ(e.kind, abi::SocketEventKind::Done);
        EXPECT_EQ(e.status, Status::Ok);
        c.place(e.socket, open);
        abi::SocketRequest bind{};
        bind.op = abi::SocketRequestOp::Bind;
        bind.socket = e.socket;
        bind.port = port;
        tag = c.send(bind);
        turn();
        EXPECT_EQ(c.answer(tag).status, Status::Ok);
        return e.socket;
    }

    // The peer's datagram to `port` comes back to it byte for byte
    // through client `c`'s socket `index`.
    void udp_echo(Client& c, u32 index, u16 port, const Bytes& payload) {
        deliver(peer_udp(5555, port, payload));
        auto events = c.take_events();
        ASSERT_EQ(events.size(), 1u);
        EXPECT_EQ(events[0].kind, abi::SocketEventKind::Readable);
        EXPECT_EQ(events[0].socket, index);
        Bytes got = c.read(index);
        ASSERT_EQ(got, Client::datagram(kPeerAddr, 5555, payload));
        c.write(index, got);  // the source becomes the destination
        abi::SocketRequest send{};
        send.op = abi::SocketRequestOp::Send;
        send.socket = index;
        send.count = static_cast<u32>(got.size());
        u64 tag = c.send(send);
        auto sent = turn();
        EXPECT_TRUE(c.unanswered(tag));  // taken: a Send is answered only when refused
        ASSERT_EQ(sent.size(), 1u);
        const Parsed& p = sent[0];
        ASSERT_EQ(p.proto, frames::kProtoUdp);
        EXPECT_TRUE(p.ip_checksum_ok && p.l4_checksum_ok);
        EXPECT_EQ(p.ip_dst, kPeerIp);
        EXPECT_EQ(frames::get16(p.bytes, p.l4), port);
        EXPECT_EQ(frames::get16(p.bytes, p.l4 + 2), 5555);
        Bytes echoed(p.bytes.begin() + static_cast<long>(p.l4 + 8),
                     p.bytes.begin() + static_cast<long>(p.l4 + p.l4_len));
        EXPECT_EQ(echoed, payload);
    }

    // Client a listens on port 80 (socket `listener`), accepts the peer's
    // connection (handshake from peer port 40000, seq 1000): the new socket.
    struct Accepted {
        u32 listener, conn;
        u32 ours;  // the stack's next sequence number
    };
    // Client a's TCP socket in ring slot 0, bound to port 80 and listening
    // with `backlog`: its index.
    u32 tcp_listener(u32 backlog) {
        auto open = Client::rings_request(abi::SocketRequestOp::Open, 0, kTcpRing);
        open.kind = abi::SocketKind::Tcp;
        u64 tag = a.send(open);
        turn();
        u32 listener = a.answer(tag).socket;
        abi::SocketRequest r{};
        r.op = abi::SocketRequestOp::Bind;
        r.socket = listener;
        r.port = 80;
        tag = a.send(r);
        turn();
        EXPECT_EQ(a.answer(tag).status, Status::Ok);
        tag = request(a, abi::SocketRequestOp::Listen, listener, backlog);
        turn();
        EXPECT_EQ(a.answer(tag).status, Status::Ok);
        return listener;
    }
    // Client a asks to accept a connection on `listener`, the new socket's
    // rings in slot 1: the request and its tag.
    std::pair<abi::SocketRequest, u64> ask_accept(u32 listener) {
        auto accept = Client::rings_request(abi::SocketRequestOp::Accept, 1, kTcpRing);
        accept.socket = listener;
        u64 tag = a.send(accept);
        turn();
        return {accept, tag};
    }
    // The peer's SYN (port 40000 to 80, seq 1000): the stack's next sequence
    // number, from its SYN-ACK (0, and a failure, when none came).
    u32 peer_syn() {
        auto sent = deliver(peer_tcp(1000, 0, frames::kTcpSyn, {}, 1460));
        EXPECT_EQ(sent.size(), 1u);
        if (sent.empty()) return 0;
        return frames::get32(sent[0].bytes, sent[0].l4 + 4) + 1;
    }
    Accepted listen_and_accept() {
        Accepted out{};
        out.listener = tcp_listener(2);
        auto [accept, accept_tag] = ask_accept(out.listener);
        EXPECT_TRUE(a.take_events().empty());  // owed until a connection comes

        // The handshake [RFC 793 §3.4]; the Accept is answered with the peer.
        out.ours = peer_syn();
        if (out.ours == 0) return out;
        EXPECT_TRUE(deliver(peer_tcp(1001, out.ours, frames::kTcpAck)).empty());
        auto accepted = a.answer(accept_tag);
        EXPECT_EQ(accepted.kind, abi::SocketEventKind::Accepted);
        EXPECT_EQ(accepted.status, Status::Ok);
        EXPECT_EQ(accepted.address, kPeerAddr);
        EXPECT_EQ(accepted.port, 40000);
        out.conn = accepted.socket;
        EXPECT_NE(out.conn, out.listener);
        a.place(out.conn, accept);
        return out;
    }
    // Client `c` opens a TCP socket in ring slot `slot` and connects to
    // the peer's port 8080: the SYN is out, the Connect owed.
    struct Outgoing {
        u32 socket;
        u64 connect_tag;
        u16 port;  // ours
        u32 iss;
    };
    Outgoing connect_out(Client& c, u32 slot) {
        Outgoing out{};
        auto open = Client::rings_request(abi::SocketRequestOp::Open, slot, kTcpRing);
        open.kind = abi::SocketKind::Tcp;
        u64 tag = c.send(open);
        turn();
        out.socket = c.answer(tag).socket;
        c.place(out.socket, open);
        abi::SocketRequest r{};
        r.op = abi::SocketRequestOp::Connect;
        r.socket = out.socket;
        r.address = kPeerAddr;
        r.port = 8080;
        out.connect_tag = c.send(r);
        auto sent = turn();
        EXPECT_EQ(sent.size(), 1u);
        if (sent.empty()) return out;
        EXPECT_EQ(sent[0].bytes[sent[0].l4 + 13], frames::kTcpSyn);
        out.port = frames::get16(sent[0].bytes, sent[0].l4);
        out.iss = frames::get32(sent[0].bytes, sent[0].l4 + 4);
        return out;
    }
    // The peer answers `o`'s SYN: the frames the stack sent back.
    std::vector<Parsed> syn_ack(const Outgoing& o) {
        return deliver(frames::ethernet(kOurMac, kPeerMac, frames::kEtherIpv4,
                                        frames::ipv4(kPeerIp, kOurIp, frames::kProtoTcp,
                                                     frames::tcp(kPeerIp, kOurIp, 8080, o.port, 5000, o.iss + 1,
                                                                 frames::kTcpSyn | frames::kTcpAck, 65535, {}))));
    }
    u64 request(Client& c, abi::SocketRequestOp op, u32 socket, u32 count = 0) {
        abi::SocketRequest r{};
        r.op = op;
        r.socket = socket;
        r.count = count;
        return c.send(r);
    }
    // Client b connects (lwIP hands it the pcb it freed last), then a
    // closes its socket `conn`: b's connection must not feel it.
    void close_spares_b(u32 conn) {
        auto out = connect_out(b, 0);
        u64 tag = request(a, abi::SocketRequestOp::Close, conn);
        auto sent = turn();
        EXPECT_EQ(a.answer(tag).status, Status::Ok);
        EXPECT_FALSE(has_flag(sent, out.port, frames::kTcpFin | frames::kTcpRst));
        syn_ack(out);
        auto e = b.answer(out.connect_tag);
        EXPECT_EQ(e.kind, abi::SocketEventKind::Connected);
        EXPECT_EQ(e.status, Status::Ok);
    }
    static bool has_flag(const std::vector<Parsed>& sent, u16 port, u8 flag) {
        bool found = false;
        for (auto& p : sent)
            found |=
                p.proto == frames::kProtoTcp && frames::get16(p.bytes, p.l4) == port && (p.bytes[p.l4 + 13] & flag);
        return found;
    }

    static Bytes tcp_data(const Parsed& p) {
        usize off = p.l4 + (p.bytes[p.l4 + 12] >> 4) * 4u;
        return Bytes(p.bytes.begin() + static_cast<long>(off), p.bytes.begin() + static_cast<long>(p.l4 + p.l4_len));
    }

    std::vector<std::string> log;
    fake::FrameIo io;
    netstack::Stack stack;
    Client a, b;
};

TEST_F(SocketServerTest, UdpBindReceiveSendRoundTrip) {
    a.open({7}, 0xa);
    u32 s = udp_socket(a, 7, 0);
    udp_echo(a, s, 7, {'h', 'e', 'l', 'l', 'o'});
    // Wrapping the ring: records keep coming back whole.
    Bytes big(1000);
    for (usize i = 0; i < big.size(); i++) big[i] = static_cast<u8>(i * 7);
    for (int i = 0; i < 10; i++) udp_echo(a, s, 7, big);
    EXPECT_EQ(a.channel.counters().refused, 0u);
}

TEST_F(SocketServerTest, TcpListenAcceptReceiveSendClose) {
    a.open({80}, 0xa);
    auto [listener, conn, ours] = listen_and_accept();
    abi::SocketRequest r{};
    u64 tag = 0;
    std::vector<Parsed> sent;

    // Peer -> client: into the rx ring, Readable.
    Bytes ping{'p', 'i', 'n', 'g'};
    deliver(peer_tcp(1001, ours, frames::kTcpAck | frames::kTcpPsh, ping));
    auto events = a.take_events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, abi::SocketEventKind::Readable);
    EXPECT_EQ(a.read(conn), ping);

    // Client -> peer: the tx ring's bytes in a segment.
    Bytes pong{'p', 'o', 'n', 'g', '!'};
    a.write(conn, pong);
    r = {};
    r.op = abi::SocketRequestOp::Send;
    r.socket = conn;
    r.count = static_cast<u32>(pong.size());
    tag = a.send(r);
    sent = turn();
    EXPECT_TRUE(a.unanswered(tag));  // taken: a Send is answered only when refused
    Bytes got;
    for (auto& p : sent) {
        ASSERT_EQ(p.proto, frames::kProtoTcp);
        EXPECT_TRUE(p.l4_checksum_ok);
        usize off = p.l4 + (p.bytes[p.l4 + 12] >> 4) * 4u;
        got.insert(got.end(), p.bytes.begin() + static_cast<long>(off),
                   p.bytes.begin() + static_cast<long>(p.l4 + p.l4_len));
    }
    EXPECT_EQ(got, pong);
    deliver(peer_tcp(1005, ours + 5, frames::kTcpAck));

    // The peer finishes: Closed after the data; the client closes: FIN.
    deliver(peer_tcp(1005, ours + 5, frames::kTcpFin | frames::kTcpAck));
    bool closed = false;
    for (auto& e : a.take_events()) closed |= e.kind == abi::SocketEventKind::Closed && e.socket == conn;
    EXPECT_TRUE(closed);
    r = {};
    r.op = abi::SocketRequestOp::Close;
    r.socket = conn;
    tag = a.send(r);
    sent = turn();
    EXPECT_EQ(a.answer(tag).status, Status::Ok);
    bool fin = false;
    for (auto& p : sent) fin |= p.proto == frames::kProtoTcp && (p.bytes[p.l4 + 13] & frames::kTcpFin);
    EXPECT_TRUE(fin);
    deliver(peer_tcp(1006, ours + 6, frames::kTcpAck));
    EXPECT_EQ(a.channel.open_sockets(), 1u);  // the listener
    (void)listener;
}

// An Accept answered inside lwIP's callback (the peer's ACK taken by the
// stack's half of a turn, before the channel's) must make the channel's
// poll() report events to signal: the netstack signals a client only then,
// and one waiting for the connection slept on (netbench's hello waited
// for the host's FIN).
TEST_F(SocketServerTest, AnAcceptAnsweredBetweenPollsIsSignalled) {
    a.open({80}, 0xa);
    u32 listener = tcp_listener(1);
    u64 accept_tag = ask_accept(listener).second;
    u32 ours = peer_syn();
    ASSERT_NE(ours, 0u);
    EXPECT_FALSE(a.channel.poll());  // nothing new: nothing to signal

    // The handshake's last ACK, taken by the stack alone.
    ASSERT_TRUE(io.deliver(peer_tcp(1001, ours, frames::kTcpAck)));
    stack.poll();
    EXPECT_TRUE(a.channel.poll());
    EXPECT_EQ(a.answer(accept_tag).kind, abi::SocketEventKind::Accepted);
    EXPECT_FALSE(a.channel.poll());  // reported once
}

// 256 KiB each way through one accepted connection (a 4 KiB tx ring): the
// client reads its rx ring only every other turn, so TCP's window must
// follow its consumption (tcp_recved) and nothing may be lost; its sends
// go as tx ring room comes back.
TEST_F(SocketServerTest, TcpStreamsThroughSmallRingsBothWays) {
    constexpr usize kBytes = 256 * 1024;
    a.open({80}, 0xa);
    auto acc = listen_and_accept();
    Bytes data(kBytes);
    u64 x = 0x9e3779b97f4a7c15ull;
    for (auto& byte : data) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        byte = static_cast<u8>(x);
    }

    // Peer -> client, the peer keeping to the window the stack advertises.
    u32 peer_una = 1001, peer_next = 1001, window = 4096;
    Bytes got;
    for (u32 round = 0; got.size() < kBytes && round < 20000; round++) {
        while (peer_next - 1001 < kBytes && peer_next - peer_una + 1460 <= window) {
            usize at = peer_next - 1001, n = std::min<usize>(1460, kBytes - at);
            io.deliver(peer_tcp(peer_next, acc.ours, frames::kTcpAck,
                                Bytes(data.begin() + static_cast<long>(at), data.begin() + static_cast<long>(at + n))));
            peer_next += static_cast<u32>(n);
        }
        for (auto& p : turn()) {
            ASSERT_EQ(p.proto, frames::kProtoTcp);
            u32 ack = frames::get32(p.bytes, p.l4 + 8);
            if (ack - peer_una <= peer_next - peer_una) peer_una = ack;
            window = frames::get16(p.bytes, p.l4 + 14);
        }
        if (round % 2 == 0) {
            Bytes more = a.read(acc.conn);
            got.insert(got.end(), more.begin(), more.end());
        }
        if (peer_una == peer_next && window < 1460) test_host().now += 300'000'000;  // lwIP's window update
    }
    ASSERT_EQ(got.size(), kBytes);
    EXPECT_TRUE(got == data);
    a.take_events();

    // Client -> peer: written as the tx ring has room, announced by Send.
    Bytes back;
    usize written = 0;
    for (u32 round = 0; back.size() < kBytes && round < 20000; round++) {
        auto& st = a.streams[acc.conn];
        u32 head = __atomic_load_n(&a.rings->streams[acc.conn].tx.head, __ATOMIC_ACQUIRE);
        usize room = st.tx_bytes - (st.tx_tail - head);
        usize n = std::min(room, kBytes - written);
        if (n > 0) {
            a.write(acc.conn,
                    Bytes(data.begin() + static_cast<long>(written), data.begin() + static_cast<long>(written + n)));
            written += n;
            abi::SocketRequest r{};
            r.op = abi::SocketRequestOp::Send;
            r.socket = acc.conn;
            r.count = static_cast<u32>(n);
            a.send(r);
        }
        u32 acked = acc.ours;
        for (auto& p : turn()) {
            Bytes d = tcp_data(p);
            if (d.empty()) continue;
            ASSERT_EQ(frames::get32(p.bytes, p.l4 + 4), acc.ours) << "out of order at " << back.size();
            back.insert(back.end(), d.begin(), d.end());
            acc.ours += static_cast<u32>(d.size());
        }
        if (acc.ours != acked) io.deliver(peer_tcp(peer_next, acc.ours, frames::kTcpAck));
        for (auto& e : a.take_events()) ASSERT_NE(e.status, Status::InvalidArgument);
    }
    turn();  // the peer's last ACK
    ASSERT_EQ(back.size(), kBytes);
    EXPECT_TRUE(back == data);
    EXPECT_EQ(a.channel.counters().refused, 0u);
}

// Connect: answered Connected once the peer's SYN-ACK comes; a peer that
// resets the SYN is a Connected NotFound, the socket then good only for
// Close.
TEST_F(SocketServerTest, TcpConnectEstablishedOrRefused) {
    a.open({}, 0xa);
    for (bool refuse : {false, true}) {
        auto open = Client::rings_request(abi::SocketRequestOp::Open, refuse ? 1 : 0, kTcpRing);
        open.kind = abi::SocketKind::Tcp;
        u64 tag = a.send(open);
        turn();
        u32 s = a.answer(tag).socket;
        abi::SocketRequest r{};
        r.op = abi::SocketRequestOp::Connect;
        r.socket = s;
        r.address = kPeerAddr;
        r.port = 8080;
        u64 connect_tag = a.send(r);
        auto sent = turn();
        ASSERT_EQ(sent.size(), 1u);
        const Parsed& syn = sent[0];
        ASSERT_EQ(syn.proto, frames::kProtoTcp);
        ASSERT_EQ(syn.bytes[syn.l4 + 13], frames::kTcpSyn);
        EXPECT_EQ(frames::get16(syn.bytes, syn.l4 + 2), 8080);
        EXPECT_TRUE(a.take_events().empty());  // owed until the peer answers
        u16 our_port = frames::get16(syn.bytes, syn.l4);
        u32 iss = frames::get32(syn.bytes, syn.l4 + 4);
        u8 flags = refuse ? frames::kTcpRst | frames::kTcpAck : frames::kTcpSyn | frames::kTcpAck;
        deliver(frames::ethernet(
            kOurMac, kPeerMac, frames::kEtherIpv4,
            frames::ipv4(kPeerIp, kOurIp, frames::kProtoTcp,
                         frames::tcp(kPeerIp, kOurIp, 8080, our_port, refuse ? 0 : 5000, iss + 1, flags, 65535, {}))));
        auto e = a.answer(connect_tag);
        EXPECT_EQ(e.kind, abi::SocketEventKind::Connected);
        EXPECT_EQ(e.status, refuse ? Status::NotFound : Status::Ok);
        if (refuse) {
            EXPECT_EQ(e.detail, static_cast<u32>(abi::SocketCloseReason::PeerReset));
            r = {};
            r.op = abi::SocketRequestOp::Send;
            r.socket = s;
            tag = a.send(r);
            turn();
            EXPECT_EQ(a.answer(tag).status, Status::Stale);
        }
        r = {};
        r.op = abi::SocketRequestOp::Close;
        r.socket = s;
        tag = a.send(r);
        turn();
        EXPECT_EQ(a.answer(tag).status, Status::Ok);
    }
    EXPECT_EQ(a.channel.open_sockets(), 0u);
}

// Client a misbehaves in every way a request can; each refusal is specific
// and logged against its badge, and client b's socket keeps serving. Then a
// breaks the ring protocol: its channel closes, b still serves.
TEST_F(SocketServerTest, HostileClientRefusedWithoutHarmingAnother) {
    a.open({9}, 0xbad, 2);
    b.open({7}, 0x900d);
    u32 good = udp_socket(b, 7, 0);

    auto refused = [&](abi::SocketRequest r, Status want) {
        u64 tag = a.send(r);
        turn();
        auto e = a.answer(tag);
        EXPECT_EQ(e.kind, abi::SocketEventKind::Done);
        EXPECT_EQ(e.status, want) << "request op " << static_cast<int>(r.op);
    };
    abi::SocketRequest r{};
    // A socket index it never opened, or past any table.
    r.op = abi::SocketRequestOp::Send;
    r.socket = 0;
    refused(r, Status::NotFound);
    r.socket = 0xffffffff;
    refused(r, Status::NotFound);
    // Rings outside its data area, misaligned, not a power of two.
    auto open = Client::rings_request(abi::SocketRequestOp::Open, 0);
    open.kind = abi::SocketKind::Udp;
    auto bad = open;
    bad.tx_offset = kDataBytes - kRing + 64;
    refused(bad, Status::OutOfBounds);
    bad = open;
    bad.rx_offset = 0xffffffc0;
    refused(bad, Status::OutOfBounds);
    bad = open;
    bad.rx_offset = 8;
    refused(bad, Status::InvalidArgument);
    bad = open;
    bad.rx_bytes = 5000;
    refused(bad, Status::InvalidArgument);
    bad = open;
    bad.tx_offset = bad.rx_offset;  // both rings on one range
    refused(bad, Status::InvalidArgument);
    bad = open;
    bad.kind = abi::SocketKind{9};
    refused(bad, Status::InvalidArgument);
    // A port not granted (b's port, and a privileged one).
    u32 mine = udp_socket(a, 9, 0);
    refused(open, Status::InvalidArgument);  // rings overlapping a live socket's
    u32 other = 0;
    {
        auto o = Client::rings_request(abi::SocketRequestOp::Open, 1);
        o.kind = abi::SocketKind::Udp;
        u64 tag = a.send(o);
        turn();
        other = a.answer(tag).socket;
    }
    test_host().now += 1'000'000'000;  // a second: the client's log budget refills (below)
    r = {};
    r.op = abi::SocketRequestOp::Bind;
    r.socket = other;
    r.port = 7;
    refused(r, Status::NoRights);
    r.port = 22;
    refused(r, Status::NoRights);
    // Past its quota of two sockets.
    auto third = Client::rings_request(abi::SocketRequestOp::Open, 2);
    third.kind = abi::SocketKind::Udp;
    refused(third, Status::QuotaExceeded);
    // Announcing bytes it never published; a TCP op on a UDP socket.
    r = {};
    r.op = abi::SocketRequestOp::Send;
    r.socket = mine;
    r.count = 64;
    refused(r, Status::InvalidArgument);
    r = {};
    r.op = abi::SocketRequestOp::Listen;
    r.socket = mine;
    r.count = 1;
    refused(r, Status::InvalidArgument);
    EXPECT_EQ(a.channel.counters().refused, 14u);
    bool logged = false;
    usize lines = 0;
    for (auto& line : log) {
        logged |=
            line.find("client bad request") != std::string::npos && line.find("refused no-rights") != std::string::npos;
        lines += line.find("client bad request") != std::string::npos;
    }
    EXPECT_TRUE(logged);
    // One client's refusals have a log budget of their own (8 at once, 4 a
    // second: the netstack's log is shared by every client); the rest are
    // counted and said with its next logged line.
    EXPECT_LT(lines, 14u);
    test_host().now += 1'000'000'000;
    refused(r, Status::InvalidArgument);
    EXPECT_NE(log.back().find("more refusals not logged"), std::string::npos) << log.back();
    EXPECT_TRUE(a.channel.live());

    udp_echo(b, good, 7, {'s', 't', 'i', 'l', 'l'});

    // The ring protocol broken: a tx tail more than the ring ahead.
    __atomic_store_n(&a.rings->streams[mine].tx.tail, kRing + 8, __ATOMIC_RELEASE);
    r = {};
    r.op = abi::SocketRequestOp::Send;
    r.socket = mine;
    r.count = 8;
    a.send(r);
    turn();
    EXPECT_FALSE(a.channel.live());
    EXPECT_TRUE(a.channel.broken());
    udp_echo(b, good, 7, {'a', 'l', 'i', 'v', 'e'});
    EXPECT_EQ(b.channel.counters().refused, 0u);
}

}  // namespace

namespace {

// --- pcb lifetimes: the slot forgets a pcb before lwIP may free it ----------

// Shutdown of both directions is a close for lwIP's raw API: with bytes the
// client has not read, lwIP resets the connection and frees the pcb at
// once. The slot must not keep pointing at it: the next pcb lwIP hands out
// (its pools reuse the last freed element first) is client b's, and a's
// Close would then close b's connection.
TEST_F(SocketServerTest, ShutdownBothWaysForgetsThePcb) {
    a.open({80}, 0xa);
    b.open({}, 0xb);
    auto acc = listen_and_accept();
    deliver(peer_tcp(1001, acc.ours, frames::kTcpAck | frames::kTcpPsh, {'u', 'n', 'r', 'e', 'a', 'd'}));
    a.take_events();
    u64 tag =
        request(a, abi::SocketRequestOp::Shutdown, acc.conn, abi::kSocketShutdownRead | abi::kSocketShutdownWrite);
    auto sent = turn();
    EXPECT_EQ(a.answer(tag).status, Status::Ok);
    EXPECT_TRUE(has_flag(sent, 80, frames::kTcpRst));  // unread bytes: RST [RFC 1122 §4.2.2.13]
    // Only Close means anything on it now.
    tag = request(a, abi::SocketRequestOp::Send, acc.conn);
    turn();
    EXPECT_EQ(a.answer(tag).status, Status::Stale);

    close_spares_b(acc.conn);
}

// Shutdown of the write side keeps the connection for reading (half close)
// until the peer's FIN; lwIP then holds the pcb in TIME_WAIT and frees it
// 2 MSL later without a word. The slot must forget it at the FIN.
TEST_F(SocketServerTest, ShutdownWriteForgetsThePcbAtThePeersFin) {
    a.open({80}, 0xa);
    b.open({}, 0xb);
    auto acc = listen_and_accept();
    u64 tag = request(a, abi::SocketRequestOp::Shutdown, acc.conn, abi::kSocketShutdownWrite);
    auto sent = turn();
    EXPECT_EQ(a.answer(tag).status, Status::Ok);
    EXPECT_TRUE(has_flag(sent, 80, frames::kTcpFin));
    // Sending after it: refused. Reading still works.
    a.write(acc.conn, {'x'});
    tag = request(a, abi::SocketRequestOp::Send, acc.conn, 1);
    turn();
    EXPECT_EQ(a.answer(tag).status, Status::InvalidArgument);
    Bytes late{'l', 'a', 't', 'e'};
    deliver(peer_tcp(1001, acc.ours + 1, frames::kTcpAck | frames::kTcpPsh, late));
    EXPECT_EQ(a.read(acc.conn), late);
    deliver(peer_tcp(1005, acc.ours + 1, frames::kTcpAck | frames::kTcpFin));
    bool closed = false;
    for (auto& e : a.take_events()) closed |= e.kind == abi::SocketEventKind::Closed && e.socket == acc.conn;
    EXPECT_TRUE(closed);
    // TIME_WAIT runs out: 2 MSL (2 x 60 s) of lwIP's slow timer ticks,
    // which it counts one per call, not by the clock (so many turns).
    for (int i = 0; i < 1200; i++) {
        test_host().now += 250'000'000;
        turn();
    }
    ASSERT_EQ(tcp_tw_pcbs, nullptr);  // lwIP freed the pcb: what a stale pointer would now reach
    // The peer's ARP entry aged out meanwhile: it asks again.
    deliver(frames::ethernet(frames::kBroadcastMac, kPeerMac, frames::kEtherArp,
                             frames::arp(1, kPeerMac, kPeerIp, Mac{}, kOurIp)));

    close_spares_b(acc.conn);
}

// A write Shutdown refused Busy (announced bytes lwIP has not taken yet)
// is told when to try again: Writable once every byte is taken — though
// the client never ran short of room, so tx_wanted never asked for it.
TEST_F(SocketServerTest, ABusyShutdownIsToldWhenTheRingDrained) {
    a.base.max_tcp_queued = 1000;  // lwIP takes a part of it per acknowledgement
    a.open({80}, 0xa);
    auto acc = listen_and_accept();
    Bytes data(3000, 'd');
    a.write(acc.conn, data);
    request(a, abi::SocketRequestOp::Send, acc.conn, static_cast<u32>(data.size()));
    u64 tag = request(a, abi::SocketRequestOp::Shutdown, acc.conn, abi::kSocketShutdownWrite);
    auto sent = turn();
    EXPECT_EQ(a.answer(tag).status, Status::Busy);
    EXPECT_EQ(a.channel.counters().refused, 1u);
    EXPECT_EQ(a.rings->streams[acc.conn].tx_wanted, 0u);
    bool writable = false;
    u32 acked = 0;
    for (int round = 0; round < 20 && !writable; round++) {
        for (auto& p : sent)
            if (p.proto == frames::kProtoTcp) acked += p.l4_len - (p.bytes[p.l4 + 12] >> 4) * 4u;
        sent = deliver(peer_tcp(1001, acc.ours + acked, frames::kTcpAck));
        for (auto& e : a.take_events()) writable |= e.kind == abi::SocketEventKind::Writable && e.socket == acc.conn;
    }
    EXPECT_TRUE(writable);
    tag = request(a, abi::SocketRequestOp::Shutdown, acc.conn, abi::kSocketShutdownWrite);
    turn();
    EXPECT_EQ(a.answer(tag).status, Status::Ok);
}

// A connection that arrives while the client's table is full is reset from
// within lwIP's accept callback: the callback must say so (ERR_ABRT), or
// lwIP goes on with the freed pcb (here: stores the handshake's data in it,
// an RX buffer never given back, and acknowledges it after the RST).
TEST_F(SocketServerTest, AcceptIntoAFullTableAbortsCleanly) {
    a.open({80}, 0xa, 2);
    u32 listener = tcp_listener(2);
    udp_socket(a, 0, 2);  // the table is full now
    u64 accept_tag = ask_accept(listener).second;
    u32 ours = peer_syn();
    ASSERT_NE(ours, 0u);
    // The handshake's last ACK carries data [RFC 793 §3.4 allows it].
    auto sent = deliver(peer_tcp(1001, ours, frames::kTcpAck | frames::kTcpPsh, {'h', 'i'}));
    auto e = a.answer(accept_tag);
    EXPECT_EQ(e.kind, abi::SocketEventKind::Accepted);
    EXPECT_EQ(e.status, Status::QuotaExceeded);
    ASSERT_EQ(sent.size(), 1u);  // the RST, and nothing after it
    EXPECT_EQ(sent[0].bytes[sent[0].l4 + 13] & frames::kTcpRst, frames::kTcpRst);
    EXPECT_EQ(io.rx_held(), 0u);  // the data's RX buffer came back
}

}  // namespace

namespace {

// A TCP socket's rx ring must hold lwIP's whole receive window: what lwIP
// accepted then always fits, and no received pbuf (an RX buffer the device
// needs back) waits on a slow reader. A smaller one is refused at Open and
// Accept, with a log line that says why.
TEST_F(SocketServerTest, TcpRxRingSmallerThanTheWindowIsRefused) {
    a.open({80}, 0xa);
    auto open = Client::rings_request(abi::SocketRequestOp::Open, 0, kRing);
    open.kind = abi::SocketKind::Tcp;
    u64 tag = a.send(open);
    turn();
    EXPECT_EQ(a.answer(tag).status, Status::InvalidArgument);
    bool logged = false;
    for (auto& line : log) logged |= line.find("rx ring smaller than the TCP window") != std::string::npos;
    EXPECT_TRUE(logged);
    open.kind = abi::SocketKind::Udp;  // a datagram socket may have a small one
    tag = a.send(open);
    turn();
    EXPECT_EQ(a.answer(tag).status, Status::Ok);
}

TEST_F(SocketServerTest, TcpAcceptWithASmallRxRingIsRefused) {
    a.open({80}, 0xa);
    auto acc = listen_and_accept();
    auto accept = Client::rings_request(abi::SocketRequestOp::Accept, 2, kRing);
    accept.socket = acc.listener;
    u64 tag = a.send(accept);
    turn();
    EXPECT_EQ(a.answer(tag).status, Status::InvalidArgument);
}

// The client reads nothing while the peer fills the whole window: every
// byte lands in the ring and no RX buffer stays held.
TEST_F(SocketServerTest, ASlowReaderPinsNoReceiveBuffers) {
    a.open({80}, 0xa);
    auto acc = listen_and_accept();
    u32 seq = 1001, window = 65535;
    for (int round = 0; round < 100 && window >= 1460; round++) {
        io.deliver(peer_tcp(seq, acc.ours, frames::kTcpAck, Bytes(1460, static_cast<u8>(round))));
        seq += 1460;
        for (auto& p : turn()) window = frames::get16(p.bytes, p.l4 + 14);
        EXPECT_EQ(io.rx_held(), 0u) << "round " << round;
    }
    EXPECT_LT(window, 1460u);  // the window closed on the unread bytes
    EXPECT_EQ(__atomic_load_n(&a.rings->streams[acc.conn].rx.tail, __ATOMIC_ACQUIRE), seq - 1001);
    EXPECT_EQ(a.read(acc.conn).size(), seq - 1001);
}

}  // namespace

namespace {

// 60 datagrams published and announced at once. The netstack sends at most
// the client's per-turn budget each turn (so one client cannot hold the
// loop), and what the NIC could not take this turn (its 32 transmit
// buffers in flight) goes the next one: none is dropped, all arrive in
// order.
TEST_F(SocketServerTest, UdpSendIsBoundedPerTurnAndNothingIsDropped) {
    a.base.udp_datagrams_per_turn = 8;
    a.open({7}, 0xa);
    u32 s = udp_socket(a, 7, 0);
    constexpr u32 kCount = 60;
    Bytes all;
    for (u32 i = 0; i < kCount; i++) {
        Bytes payload(56, static_cast<u8>(i));
        Bytes record = Client::datagram(kPeerAddr, 5555, payload);
        all.insert(all.end(), record.begin(), record.end());
    }
    a.write(s, all);
    u64 tag = request(a, abi::SocketRequestOp::Send, s, static_cast<u32>(all.size()));
    u32 got = 0;
    for (int round = 0; round < 20 && got < kCount; round++) {
        auto sent = turn();
        EXPECT_LE(sent.size(), 8u) << "round " << round;
        for (auto& p : sent) {
            ASSERT_EQ(p.proto, frames::kProtoUdp);
            EXPECT_EQ(p.bytes[p.l4 + 8], static_cast<u8>(got)) << "out of order";
            got++;
        }
    }
    EXPECT_EQ(got, kCount);
    EXPECT_EQ(a.channel.counters().tx_dropped, 0u);
    EXPECT_TRUE(a.unanswered(tag));  // taken: a Send is answered only when refused
}

// Writable only for a client that said it waits for room
// (SocketStreams::tx_wanted): a client sending a datagram and waiting for
// its echo is not woken when the netstack takes it.
TEST_F(SocketServerTest, WritableOnlyWhenTheClientWantsRoom) {
    a.open({7}, 0xa);
    u32 s = udp_socket(a, 7, 0);
    // One datagram sent: how many Writable events came with it.
    auto send_one = [&](u8 fill) {
        Bytes record = Client::datagram(kPeerAddr, 5555, Bytes(32, fill));
        a.write(s, record);
        u64 tag = request(a, abi::SocketRequestOp::Send, s, static_cast<u32>(record.size()));
        EXPECT_EQ(turn().size(), 1u);
        u32 writable = 0;
        for (auto& e : a.take_events()) {
            EXPECT_NE(e.tag, tag);  // taken: a Send is answered only when refused
            writable += e.kind == abi::SocketEventKind::Writable && e.socket == s;
        }
        return writable;
    };
    EXPECT_EQ(send_one(1), 0u);  // nobody waits for room
    abi::socket_tx_want(a.rings->streams[s]);
    EXPECT_EQ(send_one(2), 1u);
    EXPECT_EQ(a.rings->streams[s].tx_wanted, 0u);  // taken back with the event
    EXPECT_EQ(send_one(3), 0u);                    // once per want
}

TEST_F(SocketServerTest, UdpSendWaitsWhileTheNicHasNoTransmitBuffer) {
    a.base.udp_datagrams_per_turn = 64;
    a.open({7}, 0xa);
    u32 s = udp_socket(a, 7, 0);
    Bytes all;
    for (u32 i = 0; i < 40; i++) {
        Bytes record = Client::datagram(kPeerAddr, 5555, Bytes(56, static_cast<u8>(i)));
        all.insert(all.end(), record.begin(), record.end());
    }
    a.write(s, all);
    request(a, abi::SocketRequestOp::Send, s, static_cast<u32>(all.size()));
    io.tx_exhausted = true;
    EXPECT_TRUE(turn().empty());
    EXPECT_TRUE(a.channel.more_work());  // the netstack must come back without a new signal
    io.tx_exhausted = false;
    u32 got = 0;
    for (int round = 0; round < 10 && got < 40; round++)
        for (auto& p : turn()) EXPECT_EQ(p.bytes[p.l4 + 8], static_cast<u8>(got++));
    EXPECT_EQ(got, 40u);
    EXPECT_EQ(a.channel.counters().tx_dropped, 0u);
    EXPECT_FALSE(a.channel.more_work());
}

}  // namespace

namespace {

// lwIP's pools are shared: one client at its quotas leaves the rest to the
// others. Client a opens sockets until refused QuotaExceeded (not NoMemory:
// the pools still have room), and client b still opens its own.
TEST_F(SocketServerTest, OneClientsQuotaLeavesThePoolsToAnother) {
    a.open({80}, 0xa);
    b.open({}, 0xb);
    const netstack::SocketClientConfig quotas = a.base;
    auto open = [&](Client& c, abi::SocketKind kind, u32 slot) {
        auto r = Client::rings_request(abi::SocketRequestOp::Open, slot, kTcpRing);
        r.kind = kind;
        u64 tag = c.send(r);
        turn();
        return c.answer(tag);
    };
    u32 slot = 0, udp = 0, tcp = 0;
    abi::SocketEvent e{};
    while ((e = open(a, abi::SocketKind::Udp, slot++)).status == Status::Ok) udp++;
    EXPECT_EQ(e.status, Status::QuotaExceeded);
    EXPECT_EQ(udp, quotas.max_udp);
    slot--;
    std::vector<u32> tcp_sockets;
    while ((e = open(a, abi::SocketKind::Tcp, slot++)).status == Status::Ok) tcp_sockets.push_back(e.socket);
    tcp = static_cast<u32>(tcp_sockets.size());
    EXPECT_EQ(e.status, Status::QuotaExceeded);
    EXPECT_EQ(tcp, quotas.max_tcp);
    EXPECT_EQ(open(b, abi::SocketKind::Udp, 0).status, Status::Ok);
    EXPECT_EQ(open(b, abi::SocketKind::Tcp, 1).status, Status::Ok);

    // A listener's backlog counts against the TCP quota: each waiting
    // connection is a pcb of the same pool.
    u32 last = tcp_sockets.back();
    u64 tag = request(a, abi::SocketRequestOp::Close, last);
    turn();
    EXPECT_EQ(a.answer(tag).status, Status::Ok);
    abi::SocketRequest r{};
    r.op = abi::SocketRequestOp::Bind;
    r.socket = tcp_sockets[0];
    r.port = 80;
    tag = a.send(r);
    turn();
    EXPECT_EQ(a.answer(tag).status, Status::Ok);
    tag = request(a, abi::SocketRequestOp::Listen, tcp_sockets[0], 3);  // 6 others + 3 > 8
    turn();
    EXPECT_EQ(a.answer(tag).status, Status::QuotaExceeded);
    tag = request(a, abi::SocketRequestOp::Listen, tcp_sockets[0], 2);
    turn();
    EXPECT_EQ(a.answer(tag).status, Status::Ok);
}

// A configuration promising a client more than lwIP's pools hold is refused.
TEST_F(SocketServerTest, QuotasPastThePoolsAreRefusedAtOpen) {
    auto rings = std::make_unique<abi::SocketRings>();
    std::vector<u8> data(kDataBytes);
    netstack::SocketChannel channel;
    netstack::SocketClientConfig config;
    config.max_tcp = MEMP_NUM_TCP_PCB + 1;
    EXPECT_EQ(channel.open(rings.get(), data.data(), kDataBytes, config).status(), Status::InvalidArgument);
    config = {};
    config.max_udp = MEMP_NUM_UDP_PCB;
    EXPECT_EQ(channel.open(rings.get(), data.data(), kDataBytes, config).status(), Status::InvalidArgument);
    config = {};
    config.max_listeners = MEMP_NUM_TCP_PCB_LISTEN + 1;
    EXPECT_EQ(channel.open(rings.get(), data.data(), kDataBytes, config).status(), Status::InvalidArgument);
    config = {};
    EXPECT_TRUE(channel.open(rings.get(), data.data(), kDataBytes, config).ok());
    // The planned number of clients at the default quotas fit the pools.
    EXPECT_LE(netstack::kSocketPlannedClients * config.max_udp + netstack::kNetstackUdpPcbs,
              static_cast<u32>(MEMP_NUM_UDP_PCB));
    EXPECT_LE(netstack::kSocketPlannedClients * config.max_tcp, static_cast<u32>(MEMP_NUM_TCP_PCB));
    EXPECT_LE(netstack::kSocketPlannedClients * config.max_listeners, static_cast<u32>(MEMP_NUM_TCP_PCB_LISTEN));
    EXPECT_LE(netstack::kSocketPlannedClients * config.max_tcp_queued, static_cast<u32>(MEM_SIZE));
}

}  // namespace

// Echo (ICMP echo through the service): two clients' requests to the same
// host go out with identifiers of their own; each reply answers only the
// request it echoes (a reply with the right identifier but another
// payload answers nothing), the round trip comes back in `detail`, an
// unanswered request ends Timeout, and a client past kSocketMaxEchoes or
// with a bad request is refused without touching the other's.
TEST_F(SocketServerTest, EchoRepliesAreMatchedToTheirOwnRequest) {
    a.open({}, 1);
    b.open({}, 2);
    auto echo = [](Client& c, u32 address, u32 timeout_ms) {
        abi::SocketRequest r{};
        r.op = abi::SocketRequestOp::Echo;
        r.address = address;
        r.count = timeout_ms;
        return c.send(r);
    };
    u64 a_tag = echo(a, kPeerAddr, 1000);
    u64 b_tag = echo(b, kPeerAddr, 1000);
    auto sent = turn();
    ASSERT_EQ(sent.size(), 2u);
    struct Request {
        u16 id, seq;
        Bytes data;
    } req[2];
    for (u32 i = 0; i < 2; i++) {
        const Parsed& p = sent[i];
        ASSERT_EQ(p.proto, frames::kProtoIcmp);
        EXPECT_TRUE(p.ip_checksum_ok && p.l4_checksum_ok);
        EXPECT_EQ(p.ip_dst, kPeerIp);
        EXPECT_EQ(p.bytes[p.l4], 8);  // echo request
        req[i] = {
            frames::get16(p.bytes, p.l4 + 4), frames::get16(p.bytes, p.l4 + 6),
            Bytes(p.bytes.begin() + static_cast<long>(p.l4 + 8), p.bytes.begin() + static_cast<long>(p.l4 + p.l4_len))};
    }
    EXPECT_NE(req[0].id, req[1].id);
    EXPECT_NE(req[0].data, req[1].data);
    EXPECT_TRUE(a.take_events().empty());  // owed
    EXPECT_TRUE(b.take_events().empty());

    // Past the quota, and malformed: refused, the outstanding one kept.
    auto refused = [&](Client& c, u64 tag) {
        EXPECT_TRUE(turn().empty());
        return c.answer(tag).status;
    };
    EXPECT_EQ(refused(a, echo(a, kPeerAddr, 1000)), Status::QuotaExceeded);
    // b's own is still out (its quota full): these are refused for what they are.
    EXPECT_EQ(refused(b, echo(b, 0, 1000)), Status::InvalidArgument);
    EXPECT_EQ(refused(b, echo(b, 0xffffffffu, 1000)), Status::InvalidArgument);
    EXPECT_EQ(refused(b, echo(b, PP_HTONL(0x0a0002ffu), 1000)),
              Status::InvalidArgument);  // 10.0.2.255: the subnet's broadcast
    EXPECT_EQ(refused(b, echo(b, PP_HTONL(0xe0000001u), 1000)), Status::InvalidArgument);  // 224.0.0.1: all hosts
    EXPECT_EQ(refused(b, echo(b, PP_HTONL(0x00000005u), 1000)), Status::InvalidArgument);  // 0.0.0.5
    EXPECT_EQ(refused(b, echo(b, kPeerAddr, 0)), Status::InvalidArgument);
    EXPECT_EQ(refused(b, echo(b, kPeerAddr, abi::kSocketMaxEchoTimeoutMs + 1)), Status::InvalidArgument);

    auto reply = [&](const Request& r, const Bytes& data) {
        return frames::ethernet(
            kOurMac, kPeerMac, frames::kEtherIpv4,
            frames::ipv4(kPeerIp, kOurIp, frames::kProtoIcmp, frames::icmp_echo(0, r.id, r.seq, data)));
    };
    // The request sent first is the one of the channel polled first (a).
    // b's reply: b answered, a not.
    test_host().now += 3'000'000;
    deliver(reply(req[1], req[1].data));
    auto e = b.answer(b_tag);
    EXPECT_EQ(e.kind, abi::SocketEventKind::Done);
    EXPECT_EQ(e.status, Status::Ok);
    EXPECT_EQ(e.address, kPeerAddr);
    EXPECT_GE(e.detail, 3000u);    // µs: at least the time the test let pass
    EXPECT_LT(e.detail, 20'000u);  // and the turns of the refusals above (1 ms each)
    EXPECT_TRUE(a.take_events().empty());
    // a's identifier with b's payload: not a's reply.
    deliver(reply(req[0], req[1].data));
    EXPECT_TRUE(a.take_events().empty());
    // Nothing more: a's times out.
    test_host().now += 1'000'000'000;
    turn();
    e = a.answer(a_tag);
    EXPECT_EQ(e.status, Status::Timeout);
    EXPECT_EQ(e.address, kPeerAddr);
    // Both free for another.
    u64 again = echo(a, kPeerAddr, 1000);
    sent = turn();
    ASSERT_EQ(sent.size(), 1u);
    Request r3{frames::get16(sent[0].bytes, sent[0].l4 + 4), frames::get16(sent[0].bytes, sent[0].l4 + 6),
               Bytes(sent[0].bytes.begin() + static_cast<long>(sent[0].l4 + 8),
                     sent[0].bytes.begin() + static_cast<long>(sent[0].l4 + sent[0].l4_len))};
    deliver(reply(r3, r3.data));
    EXPECT_EQ(a.answer(again).status, Status::Ok);
}

// A channel closed with an Echo outstanding: the reply reaches nothing
// (no callback into the closed channel), and its raw pcb is back in lwIP's pool.
TEST_F(SocketServerTest, EchoOutstandingAtCloseLeavesNothingBehind) {
    a.open({}, 1);
    abi::SocketRequest r{};
    r.op = abi::SocketRequestOp::Echo;
    r.address = kPeerAddr;
    r.count = 1000;
    a.send(r);
    auto sent = turn();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(lwip_stats.memp[MEMP_RAW_PCB]->used, 1);
    a.channel.close();
    EXPECT_EQ(lwip_stats.memp[MEMP_RAW_PCB]->used, 0);
    const Parsed& p = sent[0];
    Bytes data(p.bytes.begin() + static_cast<long>(p.l4 + 8), p.bytes.begin() + static_cast<long>(p.l4 + p.l4_len));
    deliver(frames::ethernet(
        kOurMac, kPeerMac, frames::kEtherIpv4,
        frames::ipv4(kPeerIp, kOurIp, frames::kProtoIcmp,
                     frames::icmp_echo(0, frames::get16(p.bytes, p.l4 + 4), frames::get16(p.bytes, p.l4 + 6), data))));
}

// --- Resolve -----------------------------------------------------------------

class SocketResolveTest : public SocketServerTest {
protected:
    void SetUp() override {
        SocketServerTest::SetUp();
        // lwIP learns the resolver's MAC, so a query goes out at once.
        deliver(frames::ethernet(frames::kBroadcastMac, kDnsMac, frames::kEtherArp,
                                 frames::arp(1, kDnsMac, kDnsIp, Mac{}, kOurIp)));
    }
    void TearDown() override {
        SocketServerTest::TearDown();
        EXPECT_EQ(netstack::resolve_slots_used(), 0u);
    }
    // Client `c` asks for `name`, placed at `offset` of its data area.
    static u64 resolve(Client& c, const std::string& name, u32 offset = 0, u32 length = ~0u) {
        if (offset < kDataBytes)
            std::memcpy(c.data.data() + offset, name.data(), std::min<usize>(name.size(), kDataBytes - offset));
        abi::SocketRequest r{};
        r.op = abi::SocketRequestOp::Resolve;
        r.rx_offset = offset;
        r.rx_bytes = length == ~0u ? static_cast<u32>(name.size()) : length;
        return c.send(r);
    }
    struct Query {
        u16 id, sport;
        Bytes message;
    };
    // The queries in `sent`: each to the resolver's port 53.
    static std::vector<Query> queries(const std::vector<Parsed>& sent) {
        std::vector<Query> out;
        for (auto& q : sent) {
            EXPECT_EQ(q.proto, frames::kProtoUdp);
            EXPECT_EQ(q.ip_dst, kDnsIp);
            EXPECT_TRUE(q.ip_checksum_ok && q.l4_checksum_ok);
            EXPECT_EQ(frames::get16(q.bytes, q.l4 + 2), 53);
            Bytes m(q.bytes.begin() + static_cast<long>(q.l4) + 8, q.bytes.end());
            out.push_back({frames::get16(m, 0), frames::get16(q.bytes, q.l4), m});
        }
        return out;
    }
    // The resolver's answer to `q` (rcode 0 with `address`, or NXDOMAIN),
    // from `from`, with ID `id`.
    static Bytes answer(const Query& q, u16 id, Ip address, bool nxdomain = false, Ip from = kDnsIp) {
        Bytes a = q.message;
        frames::set16(a, 0, id);
        frames::set16(a, 2, nxdomain ? 0x8183 : 0x8180);
        if (!nxdomain) {
            frames::set16(a, 6, 1);
            frames::put16(a, 0xc00c);
            frames::put16(a, 1);
            frames::put16(a, 1);
            frames::put32(a, 60);
            frames::put16(a, 4);
            a.insert(a.end(), address.begin(), address.end());
        }
        return frames::ethernet(
            kOurMac, kDnsMac, frames::kEtherIpv4,
            frames::ipv4(from, kOurIp, frames::kProtoUdp, frames::udp(from, kOurIp, 53, q.sport, a)));
    }
};

// A name asked of the server the stack was given (10.0.2.3): a forged
// answer (wrong ID, or from another host) is ignored, the genuine one
// answers Done with the address; asked again, the cache answers at once.
TEST_F(SocketResolveTest, AnsweredFromTheConfiguredServer) {
    a.open({}, 1);
    u64 tag = resolve(a, "deb.example.test", 100);
    auto q = queries(turn());
    ASSERT_EQ(q.size(), 1u);
    const Bytes qname{3, 'd', 'e', 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0};
    EXPECT_EQ(Bytes(q[0].message.begin() + 12, q[0].message.begin() + 12 + static_cast<long>(qname.size())), qname);
    EXPECT_TRUE(a.take_events().empty());  // owed
    deliver(answer(q[0], static_cast<u16>(q[0].id ^ 0x1234), {6, 6, 6, 6}));
    deliver(answer(q[0], q[0].id, {6, 6, 6, 6}, false, kPeerIp));
    EXPECT_TRUE(a.take_events().empty());
    deliver(answer(q[0], q[0].id, {192, 0, 2, 7}));
    auto e = a.answer(tag);
    EXPECT_EQ(e.kind, abi::SocketEventKind::Done);
    EXPECT_EQ(e.status, Status::Ok);
    EXPECT_EQ(e.socket, 0u);
    EXPECT_EQ(e.address, PP_HTONL(0xc0000207));
    tag = resolve(a, "deb.example.test");
    EXPECT_TRUE(turn().empty());
    e = a.answer(tag);
    EXPECT_EQ(e.status, Status::Ok);
    EXPECT_EQ(e.address, PP_HTONL(0xc0000207));
}

// NXDOMAIN: NotFound, and the client may ask again.
TEST_F(SocketResolveTest, NoSuchNameIsNotFound) {
    a.open({}, 1);
    u64 tag = resolve(a, "nowhere.example.test");
    auto q = queries(turn());
    ASSERT_EQ(q.size(), 1u);
    deliver(answer(q[0], q[0].id, {}, true));
    auto e = a.answer(tag);
    EXPECT_EQ(e.status, Status::NotFound);
    EXPECT_EQ(e.address, 0u);
}

// Two clients at once, each answered with its own name's address; past
// the quota and with hostile names, refused without touching the lookups.
TEST_F(SocketResolveTest, TwoClientsEachGetTheirOwnAnswer) {
    a.open({}, 1);
    b.open({}, 2);
    u64 a_tag = resolve(a, "a.example.test");
    u64 b_tag = resolve(b, "b.example.test");
    auto q = queries(turn());
    ASSERT_EQ(q.size(), 2u);
    EXPECT_NE(q[0].id, q[1].id);
    auto refused = [&](Client& c, u64 tag) {
        EXPECT_TRUE(turn().empty());
        return c.answer(tag).status;
    };
    EXPECT_EQ(refused(a, resolve(a, "c.example.test", 512)), Status::QuotaExceeded);
    std::string longest(abi::kSocketMaxNameBytes + 1, 'a');
    for (usize i = 63; i < longest.size(); i += 64) longest[i] = '.';
    EXPECT_EQ(refused(b, resolve(b, longest, 1024)), Status::InvalidArgument);
    EXPECT_EQ(refused(b, resolve(b, "bad name", 1024)), Status::InvalidArgument);
    EXPECT_EQ(refused(b, resolve(b, "a..b", 1024)), Status::InvalidArgument);
    EXPECT_EQ(refused(b, resolve(b, "trailing.", 1024)), Status::InvalidArgument);
    EXPECT_EQ(refused(b, resolve(b, "10.0.2.256", 1024)), Status::InvalidArgument);  // an address, not a name
    EXPECT_EQ(refused(b, resolve(b, std::string("nul\0byte.test", 13), 1024)), Status::InvalidArgument);
    EXPECT_EQ(refused(b, resolve(b, std::string(64, 'x') + ".test", 1024)), Status::InvalidArgument);
    EXPECT_EQ(refused(b, resolve(b, "x", 0, 0)), Status::InvalidArgument);
    EXPECT_EQ(refused(b, resolve(b, "abc", kDataBytes - 2)), Status::OutOfBounds);
    EXPECT_EQ(refused(b, resolve(b, "abc", 0xffff'fffeu, 3)), Status::OutOfBounds);
    // Which query is whose: by the name asked.
    auto is_a = [](const Query& x) { return x.message[13] == 'a'; };
    const Query& qa = is_a(q[0]) ? q[0] : q[1];
    const Query& qb = is_a(q[0]) ? q[1] : q[0];
    deliver(answer(qb, qb.id, {10, 0, 0, 2}));
    EXPECT_EQ(b.answer(b_tag).address, PP_HTONL(0x0a000002));
    EXPECT_TRUE(a.take_events().empty());
    deliver(answer(qa, qa.id, {10, 0, 0, 1}));
    EXPECT_EQ(a.answer(a_tag).address, PP_HTONL(0x0a000001));
}

// A channel closed with its lookup outstanding: the slot is freed at
// once, and lwIP's late answer reaches nothing (ASan would see a write
// through a stale pointer); b's lookup taking the slot again is answered
// only by its own query.
TEST_F(SocketResolveTest, ChannelClosedWithALookupOutstanding) {
    a.open({}, 1);
    b.open({}, 2);
    resolve(a, "gone.example.test");
    auto qa = queries(turn());
    ASSERT_EQ(qa.size(), 1u);
    EXPECT_EQ(netstack::resolve_slots_used(), 1u);
    a.channel.close();
    // lwIP's entry is busy until its answer or time-out, and so is the slot.
    EXPECT_EQ(netstack::resolve_slots_used(), 1u);
    u64 b_tag = resolve(b, "kept.example.test");
    auto qb = queries(turn());
    ASSERT_EQ(qb.size(), 1u);
    deliver(answer(qa[0], qa[0].id, {10, 9, 9, 9}));
    EXPECT_TRUE(b.take_events().empty());
    EXPECT_EQ(netstack::resolve_slots_used(), 1u);  // b's alone
    deliver(answer(qb[0], qb[0].id, {10, 1, 1, 1}));
    auto e = b.answer(b_tag);
    EXPECT_EQ(e.status, Status::Ok);
    EXPECT_EQ(e.address, PP_HTONL(0x0a010101));
}

// A client attaching again and again, a lookup outstanding each time,
// holds only its own share of the resolver's table: lwIP's entries stay
// busy until answered, and another client's lookup still starts.
TEST_F(SocketResolveTest, LookupsOfClosedChannelsCountAgainstTheirClient) {
    a.base.max_resolves = 2;
    b.open({}, 2);
    std::vector<Query> orphaned;
    for (int i = 0; i < 2; i++) {
        a.open({}, 1);
        resolve(a, "flood" + std::to_string(i) + ".example.test");
        auto q = queries(turn());
        ASSERT_EQ(q.size(), 1u);
        orphaned.push_back(q[0]);
        a.channel.close();
    }
    a.open({}, 1);
    u64 refused = resolve(a, "flood2.example.test");
    EXPECT_TRUE(queries(turn()).empty());
    EXPECT_EQ(a.answer(refused).status, Status::QuotaExceeded);

    u64 b_tag = resolve(b, "other.example.test");
    auto qb = queries(turn());
    ASSERT_EQ(qb.size(), 1u);
    deliver(answer(qb[0], qb[0].id, {10, 1, 1, 1}));
    EXPECT_EQ(b.answer(b_tag).status, Status::Ok);

    // lwIP's answers free a's share again.
    for (auto& q : orphaned) deliver(answer(q, q.id, {10, 9, 9, 9}));
    u64 again = resolve(a, "flood3.example.test");
    auto qa = queries(turn());
    ASSERT_EQ(qa.size(), 1u);
    deliver(answer(qa[0], qa[0].id, {10, 2, 2, 2}, true));
    EXPECT_EQ(a.answer(again).status, Status::NotFound);
}
