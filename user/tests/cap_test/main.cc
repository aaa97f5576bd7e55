// cap_test (init): the capability-space rules seen from user space.
//  1. A closed handle is Stale; once its slot is reused by a new object the
//     old handle is still Stale and never reaches the new object.
//  2. Wrong type and missing rights are refused with their own errors.
//  3. Revocation: a MemoryObject capability copied to a child, and the
//     child's own duplicate of it, both turn Revoked when the parent revokes
//     its original; the child's mapping disappears, so touching it faults
//     the child (not the kernel), and the parent — its supervisor — learns
//     the fault and its address. The parent's own capability keeps working.
//  4. Badges are set once: a holder of a badged endpoint capability with
//     `duplicate` cannot mint it again under another badge (it would speak
//     as another client); its plain duplicate keeps the badge the server
//     gave it.
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/spawn.h"
#include "rt/sys.h"
#include "rt/thread.h"

namespace {

int fail(const char* what, Status s) {
    rt::log("cap: FAILED %s: %s", what, status_name(s));
    return 1;
}

const char* st(Status s) { return status_name(s); }

u32 slot_of(u32 h) { return h & 0xfff; }

int stale_and_reuse() {
    auto first = rt::notification_create();
    if (!first.ok()) return fail("notification_create", first.status());
    u32 old = first.value().release();
    if (auto r = rt::close(old); !r.ok()) return fail("close", r.status());
    Status after_close = rt::notification_signal(old, 1).status();
    // Create objects until one lands in the old slot.
    rt::Handle keep[1100];
    u32 reused = 0;
    for (u32 i = 0; i < 1100 && !reused; i++) {
        auto n = rt::notification_create();
        if (!n.ok()) return fail("notification_create (reuse loop)", n.status());
        if (slot_of(n.value().get()) == slot_of(old)) reused = n.value().get();
        keep[i] = static_cast<rt::Handle&&>(n.value());
    }
    if (!reused) return fail("slot never reused", Status::NotFound);
    Status after_reuse = rt::notification_signal(old, 1).status();
    auto untouched = rt::notification_wait(reused, 0);
    rt::log("cap: closed handle: %s; slot reused by 0x%x: old handle 0x%x %s; new object %s", st(after_close), reused,
            old, st(after_reuse), untouched.ok() ? "SIGNALLED (wrong)" : "untouched");
    return 0;
}

int type_and_rights() {
    auto mem = rt::memory_create(4096);
    auto note = rt::notification_create();
    if (!mem.ok() || !note.ok()) return fail("create", Status::NoMemory);
    Status wrong_type = rt::notification_signal(mem.value().get(), 1).status();
    auto wait_only = rt::duplicate(note.value().get(), cap_rights::kWait);
    if (!wait_only.ok()) return fail("duplicate", wait_only.status());
    Status no_rights = rt::notification_signal(wait_only.value().get(), 1).status();
    Status widen = rt::duplicate(wait_only.value().get(), cap_rights::kWait | cap_rights::kSignal).status();
    Status garbage = rt::notification_signal(0x7777777, 1).status();
    rt::log("cap: wrong type: %s; missing right: %s; widening rights: %s; garbage handle: %s", st(wrong_type),
            st(no_rights), st(widen), st(garbage));
    // MemorySize: what a process given memory checks before trusting a
    // claimed length (rt::memory_map_checked); needs map, memory only.
    auto big = rt::memory_create(3 * 4096 + 1);
    auto unmappable = rt::duplicate(mem.value().get(), cap_rights::kRead);
    if (!big.ok() || !unmappable.ok()) return fail("memory for MemorySize", Status::NoMemory);
    auto size = rt::memory_size(big.value().get());
    Status size_wrong_type = rt::memory_size(note.value().get()).status();
    Status size_no_map = rt::memory_size(unmappable.value().get()).status();
    Status short_map = rt::memory_map_checked(mem.value().get(), 4097, 0).status();
    rt::log("cap: memory size %llu; of a notification: %s; without map: %s; mapping 4 KiB as 4097 bytes: %s",
            static_cast<unsigned long long>(size.value_or(0)), st(size_wrong_type), st(size_no_map), st(short_map));
    return 0;
}

int revocation() {
    u32 resource = rt::startup_handle("resource");
    u32 log = rt::startup_handle("log");
    auto mem = rt::memory_create(4096);
    if (!mem.ok()) return fail("memory_create", mem.status());
    auto at = rt::memory_map(mem.value().get(), 0, abi::kMapWrite);
    if (!at.ok()) return fail("memory_map", at.status());
    *reinterpret_cast<volatile u64*>(at.value()) = 0x5eedf00d;
    auto ready = rt::notification_create();
    auto go = rt::notification_create();
    if (!ready.ok() || !go.ok()) return fail("notification_create", Status::NoMemory);
    rt::Grant grants[] = {{"mem", mem.value().get(), true},
                          {"ready", ready.value().get(), true},
                          {"go", go.value().get(), true},
                          {"log", log, true}};
    auto victim = rt::spawn(resource, "cap_victim", grants, 4);
    if (!victim.ok()) return fail("spawn cap_victim", victim.status());
    if (auto r = rt::notification_wait(ready.value().get(), 5'000'000'000ull); !r.ok())
        return fail("victim ready", r.status());
    auto revoked = rt::revoke(mem.value().get());
    if (!revoked.ok()) return fail("revoke", revoked.status());
    rt::log("cap: revoked %llu derived capabilities", static_cast<unsigned long long>(revoked.value()));
    (void)rt::notification_signal(go.value().get(), 1);
    auto info = rt::wait_for_exit(victim.value().get(), 5'000'000'000ull);
    if (!info.ok()) return fail("wait for victim", info.status());
    rt::log("cap: supervisor saw pid %u die: kind %u vector %llu address 0x%llx", info.value().pid,
            static_cast<unsigned>(info.value().kind), static_cast<unsigned long long>(info.value().fault_vector),
            static_cast<unsigned long long>(info.value().fault_address));
    u64 still = *reinterpret_cast<volatile u64*>(at.value());
    auto again = rt::memory_map(mem.value().get(), 0, 0);
    rt::log("cap: issuer's own capability still works: value 0x%llx, map again %s",
            static_cast<unsigned long long>(still), again.ok() ? "ok" : st(again.status()));
    return 0;
}

// The server side of badges(): answers two calls with the badge each came
// under.
u8 g_server_stack[8192] __attribute__((aligned(16)));

void badge_server(u64 endpoint) {
    for (u32 i = 0; i < 2; i++) {
        abi::Message m{};
        if (!rt::endpoint_receive(static_cast<u32>(endpoint), m, abi::kForever).ok()) return;
        abi::Message reply{};
        __builtin_memcpy(reply.data, &m.badge, 8);
        reply.length = 8;
        (void)rt::endpoint_reply(reply);
    }
}

Result<u64> badge_seen(u32 h) {
    abi::Message m{};
    TRY(rt::endpoint_call(h, m));
    u64 badge = 0;
    __builtin_memcpy(&badge, m.data, 8);
    return badge;
}

int badges() {
    auto ep = rt::endpoint_create();
    if (!ep.ok()) return fail("endpoint_create", ep.status());
    // What a server hands a client: its own badge, with duplicate.
    auto client = rt::endpoint_mint(ep.value().get(), 7, cap_rights::kCall | cap_rights::kDuplicate);
    if (!client.ok()) return fail("endpoint_mint", client.status());
    auto server = rt::thread_create(badge_server, ep.value().get(), g_server_stack, sizeof g_server_stack, 10);
    if (!server.ok()) return fail("thread_create", server.status());
    // The client tries to speak as client 9.
    auto rebadged = rt::endpoint_mint(client.value().get(), 9, cap_rights::kCall);
    auto copy = rt::duplicate(client.value().get(), cap_rights::kCall);
    if (!copy.ok()) return fail("duplicate", copy.status());
    auto through_copy = badge_seen(copy.value().get());
    auto through_rebadged = rebadged.ok() ? badge_seen(rebadged.value().get()) : badge_seen(client.value().get());
    if (!through_copy.ok() || !through_rebadged.ok()) return fail("call", Status::Stale);
    rt::log("cap: re-badge a badged endpoint: %s; its duplicate calls as badge %llu%s",
            rebadged.ok() ? "ok" : st(rebadged.status()), static_cast<unsigned long long>(through_copy.value()),
            rebadged.ok() && through_rebadged.value() == 9 ? "; the server saw badge 9: IMPERSONATED" : "");
    return 0;
}

}  // namespace

int main(u64) {
    if (int r = stale_and_reuse()) return r;
    if (int r = type_and_rights()) return r;
    if (int r = badges()) return r;
    return revocation();
}
