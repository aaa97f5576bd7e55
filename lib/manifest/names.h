// Spellings and string helpers shared by the manifest parser, writer and
// lookups (internal to lib/manifest). No libc: these are tiny loops.
#pragma once

#include "manifest/manifest.h"
#include "util/types.h"

namespace manifest::detail {

// Indexed by bit number of kRight*.
inline constexpr const char* kRightNames[kRightCount] = {
    "read", "write",   "map",    "execute",   "call",     "serve",  "signal",
    "wait", "inspect", "manage", "duplicate", "transfer", "revoke",
};

inline bool names_equal(const char* a, const char* b) {
    while (*a != '\0' && *a == *b) a++, b++;
    return *a == *b;
}

// a[0, length) == b (NUL-terminated) exactly.
inline bool span_equals(const char* a, u32 length, const char* b) {
    for (u32 i = 0; i < length; i++)
        if (b[i] == '\0' || b[i] != a[i]) return false;
    return b[length] == '\0';
}

// Copies length bytes and a NUL; dst must hold length + 1.
inline void copy_span(char* dst, const char* src, u32 length) {
    for (u32 i = 0; i < length; i++) dst[i] = src[i];
    dst[length] = '\0';
}

inline bool is_name_start(u8 c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
inline bool is_name_char(u8 c) { return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

// scripts/harness/images.py MODULE_NAME_RE: ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$
inline bool is_module_start(u8 c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
inline bool is_module_char(u8 c) { return is_module_start(c) || c == '_' || c == '-' || c == '.'; }

}  // namespace manifest::detail
