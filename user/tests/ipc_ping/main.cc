// ipc_ping (run as init): starts ipc_pong with a serve capability to a new
// endpoint, calls it 10,000 times through a badged capability checking
// every answer, then passes it a MemoryObject capability in a message;
// pong writes a pattern into it and both print a hash of the shared bytes.
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/spawn.h"
#include "rt/sys.h"
#include "util/hash.h"

namespace {

constexpr u64 kRounds = 10000;
constexpr u64 kBadge = 0x5eed;
constexpr u64 kSharedBytes = 3 * 4096;

int fail(const char* what, Status s) {
    rt::log("ping: FAILED %s: %s", what, status_name(s));
    return 1;
}

}  // namespace

int main(u64) {
    u32 resource = rt::startup_handle("resource");
    u32 log = rt::startup_handle("log");
    auto ep = rt::endpoint_create();
    if (!ep.ok()) return fail("endpoint_create", ep.status());
    // The client's capability carries a badge and only the call right.
    auto client = rt::endpoint_mint(ep.value().get(), kBadge, cap_rights::kCall);
    if (!client.ok()) return fail("endpoint_mint", client.status());
    rt::Grant grants[] = {{"ep", ep.value().get(), true}, {"log", log, true}};
    auto pong = rt::spawn(resource, "ipc_pong", grants, 2);
    if (!pong.ok()) return fail("spawn ipc_pong", pong.status());

    u64 start = rt::clock_ns();
    for (u64 i = 0; i < kRounds; i++) {
        abi::Message m{};
        m.length = 8;
        __builtin_memcpy(m.data, &i, 8);
        if (auto r = rt::endpoint_call(client.value().get(), m); !r.ok()) return fail("call", r.status());
        u64 answer;
        __builtin_memcpy(&answer, m.data, 8);
        if (m.length != 8 || answer != i + 1) {
            rt::log("ping: FAILED round %llu: answer %llu", static_cast<unsigned long long>(i),
                    static_cast<unsigned long long>(answer));
            return 1;
        }
    }
    u64 elapsed = rt::clock_ns() - start;
    rt::log("ping: %llu calls answered in order, %llu ns per round trip", static_cast<unsigned long long>(kRounds),
            static_cast<unsigned long long>(elapsed / kRounds));

    auto mem = rt::memory_create(kSharedBytes);
    if (!mem.ok()) return fail("memory_create", mem.status());
    auto at = rt::memory_map(mem.value().get(), 0, abi::kMapWrite);
    if (!at.ok()) return fail("memory_map", at.status());
    abi::Message m{};
    m.length = 0;
    m.handle_count = 1;
    m.handles[0] = mem.value().get();
    m.copy_mask = 1;  // pong gets a derived copy; we keep ours
    if (auto r = rt::endpoint_call(client.value().get(), m); !r.ok()) return fail("call with memory", r.status());
    auto* bytes = reinterpret_cast<const u8*>(at.value());
    rt::log("ping: shared memory hash %016llx", static_cast<unsigned long long>(fnv1a64(bytes, kSharedBytes)));

    auto info = rt::wait_for_exit(pong.value().get(), abi::kForever);
    if (!info.ok()) return fail("wait for pong", info.status());
    rt::log("ping: pong exited kind %u code %lld", static_cast<unsigned>(info.value().kind),
            static_cast<long long>(info.value().exit_code));
    return 0;
}
