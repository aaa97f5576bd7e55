// netstack: the TCP/IP stack process (issue 14). lwIP (lib/netstack/) over
// one NIC, reached as a NetDevice client (rt::NetClient, a net::FrameIo);
// brought up with DHCP, then driven by a loop that waits on the channel's
// notification until a frame arrives or lwIP's next timer is due. It
// serves the Socket service (docs/netstack.md "Serving sockets";
// socket_service.h) to the processes the manifest names with `serve`
// lines: then the loop waits on a waitset (the NIC's notification, the
// service endpoint, every client's kick) instead.
//
// Arguments (manifest `args`): ping=A.B.C.D|gateway [ping_count=N] sends
// N echo requests to A.B.C.D (or to the gateway the lease names) once the
// address is bound and logs each reply — a boot-time reachability check
// (and what scenarios netstack_dhcp_ping and shell look for) until the
// shell's `ping` reaches the stack through its service.
//
// Authority: only its NetDevice channel and, when it serves anyone, its
// service endpoint and client table: no device, no DMA, nothing of another
// process but the channel memory it creates for its clients.
#include "netstack/host.h"
#include "netstack/info.h"
#include "netstack/ping.h"
#include "netstack/stack.h"
#include "rt/args.h"
#include "rt/log.h"
#include "rt/net_client.h"
#include "rt/service.h"
#include "rt/sys.h"
#include "socket_service.h"
#include "util/hw_random.h"
#include "util/xorshift.h"

namespace {

using ull = unsigned long long;

// Randomness: the secret behind TCP's initial sequence numbers
// (lib/netstack/tcp_isn.h), DNS query IDs, DHCP transaction IDs and local
// ports must be unguessable from the network, or an off-path attacker can
// inject into connections and poison lookups. It comes from the CPU's
// RDRAND; without one (an old CPU model) a TSC-seeded xorshift stands in,
// and the log says the numbers are predictable.
class RtHost final : public netstack::Host {
public:
    RtHost() : m_hardware(util::hw_random_available()), m_fallback(rt::clock_ns() ^ __builtin_ia32_rdtsc()) {}
    u64 now_ns() override { return rt::clock_ns(); }
    void log(const char* line) override { rt::log("%s", line); }
    u32 random() override {
        u64 v;
        if (m_hardware && util::hw_random64(v)) return static_cast<u32>(v >> 32);
        return static_cast<u32>(m_fallback.next() >> 32);
    }
    [[noreturn]] void fatal(const char*) override { rt::exit(-1); }
    bool hardware() const { return m_hardware; }

private:
    bool m_hardware;
    util::XorShift64 m_fallback;
};

// The boot-time ping (args ping=, ping_count=).
struct BootPing {
    netstack::Ping ping;
    ip4_addr_t target{};
    char text[16] = {};
    u32 count = 0;
    bool wanted = false, to_gateway = false, started = false, reported = false;

    static void on_result(void* ctx, const netstack::PingResult& r) {
        auto* self = static_cast<BootPing*>(ctx);
        if (r.replied)
            rt::log("netstack: ping %s: reply seq %u time %llu us", self->text, r.seq,
                    static_cast<ull>(r.rtt_ns / 1000));
        else
            rt::log("netstack: ping %s: seq %u lost", self->text, r.seq);
    }

    void poll(const netstack::Stack& stack) {
        if (!wanted || reported) return;
        if (!started) {
            netstack::AddressInfo address = stack.address();
            if (!address.bound) return;
            started = true;
            if (to_gateway) {
                target = address.gateway;
                if (ip4_addr_isany_val(target)) {
                    rt::log("netstack: ping gateway: the lease names no gateway");
                    reported = true;
                    return;
                }
                ip4addr_ntoa_r(&target, text, sizeof text);
            }
            if (auto s = ping.start(target, count, 1'000'000'000, 2'000'000'000, on_result, this); !s.ok()) {
                rt::log("netstack: ping %s: %s", text, status_name(s.status()));
                reported = true;
            }
            return;
        }
        ping.poll();
        if (ping.done()) {
            rt::log("netstack: ping %s: %u sent, %u received", text, ping.sent(), ping.received());
            reported = true;
        }
    }
};

}  // namespace

int main(u64) {
    static RtHost host;
    netstack::set_host(host);
    if (!host.hardware())
        rt::log(
            "netstack: the CPU has no RDRAND: TCP sequence numbers, DNS query IDs and ports come from a TSC-seeded "
            "generator and are predictable");
    const Args args = rt::args();

    static BootPing boot_ping;
    args.copy("ping", boot_ping.text, sizeof boot_ping.text);
    if (boot_ping.text[0]) {
        static constexpr char kGateway[] = "gateway";
        boot_ping.to_gateway = __builtin_memcmp(boot_ping.text, kGateway, sizeof kGateway) == 0;
        if (!boot_ping.to_gateway && !netstack::parse_ip4(boot_ping.text, boot_ping.target))
            return rt::log("netstack: ping=%s is not an IPv4 address", boot_ping.text), 2;
        boot_ping.count = static_cast<u32>(args.number("ping_count", 3));
        if (boot_ping.count == 0 || boot_ping.count > netstack::Ping::kMaxCount)
            return rt::log("netstack: ping_count must be 1..%u", netstack::Ping::kMaxCount), 2;
        boot_ping.wanted = true;
    }

    // The NIC: the first NetDevice the manifest lets this process use
    // (a provider's `serve = netstack`).
    static rt::ServiceInstance instances[4];
    u32 found = rt::open_service_instances(instances, 4);
    if (!found) return rt::log("netstack: no NetDevice service granted (a NIC provider's serve = netstack)"), 1;
    static rt::NetClient nic(instances[0].endpoint.get());
    if (auto a = nic.attach(); !a.ok())
        return rt::log("netstack: attach to %s: %s", instances[0].name, status_name(a.status())), 1;
    net::LinkInfo link = nic.link();
    const u8* m = link.mac;
    rt::log("netstack: attached to %s: mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u link %s", instances[0].name, m[0], m[1],
            m[2], m[3], m[4], m[5], link.mtu, link.link_up ? "up" : "down");

    static netstack::Stack stack;
    if (auto r = stack.start(nic, netstack::StackConfig{}); !r.ok()) {
        rt::log("netstack: start failed: %s", status_name(r.status()));
        return 1;
    }
    // The socket service, when the manifest has this process serve anyone.
    static netstack_service::SocketService sockets;
    static const u64 started_ns = rt::clock_ns();
    sockets.set_info_source(
        [](void*, abi::SocketInfo& out) {
            netstack::fill_info(stack, out);
            static_assert(sizeof out.provider == sizeof instances[0].name);
            __builtin_memcpy(out.provider, instances[0].name, sizeof out.provider);
            out.provider[sizeof out.provider - 1] = '\0';
            out.nic_generation = nic.generation();
            out.nic_reattaches = nic.reattaches();
            out.uptime_ns = rt::clock_ns() - started_ns;
        },
        nullptr);
    static rt::Handle waitset;
    constexpr u64 kKeyNic = 1;
    if (u32 endpoint = rt::startup_handle(abi::kServeSlot)) {
        auto ws = rt::waitset_create();
        if (!ws.ok()) return rt::log("netstack: waitset: %s", status_name(ws.status())), 1;
        waitset = static_cast<rt::Handle&&>(ws.value());
        if (auto r = sockets.init(endpoint, rt::startup_handle(abi::kServeClientsSlot), waitset.get()); !r.ok())
            return rt::log("netstack: the socket service cannot start: %s", status_name(r.status())), 1;
        if (auto r = rt::waitset_add(waitset.get(), nic.notification(), abi::kSignalReady | abi::kWaitTake, kKeyNic);
            !r.ok())
            return rt::log("netstack: waitset: %s", status_name(r.status())), 1;
    }

    // Turns in a row with more_work() and nothing moved, before the loop
    // waits (at most kMoreWorkWaitNs) instead of going round at once.
    constexpr u32 kMoreWorkSpins = 4;
    constexpr u64 kMoreWorkWaitNs = 1'000'000;
    // Under steady work the loop never sleeps, and only a sleep's wake
    // answers the endpoint and only NetClient::wait() checks on the
    // provider: every kBusyTurnsBetweenChecks busy turns it does both all
    // the same, so a flood of frames, or one client's stream of requests,
    // can neither lock the other clients out of Attach nor hide a provider
    // restart.
    constexpr u32 kBusyTurnsBetweenChecks = 32;
    u32 idle_turns = 0, busy_turns = 0;
    for (;;) {
        boot_ping.poll(stack);
        const u32 frames = stack.poll();
        // Requests taken here go to lwIP: go round again when anything moved.
        const bool published = sockets.serving() && sockets.poll();
        // What the socket turn queued in lwIP without publishing an event
        // (an Echo's request; the window update tcp_recved queued when a
        // client only read its rx ring) must not wait for the next wake —
        // lwIP's 250 ms timer held TCP receive at 0.3 MB/s: out now
        // (nothing when nothing is queued).
        stack.flush();
        // Work left for the next turn (a client's UDP budget spent: go
        // round at once; buffers short: the NIC's completions will free
        // some, so after a few turns wait a little rather than spin).
        const bool more = !frames && !published && sockets.serving() && sockets.more_work();
        bool busy = frames != 0 || published;
        if (!busy && more && idle_turns++ < kMoreWorkSpins) busy = true;
        if (!more) idle_turns = 0;
        if (busy && ++busy_turns < kBusyTurnsBetweenChecks) continue;
        busy_turns = 0;
        // Nothing waiting: sleep until a frame (the channel's notification)
        // or lwIP's next timer, whichever comes first.
        // While the boot ping runs its sends are due too (its own clock,
        // not one of lwIP's timers): look again at least every 10 ms.
        u64 wait_ns = busy ? 0 : u64{stack.next_timer_ms()} * 1'000'000;
        if (boot_ping.started && !boot_ping.reported && wait_ns > 10'000'000) wait_ns = 10'000'000;
        if (more && wait_ns > kMoreWorkWaitNs) wait_ns = kMoreWorkWaitNs;
        bool reattached = false;
        // Serving: the NIC's bookkeeping (and liveness ping) without
        // sleeping, then one wait on everything.
        auto w = nic.wait(sockets.serving() ? 0 : wait_ns, &reattached);
        if (reattached) {
            rt::log("netstack: reattached to the restarted provider (generation %llx)",
                    static_cast<ull>(nic.generation()));
            if (sockets.serving()) {
                (void)rt::waitset_remove(waitset.get(), kKeyNic);
                if (auto r =
                        rt::waitset_add(waitset.get(), nic.notification(), abi::kSignalReady | abi::kWaitTake, kKeyNic);
                    !r.ok())
                    return rt::log("netstack: waitset: %s", status_name(r.status())), 3;
            }
        }
        if (!w.ok() && w.status() != Status::Timeout) {
            rt::log("netstack: the NIC is gone: %s", status_name(w.status()));
            return 3;
        }
        if (busy && sockets.serving()) sockets.serve_calls();  // nobody called: one system call
        if (busy || !sockets.serving() || w.ok()) continue;
        // NetClient pings the provider after a second of silence: wake
        // for it.
        if (wait_ns > rt::NetClient::kLivenessCheckNs) wait_ns = rt::NetClient::kLivenessCheckNs;
        // Tell the provider this side sleeps (else it does not signal the
        // NIC's notification, NetRings::client_awake), looking at the
        // rings once more: anything there, go round instead.
        if (!nic.prepare_to_sleep()) continue;
        abi::WaitEvent events[8];
        auto n = rt::waitset_wait(waitset.get(), events, 8, wait_ns);
        for (u32 i = 0; n.ok() && i < n.value(); i++)
            if (events[i].key == netstack_service::SocketService::kKeyEndpoint) sockets.serve_calls();
    }
}
