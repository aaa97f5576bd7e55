// The client side of the Socket service (lib/protocol/socket.h): what a
// process that was granted the network does with the ring object and data
// area the netstack handed it at Attach. Non-blocking throughout, and free
// of any system call: the caller maps the memory, waits on its
// notification, and signals the netstack's when needs_signal() says so
// (the guest wrapper that attaches over the endpoint lives elsewhere; the
// hosted tests drive this directly against a netstack::SocketChannel).
//
// Requests (open_socket, bind, connect, listen, accept, shutdown,
// close_socket) return a tag at once; the answer comes back as a
// SocketCompletion with that tag, queued by poll_events() (call it after
// the notification fires) and taken with take_completion(). Data moves
// without requests of the caller's: send()/send_to() copy into the
// socket's tx ring as far as it has room, and needs_signal() announces
// what was written since its last call, one Send per socket (the Send
// requests are this library's and the netstack answers them only when it
// refuses one; send()/send_to() then return that status for good);
// receive()/receive_from() copy out of its rx ring.
//
// The data area is the client's: each socket's two rings are carved from
// it by a small page allocator (4 KiB pages, first fit) when the socket is
// opened or accepted, and given back once the netstack answered its Close.
//
// Nothing the netstack writes is trusted either. An event that answers no
// request of ours, names a socket we do not have (or one we have, for a new
// one), an unknown kind, an event ring index or an rx ring tail running
// ahead or back, a datagram header claiming more than was published: the
// channel is marked broken() and refuses everything from then on (the
// caller detaches and attaches again). Nothing is read or written outside
// the memory given to open().
//
// Threading: one thread owns a SocketClient.
#pragma once

#include "protocol/socket.h"
#include "ring/byte_ring.h"
#include "util/result.h"
#include "util/types.h"

namespace net {

// The answer to one request of the caller's.
struct SocketCompletion {
    u64 tag;
    abi::SocketRequestOp op;
    Status status;
    u32 socket;   // Open, Accept: the new socket's index; else the one asked about
    u32 address;  // Accept: the peer's; Echo: the target; Resolve: the answer (network byte order)
    u16 port;     // Accept: the peer's (host byte order)
    u32 detail;   // Connect refused or timed out: a SocketCloseReason; Echo: the round trip (µs)
};

class SocketClient {
public:
    static constexpr u32 kPageBytes = 4096;  // = kSocketMinRingBytes: the allocator's unit
    static constexpr u32 kMaxPages = abi::kSocketDataBytes / kPageBytes;
    // Requests unanswered plus answers not yet taken, at most.
    static constexpr u32 kMaxOutstanding = 128;
    // Ring sizes open_socket/accept pick when given 0.
    static constexpr u32 kDefaultUdpRing = 16 * 1024;
    static constexpr u32 kDefaultTcpRing = abi::kSocketMinTcpRxBytes;

    SocketClient() = default;
    SocketClient(const SocketClient&) = delete;
    SocketClient& operator=(const SocketClient&) = delete;

    // Starts over the mapped ring object and data area (only the first
    // kSocketDataBytes of it are used) with the Attach reply's max_sockets.
    // InvalidArgument for null memory or max_sockets out of range.
    [[nodiscard]] Result<void> open(abi::SocketRings* rings, u8* data, u32 data_bytes, u32 max_sockets);
    // Forgets the memory (nothing is sent: the caller detaches).
    void close();
    bool live() const { return m_rings != nullptr && !m_broken; }
    // The netstack broke the protocol: see the header comment.
    bool broken() const { return m_broken; }

    // --- Requests: a tag, answered by a completion -------------------------
    // Busy: the request ring or kMaxOutstanding is full (poll_events and
    // take completions, then again); NoMemory: no room in the data area for
    // the rings; InvalidArgument: a ring size the service refuses, a socket
    // in the wrong state; NotFound: no such socket; Stale once broken.
    // rx_bytes/tx_bytes 0: the defaults above.
    [[nodiscard]] Result<u64> open_socket(abi::SocketKind kind, u32 rx_bytes = 0, u32 tx_bytes = 0);
    [[nodiscard]] Result<u64> bind(u32 socket, u32 address, u16 port);
    [[nodiscard]] Result<u64> connect(u32 socket, u32 address, u16 port);
    [[nodiscard]] Result<u64> listen(u32 socket, u32 backlog);
    [[nodiscard]] Result<u64> accept(u32 listener, u32 rx_bytes = 0, u32 tx_bytes = 0);
    [[nodiscard]] Result<u64> shutdown(u32 socket, u32 how);
    [[nodiscard]] Result<u64> close_socket(u32 socket);
    // One ICMP echo request to `address` (network byte order): answered Ok
    // with the round trip in µs in the completion's `detail`, or Timeout
    // after timeout_ms (1..kSocketMaxEchoTimeoutMs). Busy while
    // kSocketMaxEchoes are unanswered; InvalidArgument for address 0 or
    // broadcast, or a timeout out of range.
    [[nodiscard]] Result<u64> echo(u32 address, u32 timeout_ms);
    // An IPv4 address for the host name `name` (length bytes, no
    // terminator needed), asked of the netstack's DNS server: answered Ok
    // with the address (network byte order) in the completion's `address`,
    // or NotFound (no such name, or no answer). InvalidArgument for a name
    // abi::socket_host_name_valid refuses; Busy while kSocketMaxResolves
    // are unanswered; NoMemory: no page of the data area free for the name.
    [[nodiscard]] Result<u64> resolve(const char* name, u32 length);

    // --- Data ----------------------------------------------------------------
    // TCP: copies as much of `bytes` as the tx ring has room for and
    // announces it; how many (fewer than n: the ring is full, and a
    // Writable event follows as room comes back — the only time one is
    // posted, SocketStreams::tx_wanted). Once the
    // netstack refused an announcement (the connection reset, the write side
    // shut), its status, for good: those bytes never go.
    [[nodiscard]] Result<u32> send(u32 socket, const void* bytes, u32 n);
    // TCP: copies out up to `n` received bytes; how many (0: none yet).
    [[nodiscard]] Result<u32> receive(u32 socket, void* buf, u32 n);
    // UDP: one datagram to address:port (0, 0: the Connect destination);
    // false when the tx ring has no room for it now (Writable follows as
    // room comes back). InvalidArgument past
    // kSocketMaxDatagram.
    [[nodiscard]] Result<bool> send_to(u32 socket, u32 address, u16 port, const void* payload, u32 n);
    // UDP: the next datagram, its source in *from and up to `n` bytes of it
    // in buf (the rest of a longer one is discarded); false when none.
    // *length: the datagram's full length.
    [[nodiscard]] Result<bool> receive_from(u32 socket, abi::SocketDatagram* from, void* buf, u32 n, u32* length);

    // --- State ---------------------------------------------------------------
    // readable/writable read the netstack's index (and may find it
    // broken the protocol: false, broken()).
    bool is_open(u32 socket) const;
    bool readable(u32 socket);  // bytes or a datagram wait in rx
    bool writable(u32 socket);  // the tx ring has room
    // The peer finished (FIN, after the last byte) or the connection ended
    // (reset, aborted): close_reason() says which.
    bool closed(u32 socket) const;
    abi::SocketCloseReason close_reason(u32 socket) const;

    // After the notification fired: takes every event, updates the sockets,
    // queues completions, retries announcements the request ring had no
    // room for. The number of events taken; Malformed (and broken()) when
    // the netstack broke the protocol.
    [[nodiscard]] Result<u32> poll_events();
    bool take_completion(SocketCompletion* out);
    // The answer to `tag` if it came, the others left queued in order.
    bool take_completion(u64 tag, SocketCompletion* out);
    // Requests were published, or rx room given back (TCP's window reopens
    // only when the netstack sees it): signal the netstack's notification,
    // then call signalled(). Publishes the Send announcements held since the last call (one Send
    // per socket per batch, whatever the number of send()/send_to() calls)
    // and says whether to signal.
    bool needs_signal();
    void signalled() { m_need_signal = false; }

private:
    enum class State : u8 { Free, Opening, Open, Listening, Connecting, Connected, Closing };
    struct Stream {
        State state = State::Free;
        abi::SocketKind kind{};
        u32 rx_page = 0, rx_pages = 0, tx_page = 0, tx_pages = 0;
        ring::ByteConsumer rx;
        ring::ByteProducer tx;
        u32 unannounced = 0;  // tx bytes published, not yet in a Send request
        // Why the netstack refused one of this library's Send requests (its
        // bytes will never go): send()/send_to() return it from then on.
        Status send_error = Status::Ok;
        bool readable = false, peer_closed = false;
        u32 close_reason = 0;
    };
    struct Outstanding {
        u64 tag = 0;  // 0: free
        abi::SocketRequestOp op{};
        u32 socket = 0;
        u32 rx_page = 0, rx_pages = 0, tx_page = 0, tx_pages = 0;  // Open, Accept; Resolve: rx = the name
        abi::SocketKind kind{};                                    // Open
        State prior = State::Free;                                 // Close: the state to go back to if refused
        u32 address = 0;                                           // Echo: the target
    };

    Result<u64> request(abi::SocketRequest r, const Outstanding& keep, bool internal = false);
    Result<u64> ask(abi::SocketRequestOp op, u32 socket, State want, bool tcp_only, u32 address, u16 port, u32 count);
    Result<u64> open_with_rings(abi::SocketRequestOp op, abi::SocketKind kind, u32 socket, u32 rx_bytes, u32 tx_bytes);
    Stream* stream(u32 socket);
    const Stream* stream(u32 socket) const;
    void announce(u32 socket);
    bool want_room(u32 socket, Stream& s);
    void announce_all();
    void handle(const abi::SocketEvent& e);
    void answered(const Outstanding& o, const abi::SocketEvent& e);
    bool start_stream(u32 socket, const Outstanding& o, abi::SocketKind kind);
    void free_stream(Stream& s);
    void breach();

    // The page allocator over the data area.
    bool alloc_pages(u32 pages, u32* first);
    void free_pages(u32 first, u32 pages);

    abi::SocketRings* m_rings = nullptr;
    u8* m_data = nullptr;
    u32 m_pages = 0;
    u32 m_max_sockets = 0;
    bool m_broken = false;
    bool m_need_signal = false;
    bool m_announce = false;  // bytes written and not yet announced (needs_signal())
    abi::SocketRequestProducer m_requests;
    abi::SocketEventConsumer m_events;
    u64 m_next_tag = 1;
    u32 m_pending = 0;  // outstanding requests + completions queued
    Stream m_streams[abi::kSocketMaxSockets];
    Outstanding m_outstanding[kMaxOutstanding];
    SocketCompletion m_completions[kMaxOutstanding];
    u32 m_completion_head = 0, m_completion_count = 0;
    u64 m_used[kMaxPages / 64] = {};
};

}  // namespace net
