#include "events/refusals.h"

#include "arch/x86_64/clock.h"
#include "object/device_root.h"
#include "object/process.h"
#include "pci/enumerate.h"
#include "sched/scheduler.h"
#include "util/coalescing_ring.h"

namespace refusals {
namespace {

// System-wide log budget: however many processes misbehave at once, the
// serial port spends a bounded share of the CPU on them.
util::TokenBucket g_log_budget{64, 20};
constexpr u32 kEvents = 128;
util::CoalescingRing<abi::RefusalEvent, kEvents> g_events;
object::DeviceRoot* g_listener;
bool g_in_call_recorded;
u64 g_total;
u64 g_suppressed;

bool same(const abi::RefusalEvent& a, const abi::RefusalEvent& b) {
    return a.pid == b.pid && a.kind == b.kind && a.bdf == b.bdf && a.status == b.status && a.detail == b.detail;
}

void merge(abi::RefusalEvent& into, const abi::RefusalEvent& from) {
    into.count = into.count + from.count < into.count ? ~0u : into.count + from.count;  // saturates
    into.time_ns = from.time_ns;
}

u16 bdf_of(u32 function) {
    if (function == kNoFunction || function >= pci_enum::count()) return abi::kNoFunction;
    const auto& a = pci_enum::function(function).address;
    return static_cast<u16>(u32{a.bus} << 8 | u32{a.device} << 3 | a.function);
}

}  // namespace

void record(object::Process* who, abi::RefusalKind kind, u32 function, Status status, u64 detail, log::Level level,
            const char* fmt, ...) {
    g_in_call_recorded = true;
    g_total++;
    u64 now = clock::monotonic_ns();

    abi::RefusalEvent e{};
    e.time_ns = now;
    e.detail = detail;
    e.pid = who ? who->pid() : 0;
    e.count = 1;
    e.status = static_cast<i32>(status);
    e.kind = kind;
    e.bdf = bdf_of(function);
    if (who)
        for (u32 i = 0; i + 1 < sizeof e.name && who->name()[i]; i++) e.name[i] = who->name()[i];
    bool was_pending = !g_events.empty();
    (void)g_events.push(e, same, merge);
    if (!was_pending && g_listener) g_listener->events_changed();

    ProcessState* state = who ? &who->refusal_state() : nullptr;
    if (state) state->total++;
    // Both budgets must allow the line; the process's is asked first so a
    // quiet process is not charged for a noisy one's lines.
    bool log = (!state || state->log_budget.take(now)) && g_log_budget.take(now);
    if (!log) {
        g_suppressed++;
        if (state) {
            state->suppressed++;
            if (!state->told_limited) {
                state->told_limited = true;
                LOG_WARN(
                    "refused: pid %u '%s': further refusals are rate-limited (at most %u lines a second; all are "
                    "counted and reported as events)",
                    who->pid(), who->name(), kPerSecond);
            }
        }
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log::log_v(level, fmt, ap);
    va_end(ap);
    if (state && state->suppressed) {
        LOG_INFO("refused: pid %u '%s': %llu earlier refusals were not logged", who->pid(), who->name(),
                 static_cast<unsigned long long>(state->suppressed));
        state->suppressed = 0;
    }
}

void note(object::Process* who, log::Level level, const char* fmt, ...) {
    u64 now = clock::monotonic_ns();
    ProcessState* state = who ? &who->refusal_state() : nullptr;
    if ((state && !state->note_budget.take(now)) || !g_log_budget.take(now)) {
        g_suppressed++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log::log_v(level, fmt, ap);
    va_end(ap);
}

object::Process* current_process() {
    object::Thread* t = sched::current();
    return t ? t->process : nullptr;
}

void begin_syscall() { g_in_call_recorded = false; }
bool recorded_in_syscall() { return g_in_call_recorded; }

void set_listener(object::DeviceRoot* listener) { g_listener = listener; }
bool pending() { return !g_events.empty(); }

u32 drain(abi::RefusalEvent* out, u32 max) {
    u32 n = g_events.pop(out, max);
    if (n && g_events.empty() && g_listener) g_listener->events_changed();
    return n;
}

u64 total() { return g_total; }
u64 suppressed_lines() { return g_suppressed; }
u64 dropped_events() { return g_events.dropped(); }

}  // namespace refusals
