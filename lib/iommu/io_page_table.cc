#include "iommu/io_page_table.h"

#include "iommu/vtd.h"

namespace vtd {

namespace {

constexpr u32 kEntries = 512;

u32 index_at(u64 iova, u32 level) { return static_cast<u32>((iova >> (12 + 9 * (level - 1))) & (kEntries - 1)); }

}  // namespace

u64* IoPageTable::virt_of(u64 phys) const {
    // Linear: a domain holds one grant's few tables (a 1 MiB pool needs 3
    // or 4). A kernel with a direct map of its frames can skip this.
    for (u32 i = 0; i < m_tables; i++)
        if (m_all[i].phys == phys) return m_all[i].virt;
    return nullptr;
}

Result<u64> IoPageTable::root() {
    if (m_root.virt) return m_root.phys;
    if (m_tables == kMaxTables) return Status::NoMemory;
    m_root = TRY(m_source.allocate());
    m_source.flush(m_root.virt, kEntries);  // a unit that does not snoop reads the zeroes from memory
    m_all[m_tables++] = m_root;
    return m_root.phys;
}

// The leaf entry for `iova`, making the tables on the way when `create`.
u64* IoPageTable::walk(u64 iova, bool create, Status* why) {
    if (!m_root.virt) {
        if (!create) return nullptr;
        if (auto r = root(); !r.ok()) {
            *why = r.status();
            return nullptr;
        }
    }
    u64* table = m_root.virt;
    for (u32 level = m_levels; level > 1; level--) {
        u64& e = table[index_at(iova, level)];
        if (!(e & (kSlRead | kSlWrite))) {
            if (!create) return nullptr;
            if (m_tables == kMaxTables) {
                *why = Status::NoMemory;
                return nullptr;
            }
            auto t = m_source.allocate();
            if (!t.ok()) {
                *why = t.status();
                return nullptr;
            }
            m_all[m_tables++] = t.value();
            // Zeroed by the CPU: flushed before the unit can walk into it
            // (a reused frame's old entries in memory would be read as
            // present).
            m_source.flush(t.value().virt, kEntries);
            // A non-leaf entry grants both: the leaf decides (§3.6.1).
            e = (t.value().phys & kSlAddressMask) | kSlRead | kSlWrite;
            m_source.flush(&e, 1);
        }
        table = virt_of(e & kSlAddressMask);
        if (!table) {  // an entry we did not write: never, unless memory was corrupted
            *why = Status::Malformed;
            return nullptr;
        }
    }
    return &table[index_at(iova, 1)];
}

Result<void> IoPageTable::map(u64 iova, u64 phys, u64 bytes, u64 perms) {
    if ((iova | phys | bytes) & (kPage - 1) || bytes == 0) return Status::InvalidArgument;
    if (perms == 0 || (perms & ~(kSlRead | kSlWrite))) return Status::InvalidArgument;
    const u64 limit = u64{1} << m_iova_bits;
    if (iova >= limit || bytes > limit - iova) return Status::OutOfBounds;
    if (phys & ~kSlAddressMask || bytes > kSlAddressMask + kPage - phys) return Status::OutOfBounds;
    // Nothing of it may be mapped already: checked before anything changes.
    for (u64 off = 0; off < bytes; off += kPage)
        if (translate(iova + off).ok()) return Status::Busy;
    for (u64 off = 0; off < bytes; off += kPage) {
        Status why = Status::Ok;
        u64* leaf = walk(iova + off, true, &why);
        if (!leaf) {
            unmap(iova, off);  // all or nothing
            return why;
        }
        *leaf = ((phys + off) & kSlAddressMask) | perms;
        m_source.flush(leaf, 1);
        m_mapped++;
    }
    return {};
}

u64 IoPageTable::unmap(u64 iova, u64 bytes) {
    // Outside the width or off a page: nothing of ours (index_at would
    // alias a high address onto a low mapping).
    const u64 limit = u64{1} << m_iova_bits;
    if (iova & (kPage - 1) || iova >= limit) return 0;
    if (bytes > limit - iova) bytes = limit - iova;
    u64 n = 0;
    for (u64 off = 0; off < bytes; off += kPage) {
        Status why = Status::Ok;
        u64* leaf = walk(iova + off, false, &why);
        if (!leaf || !(*leaf & (kSlRead | kSlWrite))) continue;
        *leaf = 0;
        m_source.flush(leaf, 1);
        m_mapped--;
        n++;
    }
    return n;
}

Result<IoPageTable::Translation> IoPageTable::translate(u64 iova) const {
    if (!m_root.virt || iova >= (u64{1} << m_iova_bits)) return Status::NotFound;
    const u64* table = m_root.virt;
    for (u32 level = m_levels; level > 1; level--) {
        u64 e = table[index_at(iova, level)];
        if (!(e & (kSlRead | kSlWrite))) return Status::NotFound;
        table = virt_of(e & kSlAddressMask);
        if (!table) return Status::Malformed;
    }
    u64 leaf = table[index_at(iova, 1)];
    if (!(leaf & (kSlRead | kSlWrite))) return Status::NotFound;
    return Translation{(leaf & kSlAddressMask) | (iova & (kPage - 1)), leaf & (kSlRead | kSlWrite)};
}

void IoPageTable::destroy() {
    for (u32 i = 0; i < m_tables; i++) m_source.free(m_all[i]);
    m_tables = 0;
    m_root = {};
    m_mapped = 0;
}

}  // namespace vtd
