// Unit tests for lib/cap/handle.h and lib/cap/rights.h: the handle encoding
// (stable syscall ABI) and the rights vocabulary.
#include <gtest/gtest.h>

#include "cap/handle.h"
#include "cap/rights.h"

namespace {

using namespace cap;

TEST(CapHandle, EncodingIsGenerationHighSlotPlusOneLow) {
    const Handle h = Handle::make(5, 0x12345);
    EXPECT_EQ(h.raw(), (0x12345u << 12) | 6u);
    EXPECT_TRUE(h.has_slot_field());
    EXPECT_EQ(h.slot(), 5u);
    EXPECT_EQ(h.generation(), 0x12345u);
    EXPECT_FALSE(h.is_null());
}

TEST(CapHandle, ZeroIsNeverAHandle) {
    const Handle zero{};
    EXPECT_TRUE(zero.is_null());
    EXPECT_FALSE(zero.has_slot_field());
    EXPECT_EQ(Handle::from_raw(0), zero);
    // The smallest value any space can issue: slot 0, generation 1.
    EXPECT_EQ(Handle::make(0, 1).raw(), 0x1001u);
}

TEST(CapHandle, GenerationWrapsSkippingZero) {
    EXPECT_EQ(Handle::next_generation(1), 2u);
    EXPECT_EQ(Handle::next_generation(Handle::kMaxGeneration - 1), Handle::kMaxGeneration);
    EXPECT_EQ(Handle::next_generation(Handle::kMaxGeneration), 1u);
    // Walk the whole ring once: every step is non-zero and the ring has
    // exactly kMaxGeneration members.
    u32 g = 1;
    u32 steps = 0;
    do {
        g = Handle::next_generation(g);
        ASSERT_NE(g, 0u);
        steps++;
    } while (g != 1);
    EXPECT_EQ(steps, Handle::kMaxGeneration);
}

TEST(CapHandle, EveryIssuableHandleIsAtLeast0x1001) {
    for (u32 slot = 0; slot < Handle::kMaxSlots; slot += 97) {
        for (u32 gen : {1u, 2u, 0x800u, Handle::kMaxGeneration}) {
            const Handle h = Handle::make(slot, gen);
            EXPECT_GE(h.raw(), 0x1001u);
            EXPECT_EQ(h.slot(), slot);
            EXPECT_EQ(h.generation(), gen);
        }
    }
}

TEST(CapRights, ValidityAndInclusion) {
    EXPECT_TRUE(rights_valid(0));
    EXPECT_TRUE(rights_valid(kRightsAll));
    EXPECT_FALSE(rights_valid(kSameRights));
    EXPECT_FALSE(rights_valid(1u << 13));
    EXPECT_TRUE(rights_include(kRightRead | kRightWrite, kRightRead));
    EXPECT_TRUE(rights_include(kRightRead, 0));
    EXPECT_FALSE(rights_include(kRightRead, kRightRead | kRightWrite));
}

TEST(CapRights, DefinedRightsAreDistinctBits) {
    const Rights all[] = {kRightRead,      kRightWrite,    kRightMap,   kRightExecute, kRightCall,
                          kRightServe,     kRightSignal,   kRightWait,  kRightInspect, kRightManage,
                          kRightDuplicate, kRightTransfer, kRightRevoke};
    Rights seen = 0;
    for (Rights r : all) {
        EXPECT_EQ(__builtin_popcount(r), 1);
        EXPECT_EQ(seen & r, 0u);
        seen |= r;
    }
    EXPECT_EQ(seen, kRightsAll);
    EXPECT_EQ(kSameRights & kRightsAll, 0u);
}

TEST(CapRights, FormatOneLetterPerRight) {
    char buf[kRightsStringSize];
    EXPECT_STREQ(format_rights(0, buf), "-------------");
    EXPECT_STREQ(format_rights(kRightsAll, buf), "rwmxcsSWiMdtR");
    EXPECT_STREQ(format_rights(kRightRead | kRightMap | kRightTransfer, buf), "r-m--------t-");
    EXPECT_STREQ(format_rights(kRightRevoke | (1u << 20), buf), "------------R?");
}

}  // namespace
