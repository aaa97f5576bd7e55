// net_echo: echo servers and a checking client over the netstack's Socket
// service (docs/netstack.md "net_echo"). Arguments (the manifest's args;
// the process needs a `serve = <name> ports=...` line on the netstack):
//
//   udp=P    echo every datagram on UDP port P back to where it came from;
//   tcp=P    accept TCP connections on port P (up to kConnections at once,
//            any number one after another) and echo every byte until the
//            peer half-closes, then close;
//   connect=A.B.C.D:P bytes=N seed=S
//            connect to A.B.C.D:P, send N bytes from a generator seeded
//            with S, half-close, read what the peer sends until it closes,
//            and log the sha256 of both directions. Without ":P" the port
//            comes from the first datagram on the udp= port that reads
//            "port=<P>" (echoed like any other): how a test harness, whose
//            host ports are picked at run time, names its server.
//
// One thread, one loop: each turn moves what can move without blocking,
// then waits for the netstack's signal (rt::SocketSession).
#include "rt/args.h"
#include "rt/log.h"
#include "rt/socket_session.h"
#include "rt/sys.h"
#include "util/sha256.h"
#include "util/xorshift.h"

namespace {

constexpr u32 kConnections = 4;     // TCP connections served at once
constexpr u32 kBuffer = 16 * 1024;  // per connection: bytes received, not yet sent back
constexpr u64 kProgressBytes = 1u << 20;
constexpr u64 kTurnNs = 100'000'000;
// Shutdown(write) is Busy while lwIP has not taken every byte yet: asked
// again this much later.
constexpr u64 kShutdownRetryNs = 10'000'000;

net::SocketClient* g_client;

bool failed(const char* what, Status s) {
    rt::log("net_echo: error: %s: %s", what, status_name(s));
    return false;
}

// "A.B.C.D" (stopping at ':' or the end) in network byte order.
bool parse_ip4(const char* text, u32& out, const char** rest) {
    u32 address = 0;
    for (u32 part = 0; part < 4; part++) {
        u32 v = 0, digits = 0;
        while (*text >= '0' && *text <= '9' && digits < 4) v = v * 10 + static_cast<u32>(*text++ - '0'), digits++;
        if (digits == 0 || v > 255) return false;
        address |= v << (8 * part);
        if (part < 3 && *text++ != '.') return false;
    }
    out = address;
    *rest = text;
    return *text == '\0' || *text == ':';
}

bool parse_port(const char* text, u32& out) {
    u32 v = 0;
    for (; *text >= '0' && *text <= '9' && v <= 65535; text++) v = v * 10 + static_cast<u32>(*text - '0');
    out = v;
    return *text == '\0' && v >= 1 && v <= 65535;
}

void hex(const u8 digest[32], char out[65]) {
    constexpr char kDigits[] = "0123456789abcdef";
    for (u32 i = 0; i < 32; i++) out[2 * i] = kDigits[digest[i] >> 4], out[2 * i + 1] = kDigits[digest[i] & 15];
    out[64] = '\0';
}

// --- UDP echo --------------------------------------------------------------

struct UdpEcho {
    u32 socket = 0;
    bool open = false;
    u32 wanted_port = 0;  // > 0: the connect port, once a datagram named it
    // One datagram the tx ring had no room for yet.
    abi::SocketDatagram held{};
    bool holding = false;
    u8 payload[abi::kSocketMaxDatagram];
    u32 echoed = 0;

    void run() {
        net::SocketClient& c = *g_client;
        for (;;) {
            if (holding) {
                auto sent = c.send_to(socket, held.address, held.port, payload, held.length);
                if (!sent.ok()) return (void)failed("udp send", sent.status());
                if (!sent.value()) return;  // full: again after Writable
                holding = false;
                echoed++;
            }
            u32 length = 0;
            auto got = c.receive_from(socket, &held, payload, sizeof payload, &length);
            if (!got.ok()) return (void)failed("udp receive", got.status());
            if (!got.value()) return;
            held.length = static_cast<u16>(length);
            holding = true;
            if (wanted_port == 0 && length > 5 && __builtin_memcmp(payload, "port=", 5) == 0) {
                u32 v = 0;
                for (u32 i = 5; i < length && payload[i] >= '0' && payload[i] <= '9' && v <= 65535; i++)
                    v = v * 10 + (payload[i] - '0');
                if (v >= 1 && v <= 65535) wanted_port = v;
            }
        }
    }
};

// --- TCP echo server ---------------------------------------------------------

struct Connection {
    bool live = false, closing = false;
    u32 socket = 0, number = 0;
    u32 address = 0;
    u16 port = 0;
    u8 buffer[kBuffer];
    u32 start = 0, end = 0;  // buffer[start, end) waits to go back
    u64 echoed = 0, next_progress = kProgressBytes;

    // Moves what can move; true once it is finished (closing).
    void run() {
        net::SocketClient& c = *g_client;
        if (!live || closing) return;
        // Reset or aborted: what waits to go back never will. Closed at
        // once (before a send that would fail for good), or a peer
        // resetting with bytes unechoed would keep the slot forever.
        if (c.closed(socket) && c.close_reason(socket) != abi::SocketCloseReason::PeerFinished) {
            rt::log("net_echo: tcp connection %u ended (not a fin): %llu bytes echoed", number,
                    static_cast<unsigned long long>(echoed));
            return finish(c);
        }
        for (bool moved = true; moved;) {
            moved = false;
            if (start < end) {
                auto n = c.send(socket, buffer + start, end - start);
                if (!n.ok()) return (void)failed("tcp send", n.status());
                start += n.value();
                echoed += n.value();
                moved = n.value() > 0;
                if (start == end) start = end = 0;
            }
            if (end < kBuffer) {
                auto n = c.receive(socket, buffer + end, kBuffer - end);
                if (!n.ok()) return (void)failed("tcp receive", n.status());
                end += n.value();
                moved = moved || n.value() > 0;
            }
        }
        while (echoed >= next_progress) {
            rt::log("net_echo: tcp connection %u: %llu MiB echoed", number,
                    static_cast<unsigned long long>(next_progress >> 20));
            next_progress += kProgressBytes;
        }
        // The peer half-closed and everything it sent went back: our FIN
        // follows the last byte.
        if (c.closed(socket) && start == end && !c.readable(socket)) {
            rt::log("net_echo: tcp connection %u closed by the peer (%s): %llu bytes echoed", number,
                    c.close_reason(socket) == abi::SocketCloseReason::PeerFinished ? "fin" : "not a fin",
                    static_cast<unsigned long long>(echoed));
            finish(c);
        }
    }

    // Busy (the request ring full): asked again on the next run().
    void finish(net::SocketClient& c) {
        auto r = c.close_socket(socket);
        if (!r.ok() && r.status() != Status::Busy) return (void)failed("tcp close", r.status());
        closing = r.ok();
    }
};

struct TcpEcho {
    u32 listener = 0;
    bool listening = false;
    u32 accepts_owed = 0;  // Accepts asked, not answered
    u32 accepted = 0;
    Connection conns[kConnections];

    u32 free_slots() const {
        u32 n = 0;
        for (const Connection& k : conns) n += !k.live;
        return n;
    }

    // Keeps an Accept asked for every free connection slot (called every
    // turn: an Accept refused Busy, or answered with a refusal, is asked
    // again, so the listener never stops accepting).
    void ask() {
        while (listening && accepts_owed < free_slots()) {
            auto r = g_client->accept(listener);
            if (!r.ok()) {
                if (r.status() != Status::Busy) (void)failed("accept", r.status());
                return;
            }
            accepts_owed++;
        }
    }

    void adopt(const net::SocketCompletion& done) {
        accepts_owed--;
        if (done.status != Status::Ok) return (void)failed("accept answered", done.status);
        for (Connection& k : conns) {
            if (k.live) continue;
            k.live = true;
            k.closing = false;
            k.socket = done.socket;
            k.number = ++accepted;
            k.address = done.address;
            k.port = done.port;
            k.start = k.end = 0;
            k.echoed = 0;
            k.next_progress = kProgressBytes;
            rt::log("net_echo: tcp connection %u from %u.%u.%u.%u:%u (%u at once)", k.number, k.address & 255,
                    k.address >> 8 & 255, k.address >> 16 & 255, k.address >> 24, k.port, kConnections - free_slots());
            return;
        }
        // More Accepted than asked for slots: cannot happen (one per slot).
        (void)g_client->close_socket(done.socket);
    }

    void closed(u32 socket) {
        for (Connection& k : conns)
            if (k.live && k.closing && k.socket == socket) k.live = false;
    }
};

// --- TCP client ---------------------------------------------------------------

struct Client {
    u32 address = 0, port = 0;
    u64 bytes = 0, seed = 0;
    u32 socket = 0;
    enum class Phase : u8 { Idle, Opening, Connecting, Sending, Draining, Closing, Done, Failed } phase = Phase::Idle;
    util::XorShift64 rng{1};
    u8 chunk[4096];
    u32 chunk_at = 0, chunk_len = 0;
    u64 sent = 0, received = 0, next_progress = kProgressBytes;
    bool shutdown_asked = false;
    u64 shutdown_at = 0;  // clock_ns() from which to ask (again)
    util::Sha256 sent_hash, received_hash;

    void fill() {
        u64 n = bytes - sent < sizeof chunk ? bytes - sent : sizeof chunk;
        for (u32 i = 0; i < n; i += 8) {
            u64 v = rng.next();
            for (u32 j = 0; j < 8 && i + j < n; j++) chunk[i + j] = static_cast<u8>(v >> (8 * j));
        }
        sent_hash.update(chunk, n);
        chunk_at = 0;
        chunk_len = static_cast<u32>(n);
    }

    void fail(const char* what, Status s) {
        (void)failed(what, s);
        phase = Phase::Failed;
    }

    void shutdown_busy() {
        shutdown_asked = false;
        shutdown_at = rt::clock_ns() + kShutdownRetryNs;
    }
    bool shutdown_waits() const { return phase == Phase::Draining && !shutdown_asked; }

    void run() {
        net::SocketClient& c = *g_client;
        if (phase != Phase::Sending && phase != Phase::Draining) return;
        for (bool moved = true; moved;) {
            moved = false;
            if (phase == Phase::Sending) {
                if (chunk_at == chunk_len && sent < bytes) fill();
                if (chunk_at < chunk_len) {
                    auto n = c.send(socket, chunk + chunk_at, chunk_len - chunk_at);
                    if (!n.ok()) return fail("send", n.status());
                    chunk_at += n.value();
                    sent += n.value();
                    moved = n.value() > 0;
                }
                if (sent == bytes && chunk_at == chunk_len) phase = Phase::Draining;
            }
            if (phase == Phase::Draining && !shutdown_asked && rt::clock_ns() >= shutdown_at) {
                auto r = c.shutdown(socket, abi::kSocketShutdownWrite);
                if (r.ok())
                    shutdown_asked = true;
                else if (r.status() == Status::Busy)
                    shutdown_busy();
                else
                    return fail("shutdown", r.status());
            }
            u8 in[4096];
            auto n = c.receive(socket, in, sizeof in);
            if (!n.ok()) return fail("receive", n.status());
            received_hash.update(in, n.value());
            received += n.value();
            moved = moved || n.value() > 0;
        }
        while (sent >= next_progress) {
            rt::log("net_echo: %llu MiB sent", static_cast<unsigned long long>(next_progress >> 20));
            next_progress += kProgressBytes;
        }
        if (c.closed(socket) && c.close_reason(socket) != abi::SocketCloseReason::PeerFinished)
            return fail("the connection ended", Status::Stale);
        if (phase == Phase::Draining && c.closed(socket) && !c.readable(socket)) {
            u8 d[32];
            char sh[65], rh[65];
            sent_hash.finish(d);
            hex(d, sh);
            received_hash.finish(d);
            hex(d, rh);
            rt::log("net_echo: sent %llu bytes sha256 %s, received %llu bytes sha256 %s",
                    static_cast<unsigned long long>(sent), sh, static_cast<unsigned long long>(received), rh);
            if (auto r = c.close_socket(socket); !r.ok()) return fail("close", r.status());
            phase = Phase::Closing;
        }
    }
};

UdpEcho g_udp;
TcpEcho g_tcp;
Client g_connect;

// What the netstack answered.
bool complete(const net::SocketCompletion& done, u32 udp_port, u32 tcp_port) {
    net::SocketClient& c = *g_client;
    const bool ok = done.status == Status::Ok;
    switch (done.op) {
        case abi::SocketRequestOp::Bind:
            if (!ok) return failed("bind", done.status);
            if (udp_port && done.socket == g_udp.socket) {
                g_udp.open = true;
                rt::log("net_echo: listening on udp port %u", udp_port);
            } else if (tcp_port && done.socket == g_tcp.listener) {
                if (auto r = c.listen(g_tcp.listener, kConnections); !r.ok()) return failed("listen", r.status());
            }
            return true;
        case abi::SocketRequestOp::Listen:
            if (!ok) return failed("listen", done.status);
            g_tcp.listening = true;
            g_tcp.ask();
            rt::log("net_echo: listening on tcp port %u", tcp_port);
            return true;
        case abi::SocketRequestOp::Accept: g_tcp.adopt(done); return true;
        case abi::SocketRequestOp::Connect:
            if (!ok) return failed("connect", done.status);
            rt::log("net_echo: connected to %u.%u.%u.%u:%u", g_connect.address & 255, g_connect.address >> 8 & 255,
                    g_connect.address >> 16 & 255, g_connect.address >> 24, g_connect.port);
            g_connect.phase = Client::Phase::Sending;
            return true;
        case abi::SocketRequestOp::Shutdown:
            if (done.status == Status::Busy) return g_connect.shutdown_busy(), true;
            return ok || failed("shutdown answered", done.status);
        case abi::SocketRequestOp::Close:
            if (g_connect.phase == Client::Phase::Closing && done.socket == g_connect.socket) {
                g_connect.phase = Client::Phase::Done;
            } else {
                g_tcp.closed(done.socket);
                g_tcp.ask();
            }
            return true;
        default: return ok || failed("request answered", done.status);
    }
}

// Opens a socket and waits for the answer (only at start).
bool open_now(rt::SocketSession& session, abi::SocketKind kind, u32* socket) {
    auto done = session.ask([&] { return g_client->open_socket(kind); });
    if (!done.ok()) return failed("open", done.status());
    if (done.value().status != Status::Ok) return failed("open", done.value().status);
    *socket = done.value().socket;
    return true;
}

}  // namespace

int main(u64) {
    const Args args = rt::args();
    const u32 udp_port = static_cast<u32>(args.number("udp", 0));
    const u32 tcp_port = static_cast<u32>(args.number("tcp", 0));
    char target[32] = {};
    const bool client = args.copy("connect", target, sizeof target);
    if (udp_port > 65535 || tcp_port > 65535 || (!udp_port && !tcp_port && !client)) {
        rt::log("net_echo: usage: [udp=PORT] [tcp=PORT] [connect=A.B.C.D[:PORT] bytes=N seed=S]");
        return 2;
    }
    if (client) {
        const char* rest = nullptr;
        if (!parse_ip4(target, g_connect.address, &rest) || (*rest == ':' && !parse_port(rest + 1, g_connect.port)) ||
            (*rest != ':' && !udp_port)) {
            rt::log("net_echo: connect=%s: want A.B.C.D:PORT (or A.B.C.D with udp=PORT to learn it)", target);
            return 2;
        }
        g_connect.bytes = args.number("bytes", 1u << 20);
        g_connect.seed = args.number("seed", 1);
        g_connect.rng = util::XorShift64(g_connect.seed);
    }

    const u32 service = rt::startup_handle("svc.netstack");
    if (!service) {
        rt::log("net_echo: no svc.netstack (the manifest's netstack serves this process?)");
        return 1;
    }
    static rt::SocketSession session(service);
    if (auto r = session.attach(); !r.ok()) return failed("attach", r.status()), 1;
    g_client = &session.client();
    net::SocketClient& c = *g_client;

    // Every socket opened first, one at a time.
    if (udp_port && !open_now(session, abi::SocketKind::Udp, &g_udp.socket)) return 1;
    if (tcp_port && !open_now(session, abi::SocketKind::Tcp, &g_tcp.listener)) return 1;
    if (client && !open_now(session, abi::SocketKind::Tcp, &g_connect.socket)) return 1;
    if (client) g_connect.phase = Client::Phase::Opening;
    if (udp_port)
        if (auto r = c.bind(g_udp.socket, 0, static_cast<u16>(udp_port)); !r.ok()) return failed("bind", r.status()), 1;
    if (tcp_port)
        if (auto r = c.bind(g_tcp.listener, 0, static_cast<u16>(tcp_port)); !r.ok())
            return failed("bind", r.status()), 1;

    for (;;) {
        const u64 wait = g_connect.shutdown_waits() ? kShutdownRetryNs : kTurnNs;
        if (auto r = session.turn(wait); !r.ok()) return failed("netstack", r.status()), 1;
        net::SocketCompletion done;
        while (session.take_completion(&done))
            if (!complete(done, udp_port, tcp_port)) return 1;
        if (tcp_port) g_tcp.ask();
        if (udp_port && g_udp.open) g_udp.run();
        if (g_connect.phase == Client::Phase::Opening && (g_connect.port || g_udp.wanted_port)) {
            if (!g_connect.port) g_connect.port = g_udp.wanted_port;
            if (auto r = c.connect(g_connect.socket, g_connect.address, static_cast<u16>(g_connect.port)); !r.ok())
                return failed("connect", r.status()), 1;
            g_connect.phase = Client::Phase::Connecting;
        }
        g_connect.run();
        for (Connection& k : g_tcp.conns) k.run();
        if (g_connect.phase == Client::Phase::Failed) return 1;
        // A client ends with its connection (a udp= port that only named
        // the port goes with it); a TCP server serves on.
        if (g_connect.phase == Client::Phase::Done && !tcp_port) break;
    }
    rt::log("net_echo: done");
    return 0;
}
