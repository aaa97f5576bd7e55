// "768K", "16M", "1G", "4096" -> bytes: a decimal number with an optional
// K, M or G suffix (x1024, x1024^2, x1024^3; either case). For short sizes
// people type — the kernel command line (kmem.init=), the shell's spawn
// kmem= — not the manifest, whose parser reports errors with a position.
// Pure; unit-tested in tests/unit/parse_size_test.cc.
#pragma once

#include "util/types.h"

// False (and *out untouched) for anything else: empty, a sign, other
// characters, a value that does not fit 64 bits.
[[nodiscard]] inline bool parse_size(const char* s, usize len, u64* out) {
    u32 shift = 0;
    if (len > 1) {
        char c = s[len - 1];
        shift = (c == 'K' || c == 'k') ? 10 : (c == 'M' || c == 'm') ? 20 : (c == 'G' || c == 'g') ? 30 : 0;
        if (shift) len--;
    }
    if (len == 0) return false;
    u64 v = 0;
    for (usize i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        u64 digit = static_cast<u64>(s[i] - '0');
        if (v > (~u64{0} - digit) / 10) return false;
        v = v * 10 + digit;
    }
    if (v > (~u64{0} >> shift)) return false;
    *out = v << shift;
    return true;
}
