#include "mm/kernel_stack.h"

#include "mm/frame_allocator.h"
#include "mm/paging.h"

namespace kstack {
namespace {

constexpr u64 kArea = 0xffffe00000000000ull;
constexpr u64 kSlotSize = kSize + 4096;  // guard page first
constexpr u64 kSlots = 8192;
u64 g_used[kSlots / 64];
u64 g_in_use;

}  // namespace

Result<Stack> alloc() {
    for (u64 slot = 0; slot < kSlots; slot++) {
        if (g_used[slot / 64] & (1ull << (slot % 64))) continue;
        u64 base = kArea + slot * kSlotSize + 4096;
        u64 mapped = 0;
        for (; mapped < kSize; mapped += 4096) {
            auto frame = frames::alloc();
            if (!frame.ok()) break;
            if (!paging::map_kernel_page(base + mapped, frame.value(), true).ok()) {
                frames::free(frame.value());
                break;
            }
        }
        if (mapped < kSize) {
            for (u64 off = 0; off < mapped; off += 4096) {
                auto phys = paging::unmap_kernel_page(base + off);
                if (phys.ok()) frames::free(phys.value());
            }
            return Status::NoMemory;
        }
        g_used[slot / 64] |= 1ull << (slot % 64);
        g_in_use++;
        return Stack{base, base + kSize};
    }
    return Status::NoMemory;
}

void free(const Stack& s) {
    u64 slot = (s.base - 4096 - kArea) / kSlotSize;
    for (u64 off = 0; off < kSize; off += 4096) {
        auto phys = paging::unmap_kernel_page(s.base + off);
        if (phys.ok()) frames::free(phys.value());
    }
    g_used[slot / 64] &= ~(1ull << (slot % 64));
    g_in_use--;
}

u64 in_use() { return g_in_use; }

bool contains(u64 addr, u64 len) {
    if (addr < kArea || addr >= kArea + kSlots * kSlotSize) return false;
    u64 slot = (addr - kArea) / kSlotSize;
    u64 base = kArea + slot * kSlotSize + 4096;
    if (!(g_used[slot / 64] & (1ull << (slot % 64)))) return false;
    return addr >= base && addr + len <= base + kSize;
}

}  // namespace kstack
