// Unit tests for lib/boot/memory_map: firmware maps as QEMU's SeaBIOS and
// OVMF present them through GRUB, overlap resolution, reservations,
// alignment, capacity and wraparound — plus a brute-force oracle.
#include "boot/memory_map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <random>
#include <vector>

static void PrintTo(Status s, std::ostream* os) { *os << status_name(s); }

namespace boot {
static void PrintTo(RegionType t, std::ostream* os) { *os << region_type_name(t); }
}  // namespace boot

namespace {

using namespace boot;

constexpr u64 KiB = 1024;
constexpr u64 MiB = 1024 * KiB;
constexpr u64 GiB = 1024 * MiB;
constexpr u64 kTop = ~u64{0};

constexpr RegionType U = RegionType::Usable;
constexpr RegionType R = RegionType::Reserved;
constexpr RegionType AR = RegionType::AcpiReclaimable;
constexpr RegionType NVS = RegionType::AcpiNvs;
constexpr RegionType BAD = RegionType::Bad;

struct Expect {
    u64 base;
    u64 end;
    RegionType type;
};

// Invariants I1–I3 (and I6 when `normalized`), checked on every map a test
// produces.
void check_invariants(const MemoryMap& map, bool normalized) {
    for (u32 i = 0; i < map.count(); i++) {
        const MemoryRange r = map.range(i);
        EXPECT_GT(r.length, 0u) << "range " << i;
        EXPECT_LE(r.length, kTop - r.base) << "range " << i << " wraps";
        if (normalized && r.type == U) {
            EXPECT_EQ(r.base % kPage, 0u) << "range " << i;
            EXPECT_EQ(r.length % kPage, 0u) << "range " << i;
        }
        if (i > 0) {
            const MemoryRange p = map.range(i - 1);
            EXPECT_LE(p.end(), r.base) << "ranges " << i - 1 << "," << i << " unsorted or overlapping";
            if (p.end() == r.base) EXPECT_NE(p.type, r.type) << "ranges " << i - 1 << "," << i << " unmerged";
        }
    }
}

void expect_map(const MemoryMap& map, const std::vector<Expect>& want) {
    ASSERT_EQ(map.count(), want.size());
    for (u32 i = 0; i < want.size(); i++) {
        const MemoryRange r = map.range(i);
        EXPECT_EQ(r.base, want[i].base) << "range " << i;
        EXPECT_EQ(r.end(), want[i].end) << "range " << i;
        EXPECT_EQ(r.type, want[i].type) << "range " << i;
    }
}

struct In {
    u64 base;
    u64 length;
    u32 type;  // raw multiboot2 type
};

Result<void> add_all(MemoryMap& map, const std::vector<In>& entries) {
    for (const In& e : entries) TRY(map.add(e.base, e.length, region_type_from_multiboot2(e.type)));
    return {};
}

// SeaBIOS e820 for `qemu-system-x86_64 -M pc -m 8G`: 3.5 GiB below the
// PCI hole, the rest above 4 GiB.
const std::vector<In> kSeabios8G = {
    {0x0000000000, 0x000009FC00, 1},                                   // conventional memory
    {0x000009FC00, 0x0000000400, 2},                                   // EBDA
    {0x00000F0000, 0x0000010000, 2},                                   // BIOS ROM
    {0x0000100000, 0x00DFEE0000, 1},                                   // up to 0xDFFE0000
    {0x00DFFE0000, 0x0000020000, 2}, {0x00FEFFC000, 0x0000004000, 2},  // KVM TSS / identity map
    {0x00FFFC0000, 0x0000040000, 2},                                   // BIOS flash
    {0x0100000000, 0x0120000000, 1},                                   // 4.5 GiB above 4 GiB
};

// ------------------------------------------------------------ firmware maps

TEST(MemoryMapFirmware, SeabiosSmallGuest) {
    // -m 128M: the same map without high RAM, and the low RAM ends at 0x7FE0000.
    MemoryMap map;
    ASSERT_TRUE(add_all(map, {{0x0, 0x9FC00, 1},
                              {0x9FC00, 0x400, 2},
                              {0xF0000, 0x10000, 2},
                              {0x100000, 0x7EE0000, 1},
                              {0x7FE0000, 0x20000, 2},
                              {0xFEFFC000, 0x4000, 2},
                              {0xFFFC0000, 0x40000, 2}})
                    .ok());
    check_invariants(map, false);
    map.normalize();
    check_invariants(map, true);
    expect_map(map, {{0x0, 0x9F000, U},  // 0x9FC00 trimmed down to a page
                     {0x9FC00, 0xA0000, R},
                     {0xF0000, 0x100000, R},
                     {0x100000, 0x7FE0000, U},
                     {0x7FE0000, 0x8000000, R},
                     {0xFEFFC000, 0xFF000000, R},
                     {0xFFFC0000, 0x100000000, R}});
    EXPECT_EQ(map.usable_bytes(), 0x9F000u + 0x7EE0000u);
    EXPECT_EQ(map.highest_address(), 4 * GiB);
}

TEST(MemoryMapFirmware, SeabiosLargeGuestWithHighRam) {
    MemoryMap map;
    ASSERT_TRUE(add_all(map, kSeabios8G).ok());
    map.normalize();
    check_invariants(map, true);
    ASSERT_EQ(map.count(), 8u);
    EXPECT_EQ(map.range(3).base, 0x100000u);
    EXPECT_EQ(map.range(3).end(), 0xDFFE0000u);
    EXPECT_EQ(map.range(7).base, 4 * GiB);
    EXPECT_EQ(map.range(7).type, U);
    EXPECT_EQ(map.highest_address(), 0x220000000u);  // 8.5 GiB: 8 GiB RAM + 0.5 GiB hole
    EXPECT_EQ(map.usable_bytes(), 0x9F000u + (0xDFFE0000u - 0x100000u) + 0x120000000u);
}

TEST(MemoryMapFirmware, SeabiosWithBootReservations) {
    // What the kernel does at boot: firmware map, then the first MiB, the
    // kernel image, the boot information and two modules.
    MemoryMap map;
    ASSERT_TRUE(add_all(map, kSeabios8G).ok());
    ASSERT_TRUE(map.reserve(0, 1 * MiB).ok());
    ASSERT_TRUE(map.reserve(0x100000, 0x234567).ok());  // kernel image (unaligned end)
    ASSERT_TRUE(map.reserve(0x335000, 0x1A8).ok());     // boot information
    ASSERT_TRUE(map.reserve(0x400000, 0x12345).ok());   // module 0
    ASSERT_TRUE(map.reserve(0x413000, 0x800).ok());     // module 1
    map.normalize();
    check_invariants(map, true);
    expect_map(map, {{0x0, 0x334567, R},  // first MiB (filling the VGA hole) + kernel
                     {0x335000, 0x3351A8, R},
                     {0x336000, 0x400000, U},  // 0x3351A8 rounded up
                     {0x400000, 0x412345, R},
                     {0x413000, 0x413800, R},
                     {0x414000, 0xDFFE0000, U},
                     {0xDFFE0000, 0xE0000000, R},
                     {0xFEFFC000, 0xFF000000, R},
                     {0xFFFC0000, 0x100000000, R},
                     {0x100000000, 0x220000000, U}});
}

// GRUB's multiboot2 map on OVMF (q35, 2 GiB): unsorted, with ACPI NVS
// islands, many boot-services fragments that are usable and adjacent, and
// an ACPI reclaimable table area.
const std::vector<In> kOvmf2G = {
    {0x0000000000900000, 0x000000007E2F0000, 1},
    {0x0000000000000000, 0x00000000000A0000, 1},
    {0x0000000000808000, 0x0000000000003000, 1},
    {0x0000000000800000, 0x0000000000008000, 4},
    {0x000000000080B000, 0x0000000000001000, 4},
    {0x000000000080C000, 0x0000000000004000, 1},
    {0x0000000000810000, 0x00000000000F0000, 4},
    {0x0000000000100000, 0x0000000000700000, 1},
    {0x000000007EBF0000, 0x0000000000010000, 1},
    {0x000000007EC00000, 0x0000000000100000, 1},
    {0x000000007EBEF000, 0x0000000000001000, 1},
    {0x000000007EBF0000, 0x0000000000001000, 2},  // overlaps the usable piece above
    {0x000000007ED00000, 0x0000000000100000, 1},
    {0x000000007EE00000, 0x0000000000080000, 3},
    {0x000000007EE80000, 0x0000000000080000, 1},
    {0x000000007EF00000, 0x0000000000200000, 1},
    {0x000000007F100000, 0x00000000000FB000, 2},
    {0x000000007F1FB000, 0x0000000000600000, 1},
    {0x000000007F7FB000, 0x0000000000080000, 1},
    {0x000000007F87B000, 0x0000000000080000, 4},
    {0x000000007F8FB000, 0x0000000000100000, 1},
    {0x000000007F9FB000, 0x0000000000585000, 1},
    {0x000000007FF80000, 0x0000000000080000, 4},
    {0x00000000B0000000, 0x0000000010000000, 2},  // MMCONFIG
    {0x00000000FFC00000, 0x0000000000400000, 2},  // flash
    {0x000000007E1F0000, 0x0000000000A00000, 1},  // duplicate-ish overlapping usable
    {0x000000FD00000000, 0x0000000300000000, 2},  // HyperTransport hole
};

TEST(MemoryMapFirmware, OvmfUnsortedFragmentsMerge) {
    MemoryMap map;
    ASSERT_TRUE(add_all(map, kOvmf2G).ok());
    check_invariants(map, false);
    map.normalize();
    check_invariants(map, true);
    expect_map(map, {{0x0, 0xA0000, U},
                     {0x100000, 0x800000, U},
                     {0x800000, 0x808000, NVS},
                     {0x808000, 0x80B000, U},
                     {0x80B000, 0x80C000, NVS},
                     {0x80C000, 0x810000, U},
                     {0x810000, 0x900000, NVS},
                     {0x900000, 0x7EBF0000, U},
                     {0x7EBF0000, 0x7EBF1000, R},
                     {0x7EBF1000, 0x7EE00000, U},
                     {0x7EE00000, 0x7EE80000, AR},
                     {0x7EE80000, 0x7F100000, U},
                     {0x7F100000, 0x7F1FB000, R},
                     {0x7F1FB000, 0x7F87B000, U},
                     {0x7F87B000, 0x7F8FB000, NVS},
                     {0x7F8FB000, 0x7FF80000, U},
                     {0x7FF80000, 0x80000000, NVS},
                     {0xB0000000, 0xC0000000, R},
                     {0xFFC00000, 0x100000000, R},
                     {0xFD00000000, 0x10000000000, R}});
    EXPECT_EQ(map.highest_address(), u64{1} << 40);
}

TEST(MemoryMapFirmware, OvmfResultIndependentOfOrder) {
    MemoryMap reference;
    ASSERT_TRUE(add_all(reference, kOvmf2G).ok());
    std::vector<In> shuffled = kOvmf2G;
    std::mt19937 rng(1234);
    for (int round = 0; round < 50; round++) {
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        MemoryMap map;
        ASSERT_TRUE(add_all(map, shuffled).ok());
        ASSERT_EQ(map.count(), reference.count());
        for (u32 i = 0; i < map.count(); i++) {
            EXPECT_EQ(map.range(i).base, reference.range(i).base);
            EXPECT_EQ(map.range(i).length, reference.range(i).length);
            EXPECT_EQ(map.range(i).type, reference.range(i).type);
        }
    }
}

// -------------------------------------------------------------- overlaps

TEST(MemoryMapOverlap, ReservedWinsOverUsableEitherOrder) {
    for (bool usable_first : {true, false}) {
        MemoryMap map;
        if (usable_first) ASSERT_TRUE(map.add(0x0, 0x10000, U).ok());
        ASSERT_TRUE(map.add(0x8000, 0x10000, R).ok());
        if (!usable_first) ASSERT_TRUE(map.add(0x0, 0x10000, U).ok());
        check_invariants(map, false);
        expect_map(map, {{0x0, 0x8000, U}, {0x8000, 0x18000, R}});
    }
}

TEST(MemoryMapOverlap, UsableInsideReservedDisappears) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0x1000, 0x10000, R).ok());
    ASSERT_TRUE(map.add(0x2000, 0x1000, U).ok());
    expect_map(map, {{0x1000, 0x11000, R}});
}

TEST(MemoryMapOverlap, UsableSpanningReservedIslandsFillsOnlyGaps) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0x10000, 0x1000, R).ok());
    ASSERT_TRUE(map.add(0x30000, 0x1000, NVS).ok());
    ASSERT_TRUE(map.add(0x50000, 0x1000, BAD).ok());
    ASSERT_TRUE(map.add(0x0, 0x100000, U).ok());
    check_invariants(map, false);
    expect_map(map, {{0x0, 0x10000, U},
                     {0x10000, 0x11000, R},
                     {0x11000, 0x30000, U},
                     {0x30000, 0x31000, NVS},
                     {0x31000, 0x50000, U},
                     {0x50000, 0x51000, BAD},
                     {0x51000, 0x100000, U}});
}

TEST(MemoryMapOverlap, RestrictivenessOrder) {
    // Usable < AcpiReclaimable < Reserved < AcpiNvs < Bad, both orders.
    const RegionType order[] = {U, AR, R, NVS, BAD};
    for (int a = 0; a < 5; a++) {
        for (int b = 0; b < 5; b++) {
            MemoryMap map;
            ASSERT_TRUE(map.add(0x1000, 0x1000, order[a]).ok());
            ASSERT_TRUE(map.add(0x1000, 0x1000, order[b]).ok());
            ASSERT_EQ(map.count(), 1u);
            EXPECT_EQ(map.range(0).type, order[a > b ? a : b]) << a << "," << b;
        }
    }
}

TEST(MemoryMapOverlap, AdjacentAndOverlappingSameTypeMerge) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0x0, 0x1000, U).ok());
    ASSERT_TRUE(map.add(0x2000, 0x1000, U).ok());
    ASSERT_TRUE(map.add(0x1000, 0x1000, U).ok());  // bridges the two
    ASSERT_TRUE(map.add(0x2800, 0x1000, U).ok());  // overlaps the end
    expect_map(map, {{0x0, 0x3800, U}});
    ASSERT_TRUE(map.add(0x3800, 0x800, R).ok());  // adjacent, different type: no merge
    expect_map(map, {{0x0, 0x3800, U}, {0x3800, 0x4000, R}});
}

TEST(MemoryMapOverlap, UnknownTypesAreReserved) {
    EXPECT_EQ(region_type_from_multiboot2(0), R);
    EXPECT_EQ(region_type_from_multiboot2(1), U);
    EXPECT_EQ(region_type_from_multiboot2(2), R);
    EXPECT_EQ(region_type_from_multiboot2(3), AR);
    EXPECT_EQ(region_type_from_multiboot2(4), NVS);
    EXPECT_EQ(region_type_from_multiboot2(5), BAD);
    EXPECT_EQ(region_type_from_multiboot2(7), R);  // ACPI 6 persistent memory
    EXPECT_EQ(region_type_from_multiboot2(0xF0000000), R);

    MemoryMap map;
    ASSERT_TRUE(map.add(0x1000, 0x1000, static_cast<RegionType>(12)).ok());
    ASSERT_EQ(map.count(), 1u);
    EXPECT_EQ(map.range(0).type, R);
    EXPECT_STREQ(region_type_name(AR), "acpi-reclaimable");
}

// ----------------------------------------------------------- reservations

TEST(MemoryMapReserve, SplitsUsableRangeInTwo) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0x100000, 0x7F00000, U).ok());
    ASSERT_TRUE(map.reserve(0x200000, 0x100000).ok());
    expect_map(map, {{0x100000, 0x200000, U}, {0x200000, 0x300000, R}, {0x300000, 0x8000000, U}});
    EXPECT_EQ(map.usable_bytes(), 0x7F00000u - 0x100000u);
}

TEST(MemoryMapReserve, BeforeAddStillProtects) {
    // Order independence (I4): reserving first, then learning the memory
    // is usable, leaves the reservation in force.
    MemoryMap map;
    ASSERT_TRUE(map.reserve(0x200000, 0x100000).ok());
    ASSERT_TRUE(map.add(0x100000, 0x7F00000, U).ok());
    expect_map(map, {{0x100000, 0x200000, U}, {0x200000, 0x300000, R}, {0x300000, 0x8000000, U}});
}

TEST(MemoryMapReserve, KeepsNvsAndBadLabelsButTakesReclaimable) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0x0, 0x1000, NVS).ok());
    ASSERT_TRUE(map.add(0x1000, 0x1000, AR).ok());
    ASSERT_TRUE(map.add(0x2000, 0x1000, BAD).ok());
    ASSERT_TRUE(map.add(0x3000, 0x1000, U).ok());
    ASSERT_TRUE(map.reserve(0x0, 0x4000).ok());
    expect_map(map, {{0x0, 0x1000, NVS}, {0x1000, 0x2000, R}, {0x2000, 0x3000, BAD}, {0x3000, 0x4000, R}});
}

TEST(MemoryMapReserve, WholeRangeAndEdges) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0x100000, 0x100000, U).ok());
    ASSERT_TRUE(map.reserve(0x100000, 0x1000).ok());  // left edge
    ASSERT_TRUE(map.reserve(0x1FF000, 0x1000).ok());  // right edge
    expect_map(map, {{0x100000, 0x101000, R}, {0x101000, 0x1FF000, U}, {0x1FF000, 0x200000, R}});
    ASSERT_TRUE(map.reserve(0x0, 0x300000).ok());  // everything, plus the holes around
    expect_map(map, {{0x0, 0x300000, R}});
    EXPECT_EQ(map.usable_bytes(), 0u);
}

// ------------------------------------------------------------- alignment

TEST(MemoryMapNormalize, UsableTrimmedInwardToPages) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0x1234, 0x5678 - 0x1234, U).ok());
    ASSERT_TRUE(map.add(0x10001, 0xFFE, U).ok());   // no whole page: dropped
    ASSERT_TRUE(map.add(0x20000, 0x1000, U).ok());  // exactly one page: kept
    ASSERT_TRUE(map.add(0x30100, 0x100, R).ok());   // reserved: never trimmed
    map.normalize();
    check_invariants(map, true);
    expect_map(map, {{0x2000, 0x5000, U}, {0x20000, 0x21000, U}, {0x30100, 0x30200, R}});
    EXPECT_EQ(map.usable_bytes(), 0x4000u);
}

TEST(MemoryMapNormalize, TrimmingNextToReservedLeavesAGap) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0x0, 0x3000, U).ok());
    ASSERT_TRUE(map.reserve(0x1800, 0x100).ok());
    map.normalize();
    expect_map(map, {{0x0, 0x1000, U}, {0x1800, 0x1900, R}, {0x2000, 0x3000, U}});
}

TEST(MemoryMapNormalize, MergesBeforeTrimming) {
    // Two unaligned halves of one page become one whole page, because the
    // merge happens at add() time.
    MemoryMap map;
    ASSERT_TRUE(map.add(0x1000, 0x800, U).ok());
    ASSERT_TRUE(map.add(0x1800, 0x800, U).ok());
    map.normalize();
    expect_map(map, {{0x1000, 0x2000, U}});
}

TEST(MemoryMapNormalize, IdempotentAndAddAfterwards) {
    MemoryMap map;
    ASSERT_TRUE(add_all(map, kOvmf2G).ok());
    map.normalize();
    const u32 n = map.count();
    const u64 bytes = map.usable_bytes();
    map.normalize();
    EXPECT_EQ(map.count(), n);
    EXPECT_EQ(map.usable_bytes(), bytes);
    ASSERT_TRUE(map.add(0x200000000, 0x1800, U).ok());
    map.normalize();
    check_invariants(map, true);
    EXPECT_EQ(map.usable_bytes(), bytes + 0x1000);
}

TEST(MemoryMapNormalize, EmptyMap) {
    MemoryMap map;
    map.normalize();
    EXPECT_EQ(map.count(), 0u);
    EXPECT_EQ(map.usable_bytes(), 0u);
    EXPECT_EQ(map.highest_address(), 0u);
    const MemoryRange r = map.range(0);
    EXPECT_EQ(r.length, 0u);
    EXPECT_EQ(r.type, R);
}

// ------------------------------------------------------- limits and edges

TEST(MemoryMapLimits, ZeroLengthIgnored) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0x1000, 0, U).ok());
    ASSERT_TRUE(map.reserve(0x1000, 0).ok());
    ASSERT_TRUE(map.add(kTop, 0, R).ok());
    EXPECT_EQ(map.count(), 0u);
}

TEST(MemoryMapLimits, CapacityExhaustionIsNoMemoryAndAtomic) {
    MemoryMap map;
    for (u32 i = 0; i < MemoryMap::kCapacity; i++) {
        ASSERT_TRUE(map.add(u64{i} * 0x2000, 0x1000, U).ok()) << i;
    }
    ASSERT_EQ(map.count(), MemoryMap::kCapacity);
    const u64 bytes = map.usable_bytes();

    // A new disjoint range: one too many.
    EXPECT_EQ(map.add(0x10000000, 0x1000, U).status(), Status::NoMemory);
    // Splitting a range in the middle needs two more slots.
    EXPECT_EQ(map.reserve(0x400, 0x100).status(), Status::NoMemory);
    EXPECT_EQ(map.count(), MemoryMap::kCapacity);
    EXPECT_EQ(map.usable_bytes(), bytes);
    EXPECT_EQ(map.range(0).end(), 0x1000u);
    EXPECT_EQ(map.range(0).type, U);

    // Changes that do not grow the map still work when full: extending a
    // range, and a reservation that swallows many ranges.
    EXPECT_TRUE(map.add(0x1000, 0x800, U).ok());
    EXPECT_TRUE(map.reserve(0x0, 0x20000).ok());
    EXPECT_EQ(map.count(), MemoryMap::kCapacity - 15);
    check_invariants(map, false);
}

TEST(MemoryMapLimits, UsableOverManyIslandsCanExhaustCapacity) {
    // 200 reserved islands; a usable range over all of them needs 201 gap
    // pieces: 401 > 256.
    MemoryMap map;
    for (u32 i = 0; i < 200; i++) ASSERT_TRUE(map.add(0x1000 + u64{i} * 0x2000, 0x1000, R).ok());
    EXPECT_EQ(map.add(0x0, 0x1000000, U).status(), Status::NoMemory);
    EXPECT_EQ(map.count(), 200u);
    EXPECT_EQ(map.usable_bytes(), 0u);
}

TEST(MemoryMapLimits, UsableWraparoundIsMalformed) {
    MemoryMap map;
    EXPECT_EQ(map.add(0xFFFFFFFFFFFFF000, 0x2000, U).status(), Status::Malformed);
    EXPECT_EQ(map.add(0xFFFFFFFFFFFFF000, 0x1000, U).status(), Status::Malformed);  // end == 2^64
    EXPECT_EQ(map.add(1, kTop, U).status(), Status::Malformed);
    EXPECT_EQ(map.count(), 0u);
    EXPECT_TRUE(map.add(0xFFFFFFFFFFFFE000, 0x1000, U).ok());
    EXPECT_TRUE(map.add(0, kTop, U).ok());  // ends exactly at the representable top
    EXPECT_EQ(map.count(), 1u);
    EXPECT_EQ(map.highest_address(), kTop);
    map.normalize();
    check_invariants(map, true);
    EXPECT_EQ(map.range(0).end(), 0xFFFFFFFFFFFFF000u);
}

TEST(MemoryMapLimits, ReservedWraparoundClamps) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0xFFFFFFFFFFFF0000, 0x8000, U).ok());
    ASSERT_TRUE(map.reserve(0xFFFFFFFFFFFF4000, 0x100000).ok());
    ASSERT_TRUE(map.add(kTop, 0x10, R).ok());  // nothing representable left
    check_invariants(map, false);
    expect_map(map, {{0xFFFFFFFFFFFF0000, 0xFFFFFFFFFFFF4000, U}, {0xFFFFFFFFFFFF4000, kTop, R}});
    EXPECT_EQ(map.highest_address(), kTop);
}

TEST(MemoryMapLimits, RangeOutOfBoundsIsEmpty) {
    MemoryMap map;
    ASSERT_TRUE(map.add(0x1000, 0x1000, U).ok());
    EXPECT_EQ(map.range(1).length, 0u);
    EXPECT_EQ(map.range(0xFFFFFFFF).length, 0u);
}

// ---------------------------------------------------------------- oracle

// Random maps over a small address space, compared byte by byte against a
// direct "max restrictiveness" painting.
TEST(MemoryMapOracle, MatchesBruteForce) {
    constexpr u64 kSpace = 512;
    const RegionType types[] = {U, R, AR, NVS, BAD};
    std::mt19937_64 rng(42);
    for (int round = 0; round < 500; round++) {
        int oracle[kSpace];
        std::fill(std::begin(oracle), std::end(oracle), -1);
        MemoryMap map;
        const int n = 1 + static_cast<int>(rng() % 40);
        for (int k = 0; k < n; k++) {
            const u64 base = rng() % kSpace;
            const u64 len = rng() % (kSpace - base + 1);
            const RegionType t = types[rng() % 5];
            const bool via_reserve = rng() % 4 == 0;
            ASSERT_TRUE((via_reserve ? map.reserve(base, len) : map.add(base, len, t)).ok());
            const RegionType painted = via_reserve ? R : t;
            for (u64 x = base; x < base + len; x++) {
                if (oracle[x] < 0 || restrictiveness(painted) > static_cast<u32>(oracle[x])) {
                    oracle[x] = static_cast<int>(restrictiveness(painted));
                }
            }
        }
        check_invariants(map, false);
        int got[kSpace];
        std::fill(std::begin(got), std::end(got), -1);
        for (u32 i = 0; i < map.count(); i++) {
            const MemoryRange r = map.range(i);
            for (u64 x = r.base; x < r.end(); x++) got[x] = static_cast<int>(restrictiveness(r.type));
        }
        for (u64 x = 0; x < kSpace; x++) ASSERT_EQ(got[x], oracle[x]) << "round " << round << " byte " << x;
    }
}

}  // namespace
