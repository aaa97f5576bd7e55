// netbench: Sluice's side of the network benchmark (bench/README.md,
// "Network benchmark protocol"; bench/linux_guest/netbench.c is Linux's and
// speaks the same lines). The host (bench/run_net_bench.py) connects to the
// control port, reads `netbench-hello 1 sluice`, sends one command a line
// and reads one answer a line:
//   udp-rtt HOST PORT SIZE SECONDS WINDOW
//     -> result udp-rtt sent=N recv=N lost=N secs=S rtt_mean_us=X rtt_p50_us=X rtt_p99_us=X
//   udp-tx HOST PORT SIZE SECONDS BATCH
//     -> result udp-tx sent=N errors=N secs=S
//   tcp (the host then opens the data connection and sends "rx" or "tx S")
//     -> result tcp-rx bytes=N secs=S, or result tcp-tx bytes=N secs=S
//   quit
//     -> bye
// and `error <what>` for anything it cannot do. The host's own counts are
// the figures; these lines are the guest's view.
//
// Arguments (the manifest's args): `serve ctrl=5000 data=5001`. The
// netstack must serve it both ports: `serve = netbench ports=5000|5001` on
// its [process] (docs/manifest.md).
//
// Built to cost the system as little as it can, so that the figure is the
// stack's and not this program's: the socket client (lib/net/socket_client)
// is non-blocking; a job puts as much as the tx ring takes (udp-tx: BATCH
// datagrams, udp-rtt: the window, TCP: a ring-full) and then signals the
// netstack once, in the same system call that waits for its answer; when
// there is nothing to do it waits on the notification, never spins. Bytes
// are copied once each way, between a socket ring and g_buffer; nothing
// reads them (udp-rtt reads its 8-byte sequence number).
#include "net/socket_client.h"
#include "rt/args.h"
#include "rt/log.h"
#include "rt/socket_session.h"
#include "rt/sys.h"
#include "util/format.h"

namespace {

using ull = unsigned long long;

constexpr u64 kMs = 1'000'000;
constexpr u64 kSecond = 1000 * kMs;
constexpr u64 kRequestTimeout = 30 * kSecond;  // a request the netstack never answers
constexpr u64 kAcceptTimeout = 30 * kSecond;   // as Linux's netbench
constexpr u64 kLostAfter = 200 * kMs;          // bench/README.md: a round trip unanswered this long is lost
constexpr u64 kLongWait = 1 * kSecond;         // the longest single wait (a deadline far off is waited in steps)
constexpr u32 kMaxWindow = 256;
constexpr u32 kMaxBatch = 256;
constexpr u32 kMaxSeconds = 3600;
// The data connection and the UDP sockets get the largest rings the service
// allows, so that a batch rarely waits for room; the control connection's
// lines are short.
constexpr u32 kBigRing = abi::kSocketMaxRingBytes;
constexpr u32 kTcpRxRing = abi::kSocketMinTcpRxBytes;
constexpr u32 kSmallRing = abi::kSocketMinRingBytes;

// The one copy buffer: a datagram, a TCP ring-full.
alignas(64) u8 g_buffer[abi::kSocketMaxRingBytes];
static_assert(sizeof g_buffer >= abi::kSocketMaxDatagram);

// Round-trip times in 1 us buckets up to 200 ms (the loss limit), then one
// overflow bucket.
constexpr u32 kBuckets = 200'000;
u32 g_histogram[kBuckets + 1];

u64 percentile_us(u64 samples, u64 percent) {
    u64 want = (samples * percent + 99) / 100, seen = 0;
    for (u32 i = 0; i <= kBuckets; i++) {
        seen += g_histogram[i];
        if (seen >= want && want != 0) return i;
    }
    return 0;
}

// ------------------------------------------------------------ the service

// The Socket service as netbench wants it: rt::SocketSession (requests
// waited for, what was published sent with the wait, liveness), with waits
// cut into kLongWait steps and whole buffers sent.
class Net {
public:
    explicit Net(u32 service) : m_s(service) {}

    Result<void> start() { return m_s.attach(); }
    net::SocketClient& client() { return m_s.client(); }
    bool live() const { return m_s.live(); }
    // Signals the netstack if anything was published since the last time:
    // once however much went into the batch.
    void flush() { (void)m_s.flush(); }
    // Takes what the netstack published, without waiting. False once the
    // channel is broken or gone.
    bool poll() { return m_s.turn(0).ok(); }
    // Nothing to do until the netstack signals or `deadline` passes; what
    // we published goes with the wait (one system call).
    bool idle(u64 deadline) {
        u64 now = rt::clock_ns();
        u64 wait = now < deadline ? deadline - now : 0;
        return m_s.turn(wait < kLongWait ? wait : kLongWait).ok();
    }
    template <typename Submit>
    Result<net::SocketCompletion> ask(Submit submit, u64 timeout_ns = kRequestTimeout) {
        return m_s.ask(submit, timeout_ns);
    }
    // The answer to `tag`, once it comes; Timeout (the request stays
    // outstanding: ask again for the same tag later) at `deadline`.
    Result<net::SocketCompletion> answer(u64 tag, u64 deadline) { return m_s.answer(tag, deadline); }

    // Copies all of `n` bytes into the socket's tx ring, signalling after
    // each ring-full.
    Status send_all(u32 socket, const void* bytes, u32 n) {
        const u8* p = static_cast<const u8*>(bytes);
        for (u32 done = 0;;) {
            Result<u32> w = m_s.client().send(socket, p + done, n - done);
            if (!w.ok()) return w.status();
            done += w.value();
            if (done == n) {
                flush();
                return Status::Ok;
            }
            if (m_s.client().closed(socket)) return Status::Stale;
            if (!idle(rt::clock_ns() + kRequestTimeout)) return Status::Stale;
        }
    }

private:
    rt::SocketSession m_s;
};

// Lines from a TCP socket. What arrives past a line stays for the next
// read (the data connection's first line is followed at once by data).
struct LineReader {
    char buf[256];
    u32 have = 0;

    // One line without its '\n' into out (NUL-terminated). NotFound at the
    // end of the stream, InvalidArgument for a line longer than buf.
    Status read(Net& net, u32 socket, char* out, u32 cap) {
        for (;;) {
            for (u32 i = 0; i < have; i++) {
                if (buf[i] != '\n') continue;
                if (i + 1 > cap) return Status::InvalidArgument;
                __builtin_memcpy(out, buf, i);
                out[i] = 0;
                __builtin_memmove(buf, buf + i + 1, have - i - 1);
                have -= i + 1;
                return Status::Ok;
            }
            if (have == sizeof buf) return Status::InvalidArgument;
            Result<u32> r = net.client().receive(socket, buf + have, sizeof buf - have);
            if (!r.ok()) return r.status();
            have += r.value();
            if (r.value() != 0) continue;
            if (net.client().closed(socket)) return Status::NotFound;
            if (!net.idle(rt::clock_ns() + kLongWait)) return Status::Stale;
        }
    }
};

// ------------------------------------------------------------ parsing

// The words of a command line, split in place at spaces.
struct Words {
    static constexpr u32 kMax = 8;
    const char* word[kMax];
    u32 count = 0;

    explicit Words(char* line) {
        for (char* p = line; *p && count < kMax;) {
            while (*p == ' ') *p++ = 0;
            if (!*p) break;
            word[count++] = p;
            while (*p && *p != ' ') p++;
        }
    }
    bool is(u32 i, const char* text) const { return i < count && same(word[i], text); }
    static bool same(const char* a, const char* b) {
        while (*a && *a == *b) a++, b++;
        return *a == *b;
    }
};

// A decimal number in [lo, hi], all of `text`.
bool parse_number(const char* text, u32 lo, u32 hi, u32* out) {
    u64 v = 0;
    if (!*text) return false;
    for (; *text; text++) {
        if (*text < '0' || *text > '9') return false;
        v = v * 10 + static_cast<u64>(*text - '0');
        if (v > hi) return false;
    }
    if (v < lo) return false;
    *out = static_cast<u32>(v);
    return true;
}

// Dotted IPv4 into network byte order.
bool parse_ip4(const char* text, u32* out) {
    u32 address = 0;
    for (u32 part = 0; part < 4; part++) {
        char digits[4];
        u32 n = 0;
        while (*text >= '0' && *text <= '9' && n < 3) digits[n++] = *text++;
        digits[n] = 0;
        u32 octet;
        if (!parse_number(digits, 0, 255, &octet)) return false;
        address |= octet << (8 * part);
        if (part < 3 && *text++ != '.') return false;
    }
    if (*text) return false;
    *out = address;
    return true;
}

// Seconds with microseconds, as the result lines carry them.
struct Decimal {
    char text[32];
    Decimal(u64 ns, u64 unit_ns) {
        u64 whole = ns / unit_ns, frac = (ns % unit_ns) * 1'000'000 / unit_ns;
        format(text, sizeof text, "%llu.%06llu", static_cast<ull>(whole), static_cast<ull>(frac));
    }
};

// ------------------------------------------------------------ the server

class Bench {
public:
    explicit Bench(Net& net) : m_net(net), m_client(net.client()) {}

    Result<void> listen(u16 ctrl_port, u16 data_port) {
        TRY(open_listener(ctrl_port, &m_ctrl_listener));
        return open_listener(data_port, &m_data_listener);
    }

    // Serves control connections, one at a time, until `quit`.
    Status serve() {
        for (;;) {
            Result<net::SocketCompletion> c =
                m_net.ask([&] { return m_client.accept(m_ctrl_listener, kTcpRxRing, kSmallRing); }, ~0ull / 2);
            if (!c.ok()) return c.status();
            if (c.value().status != Status::Ok) {
                rt::log("netbench: accept on the control port: %s", status_name(c.value().status));
                continue;
            }
            m_ctrl = c.value().socket;
            m_lines = LineReader{};
            bool quit = control();
            close(m_ctrl);
            if (quit) return Status::Ok;
            if (!m_net.live()) return Status::Stale;
        }
    }

private:
    struct Outcome {  // a job's answer: a result or an error line
        char line[240];
    };

    // One control connection: true after `quit`.
    bool control() {
        if (reply("netbench-hello 1 sluice") != Status::Ok) return false;
        char line[200];
        while (m_lines.read(m_net, m_ctrl, line, sizeof line) == Status::Ok) {
            Words w(line);
            Outcome out{};
            if (w.is(0, "udp-rtt") || w.is(0, "udp-tx")) {
                u32 address, port, size, secs, arg;
                bool rtt = w.is(0, "udp-rtt");
                if (w.count != 6 || !parse_ip4(w.word[1], &address) || !parse_number(w.word[2], 1, 65535, &port) ||
                    !parse_number(w.word[3], rtt ? 8 : 1, abi::kSocketMaxDatagram, &size) ||
                    !parse_number(w.word[4], 1, kMaxSeconds, &secs) ||
                    !parse_number(w.word[5], 1, rtt ? kMaxWindow : kMaxBatch, &arg)) {
                    format(out.line, sizeof out.line, "error %s bad arguments", w.word[0]);
                } else {
                    udp(rtt, address, static_cast<u16>(port), size, secs, arg, out);
                }
            } else if (w.is(0, "tcp") && w.count == 1) {
                tcp(out);
            } else if (w.is(0, "quit") && w.count == 1) {
                (void)reply("bye");
                return true;
            } else {
                format(out.line, sizeof out.line, "error unknown command");
            }
            if (reply(out.line) != Status::Ok) return false;
        }
        return false;  // the host went away: wait for it to come back
    }

    // One answer line on the control connection.
    Status reply(const char* text) {
        char line[256];
        usize n = format(line, sizeof line, "%s\n", text);
        if (n >= sizeof line) return Status::InvalidArgument;
        rt::log("netbench: %s", text);  // the serial log keeps the guest's view too
        return m_net.send_all(m_ctrl, line, static_cast<u32>(n));
    }

    Result<void> open_listener(u16 port, u32* socket) {
        Result<net::SocketCompletion> c =
            m_net.ask([&] { return m_client.open_socket(abi::SocketKind::Tcp, kTcpRxRing, kSmallRing); });
        TRY(done(c));
        *socket = c.value().socket;
        TRY(done(m_net.ask([&] { return m_client.bind(*socket, 0, port); })));
        return done(m_net.ask([&] { return m_client.listen(*socket, 1); }));
    }

    // A request's outcome: its answer's status, or why there was none.
    static Result<void> done(const Result<net::SocketCompletion>& c) { return c.ok() ? c.value().status : c.status(); }

    void close(u32 socket) {
        Result<void> r = done(m_net.ask([&] { return m_client.close_socket(socket); }));
        if (!r.ok()) rt::log("netbench: close of socket %u: %s", socket, status_name(r.status()));
    }

    // A UDP socket whose default destination is address:port.
    Result<void> open_udp(u32 address, u16 port, u32* socket) {
        Result<net::SocketCompletion> c =
            m_net.ask([&] { return m_client.open_socket(abi::SocketKind::Udp, kBigRing, kBigRing); });
        TRY(done(c));
        *socket = c.value().socket;
        Result<void> r = done(m_net.ask([&] { return m_client.connect(*socket, address, port); }));
        if (!r.ok()) close(*socket);
        return r;
    }

    void udp(bool rtt, u32 address, u16 port, u32 size, u32 secs, u32 arg, Outcome& out) {
        const char* kind = rtt ? "udp-rtt" : "udp-tx";
        u32 socket;
        if (Result<void> r = open_udp(address, port, &socket); !r.ok()) {
            format(out.line, sizeof out.line, "error %s setup: %s", kind, status_name(r.status()));
            return;
        }
        __builtin_memset(g_buffer, 0, size);
        Status s = rtt ? udp_rtt(socket, size, secs, arg, out) : udp_tx(socket, size, secs, arg, out);
        if (s != Status::Ok) format(out.line, sizeof out.line, "error %s: %s", kind, status_name(s));
        close(socket);
    }

    // `window` datagrams in flight, each carrying its sequence number (8
    // bytes, little endian); an echo is matched by it.
    Status udp_rtt(u32 socket, u32 size, u32 secs, u32 window, Outcome& out) {
        constexpr u64 kNone = ~0ull;
        u64 slot_seq[kMaxWindow], sent_at[kMaxWindow];
        for (u32 i = 0; i < window; i++) slot_seq[i] = kNone;
        __builtin_memset(g_histogram, 0, sizeof g_histogram);
        u64 seq = 0, received = 0, lost = 0, sum_ns = 0;
        u32 outstanding = 0;
        const u64 t0 = rt::clock_ns(), end = t0 + secs * kSecond;
        u64 t = t0;
        for (;;) {
            // Keep the window full until the end; one signal for all of it.
            while (t < end && outstanding < window) {
                u32 slot = static_cast<u32>(seq % window);
                if (slot_seq[slot] != kNone) break;  // that one still waits
                __builtin_memcpy(g_buffer, &seq, 8);
                Result<bool> r = m_client.send_to(socket, 0, 0, g_buffer, size);
                if (!r.ok()) return r.status();
                if (!r.value()) break;  // the tx ring is full
                slot_seq[slot] = seq++;
                sent_at[slot] = rt::clock_ns();
                outstanding++;
            }
            if (outstanding == 0) break;
            // Every echo that is there; if none, wait for one (or for the
            // oldest outstanding to be lost).
            bool got = false;
            for (;;) {
                abi::SocketDatagram from;
                u32 length;
                Result<bool> r = m_client.receive_from(socket, &from, g_buffer, size, &length);
                if (!r.ok()) return r.status();
                if (!r.value()) break;
                got = true;
                t = rt::clock_ns();
                u64 q;
                __builtin_memcpy(&q, g_buffer, 8);
                u32 slot = static_cast<u32>(q % window);
                if (length != size || q >= seq || slot_seq[slot] != q) continue;  // not ours, or late
                u64 d = t - sent_at[slot];
                slot_seq[slot] = kNone;
                outstanding--;
                received++;
                sum_ns += d;
                g_histogram[d / 1000 < kBuckets ? d / 1000 : kBuckets]++;
            }
            if (!got) {
                u64 oldest = kNone;
                for (u32 i = 0; i < window; i++)
                    if (slot_seq[i] != kNone && sent_at[i] < oldest) oldest = sent_at[i];
                if (!m_net.idle(oldest + kLostAfter)) return Status::Stale;
                t = rt::clock_ns();
            }
            for (u32 i = 0; i < window; i++) {
                if (slot_seq[i] != kNone && t - sent_at[i] > kLostAfter) {
                    slot_seq[i] = kNone;
                    outstanding--;
                    lost++;
                }
            }
        }
        u64 mean_ns = received ? sum_ns / received : 0;
        format(out.line, sizeof out.line,
               "result udp-rtt sent=%llu recv=%llu lost=%llu secs=%s rtt_mean_us=%llu.%llu rtt_p50_us=%llu "
               "rtt_p99_us=%llu",
               static_cast<ull>(seq), static_cast<ull>(received), static_cast<ull>(lost), Decimal(t - t0, kSecond).text,
               static_cast<ull>(mean_ns / 1000), static_cast<ull>(mean_ns % 1000 / 100),
               static_cast<ull>(percentile_us(received, 50)), static_cast<ull>(percentile_us(received, 99)));
        return Status::Ok;
    }

    // Datagrams as fast as the stack takes them: `batch` into the tx ring,
    // then one signal (one Send for the batch). A full ring is waited out
    // (as a blocking socket would). A refusal by the netstack ends the job
    // with its status (send_to returns it), so `errors` is 0 in a result.
    Status udp_tx(u32 socket, u32 size, u32 secs, u32 batch, Outcome& out) {
        u64 sent = 0;
        const u64 t0 = rt::clock_ns(), end = t0 + secs * kSecond;
        u64 t = t0;
        while (t < end) {
            u32 put = 0;
            for (; put < batch; put++) {
                Result<bool> r = m_client.send_to(socket, 0, 0, g_buffer, size);
                if (!r.ok()) return r.status();
                if (!r.value()) break;
            }
            sent += put;
            m_net.flush();
            if (!m_net.poll()) return Status::Stale;
            if (put < batch && !m_net.idle(end)) return Status::Stale;  // wait for room
            t = rt::clock_ns();
        }
        format(out.line, sizeof out.line, "result udp-tx sent=%llu errors=0 secs=%s", static_cast<ull>(sent),
               Decimal(t - t0, kSecond).text);
        return Status::Ok;
    }

    // One data connection; its first line says the direction (the guest's).
    void tcp(Outcome& out) {
        // An Accept that timed out before is still outstanding: its answer
        // is this connection's.
        if (m_data_accept == 0) {
            Result<u64> tag = m_client.accept(m_data_listener, kBigRing, kBigRing);
            if (!tag.ok()) {
                format(out.line, sizeof out.line, "error tcp accept: %s", status_name(tag.status()));
                return;
            }
            m_data_accept = tag.value();
        }
        Result<net::SocketCompletion> c = m_net.answer(m_data_accept, rt::clock_ns() + kAcceptTimeout);
        if (!c.ok() && c.status() == Status::Timeout) {
            format(out.line, sizeof out.line, "error tcp no data connection");
            return;
        }
        m_data_accept = 0;
        if (!done(c).ok()) {
            format(out.line, sizeof out.line, "error tcp accept: %s", status_name(done(c).status()));
            return;
        }
        const u32 socket = c.value().socket;
        LineReader lines;
        char header[32];
        const u64 t0 = rt::clock_ns();
        u32 secs;
        Status s = lines.read(m_net, socket, header, sizeof header);
        Words w(header);
        if (s != Status::Ok) {
            format(out.line, sizeof out.line, "error tcp header: %s", status_name(s));
        } else if (w.is(0, "rx") && w.count == 1) {
            s = tcp_rx(socket, lines, t0, out);
            if (s != Status::Ok) format(out.line, sizeof out.line, "error tcp-rx: %s", status_name(s));
        } else if (w.is(0, "tx") && w.count == 2 && parse_number(w.word[1], 1, kMaxSeconds, &secs)) {
            s = tcp_tx(socket, secs, t0, out);
            if (s != Status::Ok) format(out.line, sizeof out.line, "error tcp-tx: %s", status_name(s));
        } else {
            format(out.line, sizeof out.line, "error tcp bad header");
        }
        close(socket);
    }

    // Reads to the end of the stream, then answers `got N` on it.
    Status tcp_rx(u32 socket, LineReader& lines, u64 t0, Outcome& out) {
        u64 bytes = lines.have;  // what came with the header line
        for (;;) {
            Result<u32> r = m_client.receive(socket, g_buffer, sizeof g_buffer);
            if (!r.ok()) return r.status();
            if (r.value() != 0) {
                bytes += r.value();
                m_net.flush();  // the window reopens once the netstack sees the room
                continue;
            }
            if (m_client.closed(socket)) break;
            if (!m_net.idle(rt::clock_ns() + kLongWait)) return Status::Stale;
        }
        const u64 t = rt::clock_ns();
        if (m_client.close_reason(socket) != abi::SocketCloseReason::PeerFinished) return Status::Stale;
        char ack[32];
        usize n = format(ack, sizeof ack, "got %llu\n", static_cast<ull>(bytes));
        if (Status s = m_net.send_all(socket, ack, static_cast<u32>(n)); s != Status::Ok) return s;
        format(out.line, sizeof out.line, "result tcp-rx bytes=%llu secs=%s", static_cast<ull>(bytes),
               Decimal(t - t0, kSecond).text);
        return Status::Ok;
    }

    // Sends for `secs`, then FIN; done once the host has read everything
    // and closed its side.
    Status tcp_tx(u32 socket, u32 secs, u64 t0, Outcome& out) {
        __builtin_memset(g_buffer, 0x5a, sizeof g_buffer);
        const u64 end = t0 + secs * kSecond;
        u64 bytes = 0, t = t0;
        for (; t < end; t = rt::clock_ns()) {
            Result<u32> w = m_client.send(socket, g_buffer, sizeof g_buffer);
            if (!w.ok()) return w.status();
            if (m_client.closed(socket)) return Status::Stale;
            bytes += w.value();
            if (w.value() != 0) {
                m_net.flush();
                if (!m_net.poll()) return Status::Stale;
            } else if (!m_net.idle(end)) {  // the ring is full: wait for Writable
                return Status::Stale;
            }
        }
        // Shutdown is Busy until lwIP has taken every byte announced.
        for (u64 deadline = rt::clock_ns() + kRequestTimeout;;) {
            Status s = done(m_net.ask([&] { return m_client.shutdown(socket, abi::kSocketShutdownWrite); })).status();
            if (s == Status::Ok) break;
            if (s != Status::Busy || rt::clock_ns() >= deadline) return s;
            if (!m_net.idle(deadline)) return Status::Stale;
        }
        while (!m_client.closed(socket)) {  // the host closes once it has read everything
            Result<u32> r = m_client.receive(socket, g_buffer, sizeof g_buffer);
            if (!r.ok()) return r.status();
            if (r.value() == 0 && !m_net.idle(rt::clock_ns() + kLongWait)) return Status::Stale;
        }
        format(out.line, sizeof out.line, "result tcp-tx bytes=%llu secs=%s", static_cast<ull>(bytes),
               Decimal(t - t0, kSecond).text);
        return Status::Ok;
    }

    Net& m_net;
    net::SocketClient& m_client;
    u32 m_ctrl_listener = 0, m_data_listener = 0, m_ctrl = 0;
    u64 m_data_accept = 0;  // an Accept on the data port still outstanding
    LineReader m_lines;
};

}  // namespace

int main(u64) {
    const Args args = rt::args();
    const u16 ctrl = static_cast<u16>(args.number("ctrl", 5000)), data = static_cast<u16>(args.number("data", 5001));
    const u32 service = rt::startup_handle("svc.netstack");
    if (service == 0) {
        rt::log("netbench: FAILED: no svc.netstack (the manifest's netstack must `serve = netbench ports=%u|%u`)", ctrl,
                data);
        return 1;
    }
    Net net(service);
    if (auto r = net.start(); !r.ok()) {
        rt::log("netbench: FAILED: attach: %s", status_name(r.status()));
        return 1;
    }
    Bench bench(net);
    if (auto r = bench.listen(ctrl, data); !r.ok()) {
        rt::log("netbench: FAILED: listen on ports %u and %u: %s", ctrl, data, status_name(r.status()));
        return 1;
    }
    rt::log("netbench: serving control port %u, data port %u", ctrl, data);
    Status s = bench.serve();
    if (s != Status::Ok) {
        rt::log("netbench: FAILED: %s", status_name(s));
        return 1;
    }
    rt::log("netbench: done");
    return 0;
}
