// Base Address Register decoding (PCI Local Bus 3.0 §6.2.5.1).
//
// Sizing is the kernel's job, because it writes to the device: for each BAR
// slot it reads the original value, writes all-ones, reads back the "sized"
// value and restores the original (with decoding disabled in the command
// register while it does so). For a 64-bit memory BAR it does the same to the
// next slot (the upper half) before restoring either. This file only turns
// those raw values into a typed description.
//
// Slot iteration rule for callers: a Mem64 BAR occupies slots i and i+1; the
// caller passes slot i+1's values as the *_high arguments and then skips slot
// i+1. A Mem64 BAR in the last slot (5 for type 0, 1 for type 1) has no upper
// half and must be treated as Malformed by the caller; use bar_is_mem64() on
// the original low value to know, before sizing, whether a BAR is 64-bit.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace pci {

// BAR low-bit encodings (PCI 3.0 §6.2.5.1, figures 6-5 and 6-6).
inline constexpr u32 kBarSpaceIo = 1u << 0;
inline constexpr u32 kBarIoAddressMask = ~u32{0x3};
inline constexpr u32 kBarMemTypeShift = 1;  // bits 2:1
inline constexpr u32 kBarMemTypeMask = 0x3;
inline constexpr u32 kBarMemType32 = 0x0;
inline constexpr u32 kBarMemTypeBelow1M = 0x1;  // PCI 2.x "locate below 1 MiB"; reserved in 3.0
inline constexpr u32 kBarMemType64 = 0x2;
inline constexpr u32 kBarMemTypeReserved = 0x3;
inline constexpr u32 kBarMemPrefetchable = 1u << 3;
inline constexpr u32 kBarMemAddressMask = ~u32{0xF};

enum class BarKind { None, Io, Mem32, Mem64 };

struct Bar {
    BarKind kind;
    bool prefetchable;  // memory BARs only
    u64 address;        // as assigned by firmware; 0 if unassigned
    u64 size;           // a power of two; 0 for BarKind::None
};

// True when `original_low` encodes a 64-bit memory BAR (type 10b), i.e. the
// next slot is its upper half and must be sized together with it.
constexpr bool bar_is_mem64(u32 original_low) {
    return (original_low & kBarSpaceIo) == 0 && ((original_low >> kBarMemTypeShift) & kBarMemTypeMask) == kBarMemType64;
}

// Decodes one BAR from its original and sized (read back after writing
// all-ones) values. The *_high values are used only for Mem64 and ignored
// otherwise.
//
//   sized_low == 0          -> kind None: the slot is not implemented (all
//                              bits hardwired to zero, §6.2.5.1).
//   I/O (bit 0 set)         -> kind Io, address bits 31:2. The size is the
//                              lowest writable address bit, so 16-bit
//                              decoders whose upper half reads back 0 size
//                              correctly (§6.2.5.1 allows hardwired upper
//                              bits for I/O).
//   memory type 00b         -> Mem32.
//   memory type 01b         -> Mem32 as well. PCI 2.x defined it as "32-bit,
//                              locate below 1 MiB"; PCI 3.0 reserves it. A
//                              32-bit decoder is a correct model of either,
//                              and the address firmware assigned is kept.
//   memory type 10b         -> Mem64 (consumes the next slot, see above).
//   memory type 11b         -> Malformed (reserved, meaning undefined).
//
// Also Malformed, because no conforming device produces them:
//   - sized type bits (the read-only low bits) differ from the original's;
//   - a BAR with its type bits set but no writable address bit;
//   - an assigned address not aligned to the BAR's size.
[[nodiscard]] Result<Bar> decode_bar(u32 original_low, u32 original_high, u32 sized_low, u32 sized_high);

// "none", "io", "mem32", "mem64" — stable names for logs.
const char* bar_kind_name(BarKind kind);

}  // namespace pci
