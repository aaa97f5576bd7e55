#include "debug/profiler.h"

#include "boot/cmdline.h"
#include "console/log.h"
#include "object/process.h"
#include "sched/scheduler.h"

namespace profiler {
namespace {

using ull = unsigned long long;

constexpr u32 kDefaultHz = 100, kMinHz = 100, kMaxHz = 10000;
constexpr u32 kEntries = 8192;  // distinct (pid, rip) pairs; a power of two
constexpr u32 kPrinted = 120;   // lines per dump, the busiest first

struct Entry {
    u64 rip;
    u32 pid;
    u32 count;
    char name[16];
};
Entry g_table[kEntries];
u64 g_samples, g_dropped;

struct IdleEnd {
    char name[16];  // the process woken (copied: it may be gone by the dump)
    u32 vector;
    u64 count, polled, total_ns, max_ns;
};
constexpr u32 kIdleEnds = 32;
IdleEnd g_idle[kIdleEnds];
bool g_enabled;

}  // namespace

u32 init_from_cmdline() {
    usize len;
    const char* v = cmdline::get("profile", &len);
    if (v == nullptr) return kDefaultHz;
    u32 hz = 0;
    for (usize i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9' || hz > kMaxHz) {
            hz = 0;
            break;
        }
        hz = hz * 10 + static_cast<u32>(v[i] - '0');
    }
    if (hz < kMinHz || hz > kMaxHz) {
        LOG_WARN("profile: '%.*s' is not a rate in %u..%u Hz: not profiling", static_cast<int>(len), v, kMinHz, kMaxHz);
        return kDefaultHz;
    }
    g_enabled = true;
    LOG_INFO("profile: sampling at %u Hz, printed at each process exit", hz);
    return hz;
}

bool enabled() { return g_enabled; }

void sample(const InterruptFrame& f) {
    if (!g_enabled) return;
    const object::Process* p = sched::current()->process;
    const u32 pid = p ? p->pid() : 0;
    g_samples++;
    // The product's high bits: its low ones depend only on rip's low ones.
    u64 h = ((f.rip * 0x9e37'79b9'7f4a'7c15ull) >> 51) ^ pid;
    for (u32 probe = 0; probe < 16; probe++) {
        Entry& e = g_table[(h + probe) & (kEntries - 1)];
        if (e.count != 0 && (e.rip != f.rip || e.pid != pid)) continue;
        if (e.count == 0) {
            e.rip = f.rip;
            e.pid = pid;
            const char* n = p ? p->name() : "idle";
            usize i = 0;
            for (; i + 1 < sizeof e.name && n[i]; i++) e.name[i] = n[i];
            e.name[i] = 0;
        }
        e.count++;
        return;
    }
    g_dropped++;  // the table is crowded: counted in the total all the same
}

void idle_period(u64 idle_ns, const char* woken, u32 vector, bool polled) {
    if (!g_enabled) return;
    for (auto& e : g_idle) {
        bool same = e.count != 0 && e.vector == vector;
        for (u32 i = 0; same && i < sizeof e.name; i++) {
            if (e.name[i] != woken[i]) same = false;
            if (!woken[i]) break;
        }
        if (e.count != 0 && !same) continue;
        if (e.count == 0) {
            usize i = 0;
            for (; i + 1 < sizeof e.name && woken[i]; i++) e.name[i] = woken[i];
            e.name[i] = 0;
            e.vector = vector;
        }
        e.count++;
        e.polled += polled;
        e.total_ns += idle_ns;
        if (idle_ns > e.max_ns) e.max_ns = idle_ns;
        return;
    }
}

void dump(const char* why) {
    if (!g_enabled) return;
    LOG_INFO("profile: begin (%s): %llu samples, %llu not placed", why, static_cast<ull>(g_samples),
             static_cast<ull>(g_dropped));
    // Per process first (the lines below are the busiest instructions only).
    struct Total {
        u32 pid;
        u64 count;
        const char* name;
    } totals[32];
    u32 n = 0;
    for (auto& e : g_table) {
        if (e.count == 0) continue;
        u32 i = 0;
        while (i < n && totals[i].pid != e.pid) i++;
        if (i == n) {
            if (n == 32) continue;
            totals[n++] = {e.pid, 0, e.name};
        }
        totals[i].count += e.count;
    }
    for (u32 i = 0; i < n; i++)
        LOG_INFO("profile: process pid %u %s %llu", totals[i].pid, totals[i].name, static_cast<ull>(totals[i].count));
    // The busiest first, by repeated selection: a dump is rare, the table small.
    for (u32 line = 0; line < kPrinted; line++) {
        Entry* best = nullptr;
        for (auto& e : g_table)
            if (e.count != 0 && (best == nullptr || e.count > best->count)) best = &e;
        if (best == nullptr) break;
        LOG_INFO("profile: %u pid %u %s rip 0x%llx", best->count, best->pid, best->name, static_cast<ull>(best->rip));
        best->count = 0;
    }
    for (auto& e : g_idle) {
        if (e.count == 0) continue;
        LOG_INFO("profile: idle until %s after vector 0x%x: %llu times, mean %llu ns, max %llu ns, %llu caught polling",
                 e.name, e.vector, static_cast<ull>(e.count), static_cast<ull>(e.total_ns / e.count),
                 static_cast<ull>(e.max_ns), static_cast<ull>(e.polled));
        e = IdleEnd{};
    }
    for (auto& e : g_table) e = Entry{};
    LOG_INFO("profile: end");
    g_samples = g_dropped = 0;
}

}  // namespace profiler
