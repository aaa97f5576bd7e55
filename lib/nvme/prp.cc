#include "nvme/prp.h"

namespace nvme {
namespace {

constexpr u64 page_base(u64 address) { return address & ~(kPrpPageSize - 1); }

}  // namespace

Result<PrpPlan> plan_prps(u64 address, u64 length) {
    if (length == 0 || (address & 3) != 0) return Status::InvalidArgument;
    if (length - 1 > ~u64{0} - address) return Status::InvalidArgument;  // last byte past 2^64
    u64 first = page_base(address);
    u64 last = page_base(address + (length - 1));
    u64 later_pages = (last - first) / kPrpPageSize;  // pages after the first
    if (later_pages > kPrpListMaxEntries) return Status::Unsupported;

    PrpPlan plan{address, 0, 0};
    if (later_pages == 1) {
        plan.prp2 = first + kPrpPageSize;
    } else if (later_pages > 1) {
        plan.list_entries = static_cast<u32>(later_pages);
    }
    return plan;
}

Result<u32> fill_prp_list(u64 address, u64 length, u64* out, u32 max) {
    PrpPlan plan = TRY(plan_prps(address, length));
    if (plan.list_entries > max || (plan.list_entries > 0 && out == nullptr)) return Status::OutOfBounds;
    u64 first = page_base(address);
    for (u32 i = 0; i < plan.list_entries; i++) out[i] = first + u64{i + 1} * kPrpPageSize;
    return plan.list_entries;
}

}  // namespace nvme
