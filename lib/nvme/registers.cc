#include "nvme/registers.h"

namespace nvme {
namespace {

constexpr u64 bits(u64 v, u32 lo, u32 width) { return (v >> lo) & ((u64{1} << width) - 1); }

}  // namespace

Cap decode_cap(u64 cap) {
    Cap c{};
    u32 mqes = static_cast<u32>(bits(cap, 0, 16));
    c.mqes_plus_one = static_cast<u16>(mqes == 0xFFFF ? 0xFFFF : mqes + 1);
    c.timeout_ms = static_cast<u32>(bits(cap, 24, 8)) * 500;
    c.dstrd = static_cast<u8>(bits(cap, 32, 4));
    c.css_nvm = bits(cap, 37, 1) != 0;
    c.mpsmin = static_cast<u8>(bits(cap, 48, 4));
    c.mpsmax = static_cast<u8>(bits(cap, 52, 4));
    return c;
}

Result<void> check_cap(const Cap& cap) {
    if (cap.mqes_plus_one < 2 || cap.mpsmin > cap.mpsmax) return Status::InvalidArgument;
    if (!cap.css_nvm || cap.mpsmin != 0) return Status::Unsupported;
    return {};
}

Version decode_vs(u32 vs) { return Version{static_cast<u16>(vs >> 16), static_cast<u8>(vs >> 8), static_cast<u8>(vs)}; }

u32 cc_enable_value() {
    // CSS (6:4), MPS (10:7), AMS (13:11) and SHN (15:14) are all zero.
    return kCcEnable | (kSqEntryLog2 << kCcIosqesShift) | (kCqEntryLog2 << kCcIocqesShift);
}

u64 sq_tail_doorbell(u16 qid, u8 dstrd) { return kDoorbellBase + (2 * u64{qid}) * (u64{4} << (dstrd & 0xF)); }

u64 cq_head_doorbell(u16 qid, u8 dstrd) { return kDoorbellBase + (2 * u64{qid} + 1) * (u64{4} << (dstrd & 0xF)); }

u32 aqa_value(u16 sq_entries, u16 cq_entries) {
    auto valid = [](u32 n) { return n >= kAdminQueueMin && n <= kAdminQueueMax; };
    if (!valid(sq_entries) || !valid(cq_entries)) return 0;
    return (u32{sq_entries} - 1) | ((u32{cq_entries} - 1) << 16);
}

}  // namespace nvme
