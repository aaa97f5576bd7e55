// Small helpers shared by the ACPI parsers (internal; not part of the API).
#pragma once

#include "util/byte_view.h"
#include "util/types.h"

namespace acpi::detail {

// Copies n bytes at offset into out[0..n) and NUL-terminates (out must hold
// n+1). Bytes outside the view read as NUL, so this never fails; callers
// check lengths first.
inline void copy_chars(ByteView view, usize offset, usize n, char* out) {
    for (usize i = 0; i < n; i++) out[i] = static_cast<char>(view.read_le<u8>(offset + i).value_or(0));
    out[n] = '\0';
}

// True when view[offset, offset+n) equals s[0, n).
inline bool bytes_equal(ByteView view, usize offset, const char* s, usize n) {
    if (!view.contains(offset, n)) return false;
    for (usize i = 0; i < n; i++)
        if (view.data()[offset + i] != static_cast<u8>(s[i])) return false;
    return true;
}

// Reads a field of a table whose later revisions appended fields: a field
// that does not lie wholly inside the table reads as 0.
template <typename T>
T read_or_zero(ByteView view, usize offset) {
    return view.read_le<T>(offset).value_or(0);
}

}  // namespace acpi::detail
