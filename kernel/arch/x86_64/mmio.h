// Register access through the kernel's uncached mappings of device BARs:
// one place for the volatile casts. `base` is a mapping from
// PciFunction::kernel_view (or the like), `offset` a byte offset into it.
#pragma once

#include "util/types.h"

namespace mmio {

template <typename T>
inline T read(volatile u8* base, u64 offset) {
    return *reinterpret_cast<volatile T*>(base + offset);
}

template <typename T>
inline void write(volatile u8* base, u64 offset, T value) {
    *reinterpret_cast<volatile T*>(base + offset) = value;
}

// A 64-bit register written as two dwords, low half first: NVMe (§3.1)
// and virtio (§4.1.3.1) allow it, and not every device accepts a qword.
inline void write64_halves(volatile u8* base, u64 offset, u64 value) {
    write<u32>(base, offset, static_cast<u32>(value));
    write<u32>(base, offset + 4, static_cast<u32>(value >> 32));
}

// The same for a read: low half first, then the high half (not atomic).
inline u64 read64_halves(volatile u8* base, u64 offset) {
    u64 low = read<u32>(base, offset);
    return low | u64{read<u32>(base, offset + 4)} << 32;
}

}  // namespace mmio
