// The Socket service's client side (socket_client.h): requests and their
// answers, the byte rings from the client's end, and the checks on
// everything the netstack writes.
#include "socket_client.h"

namespace net {

namespace {

using abi::SocketEventKind;
using abi::SocketRequestOp;

// Our own Send requests carry this bit: their answers are not the caller's.
constexpr u64 kInternalTag = 1ull << 63;

template <typename O>
O socket_only(u32 socket) {
    O o;
    o.socket = socket;
    return o;
}

bool ring_size_ok(u32 bytes) {
    return ring::valid_byte_capacity(bytes) && bytes >= abi::kSocketMinRingBytes && bytes <= abi::kSocketMaxRingBytes;
}

}  // namespace

Result<void> SocketClient::open(abi::SocketRings* rings, u8* data, u32 data_bytes, u32 max_sockets) {
    if (rings == nullptr || data == nullptr || max_sockets == 0 || max_sockets > abi::kSocketMaxSockets)
        return Status::InvalidArgument;
    close();
    m_rings = rings;
    m_data = data;
    u32 usable = data_bytes < abi::kSocketDataBytes ? data_bytes : abi::kSocketDataBytes;
    m_pages = usable / kPageBytes;
    m_max_sockets = max_sockets;
    m_requests = rings->requests.producer();
    m_events = rings->events.consumer();
    return {};
}

void SocketClient::close() {
    m_rings = nullptr;
    m_data = nullptr;
    m_pages = 0;
    m_broken = false;
    m_need_signal = false;
    m_next_tag = 1;
    m_pending = 0;
    for (auto& s : m_streams) s = Stream{};
    for (auto& o : m_outstanding) o = Outstanding{};
    m_completion_head = m_completion_count = 0;
    for (auto& w : m_used) w = 0;
}

void SocketClient::breach() {
    m_broken = true;
    m_need_signal = false;
}

// --- Pages of the data area --------------------------------------------------------

bool SocketClient::alloc_pages(u32 pages, u32* first) {
    auto used = [&](u32 i) { return (m_used[i / 64] >> (i % 64)) & 1; };
    for (u32 start = 0; start + pages <= m_pages;) {
        u32 run = 0;
        while (run < pages && !used(start + run)) run++;
        if (run == pages) {
            for (u32 i = start; i < start + pages; i++) m_used[i / 64] |= 1ull << (i % 64);
            *first = start;
            return true;
        }
        start += run + 1;
    }
    return false;
}

void SocketClient::free_pages(u32 first, u32 pages) {
    for (u32 i = first; i < first + pages; i++) m_used[i / 64] &= ~(1ull << (i % 64));
}

// --- Requests ------------------------------------------------------------------------

Result<u64> SocketClient::request(abi::SocketRequest r, const Outstanding& keep, bool internal) {
    if (!live()) return Status::Stale;
    if (!internal && m_pending >= kMaxOutstanding) return Status::Busy;
    if (!m_requests.refresh().ok()) {
        breach();
        return Status::Stale;
    }
    if (m_requests.room() == 0) return Status::Busy;
    if (internal) {
        // Our own Send: answered only when refused (lib/protocol/socket.h),
        // so nothing waits for it here — a refusal is the socket's
        // (handle(): send_error).
        r.tag = m_next_tag++ | kInternalTag;
        (void)m_requests.put(r);
        m_requests.publish();
        m_need_signal = true;
        return r.tag;
    }
    Outstanding* slot = nullptr;
    for (auto& o : m_outstanding)
        if (o.tag == 0) {
            slot = &o;
            break;
        }
    if (slot == nullptr) return Status::Busy;  // cannot be while m_pending < kMaxOutstanding
    r.tag = m_next_tag++;
    *slot = keep;
    slot->tag = r.tag;
    slot->op = r.op;
    (void)m_requests.put(r);  // room checked above
    m_requests.publish();
    m_pending++;
    m_need_signal = true;
    return r.tag;
}

SocketClient::Stream* SocketClient::stream(u32 socket) {
    if (socket >= m_max_sockets || m_streams[socket].state == State::Free) return nullptr;
    return &m_streams[socket];
}
const SocketClient::Stream* SocketClient::stream(u32 socket) const {
    if (socket >= m_max_sockets || m_streams[socket].state == State::Free) return nullptr;
    return &m_streams[socket];
}

Result<u64> SocketClient::open_with_rings(SocketRequestOp op, abi::SocketKind kind, u32 socket, u32 rx_bytes,
                                          u32 tx_bytes) {
    if (!live()) return Status::Stale;
    u32 fallback = kind == abi::SocketKind::Tcp ? kDefaultTcpRing : kDefaultUdpRing;
    if (rx_bytes == 0) rx_bytes = fallback;
    if (tx_bytes == 0) tx_bytes = fallback;
    if (!ring_size_ok(rx_bytes) || !ring_size_ok(tx_bytes)) return Status::InvalidArgument;
    if (kind == abi::SocketKind::Tcp && rx_bytes < abi::kSocketMinTcpRxBytes) return Status::InvalidArgument;
    Outstanding keep;
    keep.socket = socket;
    keep.kind = kind;
    keep.rx_pages = rx_bytes / kPageBytes;
    keep.tx_pages = tx_bytes / kPageBytes;
    if (!alloc_pages(keep.rx_pages, &keep.rx_page)) return Status::NoMemory;
    if (!alloc_pages(keep.tx_pages, &keep.tx_page)) {
        free_pages(keep.rx_page, keep.rx_pages);
        return Status::NoMemory;
    }
    abi::SocketRequest r{};
    r.op = op;
    r.kind = op == SocketRequestOp::Open ? kind : abi::SocketKind{0};
    r.socket = socket;
    r.rx_offset = keep.rx_page * kPageBytes;
    r.rx_bytes = rx_bytes;
    r.tx_offset = keep.tx_page * kPageBytes;
    r.tx_bytes = tx_bytes;
    auto tag = request(r, keep);
    if (!tag.ok()) {
        free_pages(keep.rx_page, keep.rx_pages);
        free_pages(keep.tx_page, keep.tx_pages);
    }
    return tag;
}

Result<u64> SocketClient::open_socket(abi::SocketKind kind, u32 rx_bytes, u32 tx_bytes) {
    if (kind != abi::SocketKind::Udp && kind != abi::SocketKind::Tcp) return Status::InvalidArgument;
    return open_with_rings(SocketRequestOp::Open, kind, 0, rx_bytes, tx_bytes);
}

// A request about an existing socket, in state `want` (and TCP when asked).
Result<u64> SocketClient::ask(SocketRequestOp op, u32 socket, State want, bool tcp_only, u32 address, u16 port,
                              u32 count) {
    Stream* s = stream(socket);
    if (s == nullptr) return Status::NotFound;
    if (s->state != want || (tcp_only && s->kind != abi::SocketKind::Tcp)) return Status::InvalidArgument;
    abi::SocketRequest r{};
    r.op = op;
    r.socket = socket;
    r.address = address;
    r.port = port;
    r.count = count;
    return request(r, socket_only<Outstanding>(socket));
}

Result<u64> SocketClient::bind(u32 socket, u32 address, u16 port) {
    return ask(SocketRequestOp::Bind, socket, State::Open, false, address, port, 0);
}

Result<u64> SocketClient::connect(u32 socket, u32 address, u16 port) {
    auto tag = ask(SocketRequestOp::Connect, socket, State::Open, false, address, port, 0);
    if (tag.ok() && m_streams[socket].kind == abi::SocketKind::Tcp) m_streams[socket].state = State::Connecting;
    return tag;
}

Result<u64> SocketClient::echo(u32 address, u32 timeout_ms) {
    if (address == 0 || address == 0xffff'ffffu || timeout_ms == 0 || timeout_ms > abi::kSocketMaxEchoTimeoutMs)
        return Status::InvalidArgument;
    // The service's quota, checked here too so a caller learns it at once.
    u32 echoes = 0;
    for (auto& o : m_outstanding) echoes += o.tag != 0 && o.op == SocketRequestOp::Echo;
    if (echoes >= abi::kSocketMaxEchoes) return Status::Busy;
    abi::SocketRequest r{};
    r.op = SocketRequestOp::Echo;
    r.address = address;
    r.count = timeout_ms;
    Outstanding keep{};
    keep.address = address;
    return request(r, keep);
}

Result<u64> SocketClient::resolve(const char* name, u32 length) {
    if (name == nullptr || !abi::socket_host_name_valid(name, length)) return Status::InvalidArgument;
    u32 resolves = 0;
    for (auto& o : m_outstanding) resolves += o.tag != 0 && o.op == SocketRequestOp::Resolve;
    if (resolves >= abi::kSocketMaxResolves) return Status::Busy;
    // The name goes in a page of its own, kept until the answer (the
    // netstack reads it when it takes the request).
    Outstanding keep{};
    keep.rx_pages = 1;
    if (!alloc_pages(1, &keep.rx_page)) return Status::NoMemory;
    __builtin_memcpy(m_data + keep.rx_page * kPageBytes, name, length);
    abi::SocketRequest r{};
    r.op = SocketRequestOp::Resolve;
    r.rx_offset = keep.rx_page * kPageBytes;
    r.rx_bytes = length;
    auto tag = request(r, keep);
    if (!tag.ok()) free_pages(keep.rx_page, 1);
    return tag;
}

Result<u64> SocketClient::listen(u32 socket, u32 backlog) {
    return ask(SocketRequestOp::Listen, socket, State::Open, true, 0, 0, backlog);
}

Result<u64> SocketClient::accept(u32 listener, u32 rx_bytes, u32 tx_bytes) {
    Stream* s = stream(listener);
    if (s == nullptr) return Status::NotFound;
    if (s->state != State::Listening) return Status::InvalidArgument;
    return open_with_rings(SocketRequestOp::Accept, abi::SocketKind::Tcp, listener, rx_bytes, tx_bytes);
}

Result<u64> SocketClient::shutdown(u32 socket, u32 how) {
    Stream* s = stream(socket);
    if (s == nullptr) return Status::NotFound;
    // The FIN goes after the bytes written: they must be announced first.
    announce(socket);
    if (s->unannounced != 0) return Status::Busy;
    return ask(SocketRequestOp::Shutdown, socket, State::Connected, true, 0, 0, how);
}

Result<u64> SocketClient::close_socket(u32 socket) {
    Stream* s = stream(socket);
    if (s == nullptr) return Status::NotFound;
    if (s->state == State::Closing) return Status::InvalidArgument;
    announce(socket);  // a graceful close sends what was written first
    if (s->unannounced != 0) return Status::Busy;
    abi::SocketRequest r{};
    r.op = SocketRequestOp::Close;
    r.socket = socket;
    Outstanding keep;
    keep.socket = socket;
    keep.prior = s->state;
    auto tag = request(r, keep);
    if (tag.ok()) s->state = State::Closing;
    return tag;
}

// Tells the netstack about the tx bytes published since the last Send.
// When the request ring is full the bytes wait: poll_events tries again.
void SocketClient::announce(u32 socket) {
    Stream& s = m_streams[socket];
    if (s.unannounced == 0 || !live()) return;
    abi::SocketRequest r{};
    r.op = SocketRequestOp::Send;
    r.socket = socket;
    r.count = s.unannounced;
    if (request(r, socket_only<Outstanding>(socket), true).ok()) s.unannounced = 0;
}

// --- Data ------------------------------------------------------------------------------

Result<u32> SocketClient::send(u32 socket, const void* bytes, u32 n) {
    if (!live()) return Status::Stale;
    Stream* s = stream(socket);
    if (s == nullptr) return Status::NotFound;
    if (s->kind != abi::SocketKind::Tcp || s->state != State::Connected) return Status::InvalidArgument;
    if (s->send_error != Status::Ok) return s->send_error;
    if (!s->tx.refresh().ok()) {
        breach();
        return Status::Stale;
    }
    u32 wrote = s->tx.write(bytes, n);
    if (wrote < n) {
        // Short of room: say so (the netstack posts Writable only then)
        // and look once more — room that came meanwhile is used now, room
        // that comes later is announced.
        if (!want_room(socket, *s)) return Status::Stale;
        wrote += s->tx.write(static_cast<const u8*>(bytes) + wrote, n - wrote);
    }
    if (wrote == 0) return 0u;
    s->tx.publish();
    s->unannounced += wrote;
    m_announce = true;  // one Send per socket per batch: needs_signal()
    return wrote;
}

// The client's side of the tx_wanted handshake (lib/protocol/socket.h):
// the word, a fence, the head again. False when the head is a lie.
bool SocketClient::want_room(u32 socket, Stream& s) {
    abi::socket_tx_want(m_rings->streams[socket]);
    if (s.tx.refresh().ok()) return true;
    breach();
    return false;
}

Result<u32> SocketClient::receive(u32 socket, void* buf, u32 n) {
    if (!live()) return Status::Stale;
    Stream* s = stream(socket);
    if (s == nullptr) return Status::NotFound;
    if (s->kind != abi::SocketKind::Tcp) return Status::InvalidArgument;
    if (!s->rx.refresh().ok()) {
        breach();
        return Status::Stale;
    }
    u32 got = s->rx.peek(0, buf, n);
    if (got == 0) return 0u;
    s->rx.consume(got);
    s->rx.release();
    s->readable = s->rx.ready() > 0;
    m_need_signal = true;  // the window reopens once the netstack sees the head
    return got;
}

Result<bool> SocketClient::send_to(u32 socket, u32 address, u16 port, const void* payload, u32 n) {
    if (!live()) return Status::Stale;
    Stream* s = stream(socket);
    if (s == nullptr) return Status::NotFound;
    if (s->kind != abi::SocketKind::Udp || s->state == State::Closing) return Status::InvalidArgument;
    if (n > abi::kSocketMaxDatagram) return Status::InvalidArgument;
    if (s->send_error != Status::Ok) return s->send_error;
    u32 record = abi::socket_record_bytes(n);
    if (record > s->tx.capacity()) return Status::InvalidArgument;  // can never fit
    if (!s->tx.refresh().ok()) {
        breach();
        return Status::Stale;
    }
    if (s->tx.room() < record) {
        if (!want_room(socket, *s)) return Status::Stale;
        if (s->tx.room() < record) return false;  // Writable follows as room comes back
    }
    abi::SocketDatagram d{address, port, static_cast<u16>(n)};
    s->tx.write(&d, sizeof d);
    s->tx.write(payload, n);
    s->tx.produce(record - static_cast<u32>(sizeof d) - n);  // the padding
    s->tx.publish();
    s->unannounced += record;
    m_announce = true;  // one Send per socket per batch: needs_signal()
    return true;
}

Result<bool> SocketClient::receive_from(u32 socket, abi::SocketDatagram* from, void* buf, u32 n, u32* length) {
    if (!live()) return Status::Stale;
    Stream* s = stream(socket);
    if (s == nullptr) return Status::NotFound;
    if (s->kind != abi::SocketKind::Udp) return Status::InvalidArgument;
    if (!s->rx.refresh().ok()) {
        breach();
        return Status::Stale;
    }
    if (s->rx.ready() == 0) return false;
    abi::SocketDatagram d;
    // The netstack publishes whole records: anything else is a lie.
    if (s->rx.peek(0, &d, sizeof d) != sizeof d) {
        breach();
        return Status::Stale;
    }
    u32 record = abi::socket_record_bytes(d.length);
    if (d.length > abi::kSocketMaxDatagram || record > s->rx.ready()) {
        breach();
        return Status::Stale;
    }
    s->rx.peek(sizeof d, buf, n < d.length ? n : d.length);
    s->rx.consume(record);
    s->rx.release();
    s->readable = s->rx.ready() > 0;
    *from = d;
    *length = d.length;
    return true;
}

// --- State -----------------------------------------------------------------------------

bool SocketClient::is_open(u32 socket) const { return live() && stream(socket) != nullptr; }

bool SocketClient::readable(u32 socket) {
    Stream* s = live() ? stream(socket) : nullptr;
    if (s == nullptr || !s->rx.attached()) return false;
    if (!s->rx.refresh().ok()) {
        breach();
        return false;
    }
    return s->rx.ready() > 0;
}

bool SocketClient::writable(u32 socket) {
    Stream* s = live() ? stream(socket) : nullptr;
    if (s == nullptr || !s->tx.attached()) return false;
    if (!s->tx.refresh().ok()) {
        breach();
        return false;
    }
    return s->tx.room() > 0;
}

bool SocketClient::closed(u32 socket) const {
    const Stream* s = stream(socket);
    return s != nullptr && s->peer_closed;
}

abi::SocketCloseReason SocketClient::close_reason(u32 socket) const {
    const Stream* s = stream(socket);
    return static_cast<abi::SocketCloseReason>(s != nullptr ? s->close_reason : 0);
}

// --- Events ------------------------------------------------------------------------------

Result<u32> SocketClient::poll_events() {
    if (!live()) return Status::Stale;
    if (!m_events.refresh().ok()) {
        breach();
        return Status::Malformed;
    }
    u32 n = 0;
    abi::SocketEvent e;
    while (live() && m_events.take(&e)) {
        n++;
        handle(e);
    }
    if (!live()) return Status::Malformed;
    m_events.release();
    announce_all();
    return n;
}

void SocketClient::announce_all() {
    m_announce = false;
    for (u32 i = 0; i < m_max_sockets; i++) {
        if (m_streams[i].state == State::Free) continue;
        announce(i);
        m_announce |= m_streams[i].unannounced != 0;  // the ring was full: again later
    }
}

bool SocketClient::needs_signal() {
    if (m_announce && live()) announce_all();
    return m_need_signal;
}

bool SocketClient::take_completion(SocketCompletion* out) {
    if (m_completion_count == 0) return false;
    *out = m_completions[m_completion_head];
    m_completion_head = (m_completion_head + 1) % kMaxOutstanding;
    m_completion_count--;
    m_pending--;
    return true;
}

bool SocketClient::take_completion(u64 tag, SocketCompletion* out) {
    for (u32 i = 0; i < m_completion_count; i++) {
        SocketCompletion& c = m_completions[(m_completion_head + i) % kMaxOutstanding];
        if (c.tag != tag) continue;
        *out = c;
        // The later ones close the gap, in order.
        for (u32 k = i + 1; k < m_completion_count; k++)
            m_completions[(m_completion_head + k - 1) % kMaxOutstanding] =
                m_completions[(m_completion_head + k) % kMaxOutstanding];
        m_completion_count--;
        m_pending--;
        return true;
    }
    return false;
}

bool SocketClient::start_stream(u32 socket, const Outstanding& o, abi::SocketKind kind) {
    // A new socket must be one we do not have, inside our quota.
    if (socket >= m_max_sockets || m_streams[socket].state != State::Free) return false;
    Stream& s = m_streams[socket];
    s = Stream{};
    s.kind = kind;
    s.state = o.op == SocketRequestOp::Accept ? State::Connected : State::Open;
    s.rx_page = o.rx_page;
    s.rx_pages = o.rx_pages;
    s.tx_page = o.tx_page;
    s.tx_pages = o.tx_pages;
    // The netstack reset the indices to 0 before answering.
    abi::SocketStreams& st = m_rings->streams[socket];
    s.rx = ring::ByteConsumer(st.rx, m_data + o.rx_page * kPageBytes, o.rx_pages * kPageBytes);
    s.tx = ring::ByteProducer(st.tx, m_data + o.tx_page * kPageBytes, o.tx_pages * kPageBytes);
    return true;
}

void SocketClient::free_stream(Stream& s) {
    free_pages(s.rx_page, s.rx_pages);
    free_pages(s.tx_page, s.tx_pages);
    s = Stream{};
}

void SocketClient::handle(const abi::SocketEvent& e) {
    bool unsolicited =
        e.kind == SocketEventKind::Readable || e.kind == SocketEventKind::Writable || e.kind == SocketEventKind::Closed;
    if (unsolicited) {
        Stream* s = stream(e.socket);
        if (e.tag != 0 || s == nullptr) return breach();
        if (e.kind == SocketEventKind::Readable) s->readable = true;
        if (e.kind == SocketEventKind::Closed) {
            if (e.detail > static_cast<u32>(abi::SocketCloseReason::TimedOut)) return breach();
            s->peer_closed = true;
            s->close_reason = e.detail;
        }
        return;
    }
    if (e.kind != SocketEventKind::Done && e.kind != SocketEventKind::Connected && e.kind != SocketEventKind::Accepted)
        return breach();
    if ((e.tag & kInternalTag) != 0) {
        // One of our Sends refused (a taken one is never answered): its
        // bytes will not go, and send() says so from now on.
        Stream* s = stream(e.socket);
        if (e.kind != SocketEventKind::Done || e.status == Status::Ok || s == nullptr) return breach();
        s->send_error = e.status;
        return;
    }
    Outstanding* o = nullptr;
    if (e.tag != 0)
        for (auto& c : m_outstanding)
            if (c.tag == e.tag) {
                o = &c;
                break;
            }
    if (o == nullptr) return breach();  // answers nothing we asked
    bool kind_fits = e.kind == SocketEventKind::Connected  ? o->op == SocketRequestOp::Connect
                     : e.kind == SocketEventKind::Accepted ? o->op == SocketRequestOp::Accept
                                                           // Done answers any, and a refused Connect or Accept
                                                           : true;
    if (!kind_fits) return breach();
    Outstanding done = *o;
    *o = Outstanding{};
    answered(done, e);
}

// One of our requests answered (its kind already matched).
void SocketClient::answered(const Outstanding& o, const abi::SocketEvent& e) {
    bool ok = e.status == Status::Ok;
    SocketCompletion c{o.tag, o.op, e.status, e.socket, 0, 0, 0};
    bool has_rings = o.op == SocketRequestOp::Open || o.op == SocketRequestOp::Accept;
    if (o.op == SocketRequestOp::Echo) {
        // About no socket, and about the target we named.
        if (e.kind != SocketEventKind::Done || e.socket != 0) return breach();
        if (ok && e.address != o.address) return breach();
        c.socket = 0;
        c.address = o.address;
        c.detail = ok ? e.detail : 0;
    } else if (o.op == SocketRequestOp::Resolve) {
        free_pages(o.rx_page, o.rx_pages);
        // About no socket; an address only with Ok.
        if (e.kind != SocketEventKind::Done || e.socket != 0 || (!ok && e.address != 0)) return breach();
        c.socket = 0;
        c.address = e.address;
    } else if (has_rings) {
        if (ok) {
            // A Connect or Accept is answered Ok only by its own kind.
            if (o.op == SocketRequestOp::Accept && e.kind != SocketEventKind::Accepted) return breach();
            if (!start_stream(e.socket, o, o.kind)) return breach();
            c.address = e.address;
            c.port = e.port;
        } else {
            free_pages(o.rx_page, o.rx_pages);
            free_pages(o.tx_page, o.tx_pages);
        }
    } else {
        // An answer about an existing socket must name the one asked about.
        if (e.socket != o.socket) return breach();
        Stream* s = stream(o.socket);
        if (s == nullptr) return breach();
        switch (o.op) {
            case SocketRequestOp::Connect:
                if (ok && e.kind != SocketEventKind::Connected) return breach();
                if (s->kind == abi::SocketKind::Tcp && s->state != State::Closing) {
                    s->state = ok ? State::Connected : State::Open;
                    // Refused or timed out on the network (a refusal of
                    // the request itself leaves the socket as it was).
                    if (!ok && e.kind == SocketEventKind::Connected) {
                        s->peer_closed = true;
                        s->close_reason = e.detail;
                    }
                }
                c.detail = e.detail;
                break;
            case SocketRequestOp::Listen:
                if (ok) s->state = State::Listening;
                break;
            case SocketRequestOp::Close:
                if (ok)
                    free_stream(*s);
                else
                    s->state = o.prior;
                break;
            default: break;
        }
    }
    m_completions[(m_completion_head + m_completion_count) % kMaxOutstanding] = c;
    m_completion_count++;
}

}  // namespace net
