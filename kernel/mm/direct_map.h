// The direct map: all physical memory the kernel knows about, mapped at
// kBase + phys (PML4 slot 256 upwards). The boot tables cover the first
// 4 GiB; paging::init() extends it to the whole memory map.
#pragma once

#include "util/types.h"

namespace direct_map {

constexpr u64 kBase = 0xffff800000000000ull;

// Bytes of physical address space currently mapped, from 0.
u64 limit();
void set_limit(u64 bytes);

inline bool covers(u64 phys, u64 len) { return phys <= limit() && len <= limit() - phys; }

template <typename T>
inline T* to_virt(u64 phys) {
    return reinterpret_cast<T*>(kBase + phys);
}
inline u64 to_phys(const void* virt) { return reinterpret_cast<u64>(virt) - kBase; }

}  // namespace direct_map
