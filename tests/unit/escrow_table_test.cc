// init's handle escrow table (lib/escrow/escrow_table.h): quotas,
// replacement, isolation between owners, and that nothing leaves it
// without being closed.
#define GTEST_HAS_CXXABI_H_ 0  // its <cxxabi.h> aliases `namespace abi` (docs/testing.md)
#include "escrow/escrow_table.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

std::vector<u32> g_closed;
void record_close(u32 h) { g_closed.push_back(h); }

class EscrowTableTest : public ::testing::Test {
protected:
    void SetUp() override { g_closed.clear(); }
    escrow::Table table{record_close};
};

TEST_F(EscrowTableTest, KeepsAndFindsPerOwner) {
    u32 a[] = {10, 11};
    ASSERT_TRUE(table.keep(1, 8, 7, a, 2).ok());
    const escrow::Entry* e = table.find(1, 7);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->count, 2u);
    EXPECT_EQ(e->handles[0], 10u);
    EXPECT_EQ(e->handles[1], 11u);
    // Another owner's key 7 is not this one.
    EXPECT_EQ(table.find(2, 7), nullptr);
    EXPECT_EQ(table.drop(2, 7).status(), Status::NotFound);
    EXPECT_TRUE(g_closed.empty());
    EXPECT_EQ(table.used(1), 2u);
    EXPECT_EQ(table.used(2), 0u);
}

TEST_F(EscrowTableTest, ReplacingAKeyClosesWhatItHeld) {
    u32 a[] = {10, 11, 12};
    u32 b[] = {20};
    ASSERT_TRUE(table.keep(1, 8, 7, a, 3).ok());
    ASSERT_TRUE(table.keep(1, 8, 7, b, 1).ok());
    EXPECT_EQ(g_closed, (std::vector<u32>{10, 11, 12}));
    EXPECT_EQ(table.find(1, 7)->handles[0], 20u);
    EXPECT_EQ(table.used(1), 1u);
    EXPECT_EQ(table.total(), 1u);
}

TEST_F(EscrowTableTest, QuotaRefusalChangesNothing) {
    u32 a[] = {10, 11, 12};
    u32 b[] = {20, 21};
    ASSERT_TRUE(table.keep(1, 4, 1, a, 3).ok());
    EXPECT_EQ(table.keep(1, 4, 2, b, 2).status(), Status::QuotaExceeded);
    EXPECT_EQ(table.find(1, 2), nullptr);
    EXPECT_TRUE(g_closed.empty());  // the refused handles are still the caller's
    // Replacing counts only the difference: 3 -> 4 fits a quota of 4.
    u32 c[] = {30, 31, 32, 33};
    ASSERT_TRUE(table.keep(1, 4, 1, c, 4).ok());
    EXPECT_EQ(table.used(1), 4u);
    // Another owner has its own quota.
    ASSERT_TRUE(table.keep(2, 4, 1, b, 2).ok());
}

TEST_F(EscrowTableTest, RefusesEmptyOversizedAndZeroHandles) {
    u32 a[] = {1, 2, 3, 4, 5};
    EXPECT_EQ(table.keep(1, 100, 1, a, 0).status(), Status::InvalidArgument);
    EXPECT_EQ(table.keep(1, 100, 1, a, abi::kEscrowHandles + 1).status(), Status::InvalidArgument);
    u32 z[] = {5, 0};
    EXPECT_EQ(table.keep(1, 100, 1, z, 2).status(), Status::InvalidArgument);
    EXPECT_EQ(table.total(), 0u);
}

TEST_F(EscrowTableTest, DropClosesAndFrees) {
    u32 a[] = {10, 11};
    ASSERT_TRUE(table.keep(3, 8, 9, a, 2).ok());
    ASSERT_TRUE(table.drop(3, 9).ok());
    EXPECT_EQ(g_closed, (std::vector<u32>{10, 11}));
    EXPECT_EQ(table.find(3, 9), nullptr);
    EXPECT_EQ(table.total(), 0u);
    EXPECT_EQ(table.drop(3, 9).status(), Status::NotFound);
}

TEST_F(EscrowTableTest, TheTableAsAWholeIsBounded) {
    // Many owners each within quota still cannot take more than the table
    // holds (init's capability space is finite).
    u32 h = 1;
    u32 kept = 0;
    for (u32 owner = 1; owner <= 200; owner++)
        for (u32 key = 0; key < 4; key++) {
            u32 hs[] = {h, h + 1, h + 2, h + 3};
            h += 4;
            if (table.keep(owner, abi::kMaxEscrowQuota, key, hs, 4).ok()) kept += 4;
        }
    EXPECT_LE(kept, escrow::Table::kMaxHandles);
    EXPECT_EQ(kept, table.total());
    u32 one[] = {99999};
    EXPECT_EQ(table.keep(999, abi::kMaxEscrowQuota, 0, one, 1).status(), Status::QuotaExceeded);
}

}  // namespace
