// FNV-1a 64-bit: a tiny, dependency-free hash for test fingerprints (not
// for security).
#pragma once

#include "util/types.h"

constexpr u64 fnv1a64(const u8* data, usize len) {
    u64 h = 0xcbf29ce484222325ull;
    for (usize i = 0; i < len; i++) {
        h ^= data[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
