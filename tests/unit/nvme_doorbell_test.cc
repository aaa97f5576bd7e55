// lib/nvme/doorbell.h: shadow doorbell offsets and the EventIdx test that
// decides whether an update still needs its MMIO doorbell write.
#include <gtest/gtest.h>

#include <vector>

#include "nvme/doorbell.h"
#include "nvme/registers.h"

namespace {

// ---- shadow_sq_offset / shadow_cq_offset --------------------------------------

TEST(NvmeShadowDoorbell, OffsetsWithStride4) {
    // DSTRD 0: SQ y tail at 8y, CQ y head at 8y + 4 (§3.1.24-25, from 0).
    EXPECT_EQ(nvme::shadow_sq_offset(0, 0), 0u);
    EXPECT_EQ(nvme::shadow_cq_offset(0, 0), 4u);
    EXPECT_EQ(nvme::shadow_sq_offset(1, 0), 8u);
    EXPECT_EQ(nvme::shadow_cq_offset(1, 0), 12u);
    EXPECT_EQ(nvme::shadow_sq_offset(16, 0), 128u);
    EXPECT_EQ(nvme::shadow_cq_offset(16, 0), 132u);
}

TEST(NvmeShadowDoorbell, OffsetsWithStride8) {
    // DSTRD 1: every doorbell 8 bytes apart.
    EXPECT_EQ(nvme::shadow_sq_offset(0, 1), 0u);
    EXPECT_EQ(nvme::shadow_cq_offset(0, 1), 8u);
    EXPECT_EQ(nvme::shadow_sq_offset(1, 1), 16u);
    EXPECT_EQ(nvme::shadow_cq_offset(1, 1), 24u);
    EXPECT_EQ(nvme::shadow_sq_offset(16, 1), 256u);
    EXPECT_EQ(nvme::shadow_cq_offset(16, 1), 264u);
}

TEST(NvmeShadowDoorbell, OffsetsMirrorTheMmioDoorbells) {
    // The shadow and EventIdx pages use the MMIO doorbell layout, minus its
    // base (the Doorbell Buffer Config command, NVMe 1.3 §5.7).
    for (u8 dstrd = 0; dstrd <= 4; dstrd++) {
        for (u16 qid = 0; qid <= 64; qid++) {
            EXPECT_EQ(nvme::shadow_sq_offset(qid, dstrd), nvme::sq_tail_doorbell(qid, dstrd) - nvme::kDoorbellBase)
                << "qid " << qid << " dstrd " << int{dstrd};
            EXPECT_EQ(nvme::shadow_cq_offset(qid, dstrd), nvme::cq_head_doorbell(qid, dstrd) - nvme::kDoorbellBase)
                << "qid " << qid << " dstrd " << int{dstrd};
        }
    }
}

TEST(NvmeShadowDoorbell, UsableInConstantExpressions) {
    static_assert(nvme::shadow_cq_offset(3, 2) == 7 * 16);
    constexpr u32 at = nvme::shadow_sq_offset(2, 0);
    EXPECT_EQ(at, 16u);
}

// ---- doorbell_needs_mmio -----------------------------------------------------------

// The rule written the slow way: the update moved the value through
// old, old+1, ..., new-1 (mod 2^16); the controller wants the doorbell when
// it is waiting at one of those. Marks every such event in `passed`.
void walk_update(u16 new_value, u16 old_value, std::vector<bool>& passed) {
    passed.assign(65536, false);
    for (u16 v = old_value; v != new_value; v++) passed[v] = true;
}

TEST(NvmeDoorbellEvent, EventAtOldValueNeedsMmio) {
    EXPECT_TRUE(nvme::doorbell_needs_mmio(15, 10, 10));
    EXPECT_TRUE(nvme::doorbell_needs_mmio(1, 0, 0));
}

TEST(NvmeDoorbellEvent, EventAtNewMinusOneNeedsMmio) {
    EXPECT_TRUE(nvme::doorbell_needs_mmio(15, 10, 14));
    EXPECT_TRUE(nvme::doorbell_needs_mmio(15, 10, 12));  // anywhere inside
}

TEST(NvmeDoorbellEvent, EventAtNewValueDoesNot) {
    // The controller waits for the value to pass `new`; this update only
    // reaches it.
    EXPECT_FALSE(nvme::doorbell_needs_mmio(15, 10, 15));
    EXPECT_FALSE(nvme::doorbell_needs_mmio(1, 0, 1));
}

TEST(NvmeDoorbellEvent, EventOutsideTheWindowDoesNot) {
    EXPECT_FALSE(nvme::doorbell_needs_mmio(15, 10, 9));   // already passed before this update
    EXPECT_FALSE(nvme::doorbell_needs_mmio(15, 10, 16));  // not reached yet
    EXPECT_FALSE(nvme::doorbell_needs_mmio(15, 10, 0));
    EXPECT_FALSE(nvme::doorbell_needs_mmio(15, 10, 40000));
    EXPECT_FALSE(nvme::doorbell_needs_mmio(15, 10, 65535));
}

TEST(NvmeDoorbellEvent, NoMovementNeverNeedsMmio) {
    for (u32 e = 0; e <= 0xffff; e += 257) EXPECT_FALSE(nvme::doorbell_needs_mmio(100, 100, static_cast<u16>(e)));
    EXPECT_FALSE(nvme::doorbell_needs_mmio(100, 100, 99));
    EXPECT_FALSE(nvme::doorbell_needs_mmio(100, 100, 100));
}

TEST(NvmeDoorbellEvent, WrapsFrom65535To0) {
    EXPECT_TRUE(nvme::doorbell_needs_mmio(0, 65535, 65535));
    EXPECT_FALSE(nvme::doorbell_needs_mmio(0, 65535, 0));
    EXPECT_FALSE(nvme::doorbell_needs_mmio(0, 65535, 65534));

    // A window straddling the wrap: 65533, 65534, 65535, 0, 1.
    for (u16 e : {u16{65533}, u16{65534}, u16{65535}, u16{0}, u16{1}})
        EXPECT_TRUE(nvme::doorbell_needs_mmio(2, 65533, e)) << "event " << e;
    for (u16 e : {u16{2}, u16{3}, u16{65532}, u16{30000}})
        EXPECT_FALSE(nvme::doorbell_needs_mmio(2, 65533, e)) << "event " << e;
}

TEST(NvmeDoorbellEvent, LargestWindow) {
    // Moved by 65535: every event but `new` itself was passed.
    EXPECT_TRUE(nvme::doorbell_needs_mmio(0, 1, 1));
    EXPECT_TRUE(nvme::doorbell_needs_mmio(0, 1, 65535));
    EXPECT_TRUE(nvme::doorbell_needs_mmio(0, 1, 30000));
    EXPECT_FALSE(nvme::doorbell_needs_mmio(0, 1, 0));
}

TEST(NvmeDoorbellEvent, MatchesTheSlowRuleForEveryEvent) {
    const u16 pairs[][2] = {
        {15, 10}, {11, 10}, {10, 10}, {0, 65535}, {2, 65533}, {0, 1}, {65535, 0}, {32768, 0}, {1000, 64000},
    };
    for (const auto& pair : pairs) {
        u16 new_value = pair[0], old_value = pair[1];
        std::vector<bool> passed;
        walk_update(new_value, old_value, passed);
        for (u32 e = 0; e <= 0xffff; e++) {
            u16 event = static_cast<u16>(e);
            if (nvme::doorbell_needs_mmio(new_value, old_value, event) == passed[event]) continue;
            ADD_FAILURE() << "new " << new_value << " old " << old_value << " event " << event << ": expected "
                          << passed[event];
            return;
        }
    }
}

}  // namespace
