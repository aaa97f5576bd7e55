// Little-endian integers at fixed offsets of a message buffer whose size
// the caller already checked (IPC message fields: lib/protocol/block.h). For
// untrusted input of unknown length use ByteView (util/byte_view.h).
#pragma once

#include "util/types.h"

namespace le {

inline u32 get_u32(const u8* p) { return u32{p[0]} | u32{p[1]} << 8 | u32{p[2]} << 16 | u32{p[3]} << 24; }
inline u64 get_u64(const u8* p) { return u64{get_u32(p)} | u64{get_u32(p + 4)} << 32; }
inline void put_u32(u8* p, u32 v) {
    for (int i = 0; i < 4; i++) p[i] = static_cast<u8>(v >> (8 * i));
}
inline void put_u64(u8* p, u64 v) {
    for (int i = 0; i < 8; i++) p[i] = static_cast<u8>(v >> (8 * i));
}

}  // namespace le
