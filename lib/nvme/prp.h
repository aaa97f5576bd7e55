// PRP entries for one physically contiguous buffer region (NVMe 1.4 §4.3),
// with the memory page size fixed at 4 KiB (CC.MPS = 0, registers.h).
//
// The broker resolves a provider's (DmaBuffer, offset, length) to a device
// address through its ledger, then asks here how to describe it:
//  - the region fits in one page:          PRP1 = address, PRP2 = 0;
//  - it crosses exactly one page boundary: PRP1 = address, PRP2 = the
//    second page (offset 0);
//  - it crosses more than one:             PRP1 = address, PRP2 = a PRP list
//    holding the base of every page after the first.
// Only PRP1 may carry an offset into its page; every later entry is page
// aligned. The list lives in a page the broker owns, never in provider
// memory (DESIGN §4).
#pragma once

#include "util/page.h"
#include "util/result.h"
#include "util/types.h"

namespace nvme {

inline constexpr u64 kPrpPageSize = kPage;
// A 4 KiB list page holds 512 8-byte entries. When more follow, the last one
// must instead point to the next list page (§4.3); we never chain: the
// broker caps a transfer at 2 MiB, which at worst (a region starting
// mid-page) spans 513 pages = PRP1 + 512 list entries, one full page.
inline constexpr u32 kPrpListMaxEntries = 512;

struct PrpPlan {
    u64 prp1;
    // The second data page, or 0 when there is none, or 0 when list_entries
    // > 0: then the caller sets it to the device address of the PRP list it
    // fills with fill_prp_list(). That list must start at offset 0 of a
    // page, so all list_entries fit without a chain pointer.
    u64 prp2;
    u32 list_entries;  // 0 unless a PRP list is needed (then 2..512)
};

// Describes the region [address, address + length).
//   InvalidArgument  length 0; address not dword aligned (PRP entry bits 1:0
//                    are reserved, §4.3); the region wraps past 2^64
//   Unsupported      more than kPrpListMaxEntries list entries (a chained list)
Result<PrpPlan> plan_prps(u64 address, u64 length);

// Writes the PRP list for the region: out[i] = page_base(address) +
// (i + 1) * 4096, for as many entries as plan_prps() reports in
// list_entries, and returns that count (0, writing nothing, when the region
// needs no list).
//   InvalidArgument, Unsupported  as plan_prps()
//   OutOfBounds                   `max` is smaller than the count
Result<u32> fill_prp_list(u64 address, u64 length, u64* out, u32 max);

}  // namespace nvme
