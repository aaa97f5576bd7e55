// socket_probe: a client of the netstack's Socket service (docs/netstack.md
// "Serving sockets"), speaking the rings by hand (raw requests: a test,
// not the client library). The scenario netstack_socket_serve runs two:
//
// role=client (the manifest's `serve = probe ports=7`):
//   1. attaches through svc.netstack (rt::SocketAttach);
//   2. opens a UDP socket and binds port 7, which it was granted; opens a
//      second and binds port 9, which it was not: NoRights;
//   3. "ready": the harness sends a datagram from the host through hostfwd
//      to port 7; it is echoed back byte for byte. Its text starts
//      "sink=<port>;": a UDP server the harness runs on the host, to which
//      it then sends 64 random bytes (as 10.0.2.2:<port>), logged in hex;
//   4. attaches again: the new channel is live, the old one answers Stale;
//   5. detaches: Ping answers Stale;
//   6. kills the netstack (the manifest lets it supervise it): init
//      restarts it with the same endpoint and client table, and the same
//      svc.netstack copy reaches the new one — a new generation.
// Before all that, two malformed calls: an Attach with no notification
// (invalid-argument) and a directory's Open (not-found: this endpoint is
// the service, not a directory of instances).
// role=outsider (no serve line names it): it has no svc.netstack slot.
#include "protocol/message.h"
#include "protocol/service.h"
#include "protocol/socket.h"
#include "rt/args.h"
#include "rt/log.h"
#include "rt/socket_attach.h"
#include "rt/sys.h"
#include "util/format.h"
#include "util/xorshift.h"

namespace {

using ull = unsigned long long;

constexpr u32 kGateway = 10u | 0u << 8 | 2u << 16 | 2u << 24;  // 10.0.2.2, network byte order
constexpr u32 kRingBytes = 4096;
constexpr u64 kEventWaitNs = 30'000'000'000;

class Probe {
public:
    explicit Probe(rt::SocketAttach& a) : m_a(a) {}

    void start() {
        m_requests = m_a.rings()->requests.producer();
        m_events = m_a.rings()->events.consumer();
        m_next_ring = 0;
        m_tx_tail[0] = m_tx_tail[1] = 0;
    }

    // One request, and the event that answers it (unsolicited ones are
    // noted on the way).
    bool request(abi::SocketRequest r, abi::SocketEvent& answer) {
        r.tag = ++m_tag;
        (void)m_requests.refresh();
        if (!m_requests.put(r)) return false;
        m_requests.publish();
        (void)m_a.kick();
        for (u64 deadline = rt::clock_ns() + kEventWaitNs;;) {
            abi::SocketEvent e;
            if (next_event(e, deadline) == false) return false;
            if (e.tag == r.tag) return answer = e, true;
        }
    }

    bool next_event(abi::SocketEvent& e, u64 deadline) {
        for (;;) {
            if (!m_events.ready() && !m_events.refresh().ok()) return false;
            if (m_events.take(&e)) {
                m_events.release();
                if (e.kind == abi::SocketEventKind::Readable && e.socket < 2) m_readable[e.socket] = true;
                return true;
            }
            u64 now = rt::clock_ns();
            if (now >= deadline) return false;
            (void)m_a.wait(deadline - now);
        }
    }

    // Open a UDP socket with its two rings placed next in the data area.
    Status open_udp(u32& socket) {
        abi::SocketRequest r{};
        r.op = abi::SocketRequestOp::Open;
        r.kind = abi::SocketKind::Udp;
        r.rx_offset = m_next_ring;
        r.rx_bytes = kRingBytes;
        r.tx_offset = m_next_ring + kRingBytes;
        r.tx_bytes = kRingBytes;
        abi::SocketEvent e;
        if (!request(r, e)) return Status::Timeout;
        if (e.status == Status::Ok) {
            socket = e.socket;
            if (socket < 2) m_rx_at[socket] = r.rx_offset, m_tx_at[socket] = r.tx_offset;
            m_next_ring += 2 * kRingBytes;
        }
        return e.status;
    }

    Status simple(abi::SocketRequestOp op, u32 socket, u16 port = 0, u32 count = 0) {
        abi::SocketRequest r{};
        r.op = op;
        r.socket = socket;
        r.port = port;
        r.count = count;
        abi::SocketEvent e;
        if (!request(r, e)) return Status::Timeout;
        return e.status;
    }

    // Waits for one datagram on `socket`: its source and payload.
    bool receive(u32 socket, u64 timeout_ns, abi::SocketDatagram& h, u8* payload, u32 max) {
        abi::SocketStreams& st = m_a.rings()->streams[socket];
        u8* ring = m_a.data() + m_rx_at[socket];
        for (u64 deadline = rt::clock_ns() + timeout_ns;;) {
            u32 head = st.rx.head;  // ours
            u32 tail = ring::detail::load_acquire(&st.rx.tail);
            if (tail - head >= sizeof h) {
                __builtin_memcpy(&h, ring + head % kRingBytes, sizeof h);
                u32 n = h.length < max ? h.length : max;
                for (u32 i = 0; i < n; i++) payload[i] = ring[(head + sizeof h + i) % kRingBytes];
                ring::detail::store_release(&st.rx.head, head + abi::socket_record_bytes(h.length));
                return true;
            }
            m_readable[socket] = false;
            abi::SocketEvent e;
            if (!next_event(e, deadline)) return false;
        }
    }

    // Sends one datagram to address:port from `socket`.
    Status send(u32 socket, u32 address, u16 port, const u8* payload, u16 length) {
        abi::SocketStreams& st = m_a.rings()->streams[socket];
        u8* ring = m_a.data() + m_tx_at[socket];
        const u32 record = abi::socket_record_bytes(length);
        u32& tail = m_tx_tail[socket];
        if (record > kRingBytes - (tail - ring::detail::load_acquire(&st.tx.head))) return Status::QuotaExceeded;
        abi::SocketDatagram h{address, port, length};
        __builtin_memcpy(ring + tail % kRingBytes, &h, sizeof h);
        for (u32 i = 0; i < length; i++) ring[(tail + sizeof h + i) % kRingBytes] = payload[i];
        tail += record;
        ring::detail::store_release(&st.tx.tail, tail);
        // A Send taken is not answered (lib/protocol/socket.h): published,
        // kicked, and waited for until the netstack consumed the record
        // (Writable) — the probe attaches again next, which drops whatever
        // the old channel still held — or refused it (an event with its tag).
        abi::SocketRequest r{};
        r.op = abi::SocketRequestOp::Send;
        r.socket = socket;
        r.count = record;
        r.tag = ++m_tag;
        (void)m_requests.refresh();
        if (!m_requests.put(r)) return Status::Busy;
        m_requests.publish();
        if (auto k = m_a.kick(); !k.ok()) return k.status();
        abi::socket_tx_want(st);  // Writable as the record goes
        for (u64 deadline = rt::clock_ns() + 10'000'000'000;;) {
            if (ring::detail::load_acquire(&st.tx.head) == tail) return Status::Ok;
            abi::SocketEvent e;
            if (!next_event(e, deadline)) return Status::Timeout;
            if (e.tag == r.tag) return e.status == Status::Ok ? Status::Malformed : e.status;
        }
    }

private:
    rt::SocketAttach& m_a;
    abi::SocketRequestProducer m_requests;
    abi::SocketEventConsumer m_events;
    u64 m_tag = 0;
    u32 m_next_ring = 0;
    u32 m_rx_at[2] = {}, m_tx_at[2] = {}, m_tx_tail[2] = {};
    bool m_readable[2] = {};
};

// A Ping of a channel other than the current one (the replaced one).
Status ping_channel(u32 service, u32 channel, u64 generation) {
    abi::Message m{};
    abi::put_body(m, abi::SocketChannelRequest{abi::SocketOp::Ping, channel, generation});
    if (auto r = rt::endpoint_call(service, m); !r.ok()) return r.status();
    return abi::reply_status(m);
}

int fail(const char* what, Status s) {
    rt::log("socket_probe: FAILED: %s: %s", what, status_name(s));
    return 1;
}

// A raw call: the reply's Status.
template <typename T>
Status raw_call(u32 service, const T& body) {
    abi::Message m{};
    abi::put_body(m, body);
    if (auto r = rt::endpoint_call(service, m); !r.ok()) return r.status();
    for (u32 i = 0; i < m.handle_count; i++) (void)rt::close(m.handles[i]);
    return abi::reply_status(m);
}

int client() {
    const u32 service = rt::startup_handle("svc.netstack");
    if (!service) return fail("no svc.netstack slot", Status::NotFound);
    Status bare = raw_call(service, abi::SocketOpRequest{abi::SocketOp::Attach, 0});
    Status open = raw_call(service, abi::ServiceOpenRequest{abi::ServiceOp::Open, 0});
    rt::log("socket_probe: attach with no notification: %s; directory open: %s", status_name(bare), status_name(open));
    if (bare != Status::InvalidArgument || open != Status::NotFound) return fail("malformed calls", bare);
    static rt::SocketAttach a(service);

    // Info, before any channel: a snapshot in a memory object of its own.
    // The first one's handle is kept: the second Info revokes it (a client
    // cannot hoard snapshots, whose memory is the netstack's).
    abi::Message m{};
    abi::put_body(m, abi::SocketOpRequest{abi::SocketOp::Info, 0});
    if (auto r = rt::endpoint_call(service, m); !r.ok()) return fail("info", r.status());
    if (abi::reply_status(m) != Status::Ok || m.handle_count != 1) return fail("info", abi::reply_status(m));
    rt::Handle first(m.handles[0]);
    auto first_at = rt::memory_map(first.get(), 0, 0);
    if (!first_at.ok()) return fail("info map", first_at.status());
    abi::SocketInfo info;
    __builtin_memcpy(&info, reinterpret_cast<const void*>(first_at.value()), sizeof info);
    (void)rt::memory_unmap(first.get(), first_at.value());
    if (auto r = a.info(info); !r.ok()) return fail("second info", r.status());
    auto again = rt::memory_map(first.get(), 0, 0);
    const u8* mac = info.mac;
    rt::log(
        "socket_probe: info: %s mac %02x:%02x:%02x:%02x:%02x:%02x, %u clients, %u attached; the first snapshot "
        "after a second info: %s",
        info.name, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], info.clients, info.attached,
        again.ok() ? "still mapped" : status_name(again.status()));
    if (again.ok()) return fail("the first snapshot outlived the second info", Status::Ok);
    if (auto r = a.attach(); !r.ok()) return fail("attach", r.status());
    rt::log("socket_probe: attached: channel %u, %u sockets, %u bytes of data", a.channel(), a.max_sockets(),
            a.data_bytes());
    static Probe p(a);
    p.start();
    u32 echo = 0, other = 0;
    if (Status s = p.open_udp(echo); s != Status::Ok) return fail("open", s);
    if (Status s = p.simple(abi::SocketRequestOp::Bind, echo, 7); s != Status::Ok) return fail("bind 7", s);
    if (Status s = p.open_udp(other); s != Status::Ok) return fail("open", s);
    Status refused = p.simple(abi::SocketRequestOp::Bind, other, 9);
    rt::log("socket_probe: bind of port 9 (not granted): %s", status_name(refused));
    if (refused != Status::NoRights) return fail("bind 9 was not refused no-rights", refused);
    rt::log("socket_probe: ready: udp echo on port 7");

    // The host's datagram, echoed to where it came from.
    abi::SocketDatagram h{};
    static u8 payload[1500];
    if (!p.receive(echo, 60'000'000'000, h, payload, sizeof payload)) return fail("no datagram", Status::Timeout);
    if (h.length > sizeof payload) return fail("datagram too long", Status::Truncated);
    if (Status s = p.send(echo, h.address, h.port, payload, h.length); s != Status::Ok) return fail("echo", s);
    rt::log("socket_probe: echoed %u bytes to port %u", h.length, h.port);
    u32 sink = 0;
    if (h.length < 6 || __builtin_memcmp(payload, "sink=", 5) != 0) return fail("no sink= in it", Status::Malformed);
    for (u32 i = 5; i < h.length && payload[i] >= '0' && payload[i] <= '9'; i++) sink = sink * 10 + (payload[i] - '0');
    if (sink == 0 || sink > 0xffff) return fail("bad sink port", Status::Malformed);
    u8 data[64];
    util::XorShift64 rng(rt::clock_ns() ^ 0x50c);
    for (u8& b : data) b = static_cast<u8>(rng.next() >> 56);
    if (Status s = p.send(echo, kGateway, static_cast<u16>(sink), data, sizeof data); s != Status::Ok)
        return fail("send to the sink", s);
    char hex[2 * sizeof data + 1];
    for (u32 i = 0; i < sizeof data; i++) format(hex + 2 * i, 3, "%02x", data[i]);
    rt::log("socket_probe: sent %u bytes to 10.0.2.2:%u: %s", static_cast<u32>(sizeof data), sink, hex);

    // Attaching again replaces the channel.
    const u32 old_channel = a.channel();
    if (auto r = a.attach(); !r.ok()) return fail("attach again", r.status());
    Status old_ping = ping_channel(service, old_channel, a.generation());
    auto new_ping = a.ping();
    rt::log("socket_probe: attached again: channel %u ping %s, old channel %u ping %s", a.channel(),
            status_name(new_ping.ok() ? Status::Ok : new_ping.status()), old_channel, status_name(old_ping));
    if (!new_ping.ok() || old_ping != Status::Stale) return fail("replace", old_ping);

    // Detach, then Ping: Stale.
    if (auto r = a.detach(); !r.ok()) return fail("detach", r.status());
    auto after = a.ping();
    rt::log("socket_probe: detached; ping: %s", status_name(after.ok() ? Status::Ok : after.status()));
    if (after.ok() || after.status() != Status::Stale) return fail("ping after detach", Status::Ok);

    // Attaching again and again: each Attach builds 2 MiB and closes the
    // old channel, so past a burst the netstack answers Busy; and what a
    // client's calls make it log is bounded (the rest counted, said with
    // its next line a second later).
    u32 busy = 0;
    for (u32 i = 0; i < 8; i++) {
        auto r = a.attach();
        if (r.ok()) continue;
        if (r.status() != Status::Busy) return fail("attach in a row", r.status());
        busy++;
    }
    for (u32 i = 0; i < 40; i++) (void)a.detach();  // Stale after the first: each refusal a line, within the budget
    rt::log("socket_probe: 8 attaches in a row: %u refused busy", busy);
    if (busy == 0) return fail("attaches in a row were all taken", Status::Ok);
    rt::sleep_ns(1'000'000'000);
    (void)a.ping();  // Stale: logged, with the count of what was not

    // The netstack killed and restarted by init: the same svc.netstack
    // copy reaches its successor (the endpoint is init's), a new
    // generation that knows this client from the same table.
    const u64 old_generation = a.generation();
    if (auto k = rt::process_kill(rt::startup_handle("netstack")); !k.ok()) return fail("kill netstack", k.status());
    if (auto r = a.attach(); !r.ok()) return fail("attach to the restarted netstack", r.status());
    rt::log("socket_probe: attached to the restarted netstack: channel %u, %u sockets, generation %s", a.channel(),
            a.max_sockets(), a.generation() != old_generation ? "new" : "SAME");
    if (a.generation() == old_generation) return fail("restart", Status::Stale);
    rt::log("socket_probe: done");
    return 0;
}

}  // namespace

int main(u64) {
    const Args args = rt::args();
    char role[16] = {};
    args.copy("role", role, sizeof role);
    if (__builtin_memcmp(role, "outsider", sizeof "outsider") == 0) {
        // No serve line names this process: init gave it nothing to call.
        u32 h = rt::startup_handle("svc.netstack");
        rt::log("socket_probe: outsider: svc.netstack slot %s", h ? "PRESENT" : "absent");
        return h ? 1 : 0;
    }
    return client();
}
