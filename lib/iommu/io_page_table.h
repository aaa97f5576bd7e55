// A VT-d second-level page table (VT-d spec §3.6, §9.8): the IOVA -> frame
// map of one domain, which holds exactly one DMA grant (issue 15: a device
// can reach only what its provider was given). 4 KiB pages only, read and
// write permissions per page; 3 or 4 levels (vtd::second_level_levels).
//
// Tables come from the caller's TableSource (the kernel: a zeroed frame and
// its direct-map address; tests: host memory), and every entry written is
// handed to its flush() before it matters: a unit whose page walks do not
// snoop the CPU's caches (ECAP.C = 0, as QEMU's) reads memory, not cache.
// Unmapping clears the leaf; the caller invalidates the IOTLB (and only
// then frees the frames: DESIGN §5 teardown step 4). Tables emptied by
// unmapping are kept until destroy() — a domain's life is one grant.
#pragma once

#include "iommu/vtd.h"
#include "util/result.h"
#include "util/types.h"

namespace vtd {

class TableSource {
public:
    struct Table {
        u64 phys;   // what the hardware is given (4 KiB aligned)
        u64* virt;  // 512 entries, zeroed
    };
    virtual Result<Table> allocate() = 0;
    virtual void free(const Table& t) = 0;
    // The entries at [first, first + count) were written.
    virtual void flush(const u64* first, u32 count) = 0;

protected:
    ~TableSource() = default;
};

class IoPageTable {
public:
    static constexpr u64 kPage = 4096;
    static constexpr u32 kMaxTables = 1024;  // 4 KiB each: 4 MiB of tables maps far past any grant's quota

    // levels: 3 or 4; iova_bits: the IOVAs it maps (vtd::iova_bits: the
    // tables' width, or less where the unit's MGAW is less).
    IoPageTable(TableSource& source, u32 levels, u32 iova_bits = 0)
        : m_source(source),
          m_levels(levels),
          m_iova_bits(iova_bits && iova_bits < address_bits(levels) ? iova_bits : address_bits(levels)) {}
    ~IoPageTable() { destroy(); }
    IoPageTable(const IoPageTable&) = delete;
    IoPageTable& operator=(const IoPageTable&) = delete;

    // The root table, made on first use (what the context entry points at).
    Result<u64> root();
    // Maps [iova, iova + bytes) to [phys, phys + bytes), 4 KiB aligned all,
    // with `perms` (kSlRead | kSlWrite, not 0). Busy when a page of it is
    // mapped already (nothing is changed then), OutOfBounds past the
    // address width, NoMemory when tables run out (what was mapped of it is
    // unmapped again: the caller invalidates the IOTLB before it frees the
    // frames, as after any unmap).
    Result<void> map(u64 iova, u64 phys, u64 bytes, u64 perms);
    // Unmaps whatever of [iova, iova + bytes) is mapped; how many pages were.
    u64 unmap(u64 iova, u64 bytes);
    // The frame and permissions `iova` maps to; NotFound when unmapped.
    struct Translation {
        u64 phys;
        u64 perms;
    };
    Result<Translation> translate(u64 iova) const;
    u32 tables() const { return m_tables; }
    u64 mapped_pages() const { return m_mapped; }
    // Frees every table (the domain's context entry must be gone and its
    // context cache and IOTLB invalidated first).
    void destroy();

private:
    u64* walk(u64 iova, bool create, Status* why);
    u64* virt_of(u64 phys) const;

    TableSource& m_source;
    u32 m_levels;
    u32 m_iova_bits;
    TableSource::Table m_root{};
    // Every table made, to find a child's virtual address from the
    // physical one an entry holds (the kernel could use its direct map;
    // tests cannot).
    TableSource::Table m_all[kMaxTables];
    u32 m_tables = 0;
    u64 m_mapped = 0;
};

}  // namespace vtd
