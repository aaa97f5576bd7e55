#include "mm/frame_allocator.h"

#include "boot/memory_map.h"
#include "console/log.h"
#include "debug/panic.h"
#include "mm/direct_map.h"

namespace frames {
namespace {

u64* g_bitmap;  // bit set = frame not available
u64 g_frame_count;
u64 g_total, g_free, g_reserved;
u64 g_search_hint;

bool is_set(u64 f) { return g_bitmap[f / 64] & (1ull << (f % 64)); }
void set(u64 f) { g_bitmap[f / 64] |= 1ull << (f % 64); }
void clear(u64 f) { g_bitmap[f / 64] &= ~(1ull << (f % 64)); }

}  // namespace

Result<void> init(const boot::MemoryMap& map, u64 placement_limit) {
    u64 highest = 0;
    for (usize i = 0; i < map.count(); i++) {
        auto r = map.range(i);
        if (r.type == boot::RegionType::Usable && r.base + r.length > highest) highest = r.base + r.length;
    }
    if (highest == 0) return Status::NoMemory;
    g_frame_count = highest / kFrameSize;
    u64 bitmap_bytes = ((g_frame_count + 63) / 64) * 8;
    u64 bitmap_frames = (bitmap_bytes + kFrameSize - 1) / kFrameSize;

    u64 bitmap_phys = 0;
    for (usize i = 0; i < map.count() && !bitmap_phys; i++) {
        auto r = map.range(i);
        if (r.type != boot::RegionType::Usable || r.length < bitmap_frames * kFrameSize) continue;
        if (r.base + bitmap_frames * kFrameSize > placement_limit) continue;
        bitmap_phys = r.base;
    }
    if (!bitmap_phys) return Status::NoMemory;
    g_bitmap = direct_map::to_virt<u64>(bitmap_phys);
    for (u64 i = 0; i < bitmap_bytes / 8; i++) g_bitmap[i] = ~0ull;

    for (usize i = 0; i < map.count(); i++) {
        auto r = map.range(i);
        if (r.type != boot::RegionType::Usable) continue;
        for (u64 f = r.base / kFrameSize; f < (r.base + r.length) / kFrameSize; f++) {
            clear(f);
            g_total++;
            g_free++;
        }
    }
    for (u64 f = bitmap_phys / kFrameSize; f < bitmap_phys / kFrameSize + bitmap_frames; f++) {
        set(f);
        g_free--;
        g_reserved++;
    }
    g_total -= g_reserved;
    return {};
}

Result<u64> alloc() {
    for (u64 pass = 0; pass < 2; pass++) {
        for (u64 f = pass ? 0 : g_search_hint; f < g_frame_count; f++) {
            if (g_bitmap[f / 64] == ~0ull) {
                f |= 63;
                continue;
            }
            if (!is_set(f)) {
                set(f);
                g_free--;
                g_search_hint = f + 1;
                return f * kFrameSize;
            }
        }
    }
    return Status::NoMemory;
}

Result<u64> alloc_contiguous(u64 count, u64 align_frames) {
    if (count == 0 || align_frames == 0) return Status::InvalidArgument;
    for (u64 start = 0; start + count <= g_frame_count; start += align_frames) {
        u64 run = 0;
        while (run < count && !is_set(start + run)) run++;
        if (run == count) {
            for (u64 f = start; f < start + count; f++) set(f);
            g_free -= count;
            return start * kFrameSize;
        }
    }
    return Status::NoMemory;
}

void free(u64 phys) {
    u64 f = phys / kFrameSize;
    if (phys % kFrameSize || f >= g_frame_count || !is_set(f))
        panic("frames: bad free of 0x%llx", static_cast<unsigned long long>(phys));
    clear(f);
    g_free++;
    if (f < g_search_hint) g_search_hint = f;
}

void free_contiguous(u64 phys, u64 count) {
    for (u64 i = 0; i < count; i++) free(phys + i * kFrameSize);
}

Stats stats() { return Stats{g_total, g_free, g_total - g_free, g_reserved}; }

}  // namespace frames
