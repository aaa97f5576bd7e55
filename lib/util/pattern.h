// Deterministic test data for storage checks: the shell's
// `blk write-pattern` / `verify-pattern` and blkbench write it, and the
// scenario harness (scripts/harness/images.py, pattern_bytes) recomputes it
// from the disk image's bytes on the host. Each 8-byte little-endian word
// depends only on the seed and its absolute byte position on the device, so
// any range can be checked alone and a block written to the wrong place
// shows up.
#pragma once

#include "util/types.h"

namespace util {

// The word at device byte `offset` (a multiple of 8): SplitMix64 of
// seed * golden-ratio + word index.
inline constexpr u64 pattern_word(u64 seed, u64 offset) {
    u64 z = seed * 0x9E3779B97F4A7C15ull + (offset >> 3) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Fills `len` bytes (a multiple of 8) that belong at device byte `offset`.
inline void fill_pattern(u64 seed, u64 offset, u8* out, u64 len) {
    for (u64 i = 0; i < len; i += 8) {
        u64 w = pattern_word(seed, offset + i);
        for (u32 k = 0; k < 8; k++) out[i + k] = static_cast<u8>(w >> (8 * k));
    }
}

// The first byte of `len` (a multiple of 8) that differs from the pattern,
// or len when all match.
inline u64 check_pattern(u64 seed, u64 offset, const u8* in, u64 len) {
    for (u64 i = 0; i < len; i += 8) {
        u64 w = pattern_word(seed, offset + i);
        for (u32 k = 0; k < 8; k++)
            if (in[i + k] != static_cast<u8>(w >> (8 * k))) return i + k;
    }
    return len;
}

}  // namespace util
