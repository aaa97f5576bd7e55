#include "iommu/vtd.h"

namespace vtd {

Result<u32> second_level_levels(const Capability& cap, u32 min_bits) {
    // IOVAs past MGAW are never translated, whatever the tables hold.
    if (min_bits > cap.mgaw()) return Status::Unsupported;
    // SAGAW bit 1: 39-bit, 3 levels; bit 2: 48-bit, 4 levels (bit 3, 5
    // levels, we do not build). The fewest levels that reach min_bits.
    for (u32 levels = 3; levels <= 4; levels++)
        if (address_bits(levels) >= min_bits && (cap.sagaw() & (1u << (levels - 2)))) return levels;
    return Status::Unsupported;
}

RootEntry root_entry(u64 context_table) { return RootEntry{(context_table & ~0xfffull) | 1, 0}; }

Result<ContextEntry> context_entry(u64 table_root, u32 levels, u16 domain) {
    if (table_root & 0xfff) return Status::InvalidArgument;
    if (levels < 3 || levels > 4) return Status::InvalidArgument;
    // Domain 0 is reserved where the unit caches non-present entries
    // (CAP.CM, as QEMU's): never used, whatever the unit.
    if (domain == 0) return Status::InvalidArgument;
    ContextEntry e;
    e.low = (table_root & kSlAddressMask) | 1;  // present; TT 00; fault processing enabled (FPD 0)
    e.high = static_cast<u64>(levels - 2) | (u64{domain} << 8);
    return e;
}

Result<u32> invalidation_order(u64 iova, u64 bytes, u32 max_order) {
    if (bytes == 0) return Status::InvalidArgument;
    const u64 first = iova >> 12, last = (iova + bytes - 1) >> 12;
    // The aligned block of 2^order pages holding `first` must hold `last`.
    for (u32 order = 0; order <= max_order && order < 52; order++)
        if ((first >> order) == (last >> order)) return order;
    return Status::NotFound;
}

Result<FaultRecord> fault_record(u64 low, u64 high) {
    if (!(high >> 63)) return Status::NotFound;
    FaultRecord r;
    r.address = low & ~0xfffull;
    r.source = static_cast<u16>(high & 0xffff);
    r.reason = static_cast<u8>((high >> 32) & 0xff);
    r.read = (high >> 62) & 1;
    return r;
}

}  // namespace vtd
