// ipc_pong: serves ipc_ping. Answers n with n+1 and checks the badge; on a
// message carrying a MemoryObject capability, maps it, fills it with a
// pattern, prints the hash and exits after replying.
#include "rt/log.h"
#include "rt/sys.h"
#include "util/hash.h"

int main(u64) {
    u32 ep = rt::startup_handle("ep");
    u64 served = 0;
    u64 first_badge = 0;
    for (;;) {
        abi::Message m{};
        if (auto r = rt::endpoint_receive(ep, m, abi::kForever); !r.ok()) {
            rt::log("pong: FAILED receive: %s", status_name(r.status()));
            return 1;
        }
        if (served == 0) first_badge = m.badge;
        if (m.handle_count == 1) {
            u32 mem = m.handles[0];
            auto at = rt::memory_map(mem, 0, abi::kMapWrite);
            if (!at.ok()) {
                rt::log("pong: FAILED map: %s", status_name(at.status()));
                return 1;
            }
            auto* bytes = reinterpret_cast<u8*>(at.value());
            constexpr u64 kBytes = 3 * 4096;
            for (u64 i = 0; i < kBytes; i++) bytes[i] = static_cast<u8>((i * 131 + 7) ^ (i >> 9));
            rt::log("pong: served %llu calls with badge 0x%llx", static_cast<unsigned long long>(served),
                    static_cast<unsigned long long>(first_badge));
            rt::log("pong: shared memory hash %016llx", static_cast<unsigned long long>(fnv1a64(bytes, kBytes)));
            abi::Message done{};
            (void)rt::endpoint_reply(done);
            return 0;
        }
        u64 n;
        __builtin_memcpy(&n, m.data, 8);
        n++;
        __builtin_memcpy(m.data, &n, 8);
        m.handle_count = 0;
        if (auto r = rt::endpoint_reply(m); !r.ok()) {
            rt::log("pong: FAILED reply: %s", status_name(r.status()));
            return 1;
        }
        served++;
    }
}
