// The Socket service (docs/netstack.md "The socket service"): how the
// processes the manifest names reach the network through the netstack —
// UDP and TCP over lwIP, which runs only in the netstack process.
//
// Control goes over the netstack's endpoint (badge-minted per client by
// the manifest, as a provider's `serve` lines are): Attach sets up the
// channel, Detach ends it, Ping asks whether it is still live. Everything
// else travels through shared memory, in the shape of the BlockDevice
// service (lib/protocol/block.h): a request ring (client -> netstack), an
// event ring (netstack -> client), one notification each way, batched
// (each side signals once per batch it publishes).
//
// The netstack owns the memory it depends on: it creates the ring object
// and the data area and hands the client derived copies, keeping the
// capabilities they derive from. A client that revokes or closes what it
// holds loses its own view, never the netstack's.
//
// Sockets. Open answers an index into the client's own table (0 ..
// kSocketMaxSockets-1): a client can name no other client's socket,
// because it has no way to say one. Each socket has two byte rings the
// client places in its data area when it opens (or accepts) it: rx
// (netstack -> client: received bytes, or datagrams) and tx (client ->
// netstack: bytes, or datagrams, to send). Their indices live in the ring
// object (SocketRings::streams[index]); their bytes in the data area at the
// offsets the client chose.
//
// Receive needs no request: the netstack copies what lwIP receives into
// the socket's rx ring as space allows and posts Readable. TCP's window
// reopens (tcp_recved) only as the client consumes the ring, so a slow
// client slows its own peer, never the netstack. Send: the client writes
// into the tx ring, publishes, and posts Send; the netstack takes what
// lwIP accepts and, when the client said it waits for room
// (SocketStreams::tx_wanted), posts Writable as room comes back.
//
// UDP datagrams in a byte ring: a SocketDatagram header, then `length`
// bytes, the record padded to a multiple of 8 (so a header never straddles
// the ring's end; the payload may, in two pieces). A datagram that does not
// fit the rx ring's free space is dropped (counted, as a full socket buffer
// drops one).
//
// What the netstack trusts of the client: nothing. Every request is copied
// out of its slot once and checked; a request it refuses is answered Done
// with a specific Status (below), logged against the client's badge, and
// the client keeps its channel and its other sockets. Breaking the ring
// protocol — an index moving back or running ahead (lib/ring/spsc_ring.h's
// rules, the same for the byte rings), a datagram header in a tx ring
// naming more bytes than were published — closes the client's channel and
// its sockets, nobody else's.
#pragma once

// A protocol between user processes (lib/protocol/), not the kernel's ABI.
#ifdef SLUICE_KERNEL
#error "lib/protocol/ is spoken between user processes: the kernel has no business including it"
#endif

#include <stddef.h>

#include "ring/spsc_ring.h"
#include "util/status.h"
#include "util/types.h"

namespace abi {

// Endpoint requests: data[0..4] is always the SocketOp (distinct from
// BlockOp's and NetOp's values, so a request sent to the wrong kind of
// server is refused InvalidArgument rather than misread).
enum class SocketOp : u32 {
    // Attach: SocketOpRequest; handles[0] = a notification the netstack
    // signals after publishing events (signal|transfer), the only handle.
    // Reply: SocketAttachReply; handles[0] = the ring memory object
    // (kSocketRingBytes, SocketRings, read|write|map), handles[1] = the data
    // area (data_bytes, read|write|map), handles[2] = the notification the
    // client signals after publishing requests. All three are copies
    // derived from the netstack's own. A refusal is a SocketStatusReply
    // (NoRights: the badge is no client the manifest names). A client with
    // a live channel that attaches again gets a new one: the old is closed.
    Attach = 0x534b'0001,
    // Detach: SocketChannelRequest -> SocketStatusReply (Stale when the
    // channel is not this netstack's live one for this client). Its
    // sockets are closed (TCP: aborted, RST to the peer), its copies
    // revoked.
    Detach = 0x534b'0002,
    // Ping: SocketChannelRequest -> SocketStatusReply: Ok while the channel
    // is live, Stale when not. A restarted netstack is a new generation:
    // the client attaches again and its sockets are gone (TCP state lived
    // in the old netstack), unlike a NIC provider restart, which TCP
    // survives.
    Ping = 0x534b'0003,
    // Info: SocketOpRequest -> SocketInfoReply; handles[0] = a fresh
    // memory object (kSocketInfoBytes, read|map only) holding one
    // SocketInfo, a snapshot taken for this call and never written again:
    // the client maps it, copies what it wants and closes it (the same
    // client's next Info revokes it: snapshots are the netstack's memory,
    // one live per client). Any client the manifest names may ask,
    // attached or not (no channel is needed: the shell's `net`, the HTTP
    // server's /status). A refusal is a
    // SocketStatusReply (NoRights as for Attach; NoMemory when the netstack
    // could not create the object).
    Info = 0x534b'0004,
};

struct SocketOpRequest {  // Attach
    SocketOp op;
    u32 reserved;  // 0
};
static_assert(sizeof(SocketOpRequest) == 8);

struct SocketAttachReply {
    Status status;
    u32 channel;      // opaque: names this attach, not only the client
    u32 data_bytes;   // of the data area
    u32 max_sockets;  // this client's quota (<= kSocketMaxSockets)
    // The netstack's generation: differs for every netstack process.
    u64 generation;
};
static_assert(sizeof(SocketAttachReply) == 24 && offsetof(SocketAttachReply, max_sockets) == 12 &&
              offsetof(SocketAttachReply, generation) == 16);

struct SocketChannelRequest {  // Detach, Ping
    SocketOp op;
    u32 channel;
    u64 generation;
};
static_assert(sizeof(SocketChannelRequest) == 16 && offsetof(SocketChannelRequest, generation) == 8);

struct SocketStatusReply {  // Detach, Ping, refusals (an unknown op: InvalidArgument)
    Status status;
};
static_assert(sizeof(SocketStatusReply) == 4);

struct SocketInfoReply {  // Info, when Ok (handles[0]: the snapshot)
    Status status;
    u32 version;  // kSocketInfoVersion: what the snapshot's layout is
    u32 bytes;    // sizeof(SocketInfo) as the netstack wrote it
};
static_assert(sizeof(SocketInfoReply) == 12);

// What the DHCP client is doing [RFC 2131 §4.4] (from lwIP's state).
enum class SocketDhcpState : u8 {
    Off = 0,        // a static address (or DHCP not started)
    Searching = 1,  // no lease: DISCOVER/REQUEST under way, or backing off
    Bound = 2,      // a lease, before T1
    Renewing = 3,   // past T1: asking the server that gave the lease
    Rebinding = 4,  // past T2: asking any server
};
// Its name in the shell's `net` and httpd's /status.
constexpr const char* socket_dhcp_state_name(SocketDhcpState s) {
    switch (s) {
        case SocketDhcpState::Off: return "off";
        case SocketDhcpState::Searching: return "searching";
        case SocketDhcpState::Bound: return "bound";
        case SocketDhcpState::Renewing: return "renewing";
        case SocketDhcpState::Rebinding: return "rebinding";
    }
    return "?";
}

// The Info snapshot: the netstack's one interface, the NIC provider
// behind it, its counters, lwIP's protocol counters and the socket
// service. All counters count since the netstack started (a restarted
// netstack starts again from 0) and wrap at 2^64 (the NIC's) or 2^32
// (lwIP's own, STAT_COUNTER). Addresses are IPv4 in network byte order, 0
// when not configured. Layout changes only by growing, with a new
// kSocketInfoVersion; a client reads no further than `bytes`.
struct SocketInfoCounters {  // one lwIP protocol's counters (lwIP stats_proto)
    u32 rx;                  // packets received (recv)
    u32 tx;                  // packets sent (xmit)
    u32 dropped;             // received and dropped, for any reason (drop)
    u32 checksum;            // dropped: a bad checksum (chkerr)
};
static_assert(sizeof(SocketInfoCounters) == 16);

struct SocketInfo {
    // --- The interface ---------------------------------------------------
    char name[8];  // lwIP's name for it, NUL-terminated: "en0"
    u8 mac[6];     // the NIC's, as the provider reported it at attach
    u16 mtu;       // IP MTU (bytes after the Ethernet header)
    u8 link_up;    // 1: the provider reports the link up
    u8 bound;      // 1: an address is configured (DHCP: a lease is held)
    SocketDhcpState dhcp;
    u8 reserved0;
    u32 address;  // network byte order, as all four
    u32 netmask;
    u32 gateway;
    u32 dns[2];  // the resolvers (DHCP's option 6, first two), 0: none
    // DHCP: the lease's length as the server gave it, and what is left of
    // it, in seconds (lwIP counts the lease in one-minute ticks, so
    // lease_left_s moves in steps of 60). 0 without a lease.
    u32 lease_s;
    u32 lease_left_s;
    // --- The NIC provider behind the interface ---------------------------
    char provider[32];   // its service instance name, NUL-terminated ("vnet0")
    u64 nic_generation;  // the provider's generation the netstack is attached to
    u32 nic_reattaches;  // times the netstack attached again to a restarted provider
    u32 reserved1;
    // --- Frames through the interface (netstack::NetifCounters) ----------
    u64 rx_frames;  // taken from the provider
    u64 rx_bytes;
    u64 rx_dropped;  // malformed, or no buffer for the copy
    u64 tx_frames;   // handed to the provider
    u64 tx_bytes;
    u64 tx_dropped;  // no transmit buffer free, or a frame too long for it
    // --- lwIP's protocol counters (lwip_stats) ---------------------------
    SocketInfoCounters ip;
    SocketInfoCounters icmp;
    SocketInfoCounters udp;
    SocketInfoCounters tcp;
    // --- The socket service ----------------------------------------------
    u32 clients;       // clients the manifest names
    u32 attached;      // of them, with a live channel
    u32 sockets_open;  // sockets open across all channels
    u32 reserved2;
    u64 uptime_ns;  // since the netstack started
};
static_assert(sizeof(SocketInfo) == 232 && offsetof(SocketInfo, address) == 20 &&
              offsetof(SocketInfo, provider) == 48 && offsetof(SocketInfo, rx_frames) == 96 &&
              offsetof(SocketInfo, ip) == 144 && offsetof(SocketInfo, clients) == 208 &&
              offsetof(SocketInfo, uptime_ns) == 224);
constexpr u32 kSocketInfoVersion = 1;
constexpr u64 kSocketInfoBytes = 4096;  // the memory object Info hands over
static_assert(sizeof(SocketInfo) <= kSocketInfoBytes);

enum class SocketKind : u8 { Udp = 1, Tcp = 2 };

// Ring requests. Each is answered by exactly one event carrying its tag
// (Done unless said otherwise) — but Send, answered only when refused; the
// client has at most kSocketRequestEntries unanswered, the netstack takes
// no more until the client consumes events.
enum class SocketRequestOp : u8 {
    // Open {kind, rx_*, tx_*} -> Done {socket}: a new, unbound socket.
    // QuotaExceeded past max_sockets or the client's UDP/TCP quota (cut
    // from lwIP's shared pools, docs/netstack.md); OutOfBounds for a ring
    // outside the data area; InvalidArgument for a ring size not a power
    // of two in [kSocketMinRingBytes, kSocketMaxRingBytes], a TCP rx ring
    // under kSocketMinTcpRxBytes, an offset not a multiple of
    // kSocketRingAlign, or rings overlapping each other or a live socket's;
    // NoMemory when lwIP has no pcb left all the same.
    Open = 1,
    // Bind {socket, address (0: any), port}: NoRights for a port this
    // client was not granted (port 0, an ephemeral port, needs no grant);
    // Busy for a port in use; InvalidArgument when already bound.
    Bind = 2,
    // Connect {socket, address, port} -> Connected (status Ok once
    // established; TCP: NotFound when refused, Timeout when lwIP gave up,
    // with a SocketCloseReason in `detail`; the socket then takes only
    // Close, as one whose connection ended: any other request is Stale). UDP: sets
    // the default destination, answered at once. Binds an ephemeral port
    // first when unbound.
    Connect = 3,
    // Listen {socket (TCP, bound), count = backlog (1..kSocketMaxBacklog)}.
    // QuotaExceeded past the client's listener quota, or when the backlog
    // does not fit its TCP quota (each waiting connection is a pcb).
    Listen = 4,
    // Accept {socket = the listener, rx_*, tx_* for the new socket} ->
    // Accepted {socket = the new index, address, port = the peer's} when a
    // connection arrives (at once when one is waiting). Checked as Open;
    // QuotaExceeded past kSocketMaxBacklog pending on one listener or
    // kSocketMaxOwed answers owed to the client; an Accepted with
    // QuotaExceeded when the connection came but the client's table was
    // full (the connection is reset).
    Accept = 5,
    // Send {socket, count}: `count` more bytes published in the tx ring
    // (UDP: whole records) for the netstack to send. The one request
    // answered only when refused (Done with the refusal's status): taken,
    // it is not answered at all — an event per Send would wake the client
    // once per batch for nothing — and Writable follows as the ring's room
    // comes back. InvalidArgument when count exceeds what the
    // client published and has not announced yet, or after Shutdown of the
    // write side. UDP: the netstack sends a bounded number of datagrams per
    // turn and keeps any the NIC cannot take yet for the next one (never
    // dropped for want of buffers); a datagram with no destination (neither
    // a record's address nor Connect) or no route is dropped, counted.
    Send = 6,
    // Close {socket}: TCP: a graceful close (FIN after the announced
    // bytes); answered once they are all handed to lwIP, the index free
    // again from then. A listener's pending Accepts are answered Accepted
    // Stale.
    Close = 7,
    // Shutdown {socket, count = SocketShutdown bits} (TCP, Connected).
    // Write: FIN after the announced bytes — Busy while lwIP has not taken
    // them all yet (try again after Writable); Send is refused from then on
    // and the socket keeps receiving until the peer's FIN. Both directions
    // (at once or in turn): the connection is the netstack's to finish, as
    // after Close, and the socket takes only Close (others: Stale); with
    // bytes left unread the peer is reset [RFC 1122 §4.2.2.13].
    Shutdown = 8,
    // Echo {address, count = timeout in ms (1..kSocketMaxEchoTimeoutMs)}:
    // one ICMP echo request [RFC 792] to `address` (socket, port: 0),
    // answered Done {address = the target}: Ok with the round trip in µs in
    // `detail` once its reply came, Timeout when none came in time. Each
    // Echo gets an ICMP identifier of its own and a payload derived from
    // it, and only a reply carrying both answers it, so concurrent Echoes
    // of any clients are matched to their own replies. QuotaExceeded while
    // the client has kSocketMaxEchoes unanswered; InvalidArgument for
    // an address that is not one host (0.0.0.0/8, a multicast group, the
    // limited or the subnet's broadcast: every host would answer one
    // client's request) or a timeout out of range; NoMemory when
    // lwIP has no raw pcb left.
    Echo = 9,
    // Resolve {rx_offset, rx_bytes: a host name in the data area, without
    // a terminator}: an IPv4 address (an A record [RFC 1035 §3.4.1]) for
    // it, asked of the DNS server the DHCP lease named. The name is copied
    // once out of the data area (OutOfBounds when not inside it) and must
    // be a host name (socket_host_name_valid below, else InvalidArgument). Answered
    // Done {address = the address, network byte order}: Ok; NotFound when
    // the server has no such name or no answer came after lwIP's retries
    // (the resolver reports both the same way); QuotaExceeded while the
    // client has kSocketMaxResolves unanswered, or while lookups its closed
    // channels left behind (held until their answer or time-out) fill its
    // share of the resolver's table; NoMemory when the table is full all
    // the same (it holds every client's share). A name already cached is
    // answered at once.
    Resolve = 10,
};
constexpr u32 kSocketMaxEchoes = 1;  // unanswered Echoes per client
constexpr u32 kSocketMaxEchoTimeoutMs = 10'000;
constexpr u32 kSocketMaxResolves = 1;     // unanswered Resolves per client
constexpr u32 kSocketMaxNameBytes = 253;  // RFC 1035 §2.3.4: 255 on the wire

// A host name as Resolve takes it [RFC 1123 §2.1]: 1..kSocketMaxNameBytes
// of letters, digits, '-' and '.', no empty label (nor a trailing '.'),
// labels of at most 63, and a last label not all digits (a top-level
// domain never is, RFC 3696 §2: so "10.0.2.256" is a bad address, not a
// name, and an address is never sent to be "resolved").
constexpr bool socket_host_name_valid(const char* name, u32 length) {
    if (length == 0 || length > kSocketMaxNameBytes) return false;
    u32 label = 0;
    bool numeric = true;  // the current label so far
    for (u32 i = 0; i < length; i++) {
        char c = name[i];
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            numeric = true;
            continue;
        }
        bool digit = c >= '0' && c <= '9';
        bool ok = digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
        if (!ok || ++label > 63) return false;
        numeric = numeric && digit;
    }
    return label != 0 && !numeric;
}
static_assert(socket_host_name_valid("deb.debian.org", 14) && !socket_host_name_valid("a..b", 4) &&
              !socket_host_name_valid("a.", 2) && !socket_host_name_valid("a b", 3) &&
              !socket_host_name_valid("10.0.2.256", 10) && socket_host_name_valid("x-1.2a", 6));

constexpr u32 kSocketShutdownRead = 1u << 0;
constexpr u32 kSocketShutdownWrite = 1u << 1;

struct SocketRequest {
    u64 tag;  // the client's; echoed in the answering event
    SocketRequestOp op;
    SocketKind kind;  // Open; else 0
    u16 port;         // Bind, Connect: host byte order
    u32 socket;       // the client's index (not Open)
    u32 address;      // IPv4, network byte order (Bind: 0 = any; Echo: the target)
    u32 count;        // Listen: backlog; Send: bytes; Shutdown: how; Echo: timeout (ms)
    // Open, Accept: the new socket's byte rings, offsets into the data
    // area; Resolve: the name (rx_offset, rx_bytes); else 0 (InvalidArgument).
    u32 rx_offset;
    u32 rx_bytes;
    u32 tx_offset;
    u32 tx_bytes;
};
static_assert(sizeof(SocketRequest) == 40 && offsetof(SocketRequest, socket) == 12 &&
              offsetof(SocketRequest, address) == 16 && offsetof(SocketRequest, rx_offset) == 24 &&
              offsetof(SocketRequest, tx_bytes) == 36);

enum class SocketEventKind : u8 {
    Done = 1,       // a request answered: status; Open: socket = the new index
    Connected = 2,  // a Connect answered
    Accepted = 3,   // an Accept answered: socket = the new index, address/port = the peer
    // Unsolicited (tag 0), coalesced (one per socket per turn of the
    // netstack's loop at most), never dropped: they wait while the client
    // leaves the event ring full.
    Readable = 4,  // new bytes (or datagrams) in the socket's rx ring
    Writable = 5,  // room came back in the tx ring, while the client wanted it (SocketStreams::tx_wanted)
    Closed = 6,    // the peer finished (detail: SocketCloseReason); TCP: after the last byte in rx
};

enum class SocketCloseReason : u32 {
    PeerFinished = 0,  // FIN: no more bytes will come; the socket can still send
    PeerReset = 1,     // RST (Connect: refused)
    Aborted = 2,       // the stack gave up (retransmissions, no memory)
    TimedOut = 3,      // Connect: no answer
};

struct SocketEvent {
    u64 tag;  // the request's; 0 when unsolicited
    SocketEventKind kind;
    u8 reserved;
    u16 port;       // Accepted: the peer's (host byte order)
    u32 socket;     // the index the event is about
    Status status;  // Done, Connected, Accepted: Ok or why refused
    u32 address;    // Accepted: the peer's; Echo: the target; Resolve: the answer (network byte order)
    u32 detail;     // Closed, failed Connected: a SocketCloseReason; Echo: the round trip (µs)
    u32 reserved2;
};
static_assert(sizeof(SocketEvent) == 32 && offsetof(SocketEvent, socket) == 12 && offsetof(SocketEvent, status) == 16 &&
              offsetof(SocketEvent, detail) == 24);

// A UDP datagram's header in a byte ring (rx: its source; tx: its
// destination, or address 0 and port 0 for the Connect destination).
struct SocketDatagram {
    u32 address;  // network byte order
    u16 port;     // host byte order
    u16 length;   // payload bytes that follow (<= kSocketMaxDatagram)
};
static_assert(sizeof(SocketDatagram) == 8);
constexpr u32 kSocketRecordAlign = 8;      // a record (header + payload) is padded to this
constexpr u32 kSocketMaxDatagram = 65507;  // IPv4's UDP payload limit [RFC 768, RFC 791]
// The bytes a datagram of `length` payload bytes takes in a ring.
constexpr u32 socket_record_bytes(u32 length) {
    return (static_cast<u32>(sizeof(SocketDatagram)) + length + kSocketRecordAlign - 1) & ~(kSocketRecordAlign - 1);
}

constexpr u32 kSocketMaxSockets = 32;
constexpr u32 kSocketMaxBacklog = 8;  // MEMP_NUM_TCP_PCB_LISTEN bounds listeners, this their queues
constexpr u32 kSocketRequestEntries = 64;
// The netstack takes a request only while the event ring has room for its
// answer and every answer still owed (Connect, Accept, Close wait on the
// network), so no answer is ever dropped.
constexpr u32 kSocketEventEntries = 256;
// Answers owed at once, at most (an Accept past it: QuotaExceeded), so the
// ring always keeps room for the requests that would end them.
constexpr u32 kSocketMaxOwed = kSocketEventEntries / 2;

// Byte rings: capacity a power of two (free-running u32 byte counts, slot
// = count % capacity, as lib/ring's entry rings), placed at a multiple of
// kSocketRingAlign in the data area.
constexpr u32 kSocketMinRingBytes = 4096;
constexpr u32 kSocketMaxRingBytes = 256 * 1024;
constexpr u32 kSocketRingAlign = 64;
// A TCP socket's rx ring (Open, Accept) holds at least the whole receive
// window the netstack advertises (lwIP's TCP_WND, 32 segments of 1460
// bytes): what TCP accepted then always fits the ring at once, so no
// received buffer waits on a slow reader. InvalidArgument below it.
constexpr u32 kSocketMinTcpRxBytes = 64 * 1024;
constexpr u32 kSocketDataBytes = 2u << 20;  // the data area a client gets

// One socket's byte-ring indices: rx (netstack produces, client
// consumes), tx (client produces, netstack consumes). Meaningful only
// while the socket is open; reset to 0 by the netstack before it answers
// Open or Accept.
//
// tx_wanted: the client's word. Non-zero when it found too little room in
// the tx ring for what it wanted to write: the netstack posts Writable as
// room comes back only then, taking the word back to 0 (an exchange).
// Without it every datagram a client sent would wake it once more when
// the netstack took the bytes (a wake for nothing on every round trip).
// The handshake: the client writes the word, fences, and looks at the
// head again; the netstack moves the head, fences, and exchanges the word
// (socket_tx_want / socket_tx_wanted_taken). Whichever runs second sees
// the other's write, so a client waiting for room is never forgotten.
struct SocketStreams {
    ring::Indices rx;
    ring::Indices tx;
    u32 tx_wanted;
    u32 reserved;  // 0
};
static_assert(sizeof(SocketStreams) == 24);

inline void socket_tx_want(SocketStreams& s) {
    __atomic_store_n(&s.tx_wanted, 1u, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
inline bool socket_tx_wanted_taken(SocketStreams& s) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&s.tx_wanted, __ATOMIC_RELAXED) == 0) return false;
    return __atomic_exchange_n(&s.tx_wanted, 0u, __ATOMIC_RELAXED) != 0;
}

using SocketRequestRing = ring::Ring<SocketRequest, kSocketRequestEntries>;
using SocketEventRing = ring::Ring<SocketEvent, kSocketEventEntries>;
// The two views of each ring.
using SocketRequestProducer = ring::Producer<SocketRequest, kSocketRequestEntries>;  // the client's
using SocketRequestConsumer = ring::Consumer<SocketRequest, kSocketRequestEntries>;  // the netstack's
using SocketEventProducer = ring::Producer<SocketEvent, kSocketEventEntries>;        // the netstack's
using SocketEventConsumer = ring::Consumer<SocketEvent, kSocketEventEntries>;        // the client's

// The ring memory object.
struct SocketRings {
    SocketRequestRing requests;  // client produces
    SocketEventRing events;      // netstack produces
    alignas(64) SocketStreams streams[kSocketMaxSockets];
};
constexpr u64 kSocketRingBytes = 16384;
static_assert(sizeof(SocketRings) <= kSocketRingBytes);
static_assert(offsetof(SocketRings, events) == sizeof(SocketRequestRing) &&
              offsetof(SocketRings, streams) == sizeof(SocketRequestRing) + sizeof(SocketEventRing));

}  // namespace abi
