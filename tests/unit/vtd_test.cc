// The remapped lane's building blocks (lib/iommu, issue 15): VT-d
// capability decoding, root/context entries and fault records against the
// spec's bit layout, the second-level page table on host memory (every
// entry it writes flushed; all-or-nothing maps), and the IOVA allocator's
// holes (IOVA 0, the MSI window, the device's DMA limit).
#include "iommu/vtd.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "iommu/io_page_table.h"
#include "iommu/iova_allocator.h"

namespace {

// QEMU 7.2's intel-iommu with aw-bits=48 (hw/i386/intel_iommu.c, vtd_init):
// ND=6 (2^16 domains), SAGAW 39|48, MGAW 48, FRO 0x220, NFR 1, PSI, SLLPS.
constexpr u64 kQemuCap =
    6ull | (0x6ull << 8) | (47ull << 16) | ((0x220ull / 16) << 24) | (0x3ull << 34) | (1ull << 39) | (0ull << 40);
// ECAP: QI, IR, PT, IRO 0xF0; C = 0 (page walks do not snoop).
constexpr u64 kQemuEcap = (1ull << 1) | (1ull << 3) | (1ull << 6) | ((0xf0ull / 16) << 8);

TEST(Vtd, CapabilitiesAsQemuReportsThem) {
    vtd::Capability cap{kQemuCap};
    vtd::ExtCapability ecap{kQemuEcap};
    EXPECT_EQ(cap.domains(), 65536u);
    EXPECT_EQ(cap.mgaw(), 48u);
    EXPECT_EQ(cap.fault_record_offset(), 0x220u);
    EXPECT_EQ(cap.fault_records(), 1u);
    EXPECT_TRUE(cap.page_selective_invalidation());
    EXPECT_FALSE(ecap.coherent());
    EXPECT_TRUE(ecap.queued_invalidation());
    EXPECT_TRUE(ecap.interrupt_remapping());
    EXPECT_EQ(ecap.iotlb_register_offset(), 0xf0u);
}

TEST(Vtd, LevelsFollowSagawAndMgaw) {
    vtd::Capability both{kQemuCap};
    EXPECT_EQ(vtd::second_level_levels(both, 39).value(), 3u);
    EXPECT_EQ(vtd::second_level_levels(both, 48).value(), 4u);  // AWS's 48-bit NVMe
    vtd::Capability only39{(kQemuCap & ~(0x1full << 8) & ~(0x3full << 16)) | (0x2ull << 8) | (38ull << 16)};
    EXPECT_EQ(vtd::second_level_levels(only39, 39).value(), 3u);
    EXPECT_EQ(vtd::second_level_levels(only39, 48).status(), Status::Unsupported);  // past MGAW
    vtd::Capability only48{(kQemuCap & ~(0x1full << 8)) | (0x4ull << 8)};
    EXPECT_EQ(vtd::second_level_levels(only48, 39).value(), 4u);  // 3 levels not offered
    // 4-level tables only, MGAW 39: the domain's IOVAs stop at 39 bits.
    vtd::Capability four_mgaw39{(kQemuCap & ~(0x1full << 8) & ~(0x3full << 16)) | (0x4ull << 8) | (38ull << 16)};
    EXPECT_EQ(vtd::second_level_levels(four_mgaw39, 39).value(), 4u);
    EXPECT_EQ(vtd::iova_bits(four_mgaw39, 4), 39u);
    EXPECT_EQ(vtd::iova_bits(both, 4), 48u);
    vtd::Capability five_only{(kQemuCap & ~(0x1full << 8)) | (0x8ull << 8)};
    EXPECT_EQ(vtd::second_level_levels(five_only, 39).status(), Status::Unsupported);
}

TEST(Vtd, RootAndContextEntries) {
    auto root = vtd::root_entry(0x12345000);
    EXPECT_EQ(root.low, 0x12345001u);  // present, the context table
    EXPECT_EQ(root.high, 0u);
    auto ctx = vtd::context_entry(0xabcde000, 4, 0x1234);
    ASSERT_TRUE(ctx.ok());
    EXPECT_EQ(ctx.value().low, 0xabcde001u);           // present, TT 00, FPD 0
    EXPECT_EQ(ctx.value().high, 2u | (0x1234u << 8));  // AW 2 (48-bit), DID
    EXPECT_EQ(vtd::context_entry(0xabcde000, 3, 1).value().high & 7, 1u);
    EXPECT_EQ(vtd::context_entry(0xabcde800, 4, 1).status(), Status::InvalidArgument);
    EXPECT_EQ(vtd::context_entry(0xabcde000, 5, 1).status(), Status::InvalidArgument);
    EXPECT_EQ(vtd::context_entry(0xabcde000, 4, 0).status(), Status::InvalidArgument);  // domain 0: reserved
}

TEST(Vtd, FaultRecords) {
    // 00:03.0 read of 0x7000 not mapped (reason 6: a non-present leaf).
    const u64 low = 0x7123, high = (1ull << 63) | (1ull << 62) | (6ull << 32) | (0x0018);
    auto r = vtd::fault_record(low, high);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().address, 0x7000u);
    EXPECT_EQ(r.value().source, 0x18u);
    EXPECT_EQ(r.value().reason, 6u);
    EXPECT_TRUE(r.value().read);
    EXPECT_FALSE(vtd::fault_record(low, high & ~(1ull << 62)).value().read);  // a write
    EXPECT_EQ(vtd::fault_record(low, high & ~(1ull << 63)).status(), Status::NotFound);
}

// Host memory for tables, with fake physical addresses, and a record of
// every flush.
struct HostTables final : vtd::TableSource {
    std::map<u64, std::vector<u64>> tables;
    std::set<const u64*> flushed;
    u64 next_phys = 0x100000;
    u32 fail_after = ~0u;

    Result<Table> allocate() override {
        if (fail_after == 0) return Status::NoMemory;
        fail_after--;
        auto& t = tables[next_phys];
        t.assign(512, 0);
        Table out{next_phys, t.data()};
        next_phys += 4096;
        return out;
    }
    void free(const Table& t) override { tables.erase(t.phys); }
    void flush(const u64* first, u32 count) override {
        for (u32 i = 0; i < count; i++) flushed.insert(first + i);
    }
    // Every entry of every table was flushed: the zeroes of a new table
    // too (a unit that does not snoop reads memory, where a reused frame
    // may still hold old entries), and each entry written after.
    bool all_flushed() const {
        for (auto& [phys, t] : tables)
            for (auto& e : t)
                if (!flushed.count(&e)) return false;
        return true;
    }
};

TEST(IoPageTable, MapsTranslatesAndUnmaps) {
    HostTables host;
    vtd::IoPageTable pt(host, 4);
    ASSERT_TRUE(pt.map(0x40000000, 0x7000000, 3 * 4096, vtd::kSlRead | vtd::kSlWrite).ok());
    EXPECT_EQ(pt.tables(), 4u);  // one per level
    auto t = pt.translate(0x40001234);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t.value().phys, 0x7001234u);
    EXPECT_EQ(t.value().perms, vtd::kSlRead | vtd::kSlWrite);
    EXPECT_EQ(pt.translate(0x40003000).status(), Status::NotFound);
    EXPECT_TRUE(host.all_flushed());
    // Read-only for the device: a transmit buffer.
    ASSERT_TRUE(pt.map(0x40003000, 0x9000000, 4096, vtd::kSlRead).ok());
    EXPECT_EQ(pt.translate(0x40003000).value().perms, vtd::kSlRead);
    EXPECT_EQ(pt.unmap(0x40000000, 5 * 4096), 4u);
    EXPECT_EQ(pt.translate(0x40001000).status(), Status::NotFound);
    EXPECT_EQ(pt.mapped_pages(), 0u);
    EXPECT_TRUE(host.all_flushed());  // the cleared leaves too
    pt.destroy();
    EXPECT_TRUE(host.tables.empty());
}

TEST(IoPageTable, RefusesOverlapsMisalignmentAndThePastTheWidth) {
    HostTables host;
    vtd::IoPageTable pt(host, 3);
    ASSERT_TRUE(pt.map(0x10000, 0x20000, 2 * 4096, vtd::kSlRead).ok());
    EXPECT_EQ(pt.map(0xf000, 0x50000, 2 * 4096, vtd::kSlRead).status(), Status::Busy);  // its second page is mapped
    EXPECT_EQ(pt.translate(0xf000).status(), Status::NotFound);                         // and nothing changed
    EXPECT_EQ(pt.map(0x30800, 0x50000, 4096, vtd::kSlRead).status(), Status::InvalidArgument);
    EXPECT_EQ(pt.map(0x30000, 0x50000, 4096, 0).status(), Status::InvalidArgument);
    EXPECT_EQ(pt.map(0x30000, 0x50000, 4096, 4).status(), Status::InvalidArgument);
    EXPECT_EQ(pt.map(1ull << 39, 0x50000, 4096, vtd::kSlRead).status(), Status::OutOfBounds);  // 3 levels: 39 bits
    EXPECT_EQ(pt.map((1ull << 39) - 4096, 0x50000, 2 * 4096, vtd::kSlRead).status(), Status::OutOfBounds);
    EXPECT_EQ(pt.map(0x30000, 1ull << 52, 4096, vtd::kSlRead).status(), Status::OutOfBounds);
    EXPECT_EQ(pt.map(0x30000, (1ull << 52) - 4096, 2 * 4096, vtd::kSlRead).status(),
              Status::OutOfBounds);  // the end wraps
    // An unmap past the width does not alias onto a low mapping.
    EXPECT_EQ(pt.unmap((1ull << 39) + 0x10000, 4096), 0u);
    EXPECT_EQ(pt.unmap(0x10800, 4096), 0u);  // off a page
    EXPECT_TRUE(pt.translate(0x10000).ok());
    // A 4-level table on a unit with a 39-bit MGAW maps no IOVA past 39 bits.
    vtd::IoPageTable narrow(host, 4, 39);
    EXPECT_EQ(narrow.map(1ull << 39, 0x50000, 4096, vtd::kSlRead).status(), Status::OutOfBounds);
}

TEST(IoPageTable, AMapThatRunsOutOfTablesLeavesNothing) {
    HostTables host;
    vtd::IoPageTable pt(host, 4);
    // Three pages across a 1 GiB boundary: the first needs the root and
    // three tables below it, the second a new level-2 and level-1 table —
    // and only one more table is to be had.
    host.fail_after = 5;
    const u64 iova = 0x40000000 - 4096;
    EXPECT_EQ(pt.map(iova, 0x1000000, 3 * 4096, vtd::kSlRead).status(), Status::NoMemory);
    EXPECT_EQ(pt.mapped_pages(), 0u);
    EXPECT_EQ(pt.translate(iova).status(), Status::NotFound);
}

TEST(IovaAllocator, NeverZeroNeverTheMsiWindowAlwaysBelowTheLimit) {
    vtd::IovaAllocator a(39);
    auto first = a.allocate(4096);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first.value(), vtd::IovaAllocator::kFirst);  // never IOVA 0
    // Fill up to just below the MSI window, then one that would cross it.
    auto big = a.allocate(0xfee00000 - 0x2000);
    ASSERT_TRUE(big.ok());
    EXPECT_EQ(big.value(), 0x2000u);
    auto next = a.allocate(2 * 4096);
    ASSERT_TRUE(next.ok());
    EXPECT_GE(next.value(), vtd::IovaAllocator::kMsiEnd);
    // A 32-bit device: below 4 GiB, and the window still skipped.
    auto low = a.allocate(4096, 4096, 1ull << 32);
    ASSERT_TRUE(low.ok());
    EXPECT_LT(low.value() + 4096, 1ull << 32);
    EXPECT_FALSE(low.value() >= vtd::IovaAllocator::kMsiFirst && low.value() < vtd::IovaAllocator::kMsiEnd);
    EXPECT_EQ(a.allocate(1ull << 32, 4096, 1ull << 32).status(), Status::NoSpace);
    // Aligned, and freed ranges come back.
    auto aligned = a.allocate(4096, 1 << 21);
    ASSERT_TRUE(aligned.ok());
    EXPECT_EQ(aligned.value() % (1 << 21), 0u);
    ASSERT_TRUE(a.free(big.value()).ok());
    EXPECT_EQ(a.allocate(8192).value(), 0x2000u);
    EXPECT_EQ(a.free(0x123000).status(), Status::NotFound);
    EXPECT_EQ(a.allocate(0).status(), Status::InvalidArgument);
    EXPECT_EQ(a.allocate(4096, 3000).status(), Status::InvalidArgument);
}

// §6.5.2 descriptors, against the bit layout QEMU 7.2 checks
// (hw/i386/intel_iommu_internal.h: types, granularities, reserved bits).
TEST(Vtd, InvalidationDescriptors) {
    auto cc = vtd::invalidate::context_global();
    EXPECT_EQ(cc.low, 0x11u);  // type 1, global
    EXPECT_EQ(cc.high, 0u);
    auto dev = vtd::invalidate::context_device(7, 0x0108);  // domain 7, 01:01.0
    EXPECT_EQ(dev.low & 0xf, 1u);
    EXPECT_EQ((dev.low >> 4) & 3, 3u);  // device-selective
    EXPECT_EQ((dev.low >> 16) & 0xffff, 7u);
    EXPECT_EQ((dev.low >> 32) & 0xffff, 0x0108u);
    EXPECT_EQ(dev.low & 0xfffc'0000'0000'ffc0ull, 0u);  // QEMU's VTD_INV_DESC_CC_RSVD
    auto all = vtd::invalidate::iotlb_global();
    EXPECT_EQ(all.low & 0x3f, 0x12u);  // type 2, global
    EXPECT_EQ(all.low & 0xc0, 0xc0u);  // drain reads and writes
    auto dom = vtd::invalidate::iotlb_domain(9);
    EXPECT_EQ((dom.low >> 4) & 3, 2u);
    EXPECT_EQ((dom.low >> 16) & 0xffff, 9u);
    auto pages = vtd::invalidate::iotlb_pages(9, 0x40'0000, 3);
    EXPECT_EQ((pages.low >> 4) & 3, 3u);
    EXPECT_EQ(pages.high, 0x40'0003u);                    // address, AM 3 (8 pages)
    EXPECT_EQ(pages.low & 0xffff'ffff'0000'ff00ull, 0u);  // VTD_INV_DESC_IOTLB_RSVD_LO
    auto wait = vtd::invalidate::wait(0x12345674, 42);
    EXPECT_EQ(wait.low & 0xf, 5u);
    EXPECT_TRUE(wait.low & (1u << 5));  // status write
    EXPECT_EQ(wait.low >> 32, 42u);
    EXPECT_EQ(wait.high, 0x12345674u);
    EXPECT_EQ(vtd::invalidate::wait(0x12345677, 1).high, 0x12345674u);  // 4-byte aligned
}

TEST(Vtd, RegisterInvalidation) {
    EXPECT_EQ(vtd::register_invalidate::context_global(), (1ull << 63) | (1ull << 61));
    const u64 dev = vtd::register_invalidate::context_device(5, 0x0208);
    EXPECT_EQ(dev >> 61, 0b111u);  // busy, device-selective
    EXPECT_EQ(dev & 0xffff, 5u);
    EXPECT_EQ((dev >> 16) & 0xffff, 0x0208u);
    const u64 dom = vtd::register_invalidate::iotlb_domain(5);
    EXPECT_EQ((dom >> 60) & 3, 2u);
    EXPECT_EQ((dom >> 32) & 0xffff, 5u);
    EXPECT_EQ((dom >> 48) & 3, 3u);  // drain
}

TEST(Vtd, InvalidationOrderCoversTheRange) {
    EXPECT_EQ(vtd::invalidation_order(0x1000, 0x1000, 9).value(), 0u);
    EXPECT_EQ(vtd::invalidation_order(0x0, 0x8000, 9).value(), 3u);
    // Two pages straddling an 8-page boundary need the 16-page block.
    EXPECT_EQ(vtd::invalidation_order(0x7000, 0x2000, 9).value(), 4u);
    EXPECT_EQ(vtd::invalidation_order(0x7000, 0x2000, 3).status(), Status::NotFound);
    EXPECT_EQ(vtd::invalidation_order(0x7000, 0, 3).status(), Status::InvalidArgument);
    // The block found holds every page of the range.
    for (u64 iova : {0x0ull, 0x3000ull, 0x1ff000ull, 0x12345000ull})
        for (u64 bytes : {0x1000ull, 0x5000ull, 0x200000ull}) {
            const u32 order = vtd::invalidation_order(iova, bytes, 30).value();
            const u64 block = iova & ~((1ull << (order + 12)) - 1);
            EXPECT_LE(block, iova);
            EXPECT_GE(block + (1ull << (order + 12)), iova + bytes) << std::hex << iova << " " << bytes;
        }
}

TEST(Vtd, GlobalCommandKeepsStateButNotOneShots) {
    const u32 status = vtd::global::kTranslation | vtd::global::kQueuedInvalidation | vtd::global::kSetRootTable;
    // Turning QI off keeps translation on and does not set the root again.
    EXPECT_EQ(vtd::global::command(status, vtd::global::kQueuedInvalidation, false), vtd::global::kTranslation);
    EXPECT_EQ(vtd::global::command(0, vtd::global::kTranslation, true), vtd::global::kTranslation);
    EXPECT_EQ(vtd::global::command(vtd::global::kTranslation, vtd::global::kSetRootTable, true),
              vtd::global::kTranslation | vtd::global::kSetRootTable);
}

TEST(Vtd, InterruptRemappingFormats) {
    // §9.10: present, fixed delivery, physical destination, edge; vector at
    // 23:16; xAPIC destination at 47:40; SID validated in all 16 bits.
    auto e = vtd::interrupt_entry(0x31, 2, 0x0020, false);
    EXPECT_EQ(e.low, 0x0000'0200'0031'0001ull);
    EXPECT_EQ(e.high, 0x4'0020ull);                                       // SVT 01 (bit 18), SQ 00, SID 00:04.0
    EXPECT_TRUE(vtd::interrupt_entry(0x31, 0, 0, true).low & (1u << 4));  // level
    // QEMU 7.2 checks IRTE bits 14:12 and the upper half's reserved bits.
    EXPECT_EQ(e.low & 0x7000, 0u);
    EXPECT_EQ(e.high >> 20, 0u);
    // §5.1.5.2: handle 1 -> 0xfee00030 (index at 19:5, format bit 4);
    // handle bit 15 at bit 2.
    EXPECT_EQ(vtd::remappable_msi_address(1), 0xfee00030u);
    EXPECT_EQ(vtd::remappable_msi_address(0x8000), 0xfee00014u);
    EXPECT_EQ(vtd::remappable_msi_address(0x7fff), 0xfeeffff0u);
    // §5.1.5.1: I/O APIC entry, handle 0 vector 0x24 edge unmasked; the
    // handle at 63:49 and 11.
    EXPECT_EQ(vtd::remappable_ioapic_entry(0, 0x24, false, false), (1ull << 48) | 0x24);
    EXPECT_EQ(vtd::remappable_ioapic_entry(3, 0x24, true, true) >> 49, 3u);
    EXPECT_TRUE(vtd::remappable_ioapic_entry(3, 0x24, true, true) & (1u << 15));
    EXPECT_TRUE(vtd::remappable_ioapic_entry(3, 0x24, true, true) & (1u << 16));
    EXPECT_TRUE(vtd::remappable_ioapic_entry(0x8000, 0x24, false, false) & (1u << 11));
    // IRTA: 256 entries -> S = 7.
    EXPECT_EQ(vtd::interrupt_table_register(0x123000, 8), 0x123007u);
    EXPECT_EQ(vtd::invalidate::interrupt_entries_all().low, 0x4u);
    EXPECT_EQ(vtd::invalidate::interrupt_entry(5).low, 0x4u | (1u << 4) | (5ull << 32));
}

TEST(IovaAllocator, BoundedRanges) {
    vtd::IovaAllocator a(39);
    for (u32 i = 0; i < vtd::IovaAllocator::kMaxRanges; i++) ASSERT_TRUE(a.allocate(4096).ok()) << i;
    EXPECT_EQ(a.allocate(4096).status(), Status::QuotaExceeded);
}

}  // namespace
