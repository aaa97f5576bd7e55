// microbench (run as init): the kernel microbenchmarks of docs/benchmarks.md.
//
//   clock_get    N x ClockGet: the null system call. Its kernel work is one
//                rdtsc and a scale to ns; every other documented call does
//                more (Yield enters the scheduler). Results checked monotonic.
//   unassigned   N x an unassigned syscall number (abi::Syscall::Count):
//                entry, the dispatch switch's default arm, exit. The floor
//                under every system call; checked to fail with Unsupported.
//   yield        N x Yield with no other thread ready (the echo server is
//                not started yet): entry, a pass through the scheduler, exit.
//   yield_switch N x Yield while microbench_echo (args "yield", same
//                priority) yields in a loop too: each of our Yields switches
//                to it and its Yield switches back. Two system calls and two
//                switches between address spaces, no IPC: the switch cost
//                that call_reply also pays.
//   call_reply   N x EndpointCall of an 8-byte message to microbench_echo,
//                which answers n with n+1 (checked). One round trip is three
//                system calls (call; the server's reply, then its next
//                receive) and two switches between address spaces.
//
// Every loop issues `syscall` inline (rt::raw_syscall), no wrapper. Each
// operation runs one warm-up batch (discarded: under TCG it is also when
// the code gets translated), then kBatches timed batches with rdtsc and
// ClockGet read around each batch. One line per batch carries the raw
// totals, which bench/run_bench.py turns into its table:
//   bench: batch clock_get 3/7 iters 200000 tsc 123456789 ns 45678901
// and one summary line per operation gives min/median per operation:
//   bench: summary clock_get cycles/op min 617.28 median 620.01 ns/op min ...
// Any failure prints "bench: FAILED ..." and exits with 1.
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/spawn.h"
#include "rt/sys.h"

namespace {

using S = abi::Syscall;

constexpr u32 kWarmupBatches = 1;
constexpr u32 kBatches = 7;
constexpr u64 kSyscallIters = 200'000;
constexpr u64 kSwitchIters = 20'000;  // the two-process operations cost ~100x a syscall under TCG
constexpr u64 kCallIters = 20'000;
constexpr u64 kEchoBadge = 0xbe4c;  // the client's capability is badged, like a real one

// lfence keeps rdtsc from being hoisted above the work it brackets
// (SDM Vol. 2B, RDTSC: "not a serializing instruction").
inline u64 rdtsc() {
    u32 lo, hi;
    asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return (static_cast<u64>(hi) << 32) | lo;
}

using ull = unsigned long long;

struct Batch {
    u64 tsc;
    u64 ns;
};

void sort(u64* v, u32 n) {
    for (u32 i = 1; i < n; i++)
        for (u32 j = i; j > 0 && v[j - 1] > v[j]; j--) {
            u64 t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

// Per-operation cost in hundredths, so the summary prints two decimals
// without floating point (user programs are built with -mno-sse).
struct MinMedian {
    u64 min;
    u64 median;
};

MinMedian per_op_hundredths(const Batch* b, bool tsc, u64 iters) {
    u64 v[kBatches];
    for (u32 k = 0; k < kBatches; k++) v[k] = (tsc ? b[k].tsc : b[k].ns) * 100 / iters;
    sort(v, kBatches);
    return {v[0], v[kBatches / 2]};
}

// Runs body(i) for i in [0, iters) per batch; body returns false (having
// logged why) on a wrong answer, which ends the benchmark.
template <typename Body>
bool measure(const char* name, u64 iters, Body body) {
    Batch batches[kBatches];
    for (u32 k = 0; k < kWarmupBatches + kBatches; k++) {
        u64 ns0 = rt::clock_ns();
        u64 t0 = rdtsc();
        for (u64 i = 0; i < iters; i++)
            if (!body(i)) return false;
        u64 t1 = rdtsc();
        u64 ns1 = rt::clock_ns();
        if (k < kWarmupBatches) continue;
        Batch& b = batches[k - kWarmupBatches];
        b = {t1 - t0, ns1 - ns0};
        rt::log("bench: batch %s %u/%u iters %llu tsc %llu ns %llu", name, k - kWarmupBatches + 1, kBatches,
                static_cast<ull>(iters), static_cast<ull>(b.tsc), static_cast<ull>(b.ns));
    }
    MinMedian c = per_op_hundredths(batches, true, iters);
    MinMedian n = per_op_hundredths(batches, false, iters);
    rt::log(
        "bench: summary %s cycles/op min %llu.%02llu median %llu.%02llu ns/op min %llu.%02llu median "
        "%llu.%02llu (%u batches x %llu)",
        name, static_cast<ull>(c.min / 100), static_cast<ull>(c.min % 100), static_cast<ull>(c.median / 100),
        static_cast<ull>(c.median % 100), static_cast<ull>(n.min / 100), static_cast<ull>(n.min % 100),
        static_cast<ull>(n.median / 100), static_cast<ull>(n.median % 100), kBatches, static_cast<ull>(iters));
    return true;
}

int fail(const char* what, Status s) {
    rt::log("bench: FAILED %s: %s", what, status_name(s));
    return 1;
}

bool null_syscalls() {
    u64 last = 0;
    bool ok = measure("clock_get", kSyscallIters, [&](u64) {
        u64 now = static_cast<u64>(rt::raw_syscall(S::ClockGet));
        if (now < last) {
            rt::log("bench: FAILED clock_get went backwards: %llu after %llu", static_cast<ull>(now),
                    static_cast<ull>(last));
            return false;
        }
        last = now;
        return true;
    });
    if (!ok) return false;

    constexpr i64 kUnsupported = abi::encode_error(static_cast<i32>(Status::Unsupported));
    ok = measure("unassigned", kSyscallIters, [](u64) {
        i64 r = rt::raw_syscall(S::Count);
        if (r != kUnsupported) {
            rt::log("bench: FAILED unassigned syscall returned %lld, not -Unsupported", static_cast<long long>(r));
            return false;
        }
        return true;
    });
    if (!ok) return false;

    return measure("yield", kSyscallIters, [](u64) {
        i64 r = rt::raw_syscall(S::Yield);
        if (r != 0) {
            rt::log("bench: FAILED yield returned %lld", static_cast<long long>(r));
            return false;
        }
        return true;
    });
}

int yield_switch() {
    u32 resource = rt::startup_handle("resource");
    u32 log = rt::startup_handle("log");
    rt::Grant grants[] = {{"log", log, true}};
    auto partner = rt::spawn(resource, "microbench_echo", grants, 1, 16, "yield");
    if (!partner.ok()) return fail("spawn microbench_echo yield", partner.status());
    bool ok = measure("yield_switch", kSwitchIters, [](u64) {
        i64 r = rt::raw_syscall(S::Yield);
        if (r != 0) {
            rt::log("bench: FAILED yield returned %lld", static_cast<long long>(r));
            return false;
        }
        return true;
    });
    if (auto r = rt::process_kill(partner.value().get()); !r.ok()) return fail("kill the yield partner", r.status());
    auto info = rt::wait_for_exit(partner.value().get(), abi::kForever);
    if (!info.ok()) return fail("wait for the yield partner", info.status());
    return ok ? 0 : 1;
}

int call_reply() {
    u32 resource = rt::startup_handle("resource");
    u32 log = rt::startup_handle("log");
    auto ep = rt::endpoint_create();
    if (!ep.ok()) return fail("endpoint_create", ep.status());
    auto client = rt::endpoint_mint(ep.value().get(), kEchoBadge, cap_rights::kCall);
    if (!client.ok()) return fail("endpoint_mint", client.status());
    rt::Grant grants[] = {{"ep", ep.value().get(), true}, {"log", log, true}};
    auto echo = rt::spawn(resource, "microbench_echo", grants, 2);
    if (!echo.ok()) return fail("spawn microbench_echo", echo.status());

    u32 h = client.value().get();
    abi::Message m{};
    bool ok = measure("call_reply", kCallIters, [&](u64 i) {
        m.length = 8;
        m.handle_count = 0;
        __builtin_memcpy(m.data, &i, 8);
        i64 r = rt::raw_syscall(S::EndpointCall, h, reinterpret_cast<u64>(&m));
        u64 answer;
        __builtin_memcpy(&answer, m.data, 8);
        if (r < 0 || m.length != 8 || answer != i + 1) {
            rt::log("bench: FAILED call %llu: status %lld length %u answer %llu", static_cast<ull>(i),
                    static_cast<long long>(r), m.length, static_cast<ull>(answer));
            return false;
        }
        return true;
    });
    if (!ok) {
        (void)rt::process_kill(echo.value().get());
        return 1;
    }

    abi::Message stop{};
    if (auto r = rt::endpoint_call(h, stop); !r.ok()) return fail("stop call", r.status());
    auto info = rt::wait_for_exit(echo.value().get(), abi::kForever);
    if (!info.ok()) return fail("wait for microbench_echo", info.status());
    if (info.value().kind != abi::ExitKind::Exited || info.value().exit_code != 0) {
        rt::log("bench: FAILED microbench_echo ended kind %u code %lld", static_cast<unsigned>(info.value().kind),
                static_cast<long long>(info.value().exit_code));
        return 1;
    }
    return 0;
}

}  // namespace

int main(u64) {
    rt::log(
        "bench: start batches %u (+%u warm-up) syscall iters %llu switch iters %llu call iters %llu message 8 "
        "bytes",
        kBatches, kWarmupBatches, static_cast<ull>(kSyscallIters), static_cast<ull>(kSwitchIters),
        static_cast<ull>(kCallIters));
    if (!null_syscalls()) return 1;
    if (int r = yield_switch(); r != 0) return r;
    if (int r = call_reply(); r != 0) return r;
    rt::log("bench: done");
    return 0;
}
