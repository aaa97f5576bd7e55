#include "util/byte_quota.h"

#include <gtest/gtest.h>

TEST(ByteQuota, ChargesUpToTheLimitExactly) {
    ByteQuota q(8192);
    EXPECT_TRUE(q.charge(4096));
    EXPECT_TRUE(q.charge(4096));
    EXPECT_EQ(q.used(), 8192u);
    EXPECT_EQ(q.available(), 0u);
    EXPECT_FALSE(q.charge(1));
    EXPECT_TRUE(q.charge(0));  // nothing asked, nothing refused
    EXPECT_EQ(q.used(), 8192u);
    EXPECT_EQ(q.refused(), 1u);
}

TEST(ByteQuota, RefusedChargeChangesNothing) {
    ByteQuota q(10000);
    ASSERT_TRUE(q.charge(6000));
    EXPECT_FALSE(q.charge(4001));
    EXPECT_EQ(q.used(), 6000u);
    EXPECT_EQ(q.peak(), 6000u);
    EXPECT_TRUE(q.charge(4000));
    EXPECT_EQ(q.used(), 10000u);
}

TEST(ByteQuota, HugeChargesDoNotWrapAround) {
    ByteQuota q(1 << 20);
    ASSERT_TRUE(q.charge(100));
    // used + bytes would overflow u64 and look small: still refused.
    EXPECT_FALSE(q.charge(~u64{0}));
    EXPECT_FALSE(q.charge(~u64{0} - 50));
    EXPECT_EQ(q.used(), 100u);
    ByteQuota unlimited(~u64{0});
    EXPECT_TRUE(unlimited.charge(~u64{0}));
    EXPECT_FALSE(unlimited.charge(1));
}

TEST(ByteQuota, ReleaseGivesBackAndKeepsThePeak) {
    ByteQuota q(1 << 20);
    ASSERT_TRUE(q.charge(300000));
    EXPECT_TRUE(q.release(200000));
    EXPECT_EQ(q.used(), 100000u);
    EXPECT_EQ(q.peak(), 300000u);
    ASSERT_TRUE(q.charge(50000));
    EXPECT_EQ(q.peak(), 300000u);
    EXPECT_TRUE(q.release(150000));
    EXPECT_EQ(q.used(), 0u);
}

TEST(ByteQuota, OverReleaseIsReportedAndChangesNothing) {
    ByteQuota q(4096);
    ASSERT_TRUE(q.charge(100));
    EXPECT_FALSE(q.release(101));
    EXPECT_EQ(q.used(), 100u);
    EXPECT_TRUE(q.release(100));
    EXPECT_FALSE(q.release(1));
}

TEST(ByteQuota, ChildLimitDefaultsAndIsBoundedBySpawner) {
    constexpr u64 M = 1 << 20;
    // 0: the default, cut to what the spawner has.
    EXPECT_EQ(child_quota_limit(0, 16 * M, 64 * M).value(), 16 * M);
    EXPECT_EQ(child_quota_limit(0, 16 * M, 4 * M).value(), 4 * M);
    // An explicit request: granted up to the spawner's own limit.
    EXPECT_EQ(child_quota_limit(768 * 1024, 16 * M, 16 * M).value(), 768u * 1024);
    EXPECT_EQ(child_quota_limit(16 * M, 16 * M, 16 * M).value(), 16 * M);
    auto over = child_quota_limit(16 * M + 1, 16 * M, 16 * M);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.status(), Status::QuotaExceeded);
}
