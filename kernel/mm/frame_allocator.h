// Physical frame allocator: one bit per 4 KiB frame over [0, highest usable
// address), with accounting a test can compare against a baseline.
// Single CPU for now: callers hold interrupts off or run at boot; the lock
// arrives with SMP (DESIGN §7) and sits inside this module only.
#pragma once

#include "util/page.h"
#include "util/result.h"
#include "util/types.h"

namespace boot {
class MemoryMap;
}

namespace frames {

constexpr u64 kFrameSize = kPage;  // a frame holds one page

struct Stats {
    u64 total;  // usable frames reported by firmware, after reservations
    u64 free;
    u64 used;      // allocated by the kernel (total - free)
    u64 reserved;  // usable by firmware's word but held back (kernel image, modules, boot data, bitmap)
};

// map must already be normalized with the kernel image, modules and boot
// information reserved. Places the bitmap inside usable memory below
// `placement_limit` (memory the boot page tables can reach).
Result<void> init(const boot::MemoryMap& map, u64 placement_limit);

// Lowest free frame first, so early page tables stay inside the boot map.
Result<u64> alloc();
// n physically contiguous frames, aligned to `align_frames` frames.
Result<u64> alloc_contiguous(u64 count, u64 align_frames = 1);
void free(u64 phys);
void free_contiguous(u64 phys, u64 count);
Stats stats();

}  // namespace frames
