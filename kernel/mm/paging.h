// Kernel address space: 4-level paging (SDM Vol. 3A §4.5).
//   0xffff800000000000  direct map of physical memory (2 MiB pages, WB)
//   0xffffc00000000000  MMIO windows (4 KiB pages, uncached)
//   0xffffffff80000000  kernel image (4 KiB pages, W^X per section)
// The lower half is left empty for user processes.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace paging {

constexpr u64 kPresent = 1ull << 0;
constexpr u64 kWritable = 1ull << 1;
constexpr u64 kUser = 1ull << 2;
constexpr u64 kWriteThrough = 1ull << 3;
constexpr u64 kCacheDisable = 1ull << 4;
constexpr u64 kHuge = 1ull << 7;
constexpr u64 kGlobal = 1ull << 8;
constexpr u64 kNoExecute = 1ull << 63;
constexpr u64 kAddressMask = 0x000ffffffffff000ull;

// Builds the kernel's own tables — direct map of [0, max(4 GiB, phys_limit)),
// the kernel image with per-section permissions — and switches to them.
Result<void> init(u64 phys_limit);

// Maps [phys, phys+size) uncached and returns its kernel virtual address.
// The region is never unmapped (device windows live as long as the kernel).
Result<volatile void*> map_mmio(u64 phys, u64 size);

// The kernel's PML4 (physical); user address spaces copy its upper half.
u64 kernel_root();
// Kernel-half 4 KiB mappings outside the direct map (kernel stacks with
// guard pages). Global and non-executable.
Result<void> map_kernel_page(u64 virt, u64 phys, bool writable);
Result<u64> unmap_kernel_page(u64 virt);
// kNoExecute when the CPU supports NX, else 0.
u64 nx_bit();

}  // namespace paging
