// netstack: the TCP/IP stack process (issue 14). lwIP (lib/netstack/) over
// one NIC, reached as a NetDevice client (rt::NetClient, a net::FrameIo);
// brought up with DHCP, then driven by a poll loop that sleeps until a
// frame arrives or lwIP's next timer is due. It will serve the socket
// service (docs/netstack.md) to the processes the manifest names.
//
// Authority: only its NetDevice channel (and, later, the socket service's
// endpoint): no device, no DMA, nothing of another process.
#include "netstack/host.h"
#include "netstack/stack.h"
#include "rt/log.h"
#include "rt/sys.h"
#include "util/xorshift.h"

namespace {

class RtHost final : public netstack::Host {
public:
    RtHost() : m_random(rt::clock_ns() ^ __builtin_ia32_rdtsc()) {}
    u64 now_ns() override { return rt::clock_ns(); }
    void log(const char* line) override { rt::log("%s", line); }
    // TODO(issue 14): a kernel entropy source. TCP's initial sequence
    // numbers and DNS query IDs want unpredictable numbers; a TSC-seeded
    // xorshift is only hard to guess from outside the machine.
    u32 random() override { return static_cast<u32>(m_random.next() >> 32); }
    [[noreturn]] void fatal(const char*) override { rt::exit(-1); }

private:
    util::XorShift64 m_random;
};

// TODO(issue 14, attach point): attach to the manifest's NetDevice
// (rt::NetClient, user/rt/net_client.h, being written) and return it as
// the FrameIo; until it lands there is no NIC to run on.
net::FrameIo* attach_net_device() {
    net::FrameIo* io = nullptr;
    // Opaque to the optimiser: without it the compiler sees the null and
    // drops the stack, and the build would stop checking that lwIP links
    // freestanding against the runtime. Goes with the TODO.
    asm volatile("" : "+r"(io));
    return io;
}

}  // namespace

int main(u64) {
    static RtHost host;
    netstack::set_host(host);
    net::FrameIo* io = attach_net_device();
    if (io == nullptr) {
        rt::log("netstack: no NetDevice client yet (attach point not written)");
        return 1;
    }
    static netstack::Stack stack;
    if (auto r = stack.start(*io, netstack::StackConfig{}); !r.ok()) {
        rt::log("netstack: start failed: %s", status_name(r.status()));
        return 1;
    }
    for (;;) {
        if (stack.poll() == 0) {
            // TODO(issue 14): wait on the NetClient's notification for at
            // most next_timer_ms() instead of sleeping.
            u64 ms = stack.next_timer_ms();
            rt::sleep_ns((ms < 10 ? ms : 10) * 1'000'000);
        }
    }
}
