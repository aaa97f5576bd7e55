// IOVA ranges of one domain (issue 15): where a grant's buffers appear to
// the device. First fit, page granular, in [kFirst, 2^bits), below the
// device's own DMA limit (AWS's NVMe reads 48 bits), never in the MSI
// window 0xFEE00000-0xFEEFFFFF — a DMA write there is an interrupt
// request, not memory (VT-d spec §3.15; Linux reserves it the same way,
// IOVA_RESERVED) — and never at IOVA 0, so a zeroed address a provider
// forgot to fill cannot name a buffer.
//
// Fixed capacity (kMaxRanges live ranges: a grant's DMA buffers are few
// and large), no allocation; the kernel keeps one per domain.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace vtd {

class IovaAllocator {
public:
    static constexpr u64 kPage = 4096;
    static constexpr u64 kFirst = kPage;
    static constexpr u64 kMsiFirst = 0xfee0'0000, kMsiEnd = 0xfef0'0000;
    static constexpr u32 kMaxRanges = 256;

    // bits: the domain's address width (vtd::address_bits).
    explicit IovaAllocator(u32 bits) : m_end(u64{1} << bits) {}

    // A range of `bytes` (rounded up to pages), aligned to `align` (a power
    // of two, at least a page), ending at or below `limit` (the device's
    // DMA limit, exclusive: 1 << 48 for a 48-bit device; 0 for none).
    // NoSpace when no gap fits, QuotaExceeded past kMaxRanges.
    Result<u64> allocate(u64 bytes, u64 align = kPage, u64 limit = 0);
    // Gives back the range that starts at `iova`; NotFound when none does.
    Result<void> free(u64 iova);
    u32 ranges() const { return m_count; }

private:
    struct Range {
        u64 start, end;
    };
    Range m_live[kMaxRanges];  // sorted by start
    u32 m_count = 0;
    u64 m_end;
};

}  // namespace vtd
