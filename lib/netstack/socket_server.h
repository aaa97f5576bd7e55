// The server side of the Socket service (lib/protocol/socket.h) for one
// client: its requests taken from the shared rings and carried out on
// lwIP's raw API (udp_* and tcp_* pcbs), received data copied into its
// sockets' rx rings, its tx rings handed to lwIP, events posted back.
//
// Memory: the caller (the netstack program, or a unit test) creates the
// ring object and the data area, keeps them, and gives the client copies;
// the channel only reads and writes inside them. Nothing the client
// writes is trusted: each request is copied out of its slot once and
// checked before use (its socket index in the client's own table, its ring
// ranges inside the data area, its port among the ones the client was
// granted); a refusal is answered Done with a specific Status and logged
// against the client's badge, and the channel keeps serving. Breaking the
// ring protocol (an index moving back or running ahead, a datagram header
// claiming more bytes than were published) closes the channel: every
// socket of this client is aborted, no other client's is touched.
//
// Events are never dropped: a request is taken only when the event ring
// has room for its answer and for every answer still owed (a Connect or
// Accept waiting on the network, a Close waiting for its bytes to go), and
// unsolicited events (Readable, Writable, Closed) wait in per-socket flags
// while the client leaves the ring full.
//
// Threading: the netstack's one thread calls everything, as it calls lwIP
// (lib/netstack/stack.h); lwIP's callbacks into the channel come from
// within Stack::poll() or from this channel's own calls.
#pragma once

#include "lwip/dns.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "ping.h"
#include "protocol/socket.h"
#include "ring/byte_ring.h"
#include "util/result.h"
#include "util/token_bucket.h"
#include "util/types.h"

namespace netstack {

// lwIP's pools and heap (lwipopts.h) are shared by every client and the
// netstack itself. A client's quotas are cut from them so that
// kSocketPlannedClients clients, each at its full quotas, still fit:
//   planned x max_udp + kNetstackUdpPcbs <= MEMP_NUM_UDP_PCB  (4 x 3 + 9 <= 21)
//   planned x max_tcp                    <= MEMP_NUM_TCP_PCB  (4 x 8 <= 32)
//   planned x max_listeners              <= MEMP_NUM_TCP_PCB_LISTEN (4 x 2 <= 8)
//   planned x max_tcp_queued             <= MEM_SIZE / 2 (4 x 64 KiB; the other
//     half: UDP datagrams on their way, ARP's queue, lwIP's own replies)
//   planned x max_tcp_segments           <= MEMP_NUM_TCP_SEG  (4 x 64 <= 256)
//   clients x max_resolves               <= DNS_TABLE_SIZE    (up to 8 x 1 <= 8)
//   clients x kSocketMaxEchoes + 1       <= MEMP_NUM_RAW_PCB  (up to 8 x 1 + 1 <= 9)
// The last two hold for as many clients as a manifest may name
// (kSocketMaxClients): a lookup or an Echo never waits on another client's.
// A request past a quota is this client's to bear: QuotaExceeded, nobody
// else affected. A pool empty all the same (more clients than planned, or
// the wire's own use: connections lwIP keeps in TIME_WAIT or FIN_WAIT after
// a close, which it reclaims when short) answers NoMemory. open() refuses
// a quota larger than its pool (InvalidArgument); that N clients fit is the
// caller's arithmetic (socket_quotas_fit).
constexpr u32 kSocketPlannedClients = 4;
constexpr u32 kSocketMaxClients = 8;  // serve lines a manifest may give one process (manifest::kMaxServed)
// The netstack's own: DHCP's, and one per lookup under way — lwIP's
// resolver sends each from a random port of its own (LWIP_DNS_SECURE's
// RAND_SRC_PORT, against spoofed answers [RFC 5452]).
constexpr u32 kNetstackUdpPcbs = 1 + DNS_TABLE_SIZE;

struct SocketClientConfig {
    u64 badge = 0;  // names the client in log lines
    // The ports it may bind or listen on (an ephemeral port needs none).
    const u16* ports = nullptr;
    u32 port_count = 0;
    u32 max_sockets = abi::kSocketMaxSockets;  // <= kSocketMaxSockets
    // The work one poll() turn does for this client's UDP sends, at most
    // (the rest waits for the next turn, more_work() true): so that one
    // client's burst cannot hold the netstack's loop from the others. A
    // turn always sends at least one datagram when it can. Both > 0.
    u32 udp_datagrams_per_turn = 32;
    u32 udp_bytes_per_turn = 64 * 1024;
    // Quotas (above). max_tcp counts the TCP sockets holding a connection's
    // pcb (open, connecting, connected, closing) plus every listener's
    // backlog (each connection waiting for Accept is such a pcb).
    u32 max_udp = (MEMP_NUM_UDP_PCB - kNetstackUdpPcbs) / kSocketPlannedClients;
    u32 max_tcp = MEMP_NUM_TCP_PCB / kSocketPlannedClients;
    u32 max_listeners = MEMP_NUM_TCP_PCB_LISTEN / kSocketPlannedClients;
    // TCP send data in lwIP's heap (sent, not yet acknowledged), and the
    // segments holding it, over all this client's connections.
    u32 max_tcp_queued = MEM_SIZE / 2 / kSocketPlannedClients;
    u32 max_tcp_segments = MEMP_NUM_TCP_SEG / kSocketPlannedClients;
    // Slots of the resolver's table (lib/netstack/resolve.h): its unanswered
    // Resolves, and those of its closed channels lwIP has not answered yet.
    u32 max_resolves = DNS_TABLE_SIZE / kSocketPlannedClients;
};

// `clients` clients configured as `config` fit lwIP's pools (above).
constexpr bool socket_quotas_fit(u32 clients, const SocketClientConfig& config) {
    return u64{clients} * config.max_udp + kNetstackUdpPcbs <= MEMP_NUM_UDP_PCB &&
           u64{clients} * config.max_tcp <= MEMP_NUM_TCP_PCB &&
           u64{clients} * config.max_listeners <= MEMP_NUM_TCP_PCB_LISTEN &&
           u64{clients} * config.max_tcp_queued <= MEM_SIZE / 2 &&
           u64{clients} * config.max_tcp_segments <= MEMP_NUM_TCP_SEG &&
           u64{clients} * config.max_resolves <= DNS_TABLE_SIZE;
}
static_assert(socket_quotas_fit(kSocketPlannedClients, SocketClientConfig{}));
// Echo's raw pcbs: every client's, and the netstack's boot ping.
static_assert(kSocketMaxClients * abi::kSocketMaxEchoes + 1 <= MEMP_NUM_RAW_PCB);

// The shares of lwIP's pools for `clients` clients served at once: the
// defaults up to kSocketPlannedClients, divided further past it (the
// manifest allows 8 serve lines), so that every client at its full quota
// still fits. A share never drops below one socket of each kind.
constexpr SocketClientConfig socket_shares(u32 clients) {
    SocketClientConfig c;
    if (clients <= kSocketPlannedClients) return c;
    c.max_udp = (MEMP_NUM_UDP_PCB - kNetstackUdpPcbs) / clients;
    c.max_tcp = MEMP_NUM_TCP_PCB / clients;
    c.max_listeners = MEMP_NUM_TCP_PCB_LISTEN / clients;
    c.max_tcp_queued = MEM_SIZE / 2 / clients;
    c.max_tcp_segments = MEMP_NUM_TCP_SEG / clients;
    c.max_resolves = DNS_TABLE_SIZE / clients;
    return c;
}
static_assert(socket_quotas_fit(kSocketMaxClients, socket_shares(kSocketMaxClients)) &&
              socket_shares(kSocketMaxClients).max_listeners >= 1 && socket_shares(kSocketMaxClients).max_udp >= 1 &&
              socket_shares(kSocketMaxClients).max_resolves >= abi::kSocketMaxResolves);

struct SocketCounters {
    u64 requests = 0;
    u64 refused = 0;     // requests answered with a Status other than Ok
    u64 rx_dropped = 0;  // UDP datagrams that did not fit their rx ring
    u64 tx_dropped = 0;  // UDP datagrams lwIP refused, or with no destination
};

class SocketChannel;

// One socket of a client's table (SocketChannel's own state; lwIP's pcbs
// carry a pointer to it as their callback argument).
struct SocketSlot {
    enum class State : u8 { Free, Udp, Tcp, Listening, Connecting, Connected, Closing };
    // A listener's Accept waiting for a connection: its tag and the new
    // socket's rings (reserved: no Open may overlap them).
    struct PendingAccept {
        u64 tag;
        u32 rx_offset, rx_bytes, tx_offset, tx_bytes;
    };
    // A connection lwIP completed before an Accept asked for it.
    struct Waiting {
        SocketSlot* listener;
        struct tcp_pcb* pcb;  // null once lwIP freed it (reset before accepted)
        bool finished;        // the peer's FIN came already
    };

    SocketChannel* owner = nullptr;
    u32 index = 0;
    State state = State::Free;
    bool bound = false;
    struct udp_pcb* udp = nullptr;
    // Invariant: non-null only while lwIP must tell us (the err callback)
    // before it frees the pcb. lwIP frees a pcb silently after tcp_close or
    // a two-way tcp_shutdown (it is then lwIP's), at the end of TIME_WAIT
    // (reached only once both FINs went), and after LAST_ACK when the
    // receive side was shut: the slot forgets the pcb (forget_tcp) at the
    // moment it hands it over or the last of those became possible.
    struct tcp_pcb* tcp = nullptr;
    bool shut_read = false, shut_write = false;  // TCP: Shutdown done
    u32 rx_offset = 0, rx_bytes = 0, tx_offset = 0, tx_bytes = 0;
    // The byte rings (lib/ring/byte_ring.h), over the client's data area
    // and its SocketStreams indices: rx we produce, tx we consume. Sends
    // announce tx bytes: tx.head() <= tx_announced <= tx.tail_seen().
    ring::ByteProducer rx;
    ring::ByteConsumer tx;
    u32 tx_announced = 0;
    struct pbuf* rx_pending = nullptr;  // TCP: received, not yet in the rx ring
    bool peer_finished = false;         // TCP: FIN seen (Closed once rx_pending is in the ring)
    bool want_readable = false, want_writable = false, want_closed = false;
    // A write Shutdown was refused Busy (bytes still to hand to lwIP):
    // Writable once they are all taken, whatever tx_wanted says.
    bool drain_owed = false;
    u32 close_reason = 0;
    u64 connect_tag = 0;  // Connecting: the Connect to answer
    u64 close_tag = 0;    // Closing: the Close to answer once tx is handed to lwIP
    u32 backlog = 0;
    PendingAccept accepts[abi::kSocketMaxBacklog]{};
    u32 accept_count = 0;
    Waiting waiting[abi::kSocketMaxBacklog]{};
    u32 waiting_count = 0;
};

class SocketChannel {
public:
    SocketChannel() = default;
    SocketChannel(const SocketChannel&) = delete;
    SocketChannel& operator=(const SocketChannel&) = delete;
    ~SocketChannel() { close(); }

    // Starts serving a client over `rings` (kSocketRingBytes, zeroed here)
    // and `data` (data_bytes). Both must stay mapped until close().
    // InvalidArgument for a config out of range, Busy when already open.
    [[nodiscard]] Result<void> open(abi::SocketRings* rings, u8* data, u32 data_bytes,
                                    const SocketClientConfig& config);
    // Aborts every socket (TCP: RST to the peer) and forgets the rings.
    void close();
    bool live() const { return m_rings != nullptr; }
    // The channel was closed because the client broke the ring protocol.
    bool broken() const { return m_broken; }

    // One turn: requests taken and carried out, data moved both ways,
    // events published. True when events were published: signal the
    // client's notification. Does nothing once closed.
    bool poll();

    // The last poll() left work it could do without anything new from the
    // client or the wire (UDP sends over the turn's budget, lwIP or the NIC
    // short of memory or buffers): poll again soon instead of waiting.
    bool more_work() const { return m_more; }

    const SocketCounters& counters() const { return m_counters; }
    u32 open_sockets() const;

private:
    using Socket = SocketSlot;

    void take_requests();
    void handle(const abi::SocketRequest& r);
    Status do_open(const abi::SocketRequest& r, u32* index);
    Status do_bind(Socket& s, const abi::SocketRequest& r);
    Status do_connect(Socket& s, const abi::SocketRequest& r);
    Status do_listen(Socket& s, const abi::SocketRequest& r);
    Status do_accept(Socket& s, const abi::SocketRequest& r);
    Status do_send(Socket& s, const abi::SocketRequest& r);
    Status do_close(Socket& s, const abi::SocketRequest& r);
    Status do_shutdown(Socket& s, const abi::SocketRequest& r);
    Status do_echo(const abi::SocketRequest& r);
    void service_echoes();
    Status do_resolve(const abi::SocketRequest& r);
    void service_resolves();
    Status check_rings(const abi::SocketRequest& r, bool tcp);
    bool port_granted(u16 port) const;
    struct Usage {
        u32 udp = 0, tcp = 0, listeners = 0;  // tcp: pcbs + listeners' backlogs (SocketClientConfig)
        u32 tcp_queued = 0, tcp_segments = 0;
    };
    Usage usage() const;

    void service(Socket& s);
    void push_tcp(Socket& s);
    void push_udp(Socket& s);
    void tx_room_back(Socket& s);
    void drain_rx(Socket& s);
    void finish_close(Socket& s);
    void release(Socket& s);
    bool adopt(Socket& listener, struct tcp_pcb* pcb, bool finished);
    void compact_waiting(Socket& listener);
    bool match_accepts(Socket& listener, const struct tcp_pcb* arriving = nullptr);
    static void forget_tcp(Socket& s);
    void close_listener(Socket& s);

    void place_rings(Socket& s, u32 rx_offset, u32 rx_bytes, u32 tx_offset, u32 tx_bytes);
    bool refresh_rx(Socket& s);
    bool refresh_tx(Socket& s);

    bool can_post() const;
    void answer(u64 tag, abi::SocketEventKind kind, u32 socket, Status status, u32 address = 0, u16 port = 0,
                u32 detail = 0);
    void post_unsolicited(Socket& s);
    void breach(const char* what, u32 socket, u32 value);
    void refuse(const abi::SocketRequest& r, Status status, const char* why);

    static void udp_recv_cb(void* arg, struct udp_pcb* pcb, struct pbuf* p, const ip_addr_t* addr, u16 port);
    static err_t tcp_recv_cb(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err);
    static err_t tcp_sent_cb(void* arg, struct tcp_pcb* pcb, u16 len);
    static err_t tcp_connected_cb(void* arg, struct tcp_pcb* pcb, err_t err);
    static err_t tcp_accept_cb(void* arg, struct tcp_pcb* pcb, err_t err);
    static void tcp_err_cb(void* arg, err_t err);
    static err_t waiting_recv_cb(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err);
    static void waiting_err_cb(void* arg, err_t err);

    abi::SocketRings* m_rings = nullptr;
    u8* m_data = nullptr;
    u32 m_data_bytes = 0;
    SocketClientConfig m_config{};
    bool m_broken = false;
    abi::SocketRequestConsumer m_requests;
    abi::SocketEventProducer m_events;
    u32 m_signalled_tail = 0;     // the event tail poll() last reported published
    u32 m_owed = 0;               // answers owed later (Connect, Accept, Close): room kept for them
    const char* m_why = nullptr;  // a check's precise reason for the refusal being logged
    // Refusal log lines of this client: 8 at once, 4 a second after that.
    util::TokenBucket m_refusal_log{8, 4};
    u64 m_refusals_unlogged = 0;
    bool m_more = false;                         // see more_work()
    u32 m_turn_datagrams = 0, m_turn_bytes = 0;  // UDP sent this turn
                                                 // (Connect, Accept, Close): room kept for them
    SocketCounters m_counters;
    SocketSlot m_sockets[abi::kSocketMaxSockets];
    // Echo requests waiting for their reply (tag 0: free). Each is a Ping
    // of one request, with an ICMP identifier of its own.
    struct EchoWait {
        u64 tag = 0;
        u32 address = 0;
        bool finished = false;
        PingResult result{};
        Ping ping;
    };
    static void echo_result_cb(void* ctx, const PingResult& result);
    EchoWait m_echoes[abi::kSocketMaxEchoes];
    // Resolve requests waiting for lwIP's resolver (tag 0: free): the
    // lookup's slot in resolve.h's table, never a pointer lwIP holds.
    struct ResolveWait {
        u64 tag = 0;
        u32 slot = 0;
    };
    ResolveWait m_resolves[abi::kSocketMaxResolves];
};

}  // namespace netstack
