#include "iommu/iova_allocator.h"

namespace vtd {

namespace {

u64 align_up(u64 v, u64 a) { return (v + a - 1) & ~(a - 1); }

}  // namespace

Result<u64> IovaAllocator::allocate(u64 bytes, u64 align, u64 limit) {
    if (bytes == 0 || align < kPage || (align & (align - 1))) return Status::InvalidArgument;
    if (bytes > m_end) return Status::NoSpace;
    bytes = align_up(bytes, kPage);
    if (m_count == kMaxRanges) return Status::QuotaExceeded;
    const u64 end = limit && limit < m_end ? limit : m_end;
    // Gaps in order: before the first live range, between ranges, after
    // the last; each one cut around the MSI window.
    u64 from = kFirst;
    for (u32 i = 0; i <= m_count; i++) {
        const u64 gap_end = i < m_count ? m_live[i].start : end;
        u64 at = align_up(from, align);
        // Crossing or inside the MSI window: start after it.
        if (at < kMsiEnd && at + bytes > kMsiFirst) at = align_up(kMsiEnd, align);
        if (at >= from && at + bytes <= gap_end && at + bytes <= end && at + bytes > at) {
            for (u32 k = m_count; k > i; k--) m_live[k] = m_live[k - 1];
            m_live[i] = Range{at, at + bytes};
            m_count++;
            return at;
        }
        if (i < m_count) from = m_live[i].end;
        if (from >= end) break;
    }
    return Status::NoSpace;
}

Result<void> IovaAllocator::free(u64 iova) {
    for (u32 i = 0; i < m_count; i++) {
        if (m_live[i].start != iova) continue;
        for (u32 k = i + 1; k < m_count; k++) m_live[k - 1] = m_live[k];
        m_count--;
        return {};
    }
    return Status::NotFound;
}

}  // namespace vtd
