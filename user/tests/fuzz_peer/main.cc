// fuzz_peer: the syscall fuzzer's counterpart (user/tests/syscall_fuzz).
//
// Started with args "serve:7f3a" it is the fuzzer's echo server: it makes
// its own endpoint, hands a copy to the fuzzer over the "boot" endpoint,
// and then answers every call — so the fuzzer can make real EndpointCalls
// (with random payloads and handle transfers) that never block forever.
// The first data byte of a request picks how the reply looks:
//   0 echo, handles moved back (copy_mask from data[1])
//   1 echo, handles back plus one that is not a handle (partial transfer)
//   2 an invalid reply first (length or handle count too big), then a clean one
//   3 no handles back (the received ones are closed)
//   4 a copy of the server's own endpoint plus the first received handle
//   5 data[2] % 65 bytes, no handles
// The server never hands away its own endpoint capability (only copies), so
// while it runs it is always about to receive again. It exits after 10 s
// without a call, in case the fuzzer died without killing it.
//
// Started with args "call" it calls the endpoint it was given as "ep" again
// and again (so the fuzzer's EndpointReceive and EndpointReply meet real callers),
// moving a fresh notification and copying the endpoint along. A watchdog
// thread ends the process after 50 ms whether or not anyone answered.
//
// Started with any other args it is a short-lived child for the fuzzer's
// ProcessSpawn calls: it sleeps 20 ms and exits, so children the fuzzer
// lost track of (closed or moved handles) never outlive the test.
#include "rt/sys.h"
#include "rt/thread.h"

namespace {

constexpr char kServeArgs[] = "serve:7f3a";
constexpr u64 kIdleNs = 10'000'000'000ull;

bool serving() {
    const char* a = rt::startup().args;
    for (u32 i = 0; i < sizeof kServeArgs; i++)
        if (a[i] != kServeArgs[i]) return false;
    return true;
}

i64 reply(const abi::Message& m) { return rt::raw_syscall(abi::Syscall::EndpointReply, reinterpret_cast<u64>(&m)); }

int serve() {
    u32 boot = rt::startup_handle("boot");
    auto ep = rt::endpoint_create();
    if (!ep.ok()) return 2;
    abi::Message hello{};
    hello.handle_count = 1;
    hello.handles[0] = ep.value().get();
    hello.copy_mask = 1;
    if (!rt::endpoint_call(boot, hello).ok()) return 3;
    (void)rt::close(boot);
    for (;;) {
        abi::Message m{};
        auto r = rt::endpoint_receive(ep.value().get(), m, kIdleNs);
        if (r.status() == Status::Timeout) return 0;
        // Any other result: a caller is waiting (a failed handle transfer is
        // reported, but the call still needs its reply) — or nobody is, and
        // reply() says NotFound.
        u32 got[abi::kMessageHandles] = {};
        u32 count = m.handle_count <= abi::kMessageHandles ? m.handle_count : 0;
        for (u32 i = 0; i < count; i++) got[i] = m.handles[i];
        u8 op = m.length ? m.data[0] % 6 : 0;
        abi::Message out{};
        out.length = m.length <= abi::kMessageBytes ? m.length : 0;
        for (u32 i = 0; i < out.length; i++) out.data[i] = m.data[i];
        switch (op) {
            case 0:
            case 1:
                for (u32 i = 0; i < count; i++)
                    if (got[i]) out.handles[out.handle_count++] = got[i];
                out.copy_mask = m.length > 1 ? m.data[1] : 0;
                if (op == 1 && out.handle_count < abi::kMessageHandles) out.handles[out.handle_count++] = 0xfffff123u;
                break;
            case 2: {
                abi::Message bad = out;
                if (m.length > 1 && (m.data[1] & 1))
                    bad.handle_count = abi::kMessageHandles + 1 + m.data[1];
                else
                    bad.length = abi::kMessageBytes + 1 + (m.length > 2 ? m.data[2] : 0);
                (void)reply(bad);  // refused: InvalidArgument, the caller still waits
                break;
            }
            case 3: break;
            case 4:
                out.handles[0] = ep.value().get();
                out.copy_mask = 1;  // never move our own endpoint away
                out.handle_count = 1;
                if (got[0]) out.handles[out.handle_count++] = got[0];
                break;
            case 5: out.length = m.length > 2 ? m.data[2] % (abi::kMessageBytes + 1) : 0; break;
        }
        if (reply(out) < 0) {
            abi::Message clean{};
            (void)reply(clean);
        }
        // Whatever was not moved back is ours to drop (moved ones are Stale now).
        for (u32 i = 0; i < count; i++)
            if (got[i]) (void)rt::close(got[i]);
    }
}

bool args_are(const char* want) {
    const char* a = rt::startup().args;
    for (u32 i = 0;; i++) {
        if (a[i] != want[i]) return false;
        if (!want[i]) return true;
    }
}

alignas(16) u8 g_watchdog_stack[4096];

void watchdog(u64) {
    rt::sleep_ns(50'000'000ull);
    rt::exit(0);
}

int call() {
    if (!rt::thread_create(watchdog, 0, g_watchdog_stack, sizeof g_watchdog_stack, 31).ok()) return 4;
    u32 ep = rt::startup_handle("ep");
    for (u32 round = 0;; round++) {
        auto note = rt::notification_create();
        abi::Message m{};
        m.length = 16;
        for (u32 i = 0; i < m.length; i++) m.data[i] = static_cast<u8>(i * 37 + round);
        m.handle_count = 2;
        m.handles[0] = note.ok() ? note.value().release() : 0;
        m.handles[1] = ep;
        m.copy_mask = 2;
        if (!rt::endpoint_call(ep, m).ok()) return 0;
        // Drop what the reply brought.
        for (u32 i = 0; i < m.handle_count && i < abi::kMessageHandles; i++)
            if (m.handles[i]) (void)rt::close(m.handles[i]);
    }
}

}  // namespace

int main(u64) {
    if (serving()) return serve();
    if (args_are("call")) return call();
    rt::sleep_ns(20'000'000ull);
    return 0;
}
