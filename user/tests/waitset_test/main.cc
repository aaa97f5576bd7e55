// waitset_test (init): a WaitSet watches three notifications; a child
// (signaler) fires only the second one after a delay. The wait must wake
// with exactly that key and the bits signalled; a second wait with nothing
// pending must time out after the requested time, not before. Then
// kWaitTake: entries that take their notification's bits as the wait
// reports them — and only those reported — and refused on a process;
// NotificationWait and WaitSetWait that signal a notification first. Last,
// a take entry whose wait cannot deliver its events (another thread unmapped
// the buffer while it was blocked) keeps its bits.
#include "rt/log.h"
#include "rt/spawn.h"
#include "rt/sys.h"
#include "rt/thread.h"

namespace {
int fail(const char* what, Status s) {
    rt::log("waitset: FAILED %s: %s", what, status_name(s));
    return 1;
}

// The thread that pulls the buffer away from a blocked WaitSetWait.
struct Unmapper {
    u32 memory, note;
    u64 at;
};
alignas(16) u8 g_unmapper_stack[8192];
void unmap_then_signal(u64 arg) {
    auto* u = reinterpret_cast<Unmapper*>(arg);
    rt::sleep_ns(20'000'000);  // the main thread is blocked by now
    (void)rt::memory_unmap(u->memory, u->at);
    (void)rt::notification_signal(u->note, 0x40);
}
}  // namespace

int main(u64) {
    u32 resource = rt::startup_handle("resource");
    u32 log = rt::startup_handle("log");
    rt::Handle notes[3];
    auto ws = rt::waitset_create();
    if (!ws.ok()) return fail("waitset_create", ws.status());
    for (u32 i = 0; i < 3; i++) {
        auto n = rt::notification_create();
        if (!n.ok()) return fail("notification_create", n.status());
        notes[i] = static_cast<rt::Handle&&>(n.value());
        if (auto r = rt::waitset_add(ws.value().get(), notes[i].get(), abi::kSignalReady, 100 + i); !r.ok())
            return fail("waitset_add", r.status());
    }
    rt::Grant grants[] = {{"note", notes[1].get(), true}, {"log", log, true}};
    auto child = rt::spawn(resource, "signaler", grants, 2);
    if (!child.ok()) return fail("spawn signaler", child.status());

    abi::WaitEvent events[3];
    auto n = rt::waitset_wait(ws.value().get(), events, 3, 5'000'000'000ull);
    if (!n.ok()) return fail("first wait", n.status());
    auto bits = rt::notification_wait(notes[1].get(), 0);
    rt::log("waitset: woke with %u event(s): key %llu signals 0x%llx; notification bits 0x%llx", n.value(),
            static_cast<unsigned long long>(events[0].key), static_cast<unsigned long long>(events[0].signals),
            static_cast<unsigned long long>(bits.ok() ? bits.value() : 0));

    u64 before = rt::clock_ns();
    auto none = rt::waitset_wait(ws.value().get(), events, 3, 50'000'000ull);
    u64 waited_us = (rt::clock_ns() - before) / 1000;
    rt::log("waitset: second wait: %s after %s 50 ms", none.ok() ? "an event (UNEXPECTED)" : status_name(none.status()),
            waited_us >= 50000 ? "at least" : "LESS than");
    auto info = rt::wait_for_exit(child.value().get(), abi::kForever);
    if (!info.ok()) return fail("wait for signaler", info.status());

    // kWaitTake: two notifications, both signalled, a wait for one event.
    auto ws2 = rt::waitset_create();
    auto t0 = rt::notification_create();
    auto t1 = rt::notification_create();
    if (!ws2.ok() || !t0.ok() || !t1.ok()) return fail("take: create", Status::NoMemory);
    for (u32 i = 0; i < 2; i++) {
        u32 h = (i ? t1 : t0).value().get();
        if (auto r = rt::waitset_add(ws2.value().get(), h, abi::kSignalReady | abi::kWaitTake, 200 + i); !r.ok())
            return fail("take: waitset_add", r.status());
    }
    (void)rt::notification_signal(t0.value().get(), 0x4);
    (void)rt::notification_signal(t1.value().get(), 0x8);
    auto one = rt::waitset_wait(ws2.value().get(), events, 1, 0);
    auto left0 = rt::notification_wait(t0.value().get(), 0);  // taken by the wait: nothing left
    auto left1 = rt::notification_wait(t1.value().get(), 0);  // not reported: kept
    auto again = rt::waitset_wait(ws2.value().get(), events + 1, 3, 0);
    auto on_process = rt::waitset_add(ws2.value().get(), child.value().get(), abi::kSignalDead | abi::kWaitTake, 300);
    rt::log(
        "waitset: take: %u event(s), key %llu; its bits then: %s; the unreported one kept 0x%llx; "
        "waiting again: %s; take on a process: %s",
        one.ok() ? one.value() : 0, static_cast<unsigned long long>(events[0].key),
        left0.ok() ? "STILL SET" : status_name(left0.status()),
        static_cast<unsigned long long>(left1.ok() ? left1.value() : 0),
        again.ok() ? "an event (UNEXPECTED)" : status_name(again.status()),
        on_process.ok() ? "ok (UNEXPECTED)" : status_name(on_process.status()));

    // Signal first, then wait, in one call: the signal lands before the
    // wait looks, so neither call blocks (timeout 0 would say Timeout).
    u32 n0 = t0.value().get(), n1 = t1.value().get();
    auto own = rt::notification_wait(n1, 0, n1, 0x20);
    auto via_set = rt::waitset_wait(ws2.value().get(), events, 3, 0, n0, 0x10);
    auto taken = rt::notification_wait(n0, 0);
    auto no_bits = rt::notification_wait(n1, 0, n1, 0);
    rt::log(
        "waitset: signal then wait: NotificationWait got 0x%llx; WaitSetWait %u event(s), key %llu, its bits then: "
        "%s; a signal without bits: %s",
        static_cast<unsigned long long>(own.ok() ? own.value() : 0), via_set.ok() ? via_set.value() : 0,
        static_cast<unsigned long long>(events[0].key), taken.ok() ? "STILL SET" : status_name(taken.status()),
        no_bits.ok() ? "ok (UNEXPECTED)" : status_name(no_bits.status()));

    // The events buffer disappears while the wait is blocked: the wait
    // fails (OutOfBounds) and the take entry's bits are still there.
    auto memory = rt::memory_create(4096);
    if (!memory.ok()) return fail("memory_create", memory.status());
    auto at = rt::memory_map(memory.value().get(), 0, abi::kMapWrite);
    if (!at.ok()) return fail("memory_map", at.status());
    static Unmapper u;
    u = Unmapper{memory.value().get(), n0, at.value()};
    auto helper =
        rt::thread_create(unmap_then_signal, reinterpret_cast<u64>(&u), g_unmapper_stack, sizeof g_unmapper_stack, 16);
    if (!helper.ok()) return fail("thread_create", helper.status());
    auto lost = rt::waitset_wait(ws2.value().get(), reinterpret_cast<abi::WaitEvent*>(at.value()), 2, 2'000'000'000);
    auto kept = rt::notification_wait(n0, 0);
    rt::log("waitset: buffer unmapped while blocked: %s; the bits then: %s0x%llx",
            lost.ok() ? "events delivered (UNEXPECTED)" : status_name(lost.status()), kept.ok() ? "" : "LOST ",
            static_cast<unsigned long long>(kept.ok() ? kept.value() : 0));
    return 0;
}
