#include "net.h"

#include "blk.h"  // shell::out
#include "net/socket_client.h"
#include "protocol/socket.h"
#include "rt/socket_session.h"
#include "rt/sys.h"

namespace shell {
namespace {

using ull = unsigned long long;

constexpr const char* kServiceSlot = "svc.netstack";

// "a.b.c.d" of a network-byte-order address, into buf (16 bytes).
const char* ip_text(u32 be, char* buf) {
    const u8* b = reinterpret_cast<const u8*>(&be);
    u32 n = 0;
    for (u32 i = 0; i < 4; i++) {
        u32 v = b[i];
        if (v >= 100) buf[n++] = static_cast<char>('0' + v / 100);
        if (v >= 10) buf[n++] = static_cast<char>('0' + v / 10 % 10);
        buf[n++] = static_cast<char>('0' + v % 10);
        if (i < 3) buf[n++] = '.';
    }
    buf[n] = '\0';
    return buf;
}

u32 prefix_length(u32 netmask_be) { return static_cast<u32>(__builtin_popcount(netmask_be)); }

void counters_line(const char* name, const abi::SocketInfoCounters& c) {
    out("  %-5s rx %u tx %u dropped %u bad-checksum %u\n", name, c.rx, c.tx, c.dropped, c.checksum);
}

void cmd_info() {
    u32 service = rt::startup_handle(kServiceSlot);
    if (!service) return out("net: no network: the manifest does not grant the shell the netstack (serve = shell)\n");
    rt::SocketAttach netstack(service);
    abi::SocketInfo i{};
    if (auto r = netstack.info(i); !r.ok()) return out("net: %s\n", status_name(r.status()));
    const u8* m = i.mac;
    char a[16], g[16], d0[16], d1[16];
    out("%s: link %s mtu %u mac %02x:%02x:%02x:%02x:%02x:%02x\n", i.name, i.link_up ? "up" : "down", i.mtu, m[0], m[1],
        m[2], m[3], m[4], m[5]);
    if (i.bound)
        out("  inet %s/%u gateway %s dns %s%s%s\n", ip_text(i.address, a), prefix_length(i.netmask),
            ip_text(i.gateway, g), ip_text(i.dns[0], d0), i.dns[1] ? " " : "", i.dns[1] ? ip_text(i.dns[1], d1) : "");
    else
        out("  inet none\n");
    out("  dhcp %s lease %u s (%u s left)\n", abi::socket_dhcp_state_name(i.dhcp), i.lease_s, i.lease_left_s);
    out("  nic %s generation %llx reattached %u\n", i.provider[0] ? i.provider : "-",
        static_cast<ull>(i.nic_generation), i.nic_reattaches);
    out("  rx %llu frames %llu bytes %llu dropped\n", static_cast<ull>(i.rx_frames), static_cast<ull>(i.rx_bytes),
        static_cast<ull>(i.rx_dropped));
    out("  tx %llu frames %llu bytes %llu dropped\n", static_cast<ull>(i.tx_frames), static_cast<ull>(i.tx_bytes),
        static_cast<ull>(i.tx_dropped));
    counters_line("ip", i.ip);
    counters_line("icmp", i.icmp);
    counters_line("udp", i.udp);
    counters_line("tcp", i.tcp);
    out("  sockets %u open, %u of %u clients attached; up %llu s\n", i.sockets_open, i.attached, i.clients,
        static_cast<ull>(i.uptime_ns / 1'000'000'000));
}

// "a.b.c.d" (exactly four decimal parts <= 255) into a network-byte-order
// address; false otherwise.
bool parse_address(const char* s, usize len, u32* out) {
    u8 parts[4];
    usize i = 0;
    for (u32 n = 0; n < 4; n++) {
        u32 v = 0, digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4)
            v = v * 10 + static_cast<u32>(s[i++] - '0'), digits++;
        if (digits == 0 || digits > 3 || v > 255) return false;
        parts[n] = static_cast<u8>(v);
        if (n < 3 && (i >= len || s[i++] != '.')) return false;
    }
    if (i != len) return false;
    __builtin_memcpy(out, parts, 4);
    return true;
}

constexpr u32 kPingMaxCount = 100;
constexpr u32 kPingTimeoutMs = 2000;
constexpr u64 kPingIntervalNs = 1'000'000'000;

// One Echo: the completion (its status: a reply, or Timeout), or a Status
// for why none came (the netstack's loop gets a second beyond the Echo's
// own timeout).
Result<net::SocketCompletion> echo_once(rt::SocketSession& session, u32 address) {
    return session.ask([&] { return session.client().echo(address, kPingTimeoutMs); },
                       u64{kPingTimeoutMs + 1000} * 1'000'000);
}

// lwIP's resolver gives up after its retries (DNS_MAX_RETRIES, about 15 s
// over two servers): wait that long for its answer.
constexpr u32 kResolveTimeoutMs = 20'000;

// `name`'s address through the netstack's resolver: Ok with *address, or
// the completion's status (NotFound) or why none came.
Status resolve_once(rt::SocketSession& session, const char* name, usize len, u32* address) {
    auto c = session.ask([&] { return session.client().resolve(name, static_cast<u32>(len)); },
                         u64{kResolveTimeoutMs} * 1'000'000);
    if (!c.ok()) return c.status();
    *address = c.value().address;
    return c.value().status;
}

// The shell's one channel to the netstack, attached for one command and
// detached (logged by the netstack) before the command's last lines.
struct Session {
    rt::SocketSession& s;
    bool open = false;
    explicit Session(rt::SocketSession& session) : s(session) {}
    ~Session() { end(); }
    void end() {
        if (!open) return;
        open = false;
        s.client().close();
        (void)s.attachment().detach();
    }
    Status start() {
        if (auto r = s.attach(); !r.ok()) {
            (void)s.attachment().detach();
            return r.status();
        }
        open = true;
        return Status::Ok;
    }
};

// Big (the client's tables): not on the stack; made on first use.
rt::SocketSession& shell_session(u32 service) {
    static rt::SocketSession session(service);
    return session;
}

void cmd_resolve(const char* args, usize len) {
    if (len == 0) return out("usage: resolve <name>\n");
    if (!abi::socket_host_name_valid(args, static_cast<u32>(len)))
        return out("resolve: %.*s: not a host name\n", static_cast<int>(len), args);
    u32 service = rt::startup_handle(kServiceSlot);
    if (!service)
        return out("resolve: no network: the manifest does not grant the shell the netstack (serve = shell)\n");
    Session session(shell_session(service));
    if (Status st = session.start(); st != Status::Ok)
        return out("resolve: attach to the netstack: %s\n", status_name(st));
    u32 address = 0;
    Status st = resolve_once(session.s, args, len, &address);
    if (st != Status::Ok) return out("resolve: %.*s: %s\n", static_cast<int>(len), args, status_name(st));
    char text[16];
    out("%.*s has address %s\n", static_cast<int>(len), args, ip_text(address, text));
}

void cmd_ping(const char* args, usize len) {
    usize i = 0;
    while (i < len && args[i] != ' ') i++;
    const usize target_len = i;
    if (target_len == 0) return out("usage: ping <a.b.c.d | name> [count]\n");
    u32 address = 0;
    bool named = !parse_address(args, target_len, &address);
    if (named && !abi::socket_host_name_valid(args, static_cast<u32>(target_len)))
        return out("ping: %.*s: not an IPv4 address nor a host name\n", static_cast<int>(target_len), args);
    u32 count = 4;
    while (i < len && args[i] == ' ') i++;
    if (i < len) {
        count = 0;
        for (; i < len; i++) {
            if (args[i] < '0' || args[i] > '9' || count > kPingMaxCount)
                return out("usage: ping <a.b.c.d | name> [count 1..%u]\n", kPingMaxCount);
            count = count * 10 + static_cast<u32>(args[i] - '0');
        }
        if (count == 0 || count > kPingMaxCount)
            return out("usage: ping <a.b.c.d | name> [count 1..%u]\n", kPingMaxCount);
    }
    u32 service = rt::startup_handle(kServiceSlot);
    if (!service) return out("ping: no network: the manifest does not grant the shell the netstack (serve = shell)\n");
    Session session(shell_session(service));
    if (Status st = session.start(); st != Status::Ok)
        return out("ping: attach to the netstack: %s\n", status_name(st));
    if (named) {
        Status st = resolve_once(session.s, args, target_len, &address);
        if (st != Status::Ok) return out("ping: %.*s: %s\n", static_cast<int>(target_len), args, status_name(st));
    }
    char text[16];
    ip_text(address, text);
    if (named)
        out("PING %.*s (%s): %u echo requests, %u ms timeout\n", static_cast<int>(target_len), args, text, count,
            kPingTimeoutMs);
    else
        out("PING %s: %u echo requests, %u ms timeout\n", text, count, kPingTimeoutMs);
    u32 received = 0;
    u64 min_us = ~u64{0}, max_us = 0, sum_us = 0;
    for (u32 seq = 1; seq <= count; seq++) {
        const u64 sent_at = rt::clock_ns();
        auto c = echo_once(session.s, address);
        if (!c.ok()) {
            out("ping: %s\n", status_name(c.status()));
            break;
        }
        if (c.value().status == Status::Ok) {
            u64 us = c.value().detail;
            received++;
            sum_us += us;
            min_us = us < min_us ? us : min_us;
            max_us = us > max_us ? us : max_us;
            out("reply from %s: icmp_seq=%u time=%llu.%03llu ms\n", text, seq, static_cast<ull>(us / 1000),
                static_cast<ull>(us % 1000));
        } else {
            out("no reply from %s: icmp_seq=%u: %s\n", text, seq, status_name(c.value().status));
        }
        if (seq < count) {
            u64 next = sent_at + kPingIntervalNs, now = rt::clock_ns();
            if (next > now) rt::sleep_ns(next - now);
        }
    }
    session.end();
    out("--- %s ping statistics ---\n", text);
    out("%u packets transmitted, %u received, %u%% packet loss\n", count, received, (count - received) * 100 / count);
    if (received)
        out("rtt min/avg/max = %llu.%03llu/%llu.%03llu/%llu.%03llu ms\n", static_cast<ull>(min_us / 1000),
            static_cast<ull>(min_us % 1000), static_cast<ull>(sum_us / received / 1000),
            static_cast<ull>(sum_us / received % 1000), static_cast<ull>(max_us / 1000),
            static_cast<ull>(max_us % 1000));
}

}  // namespace

void ping_command(const char* args, usize len) { cmd_ping(args, len); }
void resolve_command(const char* args, usize len) { cmd_resolve(args, len); }

void net_command(const char* args, usize len) {
    if (len != 0) {
        (void)args;
        return out("usage: net\n");
    }
    cmd_info();
}

}  // namespace shell
