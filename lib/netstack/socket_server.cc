// The Socket service's server side (socket_server.h): what the netstack
// does with each request, and the byte rings between lwIP and a client.
#include "socket_server.h"

#include "host.h"
#include "resolve.h"
#include "util/format.h"

namespace netstack {

// What lwIP may hand a socket before the client reads (its receive window)
// fits the rx ring at once (lib/protocol/socket.h): the window reopens
// only as the client consumes the ring (refresh_rx), so ring content plus
// rx_pending never exceeds TCP_WND, and rx_pending is drained in full in
// the same call that received it.
static_assert(TCP_WND <= abi::kSocketMinTcpRxBytes, "a TCP rx ring must hold lwIP's whole window");

namespace {

// A free entry of an Echo or Resolve wait table (tag 0), or nullptr.
template <typename Wait, usize N>
Wait* free_wait(Wait (&waits)[N]) {
    for (auto& w : waits)
        if (w.tag == 0) return &w;
    return nullptr;
}

using abi::SocketEventKind;
using abi::SocketRequestOp;

u32 close_reason(err_t err) {
    switch (err) {
        case ERR_RST: return static_cast<u32>(abi::SocketCloseReason::PeerReset);
        case ERR_CLSD: return static_cast<u32>(abi::SocketCloseReason::PeerFinished);
        default: return static_cast<u32>(abi::SocketCloseReason::Aborted);
    }
}

// [a, a+al) and [b, b+bl) share a byte.
bool overlap(u32 a, u32 al, u32 b, u32 bl) { return a < b + bl && b < a + al; }

}  // namespace

Result<void> SocketChannel::open(abi::SocketRings* rings, u8* data, u32 data_bytes, const SocketClientConfig& config) {
    if (m_rings != nullptr) return Status::Busy;
    if (rings == nullptr || data == nullptr || config.max_sockets > abi::kSocketMaxSockets ||
        (config.port_count != 0 && config.ports == nullptr) || config.udp_datagrams_per_turn == 0 ||
        config.udp_bytes_per_turn == 0 || !socket_quotas_fit(1, config))
        return Status::InvalidArgument;
    __builtin_memset(static_cast<void*>(rings), 0, sizeof *rings);
    m_rings = rings;
    m_data = data;
    m_data_bytes = data_bytes;
    m_config = config;
    m_broken = false;
    m_owed = 0;
    m_more = false;
    m_counters = {};
    m_requests = rings->requests.consumer();
    m_events = rings->events.producer();
    m_signalled_tail = m_events.tail();
    for (u32 i = 0; i < abi::kSocketMaxSockets; i++) {
        m_sockets[i] = SocketSlot{};
        m_sockets[i].owner = this;
        m_sockets[i].index = i;
    }
    return {};
}

void SocketChannel::close() {
    if (m_rings == nullptr) return;
    for (auto& s : m_sockets) {
        if (s.state == Socket::State::Free) continue;
        if (s.tcp != nullptr) {
            // No callback may reach this channel again.
            tcp_arg(s.tcp, nullptr);
            if (s.state == Socket::State::Listening) {
                tcp_close(s.tcp);  // a listening pcb has no peer to reset (nor an err callback)
            } else {
                tcp_err(s.tcp, nullptr);
                tcp_abort(s.tcp);
            }
            s.tcp = nullptr;
        }
        release(s);
    }
    for (auto& e : m_echoes) {
        e.ping.stop();  // no reply can reach this channel again
        e.tag = 0;
    }
    for (auto& w : m_resolves) {
        if (w.tag != 0) resolve_release(w.slot);  // lwIP's late answer reaches nothing
        w.tag = 0;
    }
    m_owed = 0;
    m_rings = nullptr;
    m_data = nullptr;
}

// What this client holds of lwIP's shared pools (SocketClientConfig's
// quotas). A pcb the slot forgot (handed to lwIP) is lwIP's to reclaim.
SocketChannel::Usage SocketChannel::usage() const {
    Usage u;
    for (auto& s : m_sockets) {
        if (s.state == Socket::State::Udp) u.udp++;
        if (s.state == Socket::State::Listening) {
            u.listeners++;
            u.tcp += s.backlog;
        } else if (s.tcp != nullptr) {
            u.tcp++;
            u.tcp_queued += TCP_SND_BUF - tcp_sndbuf(s.tcp);
            u.tcp_segments += tcp_sndqueuelen(s.tcp);
        }
    }
    return u;
}

u32 SocketChannel::open_sockets() const {
    u32 n = 0;
    for (auto& s : m_sockets) n += s.state != Socket::State::Free;
    return n;
}

// Frees everything a socket holds but its TCP pcb (the caller has dealt
// with that) and makes its index free.
void SocketChannel::release(Socket& s) {
    if (s.udp != nullptr) udp_remove(s.udp);
    if (s.rx_pending != nullptr) pbuf_free(s.rx_pending);
    for (u32 i = 0; i < s.waiting_count; i++) {
        if (s.waiting[i].pcb == nullptr) continue;
        tcp_arg(s.waiting[i].pcb, nullptr);
        tcp_err(s.waiting[i].pcb, nullptr);
        tcp_abort(s.waiting[i].pcb);
    }
    m_owed -= s.accept_count;
    if (s.state == Socket::State::Connecting || s.state == Socket::State::Closing) m_owed--;
    u32 index = s.index;
    s = SocketSlot{};
    s.owner = this;
    s.index = index;
}

void SocketChannel::breach(const char* what, u32 socket, u32 value) {
    char line[160];
    format(line, sizeof line, "socket: client %llx broke the ring protocol (%s, socket %u, value %u): channel closed",
           static_cast<unsigned long long>(m_config.badge), what, socket, value);
    host().log(line);
    m_broken = true;
    close();
}

void SocketChannel::refuse(const abi::SocketRequest& r, Status status, const char* why) {
    if (m_why != nullptr) why = m_why;  // a check said more precisely
    m_why = nullptr;
    m_counters.refused++;
    // The netstack's log budget is the kernel's per process, shared by
    // every client: one client's refusals get a bucket of their own, and
    // what it drops is counted and said with its next line.
    if (!m_refusal_log.take(host().now_ns())) {
        m_refusals_unlogged++;
        return;
    }
    char line[224];
    usize n = format(line, sizeof line, "socket: client %llx request %u on socket %u refused %s: %s",
                     static_cast<unsigned long long>(m_config.badge), static_cast<unsigned>(r.op), r.socket,
                     status_name(status), why);
    if (m_refusals_unlogged && n < sizeof line)
        format(line + n, sizeof line - n, " (%llu more refusals not logged)",
               static_cast<unsigned long long>(m_refusals_unlogged));
    m_refusals_unlogged = 0;
    host().log(line);
}

// An event may be posted (unsolicited, or a request taken) only while the
// ring keeps room for every answer owed.
bool SocketChannel::can_post() const { return m_events.room() > m_owed; }

void SocketChannel::answer(u64 tag, SocketEventKind kind, u32 socket, Status status, u32 address, u16 port,
                           u32 detail) {
    abi::SocketEvent e{};
    e.tag = tag;
    e.kind = kind;
    e.socket = socket;
    e.status = status;
    e.address = address;
    e.port = port;
    e.detail = detail;
    // Room is guaranteed (can_post, m_owed); a full ring here would be our bug.
    if (!m_events.put(e)) host().fatal("socket: event ring full");
}

bool SocketChannel::poll() {
    if (m_rings == nullptr) return false;
    m_more = false;
    m_turn_datagrams = m_turn_bytes = 0;
    if (!m_events.refresh().ok()) {
        breach("event head", 0, m_events.bad_index());
        return false;
    }
    take_requests();
    for (auto& s : m_sockets) {
        if (m_rings == nullptr) return false;
        if (s.state != Socket::State::Free) service(s);
    }
    if (m_rings == nullptr) return false;
    service_echoes();
    service_resolves();
    if (m_rings == nullptr) return false;
    m_requests.release();
    m_events.publish();
    // Every event since the last signal counts, not only this turn's: lwIP's
    // callbacks between turns (a connection accepted, an echo or a lookup
    // finished) answer too, and a client waiting on one of those would
    // otherwise sleep until something else woke it.
    const bool any = m_events.tail() != m_signalled_tail;
    m_signalled_tail = m_events.tail();
    return any;
}

void SocketChannel::take_requests() {
    if (!m_requests.refresh().ok()) {
        breach("request tail", 0, m_requests.bad_index());
        return;
    }
    abi::SocketRequest r;
    while (m_rings != nullptr && can_post() && m_requests.take(&r)) {
        m_counters.requests++;
        handle(r);
    }
}

Status SocketChannel::check_rings(const abi::SocketRequest& r, bool tcp) {
    for (u32 bytes : {r.rx_bytes, r.tx_bytes})
        if (!ring::valid_byte_capacity(bytes) || bytes < abi::kSocketMinRingBytes || bytes > abi::kSocketMaxRingBytes)
            return Status::InvalidArgument;
    if (tcp && r.rx_bytes < abi::kSocketMinTcpRxBytes) {
        m_why = "rx ring smaller than the TCP window (kSocketMinTcpRxBytes)";
        return Status::InvalidArgument;
    }
    for (u32 offset : {r.rx_offset, r.tx_offset})
        if (offset % abi::kSocketRingAlign != 0) return Status::InvalidArgument;
    if (u64{r.rx_offset} + r.rx_bytes > m_data_bytes || u64{r.tx_offset} + r.tx_bytes > m_data_bytes)
        return Status::OutOfBounds;
    if (overlap(r.rx_offset, r.rx_bytes, r.tx_offset, r.tx_bytes)) return Status::InvalidArgument;
    // Two sockets writing one range would corrupt only this client's data,
    // but it cannot be what a client meant: refuse it.
    for (auto& s : m_sockets) {
        if (s.state == Socket::State::Free) continue;
        u32 ranges[2][2] = {{s.rx_offset, s.rx_bytes}, {s.tx_offset, s.tx_bytes}};
        for (auto& g : ranges)
            if (g[1] != 0 &&
                (overlap(g[0], g[1], r.rx_offset, r.rx_bytes) || overlap(g[0], g[1], r.tx_offset, r.tx_bytes)))
                return Status::InvalidArgument;
        for (u32 i = 0; i < s.accept_count; i++) {
            auto& a = s.accepts[i];
            if (overlap(a.rx_offset, a.rx_bytes, r.rx_offset, r.rx_bytes) ||
                overlap(a.rx_offset, a.rx_bytes, r.tx_offset, r.tx_bytes) ||
                overlap(a.tx_offset, a.tx_bytes, r.rx_offset, r.rx_bytes) ||
                overlap(a.tx_offset, a.tx_bytes, r.tx_offset, r.tx_bytes))
                return Status::InvalidArgument;
        }
    }
    return Status::Ok;
}

bool SocketChannel::port_granted(u16 port) const {
    if (port == 0) return true;  // ephemeral: lwIP picks one of its own range
    for (u32 i = 0; i < m_config.port_count; i++)
        if (m_config.ports[i] == port) return true;
    return false;
}

void SocketChannel::handle(const abi::SocketRequest& r) {
    auto refused = [&](Status st, const char* why) {
        refuse(r, st, why);
        answer(r.tag, SocketEventKind::Done, r.socket, st);
    };
    if (r.op == SocketRequestOp::Resolve) {
        Status st = do_resolve(r);
        if (st != Status::Ok) refused(st, "resolve");
        return;
    }
    bool carries_rings = r.op == SocketRequestOp::Open || r.op == SocketRequestOp::Accept;
    if (!carries_rings && (r.rx_offset | r.rx_bytes | r.tx_offset | r.tx_bytes) != 0)
        return refused(Status::InvalidArgument, "ring fields set");
    if (r.op != SocketRequestOp::Open && r.kind != abi::SocketKind{0})
        return refused(Status::InvalidArgument, "kind set");
    if (r.op == SocketRequestOp::Echo) {
        Status st = do_echo(r);
        if (st != Status::Ok) refused(st, "echo");
        return;
    }
    if (r.op == SocketRequestOp::Open) {
        u32 index = 0;
        Status st = do_open(r, &index);
        if (st != Status::Ok) return refused(st, "open");
        return answer(r.tag, SocketEventKind::Done, index, Status::Ok);
    }
    // The index names a slot of this client's own table, nothing else.
    if (r.socket >= abi::kSocketMaxSockets || m_sockets[r.socket].state == Socket::State::Free)
        return refused(Status::NotFound, "no such socket");
    Socket& s = m_sockets[r.socket];
    // A TCP socket whose connection lwIP ended (reset, refused, aborted)
    // has no pcb left: only Close means anything now.
    bool gone = s.state != Socket::State::Udp && s.tcp == nullptr;
    if (gone && r.op != SocketRequestOp::Close) return refused(Status::Stale, "connection gone");
    Status st = Status::InvalidArgument;
    switch (r.op) {
        case SocketRequestOp::Bind: st = do_bind(s, r); break;
        case SocketRequestOp::Connect: st = do_connect(s, r); break;
        case SocketRequestOp::Listen: st = do_listen(s, r); break;
        case SocketRequestOp::Accept: st = do_accept(s, r); break;
        case SocketRequestOp::Send: st = do_send(s, r); break;
        case SocketRequestOp::Close: st = do_close(s, r); break;
        case SocketRequestOp::Shutdown: st = do_shutdown(s, r); break;
        default: break;
    }
    // Ok: answered already (or owed). Else refused here.
    if (st != Status::Ok && m_rings != nullptr) refused(st, "request");
}

Status SocketChannel::do_echo(const abi::SocketRequest& r) {
    if (r.socket != 0 || r.port != 0) return Status::InvalidArgument;
    if (r.count == 0 || r.count > abi::kSocketMaxEchoTimeoutMs) {
        m_why = "timeout out of range";
        return Status::InvalidArgument;
    }
    ip4_addr_t target;
    ip4_addr_set_u32(&target, r.address);
    // One host, not many: a broadcast (255.255.255.255, or the subnet's
    // own, which lwIP would send as a link broadcast) or a multicast Echo
    // would have every host on the link answer a client's request, and
    // 0.0.0.0/8 names no host at all.
    if ((r.address & PP_HTONL(0xff00'0000u)) == 0 || ip4_addr_ismulticast(&target) ||
        ip4_addr_isbroadcast(&target, netif_default)) {
        m_why = "not one host (a broadcast, multicast or 0.0.0.0/8 address)";
        return Status::InvalidArgument;
    }
    EchoWait* w = free_wait(m_echoes);
    if (w == nullptr) {
        m_why = "Echoes unanswered (kSocketMaxEchoes)";
        return Status::QuotaExceeded;
    }
    w->finished = false;
    if (auto st = w->ping.start(target, 1, 0, u64{r.count} * 1'000'000, echo_result_cb, w); !st.ok())
        return st.status();
    w->tag = r.tag;
    w->address = r.address;
    m_owed++;
    w->ping.poll();  // sent now
    return Status::Ok;
}

void SocketChannel::echo_result_cb(void* ctx, const PingResult& result) {
    auto* w = static_cast<EchoWait*>(ctx);
    w->result = result;
    w->finished = true;
}

// Echoes whose reply came or whose time ran out are answered (the room
// was kept: m_owed).
void SocketChannel::service_echoes() {
    for (auto& w : m_echoes) {
        if (w.tag == 0) continue;
        if (!w.finished) w.ping.poll();
        if (!w.finished) continue;
        w.ping.stop();
        m_owed--;
        u64 us = w.result.rtt_ns / 1000;
        answer(w.tag, SocketEventKind::Done, 0, w.result.replied ? Status::Ok : Status::Timeout, w.address, 0,
               static_cast<u32>(us > 0xffff'ffffu ? 0xffff'ffffu : us));
        w.tag = 0;
    }
}

Status SocketChannel::do_resolve(const abi::SocketRequest& r) {
    if (r.socket != 0 || r.port != 0 || r.address != 0 || r.count != 0 || r.kind != abi::SocketKind{0} ||
        r.tx_offset != 0 || r.tx_bytes != 0)
        return Status::InvalidArgument;
    if (r.rx_bytes == 0 || r.rx_bytes > abi::kSocketMaxNameBytes) {
        m_why = "name length out of range (1..kSocketMaxNameBytes)";
        return Status::InvalidArgument;
    }
    if (u64{r.rx_offset} + r.rx_bytes > m_data_bytes) {
        m_why = "name outside the data area";
        return Status::OutOfBounds;
    }
    // Read once into our own buffer (the client can rewrite its data area
    // at any time), and checked there.
    char name[abi::kSocketMaxNameBytes + 1];
    __builtin_memcpy(name, m_data + r.rx_offset, r.rx_bytes);
    name[r.rx_bytes] = 0;
    if (!abi::socket_host_name_valid(name, r.rx_bytes)) {
        m_why = "not a host name";
        return Status::InvalidArgument;
    }
    ResolveWait* w = free_wait(m_resolves);
    if (w == nullptr) {
        m_why = "Resolves unanswered (kSocketMaxResolves)";
        return Status::QuotaExceeded;
    }
    auto started = resolve_start(name, m_config.badge, m_config.max_resolves);
    if (!started.ok()) {
        m_why = started.status() == Status::QuotaExceeded
                    ? "the client's share of the resolver's table is taken (lookups of its closed channels count)"
                    : "the resolver's table is full";
        return started.status();
    }
    if (started.value().answered) {
        answer(r.tag, SocketEventKind::Done, 0, Status::Ok, started.value().address);
        return Status::Ok;
    }
    w->tag = r.tag;
    w->slot = started.value().slot;
    m_owed++;
    return Status::Ok;
}

// Lookups lwIP finished are answered (the room was kept: m_owed).
void SocketChannel::service_resolves() {
    for (auto& w : m_resolves) {
        if (w.tag == 0) continue;
        bool found = false;
        u32 address = 0;
        if (!resolve_result(w.slot, &found, &address)) continue;
        resolve_release(w.slot);
        m_owed--;
        answer(w.tag, SocketEventKind::Done, 0, found ? Status::Ok : Status::NotFound, address);
        w.tag = 0;
    }
}

Status SocketChannel::do_open(const abi::SocketRequest& r, u32* index) {
    if (r.kind != abi::SocketKind::Udp && r.kind != abi::SocketKind::Tcp) return Status::InvalidArgument;
    if (r.socket != 0 || r.port != 0 || r.address != 0 || r.count != 0) return Status::InvalidArgument;
    if (open_sockets() >= m_config.max_sockets) return Status::QuotaExceeded;
    Usage u = usage();
    if (r.kind == abi::SocketKind::Udp ? u.udp >= m_config.max_udp : u.tcp >= m_config.max_tcp) {
        m_why = r.kind == abi::SocketKind::Udp ? "UDP socket quota (max_udp)" : "TCP quota (max_tcp)";
        return Status::QuotaExceeded;
    }
    Status st = check_rings(r, r.kind == abi::SocketKind::Tcp);
    if (st != Status::Ok) return st;
    Socket* s = nullptr;
    for (auto& c : m_sockets)
        if (c.state == Socket::State::Free) {
            s = &c;
            break;
        }
    if (s == nullptr) return Status::QuotaExceeded;
    if (r.kind == abi::SocketKind::Udp) {
        s->udp = udp_new();
        if (s->udp == nullptr) return Status::NoMemory;
        udp_recv(s->udp, udp_recv_cb, s);
        s->state = Socket::State::Udp;
    } else {
        s->tcp = tcp_new();
        if (s->tcp == nullptr) return Status::NoMemory;
        tcp_arg(s->tcp, s);
        tcp_err(s->tcp, tcp_err_cb);
        s->state = Socket::State::Tcp;
    }
    place_rings(*s, r.rx_offset, r.rx_bytes, r.tx_offset, r.tx_bytes);
    *index = s->index;
    return Status::Ok;
}

Status SocketChannel::do_bind(Socket& s, const abi::SocketRequest& r) {
    if (r.count != 0 || s.bound) return Status::InvalidArgument;
    if (s.state != Socket::State::Udp && s.state != Socket::State::Tcp) return Status::InvalidArgument;
    if (!port_granted(r.port)) return Status::NoRights;
    ip_addr_t addr;
    ip_addr_set_ip4_u32(&addr, r.address);
    err_t err = s.udp != nullptr ? udp_bind(s.udp, &addr, r.port) : tcp_bind(s.tcp, &addr, r.port);
    if (err == ERR_USE) return Status::Busy;
    if (err != ERR_OK) return Status::InvalidArgument;  // ERR_VAL: an address not ours
    s.bound = true;
    answer(r.tag, SocketEventKind::Done, s.index, Status::Ok);
    return Status::Ok;
}

Status SocketChannel::do_connect(Socket& s, const abi::SocketRequest& r) {
    if (r.count != 0 || r.port == 0 || r.address == 0) return Status::InvalidArgument;
    ip_addr_t addr;
    ip_addr_set_ip4_u32(&addr, r.address);
    if (s.state == Socket::State::Udp) {
        if (udp_connect(s.udp, &addr, r.port) != ERR_OK) return Status::InvalidArgument;
        s.bound = true;
        answer(r.tag, SocketEventKind::Connected, s.index, Status::Ok);
        return Status::Ok;
    }
    if (s.state != Socket::State::Tcp) return Status::InvalidArgument;
    err_t err = tcp_connect(s.tcp, &addr, r.port, tcp_connected_cb);
    if (err == ERR_MEM) return Status::NoMemory;
    if (err != ERR_OK) return Status::InvalidArgument;
    tcp_recv(s.tcp, tcp_recv_cb);
    tcp_sent(s.tcp, tcp_sent_cb);
    s.bound = true;
    s.state = Socket::State::Connecting;
    s.connect_tag = r.tag;
    m_owed++;
    return Status::Ok;
}

Status SocketChannel::do_listen(Socket& s, const abi::SocketRequest& r) {
    if (s.state != Socket::State::Tcp || !s.bound || r.count == 0 || r.count > abi::kSocketMaxBacklog)
        return Status::InvalidArgument;
    // The socket's own pcb becomes a listener's; its backlog's pcbs count.
    Usage u = usage();
    if (u.listeners >= m_config.max_listeners || u.tcp - 1 + r.count > m_config.max_tcp) {
        m_why = u.listeners >= m_config.max_listeners ? "listener quota (max_listeners)"
                                                      : "TCP quota (max_tcp) short of the backlog";
        return Status::QuotaExceeded;
    }
    err_t err = ERR_OK;
    struct tcp_pcb* listener = tcp_listen_with_backlog_and_err(s.tcp, static_cast<u8>(r.count), &err);
    if (listener == nullptr) return Status::NoMemory;  // s.tcp is still valid then
    s.tcp = listener;                                  // lwIP freed the old pcb
    tcp_arg(listener, &s);
    tcp_accept(listener, tcp_accept_cb);
    s.state = Socket::State::Listening;
    s.backlog = r.count;
    answer(r.tag, SocketEventKind::Done, s.index, Status::Ok);
    return Status::Ok;
}

Status SocketChannel::do_accept(Socket& s, const abi::SocketRequest& r) {
    if (s.state != Socket::State::Listening || r.count != 0 || r.port != 0 || r.address != 0)
        return Status::InvalidArgument;
    // Owed answers hold event-ring room; a client owed too many would have
    // no room left for the requests (Close) that would end them.
    if (s.accept_count >= abi::kSocketMaxBacklog || m_owed >= abi::kSocketMaxOwed) return Status::QuotaExceeded;
    Status st = check_rings(r, true);
    if (st != Status::Ok) return st;
    s.accepts[s.accept_count++] = {r.tag, r.rx_offset, r.rx_bytes, r.tx_offset, r.tx_bytes};
    m_owed++;
    match_accepts(s);
    return Status::Ok;
}

Status SocketChannel::do_send(Socket& s, const abi::SocketRequest& r) {
    if (r.port != 0 || r.address != 0) return Status::InvalidArgument;
    bool udp = s.state == Socket::State::Udp;
    if (!udp && (s.state != Socket::State::Connected || s.shut_write)) return Status::InvalidArgument;
    if (!refresh_tx(s)) return Status::Ok;  // the channel is closed
    // Only bytes the client has published can be announced.
    if (r.count > s.tx.tail_seen() - s.tx_announced) return Status::InvalidArgument;
    s.tx_announced += r.count;
    // Taken: no answer (lib/protocol/socket.h, Send). An event per Send
    // would wake the client once per datagram for nothing; Writable says
    // when room comes back.
    return Status::Ok;
}

Status SocketChannel::do_close(Socket& s, const abi::SocketRequest& r) {
    if (r.count != 0 || r.port != 0 || r.address != 0) return Status::InvalidArgument;
    if (s.state == Socket::State::Closing) return Status::InvalidArgument;
    if (s.state == Socket::State::Listening) {
        close_listener(s);
        answer(r.tag, SocketEventKind::Done, r.socket, Status::Ok);
        return Status::Ok;
    }
    if (s.state == Socket::State::Connected) {
        // Graceful: the announced bytes go first, then FIN (finish_close).
        s.state = Socket::State::Closing;
        s.close_tag = r.tag;
        m_owed++;
        return Status::Ok;
    }
    if (s.tcp != nullptr) {
        tcp_arg(s.tcp, nullptr);
        tcp_err(s.tcp, nullptr);
        tcp_abort(s.tcp);  // unconnected or connecting: nothing to finish
        s.tcp = nullptr;
    }
    if (s.state == Socket::State::Connecting) {
        answer(s.connect_tag, SocketEventKind::Connected, s.index, Status::Stale, 0, 0,
               static_cast<u32>(abi::SocketCloseReason::Aborted));
    }
    release(s);
    answer(r.tag, SocketEventKind::Done, r.socket, Status::Ok);
    return Status::Ok;
}

// Detaches the slot from its pcb: no callback reaches it again, and lwIP
// finishes (or frees) the pcb on its own.
void SocketChannel::forget_tcp(Socket& s) {
    if (s.tcp == nullptr) return;
    tcp_arg(s.tcp, nullptr);
    tcp_err(s.tcp, nullptr);
    tcp_sent(s.tcp, nullptr);
    tcp_recv(s.tcp, nullptr);
    s.tcp = nullptr;
}

Status SocketChannel::do_shutdown(Socket& s, const abi::SocketRequest& r) {
    u32 how = r.count;
    if (s.state != Socket::State::Connected || how == 0 ||
        (how & ~(abi::kSocketShutdownRead | abi::kSocketShutdownWrite)) != 0)
        return Status::InvalidArgument;
    bool read = (how & abi::kSocketShutdownRead) != 0 && !s.shut_read;
    bool write = (how & abi::kSocketShutdownWrite) != 0 && !s.shut_write;
    if (write) {
        // The FIN goes after every announced byte: hand lwIP what it takes
        // now; the rest makes the client try again after Writable, posted
        // once they are all taken (drain_owed: the client may never have
        // run short of room, so tx_wanted would not ask for it).
        push_tcp(s);
        if (s.tx.head() != s.tx_announced) {
            s.drain_owed = true;
            return Status::Busy;
        }
    }
    if (read || write) {
        bool both = (s.shut_read || read) && (s.shut_write || write);
        // After our FIN, the peer's (already seen, or both directions shut)
        // lets lwIP free the pcb with no callback (TIME_WAIT, LAST_ACK with
        // the receive side closed): it is lwIP's from here.
        bool hand_over = both || (write && s.peer_finished);
        struct tcp_pcb* pcb = s.tcp;
        if (hand_over) forget_tcp(s);
        // A two-way shutdown may free the pcb before it returns (a reset
        // when the client left bytes unread).
        err_t err = tcp_shutdown(pcb, read, write);
        if (err != ERR_OK) {
            if (!hand_over) return Status::NoMemory;
            tcp_abort(pcb);  // ours no longer: it must not linger unowned
        }
    }
    s.shut_read |= (how & abi::kSocketShutdownRead) != 0;
    s.shut_write |= (how & abi::kSocketShutdownWrite) != 0;
    answer(r.tag, SocketEventKind::Done, s.index, Status::Ok);
    return Status::Ok;
}

void SocketChannel::close_listener(Socket& s) {
    for (u32 i = 0; i < s.accept_count; i++)
        answer(s.accepts[i].tag, SocketEventKind::Accepted, s.index, Status::Stale);
    m_owed -= s.accept_count;
    s.accept_count = 0;
    tcp_arg(s.tcp, nullptr);
    tcp_close(s.tcp);  // a listener's close cannot fail
    s.tcp = nullptr;
    release(s);
}

// --- Byte rings ---------------------------------------------------------------

// A new socket's rings, checked by check_rings: both views start at 0.
void SocketChannel::place_rings(Socket& s, u32 rx_offset, u32 rx_bytes, u32 tx_offset, u32 tx_bytes) {
    s.rx_offset = rx_offset;
    s.rx_bytes = rx_bytes;
    s.tx_offset = tx_offset;
    s.tx_bytes = tx_bytes;
    abi::SocketStreams& streams = m_rings->streams[s.index];
    streams = {};
    s.rx = ring::ByteProducer(streams.rx, m_data + rx_offset, rx_bytes);
    s.tx = ring::ByteConsumer(streams.tx, m_data + tx_offset, tx_bytes);
    s.tx_announced = 0;
}

// The client's rx head: forward only, never past our tail (the view's
// rules). Its reading is what reopens TCP's window.
bool SocketChannel::refresh_rx(Socket& s) {
    u32 before = s.rx.head_seen();
    if (!s.rx.refresh().ok()) {
        breach("rx head", s.index, s.rx.bad_index());
        return false;
    }
    u32 consumed = s.rx.head_seen() - before;
    for (; consumed > 0 && s.tcp != nullptr && s.state != Socket::State::Listening;) {
        u16 n = consumed > 0xffff ? 0xffff : static_cast<u16>(consumed);
        tcp_recved(s.tcp, n);
        consumed -= n;
    }
    return true;
}

// The client's tx tail: forward only, never more than the ring ahead of
// our head.
bool SocketChannel::refresh_tx(Socket& s) {
    if (!s.tx.refresh().ok()) {
        breach("tx tail", s.index, s.tx.bad_index());
        return false;
    }
    return true;
}

// --- Per-socket turn ------------------------------------------------------------

void SocketChannel::service(Socket& s) {
    if (s.state != Socket::State::Listening) {
        if (!refresh_rx(s)) return;
        drain_rx(s);
        if (s.state == Socket::State::Udp) push_udp(s);
        if (s.state == Socket::State::Connected || s.state == Socket::State::Closing) push_tcp(s);
        if (m_rings == nullptr) return;
        if (s.state == Socket::State::Closing) finish_close(s);
    }
    if (s.state != Socket::State::Free) post_unsolicited(s);
}

void SocketChannel::post_unsolicited(Socket& s) {
    if (s.want_readable && can_post()) {
        answer(0, SocketEventKind::Readable, s.index, Status::Ok);
        s.want_readable = false;
    }
    if (s.want_writable && can_post()) {
        answer(0, SocketEventKind::Writable, s.index, Status::Ok);
        s.want_writable = false;
    }
    // Closed only after every received byte is in the ring.
    if (s.want_closed && s.rx_pending == nullptr && can_post()) {
        answer(0, SocketEventKind::Closed, s.index, Status::Ok, 0, 0, s.close_reason);
        s.want_closed = false;
    }
}

// TCP: what lwIP handed us and the ring could not take yet.
void SocketChannel::drain_rx(Socket& s) {
    while (s.rx_pending != nullptr) {
        u32 run = 0;
        u8* at = s.rx.contiguous(&run);
        if (run == 0) break;  // the rest waits for the client; what was copied is published below
        u16 n = static_cast<u16>(run < s.rx_pending->tot_len ? run : s.rx_pending->tot_len);
        pbuf_copy_partial(s.rx_pending, at, n, 0);
        s.rx.produce(n);
        s.want_readable = true;
        s.rx_pending = pbuf_free_header(s.rx_pending, n);
    }
    s.rx.publish();
}

void SocketChannel::push_tcp(Socket& s) {
    if (s.tcp == nullptr) return;
    u32 start = s.tx.head();
    while (s.tx.head() != s.tx_announced) {
        // lwIP's room for this connection, within the client's share of the
        // heap and segments (its other connections' unacknowledged data).
        Usage u = usage();
        if (u.tcp_queued >= m_config.max_tcp_queued || u.tcp_segments >= m_config.max_tcp_segments) break;
        u32 room = tcp_sndbuf(s.tcp);
        if (room > m_config.max_tcp_queued - u.tcp_queued) room = m_config.max_tcp_queued - u.tcp_queued;
        if (room == 0) break;
        u32 n = 0;
        const u8* at = s.tx.contiguous(&n);
        if (n > s.tx_announced - s.tx.head()) n = s.tx_announced - s.tx.head();
        if (n > room) n = room;
        if (n > 0xffff) n = 0xffff;
        // Copied: the client may rewrite its ring the moment the head moves.
        if (tcp_write(s.tcp, at, static_cast<u16>(n), TCP_WRITE_FLAG_COPY) != ERR_OK) {
            m_more = true;  // lwIP's heap or segments short: again next turn
            break;
        }
        s.tx.consume(n);
    }
    if (s.tx.head() != start) {
        tcp_output(s.tcp);
        s.tx.release();
        tx_room_back(s);
    }
}

// Sends the announced datagrams within the turn's budget. Whatever lwIP or
// the NIC cannot take now (no pbuf, no transmit buffer: ERR_MEM) stays in
// the ring for the next turn, never dropped; a datagram lwIP refuses for
// good (no route, no destination) is dropped and counted (tx_dropped).
void SocketChannel::push_udp(Socket& s) {
    u32 start = s.tx.head();
    while (s.tx.head() != s.tx_announced) {
        abi::SocketDatagram d;
        u32 left = s.tx_announced - s.tx.head();
        if (left < sizeof d) return breach("datagram header", s.index, left);
        s.tx.peek(0, &d, sizeof d);  // copied once: only the copy is used
        u32 record = abi::socket_record_bytes(d.length);
        if (d.length > abi::kSocketMaxDatagram || record > left) return breach("datagram length", s.index, d.length);
        if (m_turn_datagrams >= m_config.udp_datagrams_per_turn ||
            (m_turn_datagrams > 0 && m_turn_bytes + d.length > m_config.udp_bytes_per_turn)) {
            m_more = true;  // the budget is spent: next turn
            break;
        }
        struct pbuf* p = pbuf_alloc(PBUF_TRANSPORT, d.length, PBUF_RAM);
        if (p == nullptr) {  // lwIP's heap is short: next turn
            m_more = true;
            break;
        }
        s.tx.peek(sizeof d, p->payload, d.length);
        err_t err;
        if (d.address != 0 || d.port != 0) {
            ip_addr_t to;
            ip_addr_set_ip4_u32(&to, d.address);
            err = udp_sendto(s.udp, p, &to, d.port);
        } else {
            err = udp_send(s.udp, p);  // ERR_VAL when there is no Connect destination
        }
        pbuf_free(p);
        if (err == ERR_MEM) {  // no buffer on the way down (the NIC's all in flight): next turn
            m_more = true;
            break;
        }
        if (err != ERR_OK) m_counters.tx_dropped++;
        m_turn_datagrams++;
        m_turn_bytes += d.length;
        s.tx.consume(record);
    }
    if (s.tx.head() != start) {
        s.tx.release();
        tx_room_back(s);
    }
}

// Writable only for a client waiting for room (SocketStreams::tx_wanted),
// or for the drain a refused write Shutdown waits for: one that sent a
// datagram and waits for its echo is not woken for it.
void SocketChannel::tx_room_back(Socket& s) {
    if (abi::socket_tx_wanted_taken(m_rings->streams[s.index])) s.want_writable = true;
    if (s.drain_owed && s.tx.head() == s.tx_announced) {
        s.drain_owed = false;
        s.want_writable = true;
    }
}

void SocketChannel::finish_close(Socket& s) {
    if (s.tcp != nullptr && s.tx.head() != s.tx_announced) return;  // bytes still to hand to lwIP
    if (s.tcp != nullptr) {
        // lwIP finishes the connection on its own (FIN, the peer's ACK,
        // TIME_WAIT), discarding whatever the peer still sends.
        struct tcp_pcb* pcb = s.tcp;
        forget_tcp(s);
        if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);  // no memory for the FIN
    }
    u64 tag = s.close_tag;
    u32 index = s.index;
    release(s);  // pays back the owed answer
    answer(tag, SocketEventKind::Done, index, Status::Ok);
}

// --- Accepting ------------------------------------------------------------------

// Drops the connections lwIP freed while they waited, keeping the order
// they arrived in; each pcb's argument follows its entry.
void SocketChannel::compact_waiting(Socket& l) {
    u32 n = 0;
    for (u32 i = 0; i < l.waiting_count; i++) {
        if (l.waiting[i].pcb == nullptr) continue;
        l.waiting[n] = l.waiting[i];
        tcp_arg(l.waiting[n].pcb, &l.waiting[n]);
        n++;
    }
    l.waiting_count = n;
}

// True when `arriving` (the pcb of lwIP's accept callback under way, if
// any) was aborted: the callback must then answer ERR_ABRT, or lwIP goes
// on with the freed pcb.
bool SocketChannel::match_accepts(Socket& l, const struct tcp_pcb* arriving) {
    bool aborted = false;
    compact_waiting(l);
    while (l.accept_count > 0 && l.waiting_count > 0) {
        SocketSlot::Waiting w = l.waiting[0];
        l.waiting[0].pcb = nullptr;
        compact_waiting(l);
        tcp_backlog_accepted(w.pcb);
        if (!adopt(l, w.pcb, w.finished) && w.pcb == arriving) aborted = true;
    }
    return aborted;
}

// False when the connection was reset (the client's table is full).
bool SocketChannel::adopt(Socket& l, struct tcp_pcb* pcb, bool finished) {
    auto a = l.accepts[0];
    for (u32 i = 1; i < l.accept_count; i++) l.accepts[i - 1] = l.accepts[i];
    l.accept_count--;
    m_owed--;
    Socket* s = nullptr;
    for (auto& c : m_sockets)
        if (c.state == Socket::State::Free) {
            s = &c;
            break;
        }
    // The connection leaves the listener's backlog (counted) for a socket
    // of its own: one more pcb against the quota.
    if (s == nullptr || open_sockets() >= m_config.max_sockets || usage().tcp >= m_config.max_tcp) {
        tcp_arg(pcb, nullptr);
        tcp_err(pcb, nullptr);
        tcp_abort(pcb);
        answer(a.tag, SocketEventKind::Accepted, l.index, Status::QuotaExceeded);
        return false;
    }
    s->state = Socket::State::Connected;
    s->bound = true;
    s->tcp = pcb;
    place_rings(*s, a.rx_offset, a.rx_bytes, a.tx_offset, a.tx_bytes);
    tcp_arg(pcb, s);
    tcp_err(pcb, tcp_err_cb);
    tcp_recv(pcb, tcp_recv_cb);
    tcp_sent(pcb, tcp_sent_cb);
    if (finished) {  // the peer's FIN came before the Accept
        s->peer_finished = true;
        s->want_closed = true;
        s->close_reason = static_cast<u32>(abi::SocketCloseReason::PeerFinished);
    }
    answer(a.tag, SocketEventKind::Accepted, s->index, Status::Ok, ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)),
           pcb->remote_port);
    return true;
}

// --- lwIP's callbacks ---------------------------------------------------------------

void SocketChannel::udp_recv_cb(void* arg, struct udp_pcb*, struct pbuf* p, const ip_addr_t* addr, u16 port) {
    auto& s = *static_cast<Socket*>(arg);
    SocketChannel& c = *s.owner;
    u32 record = abi::socket_record_bytes(p->tot_len);
    if (c.m_rings == nullptr || !c.refresh_rx(s) || record > s.rx.room()) {
        c.m_counters.rx_dropped++;  // as a full socket buffer drops a datagram
        pbuf_free(p);
        return;
    }
    abi::SocketDatagram d{ip4_addr_get_u32(ip_2_ip4(addr)), port, p->tot_len};
    u32 start = s.rx.tail();
    s.rx.write(&d, sizeof d);
    for (struct pbuf* q = p; q != nullptr; q = q->next) s.rx.write(q->payload, q->len);
    s.rx.produce(record - (s.rx.tail() - start));  // the padding
    pbuf_free(p);
    s.rx.publish();
    s.want_readable = true;
}

err_t SocketChannel::tcp_recv_cb(void* arg, struct tcp_pcb*, struct pbuf* p, err_t err) {
    if (arg == nullptr) {
        if (p != nullptr) pbuf_free(p);
        return ERR_OK;
    }
    auto& s = *static_cast<Socket*>(arg);
    if (err != ERR_OK) {
        if (p != nullptr) pbuf_free(p);
        return ERR_OK;
    }
    if (p == nullptr) {  // FIN: Closed once the bytes before it are in the ring
        s.peer_finished = true;
        s.want_closed = true;
        s.close_reason = static_cast<u32>(abi::SocketCloseReason::PeerFinished);
        // Both FINs went: TIME_WAIT (or CLOSING, then TIME_WAIT) ends in a
        // free nobody is told of. Nothing more can come in either.
        if (s.shut_write) forget_tcp(s);
        return ERR_OK;
    }
    if (s.rx_pending == nullptr)
        s.rx_pending = p;
    else
        pbuf_cat(s.rx_pending, p);  // within TCP_WND (< 64 KiB) altogether: tot_len holds it
    if (s.owner->m_rings != nullptr) s.owner->drain_rx(s);
    return ERR_OK;
}

err_t SocketChannel::tcp_sent_cb(void* arg, struct tcp_pcb*, u16) {
    if (arg == nullptr) return ERR_OK;
    auto& s = *static_cast<Socket*>(arg);
    if (s.owner->m_rings != nullptr) s.owner->push_tcp(s);
    return ERR_OK;
}

err_t SocketChannel::tcp_connected_cb(void* arg, struct tcp_pcb*, err_t) {
    if (arg == nullptr) return ERR_OK;
    auto& s = *static_cast<Socket*>(arg);
    SocketChannel& c = *s.owner;
    s.state = Socket::State::Connected;
    c.m_owed--;
    c.answer(s.connect_tag, SocketEventKind::Connected, s.index, Status::Ok);
    return ERR_OK;
}

err_t SocketChannel::tcp_accept_cb(void* arg, struct tcp_pcb* pcb, err_t err) {
    if (arg == nullptr || err != ERR_OK || pcb == nullptr) return ERR_VAL;
    auto& l = *static_cast<Socket*>(arg);
    SocketChannel& c = *l.owner;
    if (c.m_rings != nullptr) c.compact_waiting(l);
    if (l.waiting_count >= l.backlog) return ERR_MEM;  // lwIP aborts it: the backlog is full
    auto& w = l.waiting[l.waiting_count++];
    w = {&l, pcb, false};
    tcp_backlog_delayed(pcb);
    tcp_arg(pcb, &w);
    tcp_err(pcb, waiting_err_cb);
    tcp_recv(pcb, waiting_recv_cb);
    if (c.m_rings != nullptr && c.match_accepts(l, pcb)) return ERR_ABRT;
    return ERR_OK;
}

// Data before the client accepted: refused for now, lwIP offers it again
// (refused_data) once the connection has a socket.
// A FIN cannot be refused (lwIP would not offer it again): remembered.
err_t SocketChannel::waiting_recv_cb(void* arg, struct tcp_pcb*, struct pbuf* p, err_t) {
    if (p != nullptr) return ERR_MEM;
    if (arg != nullptr) static_cast<SocketSlot::Waiting*>(arg)->finished = true;
    return ERR_OK;
}

void SocketChannel::waiting_err_cb(void* arg, err_t) {
    if (arg != nullptr) static_cast<SocketSlot::Waiting*>(arg)->pcb = nullptr;  // lwIP freed it
}

void SocketChannel::tcp_err_cb(void* arg, err_t err) {
    if (arg == nullptr) return;
    auto& s = *static_cast<Socket*>(arg);
    SocketChannel& c = *s.owner;
    s.tcp = nullptr;  // lwIP freed the pcb
    if (s.state == Socket::State::Connecting) {
        c.m_owed--;
        // Refused (RST: nothing listens there) or given up (lwIP aborts
        // after its SYN retransmissions). The socket stays for Close.
        bool refused = err == ERR_RST;
        u32 reason = refused ? close_reason(err) : static_cast<u32>(abi::SocketCloseReason::TimedOut);
        c.answer(s.connect_tag, SocketEventKind::Connected, s.index, refused ? Status::NotFound : Status::Timeout, 0, 0,
                 reason);
        s.state = Socket::State::Tcp;  // no pcb: only Close is of use now
        return;
    }
    s.want_closed = true;
    s.close_reason = close_reason(err);
}

}  // namespace netstack
