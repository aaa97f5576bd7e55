// Fuzzer for the Socket service's server (lib/netstack/socket_server.h)
// against a hostile client: whatever it writes into the shared memory —
// requests of any content, any index in its byte rings' shared indices,
// any bytes in its data area — while the peer on the wire sends UDP
// datagrams and TCP segments to the ports it may bind. A second,
// well-behaved client (a UDP socket bound to port 7) shares the stack.
//
// The input is a sequence of records [kind][length u16][bytes]:
//   kind 0: a request: the bytes (padded with zeros) are one SocketRequest
//           put into the request ring and published;
//   kind 1: an index write: bytes[0] picks a socket and which of its four
//           shared indices, bytes[1..5] the value (the client may write
//           any of them, not only its own);
//   kind 2: bytes into the data area: bytes[0..2] the offset, then data;
//   kind 3: the peer sends a UDP datagram to port 9 or 7 (bytes[0] odd: 7);
//   kind 4: the peer sends a TCP segment to port 9: bytes[0] flags,
//           bytes[1..4] seq, bytes[5..8] ack, the rest data;
//   kind 5: time passes (bytes[0] * 10 ms).
// After every record, the netstack's loop turns once (stack, both
// channels), and:
//   - ASan/UBSan see no access outside the memory the channels were given;
//   - the good client's channel is live and its event ring well formed;
//   - the FrameIo contract is kept.
// After the input both channels close and the stack stops: every RX
// buffer must be back with the provider (nothing leaked by the server).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "../support/fake_frame_io.h"
#include "../support/net_frames.h"
#include "../support/netstack_teardown.h"
#include "fuzz_support.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/timeouts.h"
#include "netstack/socket_server.h"
#include "netstack/stack.h"
#include "util/le_bytes.h"

namespace {

using frames::kOurIp;
using frames::kOurMac;
using frames::kPeerIp;
using frames::kPeerMac;

using frames::Bytes;
using fuzz_support::check;

constexpr u32 kDataBytes = 256 * 1024;  // room for a TCP socket's 64 KiB rx ring and more
constexpr u16 kHostilePorts[] = {9};
constexpr u16 kGoodPorts[] = {7};

struct Memory {
    std::unique_ptr<abi::SocketRings> rings = std::make_unique<abi::SocketRings>();
    std::vector<u8> data = std::vector<u8>(kDataBytes);
};

// lwIP's state is global and lives for the run; each input gets a stack
// and two channels started afresh.
struct World {
    fake::Host host;
    std::unique_ptr<fake::FrameIo> io = std::make_unique<fake::FrameIo>();
    netstack::Stack stack;
    Memory hostile_mem, good_mem;
    netstack::SocketChannel hostile, good;
    abi::SocketRequestProducer requests;

    World() {
        host.quiet = true;
        netstack::set_host(host);
    }

    void start() {
        netstack::StackConfig config;
        config.dhcp = false;
        IP4_ADDR(&config.address, 10, 0, 2, 15);
        IP4_ADDR(&config.netmask, 255, 255, 255, 0);
        IP4_ADDR(&config.gateway, 10, 0, 2, 2);
        check(stack.start(*io, config).ok());
        io->deliver(frames::ethernet(frames::kBroadcastMac, kPeerMac, frames::kEtherArp,
                                     frames::arp(1, kPeerMac, kPeerIp, frames::Mac{}, kOurIp)));
        stack.poll();
        io->take_sent();
        netstack::SocketClientConfig h{0xbad, kHostilePorts, 1, 8};
        check(hostile.open(hostile_mem.rings.get(), hostile_mem.data.data(), kDataBytes, h).ok());
        requests = hostile_mem.rings->requests.producer();
        netstack::SocketClientConfig g{0x900d, kGoodPorts, 1, 4};
        check(good.open(good_mem.rings.get(), good_mem.data.data(), kDataBytes, g).ok());
        // The good client: one UDP socket on port 7.
        auto good_requests = good_mem.rings->requests.producer();
        abi::SocketRequest open{};
        open.tag = 1;
        open.op = abi::SocketRequestOp::Open;
        open.kind = abi::SocketKind::Udp;
        open.rx_bytes = open.tx_bytes = 4096;
        open.tx_offset = 4096;
        abi::SocketRequest bind{};
        bind.tag = 2;
        bind.op = abi::SocketRequestOp::Bind;
        bind.port = 7;
        check(good_requests.put(open) && good_requests.put(bind));
        good_requests.publish();
        turn();
    }

    void turn() {
        host.now += 1'000'000;
        stack.poll();
        hostile.poll();
        good.poll();
        stack.poll();
        io->take_sent();
        // The good client consumes its events and its rx ring as it comes.
        auto& g = *good_mem.rings;
        u32 tail = __atomic_load_n(&g.events.indices.tail, __ATOMIC_ACQUIRE);
        __atomic_store_n(&g.events.indices.head, tail, __ATOMIC_RELEASE);
        u32 rx_tail = __atomic_load_n(&g.streams[0].rx.tail, __ATOMIC_ACQUIRE);
        __atomic_store_n(&g.streams[0].rx.head, rx_tail, __ATOMIC_RELEASE);
    }

    void stop() {
        hostile.close();
        good.close();
        check(fake::stop_stack_and_drain(stack, *io, host));
    }
};

World& world() {
    static World* w = new World;  // never destroyed: lwIP's state outlives the run
    return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    World& w = world();
    w.start();
    fuzz_support::Records records(data, size);
    u8 kind;
    const u8* body;
    usize n;
    while (records.next(kind, body, n)) {
        switch (kind % 6) {
            case 0: {
                abi::SocketRequest r{};
                std::memcpy(&r, body, n < sizeof r ? n : sizeof r);
                if (w.hostile.live() && w.requests.refresh().ok() && w.requests.put(r)) w.requests.publish();
                break;
            }
            case 1: {
                if (n < 5) break;
                auto& st = w.hostile_mem.rings->streams[body[0] % abi::kSocketMaxSockets];
                u32* index[] = {&st.rx.head, &st.rx.tail, &st.tx.head, &st.tx.tail};
                __atomic_store_n(index[(body[0] >> 5) % 4], le::get_u32(body + 1), __ATOMIC_RELEASE);
                break;
            }
            case 2: {
                if (n < 3) break;
                u32 off = static_cast<u32>(body[0] | body[1] << 8 | body[2] << 16) % kDataBytes;
                usize len = n - 3 < kDataBytes - off ? n - 3 : kDataBytes - off;
                std::memcpy(w.hostile_mem.data.data() + off, body + 3, len);
                break;
            }
            case 3: {
                u16 port = n > 0 && (body[0] & 1) ? 7 : 9;
                Bytes payload(body + (n > 0 ? 1 : 0), body + n);
                w.io->deliver(frames::ethernet(kOurMac, kPeerMac, frames::kEtherIpv4,
                                               frames::ipv4(kPeerIp, kOurIp, frames::kProtoUdp,
                                                            frames::udp(kPeerIp, kOurIp, 5555, port, payload))));
                break;
            }
            case 4: {
                if (n < 9) break;
                Bytes payload(body + 9, body + n);
                w.io->deliver(
                    frames::ethernet(kOurMac, kPeerMac, frames::kEtherIpv4,
                                     frames::ipv4(kPeerIp, kOurIp, frames::kProtoTcp,
                                                  frames::tcp(kPeerIp, kOurIp, 40000, 9, le::get_u32(body + 1),
                                                              le::get_u32(body + 5), body[0], 65535, payload, 1460))));
                break;
            }
            case 5: w.host.now += static_cast<u64>(n > 0 ? body[0] : 1) * 10'000'000; break;
        }
        w.turn();
        check(w.good.live());
        check(w.io->contract_breaches == 0);
    }
    w.stop();
    return 0;
}
