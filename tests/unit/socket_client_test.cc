// The Socket service's client library (lib/net/socket_client.h) end to end
// against the real server (netstack::SocketChannel) over the real lwIP: two
// client processes' worth of memory, each with its channel, and the stack
// talking to itself — every frame it sends (ARP for its own address, IP to
// its own MAC) is delivered back to it by the fake NIC
// (tests/support/fake_frame_io.h). UDP echo, a TCP stream of a few hundred
// KiB each way checked by SHA-256, listen/accept, FIN and reset; then a
// lying netstack, against which the client marks its channel broken.
#define GTEST_HAS_CXXABI_H_ 0  // its <cxxabi.h> aliases `namespace abi` (docs/testing.md)
#include "net/socket_client.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../support/fake_frame_io.h"
#include "../support/net_frames.h"
#include "lwip/def.h"
#include "netstack/socket_server.h"
#include "netstack/stack.h"
#include "util/sha256.h"

namespace {

using frames::Bytes;
using frames::kOurIp;

constexpr u32 kOurAddr = PP_HTONL(0x0a00020f);  // 10.0.2.15, network byte order

fake::Host& test_host() {
    static fake::Host host;
    return host;
}

// One client process: the memory the netstack made for it, the netstack's
// channel over it, and the client library's view.
struct Side {
    std::unique_ptr<abi::SocketRings> rings = std::make_unique<abi::SocketRings>();
    std::vector<u8> data = std::vector<u8>(abi::kSocketDataBytes);
    netstack::SocketChannel server;
    net::SocketClient client;
    std::vector<u16> ports;

    void open(u64 badge, std::vector<u16> granted) {
        ports = std::move(granted);
        netstack::SocketClientConfig config;
        config.badge = badge;
        config.ports = ports.data();
        config.port_count = static_cast<u32>(ports.size());
        ASSERT_TRUE(server.open(rings.get(), data.data(), abi::kSocketDataBytes, config).ok());
        ASSERT_TRUE(client.open(rings.get(), data.data(), abi::kSocketDataBytes, abi::kSocketMaxSockets).ok());
    }
};

class SocketClientTest : public ::testing::Test {
protected:
    void SetUp() override {
        netstack::set_host(test_host());
        test_host().quiet = true;
        netstack::StackConfig config;
        config.dhcp = false;
        IP4_ADDR(&config.address, kOurIp[0], kOurIp[1], kOurIp[2], kOurIp[3]);
        IP4_ADDR(&config.netmask, 255, 255, 255, 0);
        IP4_ADDR(&config.gateway, 10, 0, 2, 2);
        ASSERT_TRUE(stack.start(io, config).ok());
        a.open(0xa, {7, 80});
        b.open(0xb, {});
    }
    void TearDown() override {
        a.server.close();
        b.server.close();
        stack.stop();
        test_host().quiet = false;
        EXPECT_EQ(io.contract_breaches, 0u);
    }

    // One turn of the netstack's loop, the wire looped back, then each
    // client handles its events (as after its notification).
    void turn() {
        test_host().now += 1'000'000;
        stack.poll();
        for (Side* s : {&a, &b}) {
            s->server.poll();
            s->client.signalled();
        }
        stack.poll();
        for (auto& f : io.take_sent()) io.deliver(f);
        for (Side* s : {&a, &b}) {
            auto n = s->client.poll_events();
            EXPECT_TRUE(n.ok());
        }
    }
    // Turns until `tag` is answered: the answer.
    net::SocketCompletion wait(Side& s, Result<u64> tag) {
        EXPECT_TRUE(tag.ok());
        for (int i = 0; i < 200; i++) {
            net::SocketCompletion c;
            while (s.client.take_completion(&c)) {
                if (c.tag == tag.value()) return c;
                parked.push_back(c);
            }
            turn();
        }
        ADD_FAILURE() << "no answer to " << tag.value();
        return {};
    }
    u32 open_ok(Side& s, abi::SocketKind kind) {
        auto c = wait(s, s.client.open_socket(kind));
        EXPECT_EQ(c.status, Status::Ok);
        return c.socket;
    }
    // A listens on port 80, B connects to it, A accepts: {A's, B's}.
    std::pair<u32, u32> connected_pair() {
        u32 listener = open_ok(a, abi::SocketKind::Tcp);
        EXPECT_EQ(wait(a, a.client.bind(listener, 0, 80)).status, Status::Ok);
        EXPECT_EQ(wait(a, a.client.listen(listener, 2)).status, Status::Ok);
        auto accept_tag = a.client.accept(listener);
        EXPECT_TRUE(accept_tag.ok());
        u32 conn = open_ok(b, abi::SocketKind::Tcp);
        auto connected = wait(b, b.client.connect(conn, kOurAddr, 80));
        EXPECT_EQ(connected.status, Status::Ok);
        auto accepted = wait(a, accept_tag);
        EXPECT_EQ(accepted.status, Status::Ok);
        EXPECT_EQ(accepted.address, kOurAddr);
        return {accepted.socket, conn};
    }

    fake::FrameIo io;
    netstack::Stack stack;
    Side a, b;
    std::vector<net::SocketCompletion> parked;
};

TEST_F(SocketClientTest, UdpEcho) {
    u32 server = open_ok(a, abi::SocketKind::Udp);
    EXPECT_EQ(wait(a, a.client.bind(server, 0, 7)).status, Status::Ok);
    u32 sender = open_ok(b, abi::SocketKind::Udp);
    for (u32 size : {1u, 5u, 100u, 1400u, 1472u, 3000u}) {
        Bytes payload(size);
        for (u32 i = 0; i < size; i++) payload[i] = static_cast<u8>(i * 13 + size);
        auto sent = b.client.send_to(sender, kOurAddr, 7, payload.data(), size);
        ASSERT_TRUE(sent.ok() && sent.value());
        // A echoes what it got back to where it came from.
        Bytes got(4096);
        abi::SocketDatagram from{};
        u32 length = 0;
        for (int i = 0; i < 50 && !a.client.readable(server); i++) turn();
        auto r = a.client.receive_from(server, &from, got.data(), static_cast<u32>(got.size()), &length);
        ASSERT_TRUE(r.ok() && r.value()) << "size " << size;
        ASSERT_EQ(length, size);
        EXPECT_EQ(from.address, kOurAddr);
        EXPECT_TRUE(std::memcmp(got.data(), payload.data(), size) == 0);
        ASSERT_TRUE(a.client.send_to(server, from.address, from.port, got.data(), length).value());
        for (int i = 0; i < 50 && !b.client.readable(sender); i++) turn();
        Bytes back(4096);
        auto r2 = b.client.receive_from(sender, &from, back.data(), static_cast<u32>(back.size()), &length);
        ASSERT_TRUE(r2.ok() && r2.value());
        EXPECT_EQ(from.port, 7);
        ASSERT_EQ(length, size);
        EXPECT_TRUE(std::memcmp(back.data(), payload.data(), size) == 0);
    }
    EXPECT_TRUE(a.client.live() && b.client.live());
}

Bytes pattern(usize n, u64 seed) {
    Bytes out(n);
    for (auto& byte : out) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        byte = static_cast<u8>(seed);
    }
    return out;
}

void digest(const Bytes& b, u8 out[32]) {
    util::Sha256 h;
    h.update(b.data(), b.size());
    h.finish(out);
}

// 384 KiB each way at once, through 64 KiB rings, read in odd-sized
// pieces; both ends check the SHA-256 of what arrived.
TEST_F(SocketClientTest, TcpStreamBothWaysWithChecksum) {
    auto [sa, sb] = connected_pair();
    constexpr usize kBytes = 384 * 1024;
    Bytes to_a = pattern(kBytes, 1), to_b = pattern(kBytes, 2);
    Bytes got_a, got_b;
    usize sent_a = 0, sent_b = 0;
    Bytes buf(7001);
    for (int round = 0; round < 20000 && (got_a.size() < kBytes || got_b.size() < kBytes); round++) {
        if (sent_b < kBytes)
            sent_b += b.client.send(sb, to_a.data() + sent_b, static_cast<u32>(kBytes - sent_b)).value();
        if (sent_a < kBytes)
            sent_a += a.client.send(sa, to_b.data() + sent_a, static_cast<u32>(kBytes - sent_a)).value();
        for (;;) {
            u32 n = a.client.receive(sa, buf.data(), static_cast<u32>(buf.size())).value();
            if (n == 0) break;
            got_a.insert(got_a.end(), buf.begin(), buf.begin() + n);
        }
        for (;;) {
            u32 n = b.client.receive(sb, buf.data(), static_cast<u32>(buf.size())).value();
            if (n == 0) break;
            got_b.insert(got_b.end(), buf.begin(), buf.begin() + n);
        }
        turn();
        if (round % 64 == 63) test_host().now += 250'000'000;  // lwIP's delayed ACKs and window updates
    }
    ASSERT_EQ(got_a.size(), kBytes);
    ASSERT_EQ(got_b.size(), kBytes);
    u8 want[32], have[32];
    digest(to_a, want);
    digest(got_a, have);
    EXPECT_EQ(0, std::memcmp(want, have, 32));
    digest(to_b, want);
    digest(got_b, have);
    EXPECT_EQ(0, std::memcmp(want, have, 32));
    EXPECT_EQ(a.server.counters().refused + b.server.counters().refused, 0u);
}

// B closes after its bytes: A reads them all, then sees the FIN; A closes
// too and both indices come free.
TEST_F(SocketClientTest, CloseSendsFinAfterTheBytes) {
    auto [sa, sb] = connected_pair();
    const char msg[] = "last words";
    ASSERT_EQ(b.client.send(sb, msg, sizeof msg).value(), sizeof msg);
    auto close_tag = b.client.close_socket(sb);
    char got[64] = {};
    u32 n = 0;
    for (int i = 0; i < 100 && !a.client.closed(sa); i++) {
        turn();
        n += a.client.receive(sa, got + n, sizeof got - n).value();
    }
    EXPECT_TRUE(a.client.closed(sa));
    EXPECT_EQ(a.client.close_reason(sa), abi::SocketCloseReason::PeerFinished);
    n += a.client.receive(sa, got + n, sizeof got - n).value();
    ASSERT_EQ(n, sizeof msg);
    EXPECT_STREQ(got, msg);
    EXPECT_EQ(wait(b, close_tag).status, Status::Ok);
    EXPECT_FALSE(b.client.is_open(sb));
    EXPECT_EQ(wait(a, a.client.close_socket(sa)).status, Status::Ok);
    EXPECT_FALSE(a.client.is_open(sa));
}

// A connection reset: B shuts both ways with bytes unread (RST), A sees
// Closed PeerReset; a Connect to a port nobody listens on is refused.
TEST_F(SocketClientTest, ResetIsSeenAndRefusedConnect) {
    auto [sa, sb] = connected_pair();
    const char msg[] = "unread";
    ASSERT_EQ(a.client.send(sa, msg, sizeof msg).value(), sizeof msg);
    for (int i = 0; i < 10; i++) turn();
    EXPECT_TRUE(b.client.readable(sb));
    auto shut = wait(b, b.client.shutdown(sb, abi::kSocketShutdownRead | abi::kSocketShutdownWrite));
    EXPECT_EQ(shut.status, Status::Ok);
    for (int i = 0; i < 100 && !a.client.closed(sa); i++) turn();
    EXPECT_TRUE(a.client.closed(sa));
    EXPECT_EQ(a.client.close_reason(sa), abi::SocketCloseReason::PeerReset);

    u32 s = open_ok(b, abi::SocketKind::Tcp);
    auto c = wait(b, b.client.connect(s, kOurAddr, 81));
    EXPECT_EQ(c.op, abi::SocketRequestOp::Connect);
    EXPECT_EQ(c.status, Status::NotFound);
    EXPECT_EQ(c.detail, static_cast<u32>(abi::SocketCloseReason::PeerReset));
    EXPECT_TRUE(b.client.closed(s));
}

// After a write Shutdown the netstack refuses Send announcements: the
// library's own Send request is refused, and send() says so from then on
// rather than taking bytes that will never go (review: the refusal was
// dropped silently).
TEST_F(SocketClientTest, ARefusedSendIsReportedBySend) {
    auto [sa, sb] = connected_pair();
    EXPECT_EQ(wait(b, b.client.shutdown(sb, abi::kSocketShutdownWrite)).status, Status::Ok);
    const char late[] = "too late";
    ASSERT_EQ(b.client.send(sb, late, sizeof late).value(), sizeof late);  // copied before the refusal
    for (int i = 0; i < 10; i++) turn();
    auto again = b.client.send(sb, late, sizeof late);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.status(), Status::InvalidArgument);
    (void)sa;
}

// --- a lying netstack ------------------------------------------------------------

// The client alone over memory the test writes as a hostile netstack would.
struct Lied {
    std::unique_ptr<abi::SocketRings> rings = std::make_unique<abi::SocketRings>();
    std::vector<u8> data = std::vector<u8>(abi::kSocketDataBytes);
    net::SocketClient client;
    abi::SocketEventProducer events;
    abi::SocketRequestConsumer requests;

    Lied() {
        EXPECT_TRUE(client.open(rings.get(), data.data(), abi::kSocketDataBytes, 4).ok());
        events = rings->events.producer();
        requests = rings->requests.consumer();
    }
    abi::SocketRequest take_request() {
        abi::SocketRequest r{};
        EXPECT_TRUE(requests.refresh().ok());
        EXPECT_TRUE(requests.take(&r));
        requests.release();
        return r;
    }
    void post(const abi::SocketEvent& e) {
        EXPECT_TRUE(events.refresh().ok());
        EXPECT_TRUE(events.put(e));
        events.publish();
    }
    // An Open answered Ok with `index`: what the client made of it.
    Status answer_open(abi::SocketKind kind, u32 index) {
        auto tag = client.open_socket(kind);
        EXPECT_TRUE(tag.ok());
        auto r = take_request();
        abi::SocketEvent e{};
        e.tag = r.tag;
        e.kind = abi::SocketEventKind::Done;
        e.socket = index;
        post(e);
        return client.poll_events().status();
    }
    u32 opened(abi::SocketKind kind, u32 index) {
        EXPECT_EQ(answer_open(kind, index), Status::Ok);
        net::SocketCompletion c{};
        EXPECT_TRUE(client.take_completion(&c));
        return c.socket;
    }
};

TEST(SocketClientLiedTo, AnEventForASocketItDoesNotHaveBreaksTheChannel) {
    Lied l;
    abi::SocketEvent e{};
    e.kind = abi::SocketEventKind::Readable;
    e.socket = 2;
    l.post(e);
    EXPECT_EQ(l.client.poll_events().status(), Status::Malformed);
    EXPECT_TRUE(l.client.broken());
    EXPECT_EQ(l.client.open_socket(abi::SocketKind::Udp).status(), Status::Stale);
}

TEST(SocketClientLiedTo, AnAnswerToNothingOrANewSocketOnAnOldIndexBreaks) {
    {
        Lied l;
        abi::SocketEvent e{};
        e.tag = 99;
        e.kind = abi::SocketEventKind::Done;
        l.post(e);
        EXPECT_EQ(l.client.poll_events().status(), Status::Malformed);
    }
    {
        Lied l;
        EXPECT_EQ(l.opened(abi::SocketKind::Udp, 1), 1u);
        EXPECT_EQ(l.answer_open(abi::SocketKind::Udp, 1), Status::Malformed);  // index 1 is ours already
        EXPECT_TRUE(l.client.broken());
    }
    {
        Lied l;
        EXPECT_EQ(l.answer_open(abi::SocketKind::Udp, 4), Status::Malformed);  // past the quota of 4 (0..3)
        EXPECT_TRUE(l.client.broken());
    }
}

// A Send is answered only when refused (lib/protocol/socket.h): the
// datagrams of one batch go as one Send, and an Ok answer to it is a lie.
TEST(SocketClientLiedTo, ASendIsOneRequestPerBatchAndAnOkAnswerToItBreaks) {
    Lied l;
    u32 s = l.opened(abi::SocketKind::Udp, 0);
    const u8 bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int i = 0; i < 3; i++) ASSERT_TRUE(l.client.send_to(s, 0x0202000a, 7, bytes, sizeof bytes).value());
    EXPECT_TRUE(l.client.needs_signal());
    l.client.signalled();
    auto r = l.take_request();
    EXPECT_EQ(r.op, abi::SocketRequestOp::Send);
    EXPECT_EQ(r.count, 3 * abi::socket_record_bytes(sizeof bytes));
    abi::SocketRequest none{};
    EXPECT_TRUE(l.requests.refresh().ok());
    EXPECT_FALSE(l.requests.take(&none));  // one Send for the three
    EXPECT_FALSE(l.client.needs_signal());

    abi::SocketEvent e{};
    e.tag = r.tag;
    e.kind = abi::SocketEventKind::Done;
    e.socket = s;
    e.status = Status::Ok;
    l.post(e);
    EXPECT_EQ(l.client.poll_events().status(), Status::Malformed);
    EXPECT_TRUE(l.client.broken());
}

// The client says when it waits for room (SocketStreams::tx_wanted), and
// only then: the netstack posts Writable for nothing else.
TEST(SocketClientLiedTo, AFullTxRingIsSaidInTheWantedWord) {
    Lied l;
    u32 s = l.opened(abi::SocketKind::Udp, 0);
    const u8 bytes[1000] = {};
    u32 sent = 0;
    for (;; sent++) {
        auto r = l.client.send_to(s, 0x0202000a, 7, bytes, sizeof bytes);
        ASSERT_TRUE(r.ok());
        if (!r.value()) break;
        EXPECT_EQ(l.rings->streams[s].tx_wanted, 0u) << "datagram " << sent;
    }
    EXPECT_GT(sent, 0u);
    EXPECT_EQ(l.rings->streams[s].tx_wanted, 1u);
}

// An answer taken by its tag leaves the others queued, in order (what
// rt::SocketSession waits with: none is set aside or dropped).
TEST(SocketClientLiedTo, AnAnswerTakenByTagLeavesTheOthersInOrder) {
    Lied l;
    u64 tags[3];
    for (u64& t : tags) t = l.client.open_socket(abi::SocketKind::Udp).value();
    for (u32 i = 0; i < 3; i++) {
        auto r = l.take_request();
        abi::SocketEvent e{};
        e.tag = r.tag;
        e.kind = abi::SocketEventKind::Done;
        e.socket = i;
        l.post(e);
    }
    ASSERT_TRUE(l.client.poll_events().ok());
    net::SocketCompletion c{};
    ASSERT_TRUE(l.client.take_completion(tags[1], &c));
    EXPECT_EQ(c.socket, 1u);
    EXPECT_FALSE(l.client.take_completion(tags[1], &c));  // taken once
    ASSERT_TRUE(l.client.take_completion(&c));
    EXPECT_EQ(c.tag, tags[0]);
    ASSERT_TRUE(l.client.take_completion(&c));
    EXPECT_EQ(c.tag, tags[2]);
    EXPECT_FALSE(l.client.take_completion(&c));
}

TEST(SocketClientLiedTo, AnRxTailRunningAheadBreaks) {
    Lied l;
    u32 s = l.opened(abi::SocketKind::Tcp, 0);
    EXPECT_FALSE(l.client.broken());
    l.rings->streams[s].rx.tail = net::SocketClient::kDefaultTcpRing + 1;  // more than the ring holds
    u8 buf[16];
    EXPECT_EQ(l.client.receive(s, buf, sizeof buf).status(), Status::Stale);
    EXPECT_TRUE(l.client.broken());
}

TEST(SocketClientLiedTo, ADatagramLongerThanPublishedBreaks) {
    Lied l;
    u32 s = l.opened(abi::SocketKind::Udp, 0);
    // The rx ring is the first ring allocated: page 0 of the data area.
    abi::SocketDatagram d{kOurAddr, 9, 1000};
    std::memcpy(l.data.data(), &d, sizeof d);
    l.rings->streams[s].rx.tail = 64;  // 56 payload bytes published, 1000 claimed
    abi::SocketDatagram from{};
    u8 buf[2000];
    u32 length = 0;
    EXPECT_EQ(l.client.receive_from(s, &from, buf, sizeof buf, &length).status(), Status::Stale);
    EXPECT_TRUE(l.client.broken());
}

}  // namespace

// Echo from the client's side: the request as the service wants it, the
// round trip passed on, the quota checked before asking; an answer about
// a socket, or Ok for another target, is a lie that breaks the channel.
TEST(SocketClientLiedTo, EchoAnswersMustBeAboutTheTargetAndNoSocket) {
    constexpr u32 kTarget = PP_HTONL(0x0a000202);
    auto answer = [](Lied& l, const abi::SocketRequest& r, u32 socket, u32 address, Status st) {
        abi::SocketEvent e{};
        e.tag = r.tag;
        e.kind = abi::SocketEventKind::Done;
        e.socket = socket;
        e.status = st;
        e.address = address;
        e.detail = 412;
        l.post(e);
        return l.client.poll_events().status();
    };
    {
        Lied l;
        EXPECT_EQ(l.client.echo(0, 1000).status(), Status::InvalidArgument);
        EXPECT_EQ(l.client.echo(kTarget, 0).status(), Status::InvalidArgument);
        EXPECT_EQ(l.client.echo(kTarget, abi::kSocketMaxEchoTimeoutMs + 1).status(), Status::InvalidArgument);
        auto tag = l.client.echo(kTarget, 1000);
        ASSERT_TRUE(tag.ok());
        EXPECT_EQ(l.client.echo(kTarget, 1000).status(), Status::Busy);  // kSocketMaxEchoes
        auto r = l.take_request();
        EXPECT_EQ(r.op, abi::SocketRequestOp::Echo);
        EXPECT_EQ(r.address, kTarget);
        EXPECT_EQ(r.count, 1000u);
        EXPECT_EQ(r.socket, 0u);
        EXPECT_EQ(answer(l, r, 0, kTarget, Status::Ok), Status::Ok);
        net::SocketCompletion c{};
        ASSERT_TRUE(l.client.take_completion(&c));
        EXPECT_EQ(c.tag, tag.value());
        EXPECT_EQ(c.status, Status::Ok);
        EXPECT_EQ(c.address, kTarget);
        EXPECT_EQ(c.detail, 412u);
        EXPECT_TRUE(l.client.echo(kTarget, 1000).ok());  // free again
    }
    {
        Lied l;
        ASSERT_TRUE(l.client.echo(kTarget, 1000).ok());
        EXPECT_EQ(answer(l, l.take_request(), 0, kTarget + 1, Status::Ok), Status::Malformed);
        EXPECT_TRUE(l.client.broken());
    }
    {
        Lied l;
        ASSERT_TRUE(l.client.echo(kTarget, 1000).ok());
        EXPECT_EQ(answer(l, l.take_request(), 3, kTarget, Status::Timeout), Status::Malformed);
        EXPECT_TRUE(l.client.broken());
    }
}

// Resolve from the client's side: the name in a page of the data area
// named by the request, checked before asking (the service's own rule);
// the address passed on and the page given back with the answer; an
// answer about a socket, of another kind, or NotFound with an address is
// a lie that breaks the channel.
TEST(SocketClientLiedTo, ResolveCarriesTheNameAndItsAnswer) {
    constexpr u32 kAnswer = PP_HTONL(0xc0000207);
    auto answer = [](Lied& l, const abi::SocketRequest& r, u32 socket, u32 address, Status st,
                     abi::SocketEventKind kind = abi::SocketEventKind::Done) {
        abi::SocketEvent e{};
        e.tag = r.tag;
        e.kind = kind;
        e.socket = socket;
        e.status = st;
        e.address = address;
        l.post(e);
        return l.client.poll_events().status();
    };
    const std::string name = "deb.debian.org";
    auto ask = [&](Lied& l) { return l.client.resolve(name.data(), static_cast<u32>(name.size())); };
    {
        Lied l;
        EXPECT_EQ(l.client.resolve("bad name", 8).status(), Status::InvalidArgument);
        EXPECT_EQ(l.client.resolve("10.0.2.2", 8).status(), Status::InvalidArgument);
        EXPECT_EQ(l.client.resolve(nullptr, 3).status(), Status::InvalidArgument);
        EXPECT_EQ(l.client.resolve("a", 0).status(), Status::InvalidArgument);
        auto tag = ask(l);
        ASSERT_TRUE(tag.ok());
        EXPECT_EQ(ask(l).status(), Status::Busy);  // kSocketMaxResolves
        auto r = l.take_request();
        EXPECT_EQ(r.op, abi::SocketRequestOp::Resolve);
        EXPECT_EQ(r.rx_bytes, name.size());
        EXPECT_EQ(r.rx_offset % net::SocketClient::kPageBytes, 0u);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(l.data.data()) + r.rx_offset, r.rx_bytes), name);
        EXPECT_EQ(r.socket | r.address | r.count | r.tx_offset | r.tx_bytes, 0u);
        EXPECT_EQ(answer(l, r, 0, kAnswer, Status::Ok), Status::Ok);
        net::SocketCompletion c{};
        ASSERT_TRUE(l.client.take_completion(&c));
        EXPECT_EQ(c.tag, tag.value());
        EXPECT_EQ(c.op, abi::SocketRequestOp::Resolve);
        EXPECT_EQ(c.status, Status::Ok);
        EXPECT_EQ(c.address, kAnswer);
        // Free again, and the name's page was given back (the same one reused).
        ASSERT_TRUE(ask(l).ok());
        auto r2 = l.take_request();
        EXPECT_EQ(r2.rx_offset, r.rx_offset);
        EXPECT_EQ(answer(l, r2, 0, 0, Status::NotFound), Status::Ok);
        ASSERT_TRUE(l.client.take_completion(&c));
        EXPECT_EQ(c.status, Status::NotFound);
        EXPECT_EQ(c.address, 0u);
    }
    struct Lie {
        u32 socket, address;
        Status status;
        abi::SocketEventKind kind;
    };
    for (const Lie& lie : {Lie{2, kAnswer, Status::Ok, abi::SocketEventKind::Done},
                           Lie{0, kAnswer, Status::NotFound, abi::SocketEventKind::Done},
                           Lie{0, kAnswer, Status::Ok, abi::SocketEventKind::Connected}}) {
        Lied l;
        ASSERT_TRUE(ask(l).ok());
        EXPECT_EQ(answer(l, l.take_request(), lie.socket, lie.address, lie.status, lie.kind), Status::Malformed);
        EXPECT_TRUE(l.client.broken());
    }
}
