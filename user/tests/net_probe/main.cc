// net_probe: raw Ethernet frames through rt::NetClient on QEMU's user-mode
// network (docs/network.md, docs/testing.md "Network"). A test, not a
// stack: it speaks just enough ARP, IPv4 and UDP to prove the NetDevice
// path both ways against a real peer (slirp, and the harness on the host):
//   1. ARP for the gateway 10.0.2.2 (its reply names slirp's MAC);
//   2. "ready": the harness then sends a datagram from the host through
//      hostfwd to our UDP port 7; we echo it byte for byte (the host checks
//      the echo). Its text starts "sink=<port>;": the port of a UDP server
//      the harness runs on the host;
//   3. a datagram of random bytes to 10.0.2.2:<port> (slirp hands it to
//      the host server); the bytes are logged in hex so the host can check
//      what it received.
// With `echo_forever=1`, it then keeps answering ARP and echoing (the
// provider-restart scenario kills the provider under it and sends again).
//
// With `test.hostile=1` it first breaks the NetDevice protocol on purpose,
// once per channel — a transmit slot outside the packet buffer, a slot
// lent twice, a receive slot off a slot boundary, a frame longer than the
// MTU, an rx_free index run past the ring — and checks each time that the
// provider closed the channel (Ping: Stale) and that it can attach again;
// the normal run follows on the last channel (the provider still serves).
//
// Arguments: echo_forever=1 (keep echoing until the time is up), seconds=N
// (the whole run, default 60), echoes=N (without echo_forever: run until N
// were echoed, default 1), test.hostile=1.
#include "rt/args.h"
#include "rt/log.h"
#include "rt/net_client.h"
#include "rt/service.h"
#include "rt/sys.h"
#include "util/format.h"
#include "util/xorshift.h"

namespace {

using ull = unsigned long long;

constexpr u8 kOurIp[4] = {10, 0, 2, 15};
constexpr u8 kGatewayIp[4] = {10, 0, 2, 2};
constexpr u16 kEchoPort = 7;
constexpr u16 kOurSourcePort = 40000;

u16 be16(const u8* p) { return static_cast<u16>(p[0] << 8 | p[1]); }
void put16(u8* p, u16 v) {
    p[0] = static_cast<u8>(v >> 8);
    p[1] = static_cast<u8>(v);
}
bool same(const u8* a, const u8* b, u32 n) {
    for (u32 i = 0; i < n; i++)
        if (a[i] != b[i]) return false;
    return true;
}
void copy(u8* to, const u8* from, u32 n) {
    for (u32 i = 0; i < n; i++) to[i] = from[i];
}

// RFC 1071 one's-complement sum, folded; `sum` carries a pseudo-header.
u16 checksum(const u8* p, u32 n, u32 sum = 0) {
    for (u32 i = 0; i + 1 < n; i += 2) sum += be16(p + i);
    if (n & 1) sum += u32{p[n - 1]} << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<u16>(~sum);
}

struct Probe {
    rt::NetClient& nic;
    net::LinkInfo link;
    u8 gateway_mac[6] = {};
    bool gateway_known = false;
    u32 no_buffer = 0;  // frames not sent: every transmit slot was in flight

    // One frame out: `build` fills it and returns its length.
    template <typename Build>
    bool send(Build build) {
        u32 token, capacity;
        // Every transmit slot in flight: the provider gives them back as
        // the device completes them (a burst of echoes outruns it).
        u8* f = nic.tx_buffer(token, capacity);
        for (u32 tries = 0; !f && tries < 200; tries++) {
            rt::sleep_ns(1'000'000);
            f = nic.tx_buffer(token, capacity);
        }
        if (!f) {
            no_buffer++;
            return false;
        }
        u32 n = build(f);
        nic.tx_commit(token, n);
        nic.tx_flush();
        return true;
    }

    void arp(u16 op, const u8* target_mac, const u8* target_ip) {
        send([&](u8* f) {
            static const u8 kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
            copy(f, op == 1 ? kBroadcast : target_mac, 6);
            copy(f + 6, link.mac, 6);
            put16(f + 12, 0x0806);
            u8* a = f + 14;
            put16(a, 1);  // Ethernet
            put16(a + 2, 0x0800);
            a[4] = 6;
            a[5] = 4;
            put16(a + 6, op);
            copy(a + 8, link.mac, 6);
            copy(a + 14, kOurIp, 4);
            if (op == 1) {
                for (u32 i = 0; i < 6; i++) a[18 + i] = 0;
            } else {
                copy(a + 18, target_mac, 6);
            }
            copy(a + 24, target_ip, 4);
            for (u32 i = 42; i < 60; i++) f[i] = 0;  // pad to the Ethernet minimum
            return 60u;
        });
    }

    // A UDP datagram from kOurIp:sport to ip:dport via `mac`.
    void udp(const u8* mac, const u8* ip, u16 sport, u16 dport, const u8* payload, u32 len) {
        send([&](u8* f) {
            copy(f, mac, 6);
            copy(f + 6, link.mac, 6);
            put16(f + 12, 0x0800);
            u8* h = f + 14;
            h[0] = 0x45;
            h[1] = 0;
            put16(h + 2, static_cast<u16>(20 + 8 + len));
            put16(h + 4, 0x5c00);
            put16(h + 6, 0x4000);  // don't fragment
            h[8] = 64;
            h[9] = 17;
            put16(h + 10, 0);
            copy(h + 12, kOurIp, 4);
            copy(h + 16, ip, 4);
            put16(h + 10, checksum(h, 20));
            u8* u = h + 20;
            put16(u, sport);
            put16(u + 2, dport);
            put16(u + 4, static_cast<u16>(8 + len));
            put16(u + 6, 0);
            copy(u + 8, payload, len);
            u32 pseudo = be16(h + 12) + be16(h + 14) + be16(h + 16) + be16(h + 18) + 17 + 8 + len;
            u16 c = checksum(u, 8 + len, pseudo);
            put16(u + 6, c ? c : 0xffff);  // 0 means "none" in UDP over IPv4
            u32 n = 14 + 20 + 8 + len;
            for (; n < 60; n++) f[n] = 0;
            return n;
        });
    }
};

// One attack: a descriptor (or an index) no honest client writes, put
// straight into the shared ring; the provider must close the channel.
struct Attack {
    const char* what;
    bool rx;               // rx_free, else tx_ready
    abi::NetBuffer d;      // the descriptor
    u32 extra_tail = 0;    // > 0: publish the tail this far past what was put (an index lie)
    bool lent_rx = false;  // d names whichever slot is lent to receive into when the attack starts
    // d names an empty slot this side holds (the provider checks who holds
    // a slot before what is in it: a fixed slot may be lent to receive, or
    // still the device's, depending on timing, and be refused for that).
    bool empty = false;
};

bool hostile(rt::NetClient& nic) {
    constexpr u32 kSlot = abi::kNetBufferBytes;
    const Attack attacks[] = {
        {"tx from outside the packet buffer", false, {abi::kNetBufferCount * kSlot, 60}},
        {"tx of a slot lent to receive into", false, {0, 60}, 0, true},
        {"rx slot off a slot boundary", true, {200 * kSlot + 100, 0}},
        {"tx frame longer than the mtu", false, {200 * kSlot, 4000}, 0, false, true},
        {"rx_free index past the ring", true, {201 * kSlot, 0}, abi::kNetRingEntries + 1},
    };
    u32 refused = 0;
    for (const Attack& a : attacks) {
        abi::NetRing& r = a.rx ? nic.rings()->rx_free : nic.rings()->tx_ready;
        abi::NetBuffer d = a.d;
        for (u32 slot = 0; (a.lent_rx || a.empty) && slot < abi::kNetBufferCount; slot++)
            if (a.lent_rx ? nic.lent_to_receive(slot) : nic.holds_empty(slot)) {
                d.offset = slot * kSlot;
                break;
            }
        u32 tail = r.indices.tail;  // ours: we are the producer
        r.slots[tail % abi::kNetRingEntries] = d;
        __atomic_store_n(&r.indices.tail, tail + 1 + a.extra_tail, __ATOMIC_RELEASE);
        nic.rx_flush();  // no-op unless something is queued; the provider also looks every 200 ms
        Status s = Status::Ok;
        for (u32 i = 0; i < 40 && s == Status::Ok; i++) {
            rt::sleep_ns(50'000'000);
            auto p = nic.ping();
            s = p.ok() ? Status::Ok : p.status();
        }
        if (s != Status::Stale) {
            rt::log("net_probe: attack '%s': the channel is still open (%s)", a.what, status_name(s));
            return false;
        }
        (void)nic.detach();
        if (auto again = nic.attach(); !again.ok()) {
            rt::log("net_probe: attack '%s': attaching again failed: %s", a.what, status_name(again.status()));
            return false;
        }
        refused++;
        rt::log("net_probe: attack '%s': channel closed by the provider; attached again", a.what);
    }
    rt::log("net_probe: hostile: %u attacks, each closed its channel; the provider still serves", refused);
    return true;
}

}  // namespace

int main(u64) {
    const bool forever = rt::args().number("echo_forever", 0) != 0;
    const u64 seconds = rt::args().number("seconds", 60);
    const u64 min_echoes = rt::args().number("echoes", 1);  // run until this many were echoed
    static rt::ServiceInstance instances[4];
    u32 count = rt::open_service_instances(instances, 4);
    if (!count) return rt::log("net_probe: no NetDevice service granted (manifest: serve = net_probe)"), 1;
    static rt::NetClient nic(instances[0].endpoint.get());
    if (auto a = nic.attach(); !a.ok()) return rt::log("net_probe: attach: %s", status_name(a.status())), 1;
    if (rt::args().number("test.hostile", 0) && !hostile(nic)) return 4;
    Probe p{nic, nic.link()};
    const u8* m = p.link.mac;
    rt::log("net_probe: attached to %s: mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u link %s", instances[0].name, m[0],
            m[1], m[2], m[3], m[4], m[5], p.link.mtu, p.link.link_up ? "up" : "down");

    util::XorShift64 rng(rt::clock_ns() ^ 0x5eed);
    u64 start = rt::clock_ns(), next_arp = 0;
    u32 echoes = 0;
    bool log_next_echo = false;  // the first echo through a restarted provider is logged
    bool ready = false, sent = false;
    while (rt::clock_ns() - start < seconds * 1'000'000'000ull) {
        u64 now = rt::clock_ns();
        if (!p.gateway_known && now >= next_arp) {
            p.arp(1, nullptr, kGatewayIp);
            next_arp = now + 500'000'000;
        }
        bool reattached = false;
        auto w = nic.wait(100'000'000, &reattached);
        if (!w.ok() && w.status() != Status::Timeout)
            return rt::log("net_probe: the NIC is gone: %s", status_name(w.status())), 2;
        log_next_echo |= reattached;
        if (reattached)
            rt::log("net_probe: reattached to the restarted provider (generation %llx, %u reattaches)",
                    static_cast<ull>(nic.generation()), nic.reattaches());
        net::RxFrame f;
        while (nic.rx_take(f)) {
            const u8* d = f.data;
            u16 type = be16(d + 12);
            if (type == 0x0806 && f.length >= 42) {
                const u8* a = d + 14;
                u16 op = be16(a + 6);
                if (op == 2 && same(a + 14, kGatewayIp, 4) && !p.gateway_known) {
                    copy(p.gateway_mac, a + 8, 6);
                    p.gateway_known = true;
                    const u8* g = p.gateway_mac;
                    rt::log("net_probe: arp 10.0.2.2 is at %02x:%02x:%02x:%02x:%02x:%02x", g[0], g[1], g[2], g[3], g[4],
                            g[5]);
                } else if (op == 1 && same(a + 24, kOurIp, 4)) {
                    u8 mac[6], ip[4];
                    copy(mac, a + 8, 6);
                    copy(ip, a + 14, 4);
                    p.arp(2, mac, ip);
                }
            } else if (type == 0x0800 && f.length >= 14 + 20 + 8) {
                const u8* h = d + 14;
                u32 ihl = (h[0] & 15) * 4u;
                u32 total = be16(h + 2);
                if ((h[0] >> 4) == 4 && ihl >= 20 && h[9] == 17 && total <= f.length - 14 && total >= ihl + 8 &&
                    same(h + 16, kOurIp, 4) && checksum(h, ihl) == 0) {
                    const u8* u = h + ihl;
                    u32 len = be16(u + 4);
                    if (be16(u + 2) == kEchoPort && len >= 8 && len <= total - ihl) {
                        u8 src_mac[6], src_ip[4];
                        copy(src_mac, d + 6, 6);
                        copy(src_ip, h + 12, 4);
                        static u8 payload[1500];
                        u32 n = len - 8;
                        copy(payload, u + 8, n);
                        u16 sport = be16(u);
                        p.udp(src_mac, src_ip, kEchoPort, sport, payload, n);
                        echoes++;
                        // The first few and every hundredth: a burst must not flood the serial port.
                        if (echoes <= 4 || echoes % 100 == 0 || log_next_echo)
                            rt::log("net_probe: echoed %u bytes to %u.%u.%u.%u:%u (echo %u)", n, src_ip[0], src_ip[1],
                                    src_ip[2], src_ip[3], sport, echoes);
                        log_next_echo = false;
                        if (echoes % 100 == 0)
                            rt::log("net_probe: %u echoes: %llu kicks sent, %llu wakes", echoes,
                                    static_cast<unsigned long long>(nic.kicks()),
                                    static_cast<unsigned long long>(nic.wakes()));
                        // "sink=<port>;": where the host listens.
                        u32 port = 0, k = 5;
                        if (!sent && n > 5 && same(payload, reinterpret_cast<const u8*>("sink="), 5)) {
                            while (k < n && payload[k] >= '0' && payload[k] <= '9' && port < 65536)
                                port = port * 10 + (payload[k++] - '0');
                        }
                        if (port && port < 65536 && k < n && payload[k] == ';' && p.gateway_known) {
                            u8 data[64];
                            char hex[2 * sizeof data + 1];
                            for (u32 i = 0; i < sizeof data; i++) {
                                data[i] = static_cast<u8>(rng.next());
                                format(hex + 2 * i, 3, "%02x", data[i]);
                            }
                            p.udp(p.gateway_mac, kGatewayIp, kOurSourcePort, static_cast<u16>(port), data, sizeof data);
                            sent = true;
                            rt::log("net_probe: sent %u bytes to 10.0.2.2:%u: %s", static_cast<u32>(sizeof data), port,
                                    hex);
                        }
                    }
                }
            }
            nic.rx_give_back(f.token);
        }
        nic.rx_flush();
        // The link as the provider last wrote it into the rings.
        if (bool up = nic.link().link_up; up != p.link.link_up) {
            p.link.link_up = up;
            rt::log("net_probe: link %s (the provider says so in the rings)", up ? "up" : "down");
        }
        if (p.gateway_known && !ready) {
            ready = true;
            rt::log("net_probe: ready: udp echo on port %u", kEchoPort);
        }
        if (sent && !forever && echoes >= min_echoes) break;
    }
    rt::log("net_probe: done: %u echoes, %s, %llu protocol errors, %llu transmit drops, %u frames without a slot",
            echoes, sent ? "datagram sent" : "nothing sent", static_cast<ull>(nic.protocol_errors()),
            static_cast<ull>(nic.tx_dropped()), p.no_buffer);
    return sent ? 0 : 3;
}
