// Little-endian integers in byte buffers: the one definition of the byte
// order every device structure, firmware table and message in Sluice uses
// (x86-64 is little-endian too, but a byte-wise read has no alignment or
// aliasing assumptions). These read and write at a pointer whose bounds the
// caller already checked (a structure of fixed size: Identify data, a
// message body); for untrusted input of unknown length use ByteView
// (util/byte_view.h), which checks the bounds and reads through load<T>.
#pragma once

#include <type_traits>

#include "util/types.h"

namespace le {

template <typename T>
constexpr T load(const u8* p) {
    static_assert(std::is_unsigned_v<T>);
    T v = 0;
    for (usize i = 0; i < sizeof(T); i++) v |= static_cast<T>(static_cast<T>(p[i]) << (8 * i));
    return v;
}

template <typename T>
constexpr void store(u8* p, T v) {
    static_assert(std::is_unsigned_v<T>);
    for (usize i = 0; i < sizeof(T); i++) p[i] = static_cast<u8>(v >> (8 * i));
}

inline u16 get_u16(const u8* p) { return load<u16>(p); }
inline u32 get_u32(const u8* p) { return load<u32>(p); }
inline u64 get_u64(const u8* p) { return load<u64>(p); }
inline void put_u16(u8* p, u16 v) { store(p, v); }
inline void put_u32(u8* p, u32 v) { store(p, v); }
inline void put_u64(u8* p, u64 v) { store(p, v); }

}  // namespace le
