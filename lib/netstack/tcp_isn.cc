#include "tcp_isn.h"

#include "host.h"
#include "util/sha256.h"

namespace netstack {
namespace {

constexpr u32 kSecretWords = 8;
u32 g_secret[kSecretWords];
bool g_have_secret = false;

}  // namespace

u32 tcp_isn(u32 local_ip, u16 local_port, u32 remote_ip, u16 remote_port) {
    if (!g_have_secret) {
        for (u32& w : g_secret) w = host().random();
        g_have_secret = true;
    }
    util::Sha256 h;
    h.update(g_secret, sizeof g_secret);
    u8 tuple[12] = {};
    for (u32 i = 0; i < 4; i++) {
        tuple[i] = static_cast<u8>(local_ip >> (8 * i));
        tuple[6 + i] = static_cast<u8>(remote_ip >> (8 * i));
    }
    tuple[4] = static_cast<u8>(local_port >> 8);
    tuple[5] = static_cast<u8>(local_port);
    tuple[10] = static_cast<u8>(remote_port >> 8);
    tuple[11] = static_cast<u8>(remote_port);
    h.update(tuple, sizeof tuple);
    u8 digest[util::kSha256DigestBytes];
    h.finish(digest);
    u32 f = static_cast<u32>(digest[0]) << 24 | static_cast<u32>(digest[1]) << 16 | static_cast<u32>(digest[2]) << 8 |
            digest[3];
    // M: RFC 6528 §3 (and RFC 793 §3.3) — a clock ticking every 4 µs.
    auto m = static_cast<u32>(host().now_ns() / 4000);
    return m + f;
}

void tcp_isn_reset_secret() { g_have_secret = false; }

}  // namespace netstack
