// The physical memory map: firmware ranges merged into one sorted,
// non-overlapping list, with the kernel's own reservations carved out.
//
// Inputs come from the multiboot2 memory map tag (§3.6.8), which GRUB builds
// from BIOS e820 or from the UEFI memory map. Those lists may be unsorted,
// may overlap, and may disagree about a byte's type; this class resolves
// that deterministically.
//
// Invariants (hold after every successful add()/reserve(), not only after
// normalize()):
//   I1  ranges are sorted by base, pairwise disjoint, and have length > 0;
//   I2  no two ranges that touch (a.base + a.length == b.base) share a type;
//   I3  every range ends at or below 2^64 - 1 (base + length never wraps);
//   I4  each byte's type is the most restrictive of every add()/reserve()
//       that covered it (see restrictiveness() below), so the order of
//       add() and reserve() calls does not matter;
//   I5  a failed add()/reserve() leaves the map unchanged.
// After normalize() additionally:
//   I6  every Usable range starts and ends on a 4 KiB boundary.
// normalize() only shrinks or drops Usable ranges, so it can never run out
// of capacity; add() after normalize() is allowed, but I6 then holds only
// after the next normalize().
//
// Capacity is fixed (kCapacity ranges). An add() or reserve() whose result
// would not fit fails with NoMemory and changes nothing: memory is never
// silently lost or silently treated as usable.
//
// Size: about 12 KiB (two range arrays, so every update is built off to the
// side and swapped in whole). Keep it static / in .bss, not on a boot stack.
// Not thread-safe; meant for single-threaded early boot.
#pragma once

#include "util/page.h"
#include "util/result.h"
#include "util/types.h"

namespace boot {

// Multiboot2 memory map types (§3.6.8), which are the ACPI e820 types 1–5.
enum class RegionType : u32 {
    Usable = 1,
    Reserved = 2,
    AcpiReclaimable = 3,
    AcpiNvs = 4,
    Bad = 5,
};

// Maps a raw multiboot2/e820 type to RegionType; every value outside 1..5
// (0, persistent memory 7, vendor types, ...) becomes Reserved, because
// memory we cannot name is memory we must not use.
constexpr RegionType region_type_from_multiboot2(u32 raw) {
    switch (raw) {
        case 1: return RegionType::Usable;
        case 3: return RegionType::AcpiReclaimable;
        case 4: return RegionType::AcpiNvs;
        case 5: return RegionType::Bad;
        default: return RegionType::Reserved;
    }
}

// "usable", "reserved", "acpi-reclaimable", "acpi-nvs", "bad".
const char* region_type_name(RegionType type);

// Where two inputs disagree, the higher rank wins:
//   Usable < AcpiReclaimable < Reserved < AcpiNvs < Bad
// Anything beats Usable. Reserved beats AcpiReclaimable because reclaimable
// memory is handed to the allocator once ACPI tables are parsed, which would
// release something firmware (or the kernel, via reserve()) said never to
// touch. AcpiNvs beats Reserved: neither is ever allocated, and keeping the
// NVS label preserves what the ACPI sleep code needs to save. Bad beats all.
// Values outside the enum rank as Reserved.
constexpr u32 restrictiveness(RegionType type) {
    switch (type) {
        case RegionType::Usable: return 0;
        case RegionType::AcpiReclaimable: return 1;
        case RegionType::Reserved: return 2;
        case RegionType::AcpiNvs: return 3;
        case RegionType::Bad: return 4;
    }
    return 2;
}

struct MemoryRange {
    u64 base;
    u64 length;
    RegionType type;

    // One past the last byte; never wraps (invariant I3).
    constexpr u64 end() const { return base + length; }
};

class MemoryMap {
public:
    static constexpr u32 kCapacity = 256;
    // The highest representable end: ranges cover at most [0, 2^64 - 1).
    static constexpr u64 kMaxEnd = ~u64{0};

    MemoryMap() = default;

    // Records [base, base + length) as `type` (values outside the enum are
    // stored as Reserved).
    //   length == 0    ignored, Ok
    //   wraparound     (base + length > 2^64 - 1): a Usable range fails with
    //                  Malformed — claiming memory past the top of the
    //                  address space is never right, and the caller can skip
    //                  the entry; any other type is clamped to end at
    //                  2^64 - 1, since reserving too much is always safe
    //   NoMemory       the merged map would exceed kCapacity ranges
    [[nodiscard]] Result<void> add(u64 base, u64 length, RegionType type);

    // Carves [base, base + length) out of usable memory: the kernel image,
    // modules, the boot information, the first 1 MiB. Equivalent to
    // add(base, length, Reserved): bytes that are Usable or
    // AcpiReclaimable (or not yet described at all) become Reserved; AcpiNvs
    // and Bad keep their type. Because of I4 it also protects memory that a
    // later add() calls Usable. Wraparound clamps; NoMemory as for add().
    [[nodiscard]] Result<void> reserve(u64 base, u64 length);

    // Trims every Usable range inward to 4 KiB boundaries, dropping ranges
    // that contain no whole page (the trimmed bytes belong to no range
    // afterwards). Idempotent.
    void normalize();

    u32 count() const { return m_count; }
    // The i-th range in address order; {0, 0, Reserved} when i >= count().
    MemoryRange range(u32 i) const;

    // Total bytes in Usable ranges.
    u64 usable_bytes() const;
    // End (exclusive) of the highest range of any type; 0 when empty. Use it
    // to size a direct map: every byte the firmware described lies below it.
    u64 highest_address() const;

private:
    // Replaces the map with (map painted by [base, end) of `type`), built in
    // the spare buffer and swapped in only on success.
    Result<void> paint(u64 base, u64 end, RegionType type);

    const MemoryRange* current() const { return m_buffers[m_current]; }

    MemoryRange m_buffers[2][kCapacity] = {};
    u32 m_current = 0;
    u32 m_count = 0;
};

}  // namespace boot
