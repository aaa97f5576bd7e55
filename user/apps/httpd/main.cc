// httpd: the health endpoint a load balancer probes (docs/httpd.md). A
// small HTTP/1.1 server on TCP port 80 (args: port=N, idle_ms=N) over the
// netstack's Socket service (svc.netstack, granted by the manifest's
// `serve = httpd ports=80` on [process netstack]), answering
//   GET /status  -> a JSON document: uptime, the PCI functions devmgr
//                   describes (its endpoint, granted as "devmgr"), the
//                   netstack's interface and counters (its Info), and
//                   this server's own counters;
//   HEAD /status -> the same head, no body;
//   anything else what lib/net/http.h says (400, 404, 405, 431, 505).
//
// Nothing a client sends is trusted: a request head is parsed strictly by
// net::parse_http_request and must fit HttpRequest::kMaxHead; a client
// that sends nothing, or too slowly, is closed after idle_ms (408 when it
// had sent part of a head), and a response not taken within idle_ms of
// being queued closes its connection (progress does not extend it: a
// client reading a byte at a time cannot hold a slot). After any error
// answer the connection is closed. At most kMaxConns connections are
// served at once; one Accept more is kept outstanding, and a connection
// arriving with every slot taken evicts the oldest one that has no
// response under way (silent or idle clients cannot lock the endpoint
// out: a load balancer's probe always gets in). The listener's backlog
// holds the rest (the netstack's TCP quota for a client bounds both).
//
// The status document is rendered at most once a second (kRenderEveryNs)
// and reused: a client pipelining requests costs devmgr and the netstack
// nothing more. Log lines have a budget (8 at once, 4 a second; the rest
// counted and said with the next).
//
// One thread, one loop: wait for the netstack's signal or the nearest
// deadline, take events and completions, move each connection on. When
// the netstack breaks the protocol or is restarted (Ping answers Stale),
// the channel is attached again and the listener opened again.

#include "net/http.h"
#include "net/socket_client.h"
#include "protocol/devmgr.h"
#include "protocol/message.h"
#include "rt/args.h"
#include "rt/log.h"
#include "rt/socket_session.h"
#include "rt/sys.h"
#include "util/format.h"
#include "util/json_writer.h"

namespace {

using ull = unsigned long long;

constexpr u32 kMaxConns = 4;
// One slot more than are served: the newcomer that evicts an idle one.
constexpr u32 kSlots = kMaxConns + 1;
constexpr u64 kRenderEveryNs = 1'000'000'000;
// Reads of a closing connection's leftovers, at most (then it is closed
// all the same): a client sending without end cannot keep httpd draining.
constexpr u32 kDrainReads = 64;
// Connections lwIP completed and holds for an Accept: each is a pcb of
// the client's TCP quota (docs/netstack.md "Quotas"), as is each served one.
constexpr u32 kBacklog = 2;
constexpr u32 kTxRing = 16 * 1024;
constexpr u32 kOutBytes = 16 * 1024;        // one whole response: head and body
constexpr u64 kIdleTurnNs = 2'000'000'000;  // the longest wait (rt::SocketSession checks liveness)
constexpr u64 kRetryNs = 1'000'000'000;
constexpr u32 kMaxFunctions = 256;  // devmgr answers past the end with length 0 before this

struct Stats {
    u64 connections = 0, requests = 0, errors = 0, timeouts = 0, evicted = 0;
};

struct Conn {
    enum class State : u8 { Free, Open, Closing };
    State state = State::Free;
    u32 socket = 0;
    u64 number = 0;            // accept order: the oldest is evicted first
    u64 deadline = 0;          // ns: the next byte of a head, or the response's room, is due by then
    bool close_after = false;  // once the response is out
    bool close_asked = false;  // Closing: the Close request is on the ring
    u32 in_len = 0;
    u32 out_len = 0, out_sent = 0;
    char in[net::HttpRequest::kMaxHead];
    char out[kOutBytes];
};

Conn g_conns[kSlots];
Stats g_stats;
u16 g_port = 80;
u64 g_idle_ns = 5'000'000'000;
u32 g_devmgr = 0;
rt::SocketAttach* g_attach = nullptr;  // for the netstack's Info
// The console is the access log, and one client must not be able to
// flood it.
rt::LogBudget g_log{8, 4};

// A terminated copy of a fixed-size name the netstack or devmgr wrote (a
// name filling the array has no terminator of its own).
template <usize N>
void terminated(const char (&in)[N], char (&out)[N + 1]) {
    __builtin_memcpy(out, in, N);
    out[N] = '\0';
}

// IPv4 in network byte order (as the snapshot holds it), dotted.
void dotted(u32 a, char (&out)[16]) {
    format(out, sizeof out, "%u.%u.%u.%u", a & 0xff, (a >> 8) & 0xff, (a >> 16) & 0xff, a >> 24);
}

// The /status document (docs/httpd.md lists its fields). False when it
// did not fit `cap` (answered 500).
bool status_json(char* buf, usize cap, usize* len) {
    util::JsonWriter w(buf, cap);
    // A member: name and value (a null string: JSON null).
    auto number = [&w](const char* name, u64 v) {
        w.key(name);
        w.number(v);
    };
    auto text = [&w](const char* name, const char* v) {
        w.key(name);
        v ? w.string(v) : w.null();
    };
    w.begin_object();
    text("system", "sluice");
    number("uptime_ms", rt::clock_ns() / 1'000'000);
    w.key("devices");
    w.begin_array();
    bool devmgr_ok = g_devmgr != 0;
    for (u32 i = 0; devmgr_ok && i < kMaxFunctions; i++) {
        abi::Message m{};
        abi::put_body(m, abi::DevmgrRequest{i, abi::DevmgrOp::Describe});
        if (!rt::endpoint_call(g_devmgr, m).ok()) {
            devmgr_ok = false;
            break;
        }
        if (m.length < sizeof(abi::DevmgrFunction)) break;
        auto f = abi::body_of<abi::DevmgrFunction>(m);
        char address[16], id[16];
        char provider[sizeof f.provider + 1];
        terminated(f.provider, provider);
        format(address, sizeof address, "%02x:%02x.%x", f.bus, f.device, f.function);
        format(id, sizeof id, "%04x:%04x", f.vendor, f.device_id);
        w.begin_object();
        text("address", address);
        text("id", id);
        text("provider", provider[0] ? provider : nullptr);
        text("state", abi::devmgr_state_name(f.state));
        text("backend", abi::devmgr_backend_name(f.backend));
        number("restarts", f.restarts);
        number("refusals", f.refusals);
        number("windows", f.windows);
        number("vectors", f.vectors);
        number("dma_pool_bytes", f.pool_bytes);
        number("dma_used_kib", f.pool_used_kib);
        w.end_object();
    }
    w.end_array();
    // Whether the device list is whole: false when devmgr is not granted
    // or did not answer (restarting), so a prober can tell "no devices"
    // from "could not ask".
    w.key("devices_complete");
    w.boolean(devmgr_ok);
    // The netstack's snapshot (lib/protocol/socket.h SocketInfo): null
    // when it did not answer (restarting).
    static abi::SocketInfo info;
    w.key("network");
    if (g_attach == nullptr || !g_attach->info(info).ok()) {
        w.null();
    } else {
        char name[sizeof info.name + 1], nic[sizeof info.provider + 1], mac[18], ip[16];
        terminated(info.name, name);
        terminated(info.provider, nic);
        format(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", info.mac[0], info.mac[1], info.mac[2], info.mac[3],
               info.mac[4], info.mac[5]);
        w.begin_object();
        text("interface", name);
        text("mac", mac);
        number("mtu", info.mtu);
        w.key("link_up");
        w.boolean(info.link_up != 0);
        const struct {
            const char* name;
            u32 address;
        } addresses[] = {
            {"address", info.address}, {"netmask", info.netmask}, {"gateway", info.gateway}, {"dns", info.dns[0]}};
        for (const auto& a : addresses) {
            dotted(a.address, ip);
            text(a.name, info.bound ? ip : nullptr);
        }
        text("dhcp", abi::socket_dhcp_state_name(info.dhcp));
        number("lease_left_s", info.lease_left_s);
        text("nic_provider", nic);
        number("nic_reattaches", info.nic_reattaches);
        number("rx_frames", info.rx_frames);
        number("rx_bytes", info.rx_bytes);
        number("rx_dropped", info.rx_dropped);
        number("tx_frames", info.tx_frames);
        number("tx_bytes", info.tx_bytes);
        number("tx_dropped", info.tx_dropped);
        const struct {
            const char* name;
            const abi::SocketInfoCounters& c;
        } protocols[] = {{"ip", info.ip}, {"icmp", info.icmp}, {"udp", info.udp}, {"tcp", info.tcp}};
        for (const auto& p : protocols) {
            w.key(p.name);
            w.begin_object();
            number("rx", p.c.rx);
            number("tx", p.c.tx);
            number("dropped", p.c.dropped);
            number("checksum_errors", p.c.checksum);
            w.end_object();
        }
        number("sockets_open", info.sockets_open);
        w.end_object();
    }
    u64 active = 0;
    for (const Conn& c : g_conns) active += c.state == Conn::State::Open;
    w.key("http");
    w.begin_object();
    number("port", g_port);
    number("connections", g_stats.connections);
    number("active", active);
    number("requests", g_stats.requests);
    number("errors", g_stats.errors);
    number("timeouts", g_stats.timeouts);
    number("evicted", g_stats.evicted);
    w.end_object();
    w.end_object();
    *len = w.size();
    return w.ok();
}

// Puts a whole response (head, and body unless head_only) in c.out.
void respond(Conn& c, u16 status, const char* body, usize body_len, bool head_only, bool keep_alive) {
    const usize head = net::http_response_head(c.out, sizeof c.out, status, "application/json", body_len, keep_alive);
    usize n = head;
    if (head != 0 && !head_only && head + body_len <= sizeof c.out) {
        __builtin_memcpy(c.out + head, body, body_len);
        n += body_len;
    }
    c.out_len = static_cast<u32>(n);
    c.out_sent = 0;
    c.close_after = !keep_alive;
    // One deadline per response, from when it is queued.
    c.deadline = rt::clock_ns() + g_idle_ns;
}

void respond_error(Conn& c, u16 status) {
    char body[96];
    usize n = format(body, sizeof body, "{\"error\":%u,\"reason\":\"%s\"}\n", status, net::http_reason(status));
    g_stats.errors++;
    respond(c, status, body, n, false, false);
}

// A parsed request: only /status (its query string ignored) exists.
void answer(Conn& c, const net::HttpRequest& req) {
    g_stats.requests++;
    usize path = 0;
    while (path < sizeof req.target && req.target[path] && req.target[path] != '?') path++;
    const char* method = req.head_only ? "HEAD" : "GET";
    if (path != 7 || __builtin_memcmp(req.target, "/status", 7) != 0) {
        g_stats.errors++;
        char body[64];
        usize n = format(body, sizeof body, "{\"error\":404,\"reason\":\"%s\"}\n", net::http_reason(404));
        g_log.log("httpd: socket %u: %s %s 404", c.socket, method, req.target);
        return respond(c, 404, body, n, req.head_only, req.keep_alive);
    }
    static char doc[kOutBytes - 512];  // the head is well under 512 bytes
    static usize len = 0;
    static u64 rendered = 0;
    if (len == 0 || rt::clock_ns() - rendered >= kRenderEveryNs) {
        len = 0;
        if (!status_json(doc, sizeof doc - 1, &len)) {  // room for the newline
            len = 0;
            g_log.log("httpd: the status document does not fit %u bytes", static_cast<u32>(sizeof doc));
            return respond_error(c, 500);
        }
        doc[len++] = '\n';
        rendered = rt::clock_ns();
    }
    // One line per request: the console is the access log.
    g_log.log("httpd: socket %u: %s %s 200 (%u bytes%s)", c.socket, method, req.target, static_cast<u32>(len),
              req.keep_alive ? ", keep-alive" : "");
    respond(c, 200, doc, len, req.head_only, req.keep_alive);
}

class Server {
public:
    explicit Server(rt::SocketSession& session) : m_s(session), m_c(session.client()) {}

    // Serves until the channel fails: the reason.
    Status run() {
        if (Status s = open_listener(); s != Status::Ok) return s;
        rt::log("httpd: listening on port %u (%u connections at once, idle timeout %llu ms)", g_port, kMaxConns,
                static_cast<ull>(g_idle_ns / 1'000'000));
        for (;;) {
            post_accepts();
            u64 now = rt::clock_ns();
            u64 wake = now + kIdleTurnNs;
            for (const Conn& c : g_conns)
                if (c.state == Conn::State::Open && c.deadline < wake) wake = c.deadline;
            // What was published goes with the wait (one system call).
            if (auto r = m_s.turn(m_again || wake <= now ? 0 : wake - now); !r.ok()) return r.status();
            m_again = false;
            net::SocketCompletion done;
            while (m_s.take_completion(&done)) completed(done);
            now = rt::clock_ns();
            for (Conn& c : g_conns) {
                if (c.state == Conn::State::Open) step(c, now);
                if (c.state == Conn::State::Closing && !c.close_asked) close(c);
            }
        }
    }

private:
    // One setup request and its answer's status.
    template <typename Submit>
    Status ask(Submit submit, net::SocketCompletion* out) {
        auto done = m_s.ask(submit);
        if (!done.ok()) return done.status();
        *out = done.value();
        return out->status;
    }

    Status open_listener() {
        net::SocketCompletion c{};
        if (Status s = ask([&] { return m_c.open_socket(abi::SocketKind::Tcp, 0, abi::kSocketMinRingBytes); }, &c);
            s != Status::Ok)
            return rt::log("httpd: open: %s", status_name(s)), s;
        m_listener = c.socket;
        if (Status s = ask([&] { return m_c.bind(m_listener, 0, g_port); }, &c); s != Status::Ok)
            return rt::log("httpd: bind port %u: %s", g_port, status_name(s)), s;
        if (Status s = ask([&] { return m_c.listen(m_listener, kBacklog); }, &c); s != Status::Ok)
            return rt::log("httpd: listen: %s", status_name(s)), s;
        m_accepts = 0;
        return Status::Ok;
    }

    // One Accept outstanding per free slot, the spare one included: a
    // connection arriving with every served slot taken evicts an idle one
    // (completed()).
    void post_accepts() {
        u32 busy = m_accepts;
        for (const Conn& c : g_conns) busy += c.state != Conn::State::Free;
        while (busy < kSlots) {
            auto t = m_c.accept(m_listener, 0, kTxRing);
            if (!t.ok()) return;  // Busy or NoMemory: again after the next completions
            m_accepts++;
            busy++;
        }
    }

    void completed(const net::SocketCompletion& d) {
        if (d.op == abi::SocketRequestOp::Accept) {
            m_accepts--;
            if (d.status != Status::Ok) {
                rt::log("httpd: accept: %s", status_name(d.status));
                return;
            }
            for (Conn& c : g_conns) {
                if (c.state != Conn::State::Free) continue;
                c.state = Conn::State::Open;
                c.socket = d.socket;
                c.deadline = rt::clock_ns() + g_idle_ns;
                c.in_len = c.out_len = c.out_sent = 0;
                c.close_after = false;
                c.number = ++g_stats.connections;
                evict_if_full();
                return;
            }
            // post_accepts never asks for more than the free slots.
            rt::log("httpd: accepted socket %u with no free slot", d.socket);
            (void)m_c.close_socket(d.socket);
            return;
        }
        if (d.op == abi::SocketRequestOp::Close) {
            for (Conn& c : g_conns) {
                if (c.state != Conn::State::Closing || c.socket != d.socket) continue;
                // Refused (the socket is still the client library's): asked
                // again next turn, else the socket would leak from the quota.
                if (d.status == Status::Ok || !m_c.is_open(c.socket))
                    c.state = Conn::State::Free;
                else
                    c.close_asked = false;
            }
        }
    }

    // More connections open than are served: the oldest with no response
    // under way goes (a silent client, or one idle between keep-alive
    // requests); when every one is sending, the newest goes instead.
    void evict_if_full() {
        u32 open = 0;
        Conn* victim = nullptr;
        Conn* newest = nullptr;
        for (Conn& c : g_conns) {
            if (c.state != Conn::State::Open) continue;
            open++;
            if (newest == nullptr || c.number > newest->number) newest = &c;
            if (c.out_len == 0 && (victim == nullptr || c.number < victim->number)) victim = &c;
        }
        if (open <= kMaxConns) return;
        if (victim == nullptr || victim == newest) victim = newest;
        g_stats.evicted++;
        g_log.log("httpd: socket %u: evicted (%u connections, %u served at once)", victim->socket, open, kMaxConns);
        close(*victim);
    }

    void close(Conn& c) {
        // What the client sent past its last request is read and dropped
        // first: lwIP answers a close with unread data by a reset, which
        // could overtake the response.
        char sink[256];
        for (u32 reads = 0; reads < kDrainReads && m_c.readable(c.socket); reads++) {
            auto r = m_c.receive(c.socket, sink, sizeof sink);
            if (!r.ok() || r.value() == 0) break;
        }
        c.state = Conn::State::Closing;
        // Busy (the request ring full): asked again on the next turn.
        c.close_asked = m_c.close_socket(c.socket).ok();
    }

    // Sends what the tx ring takes of the response under way: true once it
    // is all out (and the connection still open).
    bool pump_out(Conn& c, u64 now) {
        if (c.out_sent == c.out_len) return true;
        auto r = m_c.send(c.socket, c.out + c.out_sent, c.out_len - c.out_sent);
        if (!r.ok()) return close(c), false;
        c.out_sent += r.value();
        if (c.out_sent < c.out_len) {
            if (now >= c.deadline) {
                g_stats.timeouts++;
                g_log.log("httpd: socket %u: the client takes no response for %llu ms: closed", c.socket,
                          static_cast<ull>(g_idle_ns / 1'000'000));
                close(c);
            }
            return false;
        }
        c.out_len = c.out_sent = 0;
        if (c.close_after) return close(c), false;
        c.deadline = now + g_idle_ns;
        return true;
    }

    // Moves one connection on: its response out, then at most one request
    // read and answered (a pipelined one next turn: m_again).
    void step(Conn& c, u64 now) {
        if (!pump_out(c, now)) return;
        while (c.in_len < sizeof c.in && m_c.readable(c.socket)) {
            auto r = m_c.receive(c.socket, c.in + c.in_len, static_cast<u32>(sizeof c.in - c.in_len));
            if (!r.ok()) return close(c);
            if (r.value() == 0) break;
            c.in_len += r.value();
        }
        static net::HttpRequest req;
        req = net::HttpRequest{};
        const net::HttpParse p = net::parse_http_request(c.in, c.in_len, req);
        if (p == net::HttpParse::Incomplete) {
            if (m_c.closed(c.socket)) return close(c);  // the peer finished, or the connection ended
            if (now < c.deadline) return;
            g_stats.timeouts++;
            g_log.log("httpd: socket %u: no whole request head in %llu ms (%u bytes): closed", c.socket,
                      static_cast<ull>(g_idle_ns / 1'000'000), c.in_len);
            if (c.in_len == 0) return close(c);
            respond_error(c, 408);
        } else if (p == net::HttpParse::Ok) {
            answer(c, req);
            __builtin_memmove(c.in, c.in + req.head_bytes, c.in_len - req.head_bytes);
            c.in_len -= static_cast<u32>(req.head_bytes);
            if (c.in_len > 0) m_again = true;
        } else {
            const u16 status = net::http_status_for(p);
            g_log.log("httpd: socket %u: request refused %u (%s)", c.socket, status, net::http_reason(status));
            respond_error(c, status);
        }
        c.deadline = now + g_idle_ns;
        if (pump_out(c, now) && c.in_len > 0) m_again = true;
    }

    rt::SocketSession& m_s;
    net::SocketClient& m_c;
    u32 m_listener = 0;
    u32 m_accepts = 0;
    bool m_again = false;  // a connection has a request buffered already: no waiting
};

}  // namespace

int main(u64) {
    const Args args = rt::args();
    const u64 port = args.number("port", 80);
    if (port == 0 || port > 0xffff) {
        rt::log("httpd: bad port %llu", static_cast<ull>(port));
        return 1;
    }
    g_port = static_cast<u16>(port);
    g_idle_ns = args.number("idle_ms", 5000) * 1'000'000;
    g_devmgr = rt::startup_handle("devmgr");
    if (!g_devmgr) rt::log("httpd: no devmgr endpoint granted: /status lists no devices");
    const u32 service = rt::startup_handle("svc.netstack");
    if (!service) {
        rt::log("httpd: no svc.netstack granted (the netstack's `serve = httpd ports=80`)");
        return 1;
    }
    static rt::SocketSession session(service);
    g_attach = &session.attachment();
    static Server server(session);
    for (;;) {
        for (Conn& c : g_conns) c.state = Conn::State::Free;
        if (auto r = session.attach(); !r.ok()) {
            rt::log("httpd: attach: %s; again in 1 s", status_name(r.status()));
            rt::sleep_ns(kRetryNs);
            continue;
        }
        Status s = server.run();
        if (s == Status::NoRights) {
            // The port is not granted (bind refused): the manifest, not a
            // passing fault; attaching again would be refused the same.
            rt::log("httpd: port %u not granted by the netstack's serve line: exiting", g_port);
            return 1;
        }
        rt::log("httpd: channel lost (%s): attaching again", status_name(s));
        rt::sleep_ns(kRetryNs);
    }
}
