#include "pci/bar.h"

namespace pci {

namespace {

// The BAR size is the lowest address bit the device let us set: a device
// hardwires the address bits below its size to zero (§6.2.5.1). Using the
// lowest set bit rather than ~mask + 1 tolerates upper bits hardwired to zero
// (16-bit I/O decoders).
constexpr u64 lowest_set_bit(u64 v) { return v & (~v + 1); }

}  // namespace

Result<Bar> decode_bar(u32 original_low, u32 original_high, u32 sized_low, u32 sized_high) {
    if (sized_low == 0) return Bar{BarKind::None, false, 0, 0};

    if (sized_low & kBarSpaceIo) {
        if ((original_low & kBarSpaceIo) == 0) return Status::Malformed;
        const u64 mask = sized_low & kBarIoAddressMask;
        if (mask == 0) return Status::Malformed;
        const u64 size = lowest_set_bit(mask);
        const u64 address = original_low & kBarIoAddressMask;
        if (address & (size - 1)) return Status::Malformed;
        return Bar{BarKind::Io, false, address, size};
    }

    // Memory BAR: bits 3:0 are read-only and must read the same before and
    // after sizing.
    if ((sized_low & ~kBarMemAddressMask) != (original_low & ~kBarMemAddressMask)) return Status::Malformed;
    const bool prefetchable = (sized_low & kBarMemPrefetchable) != 0;
    const u32 type = (sized_low >> kBarMemTypeShift) & kBarMemTypeMask;

    switch (type) {
        case kBarMemType32:
        case kBarMemTypeBelow1M: {
            const u64 mask = sized_low & kBarMemAddressMask;
            if (mask == 0) return Status::Malformed;
            const u64 size = lowest_set_bit(mask);
            const u64 address = original_low & kBarMemAddressMask;
            if (address & (size - 1)) return Status::Malformed;
            return Bar{BarKind::Mem32, prefetchable, address, size};
        }
        case kBarMemType64: {
            const u64 mask = (u64{sized_high} << 32) | (sized_low & kBarMemAddressMask);
            if (mask == 0) return Status::Malformed;
            const u64 size = lowest_set_bit(mask);
            const u64 address = (u64{original_high} << 32) | (original_low & kBarMemAddressMask);
            if (address & (size - 1)) return Status::Malformed;
            return Bar{BarKind::Mem64, prefetchable, address, size};
        }
        default: return Status::Malformed;  // 11b: reserved
    }
}

const char* bar_kind_name(BarKind kind) {
    switch (kind) {
        case BarKind::None: return "none";
        case BarKind::Io: return "io";
        case BarKind::Mem32: return "mem32";
        case BarKind::Mem64: return "mem64";
    }
    return "unknown";
}

}  // namespace pci
