// Fuzzer for the Socket service's client library (lib/net/socket_client.h)
// against a hostile netstack: it answers the client's requests with any
// event (the right tag or not, any kind, socket, status), posts unsolicited
// events, writes any value into the indices it owns (the event tail, each
// socket's rx tail and tx head) and any bytes into the data area, while
// the client opens, binds, connects, listens, accepts, sends, receives and
// closes as the input says.
//
// The input is a sequence of steps, each a byte choosing one of: a client
// request; an event answering the oldest unanswered request (its tag, the
// rest from the input); an arbitrary event; an index write; bytes into the
// data area; a client data call (send, receive, send_to, receive_from,
// readable, writable); poll_events and take every completion. After every
// step:
//   - ASan/UBSan see no access outside the ring object and the data area
//     (each its own allocation);
//   - once broken, the client stays broken and refuses every call;
//   - every pair of live sockets' rings the client placed (its Open and
//     Accept requests, as the netstack reads them) lie inside the data
//     area and apart from each other's.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz_support.h"
#include "net/socket_client.h"

namespace {

using fuzz_support::check;
using fuzz_support::Input;

constexpr u32 kMaxSockets = 8;
// A data area smaller than the service's (the client uses what it is
// given): room for a few sockets' rings, and quick to clear per run.
constexpr u32 kDataBytes = 256 * 1024;

struct Placed {
    u64 tag;
    u32 rx_offset, rx_bytes, tx_offset, tx_bytes;
    u32 socket;  // once answered Ok
};

bool apart(u32 a, u32 al, u32 b, u32 bl) { return a + al <= b || b + bl <= a; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    auto rings = std::make_unique<abi::SocketRings>();
    std::unique_ptr<u8[]> area(new u8[kDataBytes]());
    net::SocketClient client;
    check(client.open(rings.get(), area.get(), kDataBytes, kMaxSockets).ok());
    abi::SocketEventProducer events = rings->events.producer();
    abi::SocketRequestConsumer requests = rings->requests.consumer();
    std::vector<abi::SocketRequest> unanswered;
    std::vector<Placed> placed;  // rings of Open/Accept requests not yet refused
    u8 buf[2048];
    bool was_broken = false;

    for (int step = 0; step < 400 && in.size > 0; step++) {
        // The netstack side takes whatever requests were published.
        if (requests.refresh().ok()) {
            abi::SocketRequest r;
            while (requests.take(&r)) {
                unanswered.push_back(r);
                if (r.op == abi::SocketRequestOp::Open || r.op == abi::SocketRequestOp::Accept) {
                    check(u64{r.rx_offset} + r.rx_bytes <= kDataBytes);
                    check(u64{r.tx_offset} + r.tx_bytes <= kDataBytes);
                    check(apart(r.rx_offset, r.rx_bytes, r.tx_offset, r.tx_bytes));
                    // Apart from every ring still in use (asked for, or
                    // opened and not yet closed).
                    for (auto& p : placed)
                        check(client.broken() || (apart(p.rx_offset, p.rx_bytes, r.rx_offset, r.rx_bytes) &&
                                                  apart(p.rx_offset, p.rx_bytes, r.tx_offset, r.tx_bytes) &&
                                                  apart(p.tx_offset, p.tx_bytes, r.rx_offset, r.rx_bytes) &&
                                                  apart(p.tx_offset, p.tx_bytes, r.tx_offset, r.tx_bytes)));
                    placed.push_back({r.tag, r.rx_offset, r.rx_bytes, r.tx_offset, r.tx_bytes, ~0u});
                }
            }
            requests.release();
        }
        u32 socket = in.byte() % (kMaxSockets + 1);
        switch (in.byte() % 8) {
            case 0: {  // a client request
                switch (in.byte() % 7) {
                    case 0:
                        (void)client.open_socket(in.byte() & 1 ? abi::SocketKind::Tcp : abi::SocketKind::Udp);
                        break;
                    case 1: (void)client.bind(socket, in.u32_(), static_cast<u16>(in.u32_())); break;
                    case 2: (void)client.connect(socket, in.u32_(), static_cast<u16>(in.u32_())); break;
                    case 3: (void)client.listen(socket, in.byte() % 9); break;
                    case 4: (void)client.accept(socket); break;
                    case 5: (void)client.shutdown(socket, in.byte() % 4); break;
                    default: (void)client.close_socket(socket); break;
                }
                break;
            }
            case 1:
            case 2: {  // an event: answering the oldest request (case 1) or anything
                abi::SocketEvent e{};
                e.kind = static_cast<abi::SocketEventKind>(in.byte() % 8);
                e.socket = in.byte() % 2 ? socket : in.u32_();
                e.status = static_cast<Status>(in.byte() % 4);
                e.address = in.u32_();
                e.port = static_cast<u16>(in.u32_());
                e.detail = in.byte() % 5;
                if (in.byte() % 4 == 0) e.tag = in.u32_();
                if (step % 2 == 0 && !unanswered.empty()) {
                    e.tag = unanswered.front().tag;
                    unanswered.erase(unanswered.begin());
                }
                if (events.refresh().ok() && events.put(e)) events.publish();
                break;
            }
            case 3: {  // an index of the netstack's, any value
                u32 value = in.u32_();
                switch (in.byte() % 3) {
                    case 0: __atomic_store_n(&rings->events.indices.tail, value, __ATOMIC_RELEASE); break;
                    case 1:
                        __atomic_store_n(&rings->streams[socket % abi::kSocketMaxSockets].rx.tail, value,
                                         __ATOMIC_RELEASE);
                        break;
                    default:
                        __atomic_store_n(&rings->streams[socket % abi::kSocketMaxSockets].tx.head, value,
                                         __ATOMIC_RELEASE);
                        break;
                }
                break;
            }
            case 4: {  // bytes into the data area
                u32 at = in.u32_() % kDataBytes;
                u32 n = in.byte();
                for (u32 i = 0; i < n && at + i < kDataBytes; i++) area[at + i] = in.byte();
                break;
            }
            case 5: {  // a client data call
                u32 n = in.byte() * 8u;
                switch (in.byte() % 6) {
                    case 0: (void)client.send(socket, buf, n); break;
                    case 1: (void)client.receive(socket, buf, n); break;
                    case 2: (void)client.send_to(socket, in.u32_(), 9, buf, n); break;
                    case 3: {
                        abi::SocketDatagram from;
                        u32 length = 0;
                        (void)client.receive_from(socket, &from, buf, n, &length);
                        break;
                    }
                    case 4: (void)client.readable(socket); break;
                    default: (void)client.writable(socket); break;
                }
                break;
            }
            default: {
                (void)client.poll_events();
                net::SocketCompletion c;
                while (client.take_completion(&c)) {
                    // A refused Open/Accept gave its rings back; an opened
                    // one keeps them until its Close is answered Ok.
                    bool rings = c.op == abi::SocketRequestOp::Open || c.op == abi::SocketRequestOp::Accept;
                    bool closed = c.op == abi::SocketRequestOp::Close && c.status == Status::Ok;
                    for (usize i = 0; i < placed.size();) {
                        bool gone = (rings && placed[i].tag == c.tag && c.status != Status::Ok) ||
                                    (closed && placed[i].socket == c.socket);
                        if (rings && placed[i].tag == c.tag && c.status == Status::Ok) placed[i].socket = c.socket;
                        if (gone)
                            placed.erase(placed.begin() + static_cast<long>(i));
                        else
                            i++;
                    }
                }
                break;
            }
        }
        if (was_broken) {
            check(client.broken());
            check(client.open_socket(abi::SocketKind::Udp).status() == Status::Stale);
            check(!client.readable(0));
        }
        was_broken = client.broken();
    }
    return 0;
}
