// Ethernet/ARP/IPv4/ICMP/UDP/TCP/DHCP frames built and read by hand for
// the netstack's tests and fuzzer: the peer side of the wire, written from
// the RFCs, independent of lwIP (a bug shared by lwIP's encoder and ours
// would hide; one in either shows). Big-endian fields throughout.
#pragma once

#include <array>
#include <cstring>
#include <vector>

#include "util/types.h"

namespace frames {

using Bytes = std::vector<u8>;
using Mac = std::array<u8, 6>;
using Ip = std::array<u8, 4>;

constexpr Mac kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
// The addresses the tests and fuzzers play with, QEMU user networking's:
// the guest (fake::FrameIo's MAC, slirp's first lease) and its gateway,
// which is also the DHCP server and the peer.
constexpr Mac kOurMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr Mac kPeerMac{0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
constexpr Ip kOurIp{10, 0, 2, 15};
constexpr Ip kPeerIp{10, 0, 2, 2};
constexpr u16 kEtherIpv4 = 0x0800, kEtherArp = 0x0806;
constexpr u8 kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17;
constexpr u8 kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08, kTcpAck = 0x10;

inline void put16(Bytes& b, u16 v) {
    b.push_back(static_cast<u8>(v >> 8));
    b.push_back(static_cast<u8>(v));
}
inline void put32(Bytes& b, u32 v) {
    put16(b, static_cast<u16>(v >> 16));
    put16(b, static_cast<u16>(v));
}
inline void put(Bytes& b, const u8* p, usize n) { b.insert(b.end(), p, p + n); }
template <usize N>
void put(Bytes& b, const std::array<u8, N>& a) {
    put(b, a.data(), N);
}
inline u16 get16(const Bytes& b, usize at) { return static_cast<u16>(b.at(at) << 8 | b.at(at + 1)); }
inline u32 get32(const Bytes& b, usize at) { return static_cast<u32>(get16(b, at)) << 16 | get16(b, at + 2); }
inline void set16(Bytes& b, usize at, u16 v) {
    b.at(at) = static_cast<u8>(v >> 8);
    b.at(at + 1) = static_cast<u8>(v);
}

// The Internet checksum [RFC 1071]: the ones' complement of the ones'
// complement sum of 16-bit words, `initial` being a partial sum.
inline u16 checksum(const u8* p, usize n, u32 initial = 0) {
    u32 sum = initial;
    for (usize i = 0; i + 1 < n; i += 2) sum += static_cast<u32>(p[i] << 8 | p[i + 1]);
    if (n % 2) sum += static_cast<u32>(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<u16>(~sum);
}
// The partial sum of TCP's and UDP's pseudo-header [RFC 793 §3.1, RFC 768].
inline u32 pseudo_sum(const Ip& src, const Ip& dst, u8 proto, usize length) {
    return static_cast<u32>((src[0] << 8 | src[1]) + (src[2] << 8 | src[3]) + (dst[0] << 8 | dst[1]) +
                            (dst[2] << 8 | dst[3]) + proto + length);
}

inline Bytes ethernet(const Mac& dst, const Mac& src, u16 type, const Bytes& payload) {
    Bytes f;
    put(f, dst);
    put(f, src);
    put16(f, type);
    put(f, payload.data(), payload.size());
    return f;
}

// ARP for IPv4 over Ethernet [RFC 826]; op 1 request, 2 reply.
inline Bytes arp(u16 op, const Mac& sha, const Ip& spa, const Mac& tha, const Ip& tpa) {
    Bytes a;
    put16(a, 1);  // hardware: Ethernet
    put16(a, kEtherIpv4);
    a.push_back(6);
    a.push_back(4);
    put16(a, op);
    put(a, sha);
    put(a, spa);
    put(a, tha);
    put(a, tpa);
    return a;
}

// An IPv4 header [RFC 791 §3.1] (no options, DF clear) and the payload.
inline Bytes ipv4(const Ip& src, const Ip& dst, u8 proto, const Bytes& payload, u16 id = 1, u8 ttl = 64) {
    Bytes h;
    h.push_back(0x45);
    h.push_back(0);
    put16(h, static_cast<u16>(20 + payload.size()));
    put16(h, id);
    put16(h, 0);
    h.push_back(ttl);
    h.push_back(proto);
    put16(h, 0);
    put(h, src);
    put(h, dst);
    set16(h, 10, checksum(h.data(), h.size()));
    put(h, payload.data(), payload.size());
    return h;
}

inline Bytes udp(const Ip& src, const Ip& dst, u16 sport, u16 dport, const Bytes& data) {
    Bytes u;
    put16(u, sport);
    put16(u, dport);
    put16(u, static_cast<u16>(8 + data.size()));
    put16(u, 0);
    put(u, data.data(), data.size());
    u16 sum = checksum(u.data(), u.size(), pseudo_sum(src, dst, kProtoUdp, u.size()));
    set16(u, 6, sum == 0 ? 0xffff : sum);  // 0 means "no checksum" [RFC 768]
    return u;
}

// A TCP segment [RFC 793 §3.1]; `mss` non-zero adds the MSS option.
inline Bytes tcp(const Ip& src, const Ip& dst, u16 sport, u16 dport, u32 seq, u32 ack, u8 flags, u16 window,
                 const Bytes& data, u16 mss = 0) {
    Bytes t;
    put16(t, sport);
    put16(t, dport);
    put32(t, seq);
    put32(t, ack);
    u8 words = mss ? 6 : 5;
    t.push_back(static_cast<u8>(words << 4));
    t.push_back(flags);
    put16(t, window);
    put16(t, 0);
    put16(t, 0);
    if (mss) {
        t.push_back(2);
        t.push_back(4);
        put16(t, mss);
    }
    put(t, data.data(), data.size());
    set16(t, 16, checksum(t.data(), t.size(), pseudo_sum(src, dst, kProtoTcp, t.size())));
    return t;
}

// ICMP echo request (type 8) or reply (type 0) [RFC 792].
inline Bytes icmp_echo(u8 type, u16 id, u16 seq, const Bytes& data) {
    Bytes i;
    i.push_back(type);
    i.push_back(0);
    put16(i, 0);
    put16(i, id);
    put16(i, seq);
    put(i, data.data(), data.size());
    set16(i, 2, checksum(i.data(), i.size()));
    return i;
}

// A parsed frame: offsets into `bytes`, zero when absent.
struct Parsed {
    Bytes bytes;
    Mac dst{}, src{};
    u16 type = 0;
    usize l3 = 0;  // IPv4 header or ARP
    u8 proto = 0;
    Ip ip_src{}, ip_dst{};
    usize l4 = 0;  // the IPv4 payload
    usize l4_len = 0;
    bool ip_checksum_ok = false;
    bool l4_checksum_ok = false;  // TCP, UDP (or absent), ICMP
};

inline Parsed parse(const Bytes& f) {
    Parsed p;
    p.bytes = f;
    if (f.size() < 14) return p;
    std::memcpy(p.dst.data(), &f[0], 6);
    std::memcpy(p.src.data(), &f[6], 6);
    p.type = get16(f, 12);
    p.l3 = 14;
    if (p.type != kEtherIpv4 || f.size() < 34) return p;
    usize ihl = (f[14] & 0x0f) * 4u;
    usize total = get16(f, 16);
    if (ihl < 20 || total < ihl || 14 + total > f.size()) return p;
    p.ip_checksum_ok = checksum(&f[14], ihl) == 0;
    p.proto = f[23];
    std::memcpy(p.ip_src.data(), &f[26], 4);
    std::memcpy(p.ip_dst.data(), &f[30], 4);
    p.l4 = 14 + ihl;
    p.l4_len = total - ihl;
    const u8* l4 = &f[p.l4];
    if (p.proto == kProtoIcmp) {
        p.l4_checksum_ok = checksum(l4, p.l4_len) == 0;
    } else if (p.proto == kProtoTcp || p.proto == kProtoUdp) {
        bool none = p.proto == kProtoUdp && p.l4_len >= 8 && get16(f, p.l4 + 6) == 0;
        p.l4_checksum_ok = none || checksum(l4, p.l4_len, pseudo_sum(p.ip_src, p.ip_dst, p.proto, p.l4_len)) == 0;
    }
    return p;
}

// DHCP [RFC 2131 §2]: the BOOTP fixed part, the magic cookie, options.
constexpr usize kDhcpOptions = 240;  // first option's offset in the message
inline Bytes dhcp_reply(u8 type, u32 xid, const Mac& chaddr, const Ip& yiaddr, const Ip& server, u32 lease_s,
                        const Ip& mask, const Ip& router, const Ip& dns) {
    Bytes d(kDhcpOptions, 0);
    d[0] = 2;  // BOOTREPLY
    d[1] = 1;  // Ethernet
    d[2] = 6;
    d[4] = static_cast<u8>(xid >> 24);
    d[5] = static_cast<u8>(xid >> 16);
    d[6] = static_cast<u8>(xid >> 8);
    d[7] = static_cast<u8>(xid);
    std::memcpy(&d[16], yiaddr.data(), 4);
    std::memcpy(&d[20], server.data(), 4);
    std::memcpy(&d[28], chaddr.data(), 6);
    const u8 cookie[4] = {99, 130, 83, 99};
    std::memcpy(&d[236], cookie, 4);
    auto option = [&](u8 code, const u8* v, u8 n) {
        d.push_back(code);
        d.push_back(n);
        put(d, v, n);
    };
    option(53, &type, 1);
    option(54, server.data(), 4);
    const u8 lease[4] = {static_cast<u8>(lease_s >> 24), static_cast<u8>(lease_s >> 16), static_cast<u8>(lease_s >> 8),
                         static_cast<u8>(lease_s)};
    option(51, lease, 4);
    option(1, mask.data(), 4);
    option(3, router.data(), 4);
    option(6, dns.data(), 4);
    d.push_back(255);
    return d;
}

// The value of DHCP option `code` in message `m` (from its first option),
// or empty.
inline Bytes dhcp_option(const Bytes& m, u8 code) {
    for (usize i = kDhcpOptions; i < m.size();) {
        u8 c = m[i];
        if (c == 255) break;
        if (c == 0) {
            i++;
            continue;
        }
        if (i + 1 >= m.size() || i + 2 + m[i + 1] > m.size()) break;
        if (c == code)
            return Bytes(m.begin() + static_cast<long>(i) + 2, m.begin() + static_cast<long>(i) + 2 + m[i + 1]);
        i += 2u + m[i + 1];
    }
    return {};
}

}  // namespace frames
