// util::TokenBucket (refusal and log rate limits) and util::CoalescingRing
// (refusal events): the arithmetic the kernel's refusal path relies on to
// keep a flood cheap and bounded.
#include <gtest/gtest.h>

#include "util/coalescing_ring.h"
#include "util/token_bucket.h"

namespace {

constexpr u64 kSecond = 1'000'000'000ull;

TEST(TokenBucket, BurstThenSteadyRate) {
    util::TokenBucket b(12, 5);  // the kernel's per-process refusal log budget
    u64 now = 10 * kSecond;
    int taken = 0;
    for (int i = 0; i < 100; i++) taken += b.take(now);
    EXPECT_EQ(taken, 12);  // the burst, no more at the same instant
    EXPECT_FALSE(b.take(now + kSecond / 5 - 1));
    EXPECT_TRUE(b.take(now + kSecond / 5));  // one token per 200 ms
    EXPECT_FALSE(b.take(now + kSecond / 5));
    // Over ten seconds of a flood, at most 5 a second get through.
    taken = 0;
    for (u64 t = now + kSecond / 5; t < now + 10 * kSecond; t += kSecond / 1000) taken += b.take(t);
    EXPECT_GE(taken, 48);
    EXPECT_LE(taken, 50);
}

TEST(TokenBucket, RefillIsCappedAtTheBurst) {
    util::TokenBucket b(3, 100);
    for (int i = 0; i < 3; i++) ASSERT_TRUE(b.take(0));
    ASSERT_FALSE(b.take(0));
    // A long quiet period refills the burst, not more.
    int taken = 0;
    for (int i = 0; i < 10; i++) taken += b.take(3600 * kSecond);
    EXPECT_EQ(taken, 3);
}

TEST(TokenBucket, ClockGoingBackwardsGrantsNothing) {
    util::TokenBucket b(1, 1);
    ASSERT_TRUE(b.take(5 * kSecond));
    EXPECT_FALSE(b.take(1 * kSecond));      // earlier: no credit
    EXPECT_FALSE(b.take(5 * kSecond + 1));  // measured from the later of the two
    EXPECT_TRUE(b.take(6 * kSecond + 1));
}

TEST(TokenBucket, ZeroRateIsTreatedAsOnePerSecond) {
    util::TokenBucket b(1, 0);
    ASSERT_TRUE(b.take(kSecond));
    EXPECT_FALSE(b.take(kSecond + kSecond / 2));
    EXPECT_TRUE(b.take(2 * kSecond));
}

struct Ev {
    u32 who;
    u32 what;
    u32 count;
};
bool same(const Ev& a, const Ev& b) { return a.who == b.who && a.what == b.what; }
void merge(Ev& into, const Ev& from) { into.count += from.count; }

TEST(CoalescingRing, RepeatsOfTheNewestMerge) {
    util::CoalescingRing<Ev, 4> r;
    for (int i = 0; i < 1000; i++) EXPECT_TRUE(r.push(Ev{1, 2, 1}, same, merge));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r.recent(0)->count, 1000u);
    // A different event in between breaks the run: A B A is three entries.
    r.push(Ev{1, 3, 1}, same, merge);
    r.push(Ev{1, 2, 1}, same, merge);
    EXPECT_EQ(r.size(), 3u);
    EXPECT_EQ(r.dropped(), 0u);
}

TEST(CoalescingRing, FullRingDropsTheOldestAndCountsIt) {
    util::CoalescingRing<Ev, 4> r;
    for (u32 i = 0; i < 6; i++) {
        bool kept = r.push(Ev{i, 0, 1}, same, merge);
        EXPECT_EQ(kept, i < 4);
    }
    EXPECT_EQ(r.size(), 4u);
    EXPECT_EQ(r.dropped(), 2u);
    EXPECT_EQ(r.recent(0)->who, 5u);
    EXPECT_EQ(r.recent(3)->who, 2u);
    EXPECT_EQ(r.recent(4), nullptr);
    Ev out[8];
    ASSERT_EQ(r.pop(out, 3), 3u);  // oldest first
    EXPECT_EQ(out[0].who, 2u);
    EXPECT_EQ(out[2].who, 4u);
    ASSERT_EQ(r.pop(out, 8), 1u);
    EXPECT_EQ(out[0].who, 5u);
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(r.pop(out, 8), 0u);
}

TEST(CoalescingRing, PopThenPushWrapsAround) {
    util::CoalescingRing<Ev, 3> r;
    Ev out[3];
    for (u32 round = 0; round < 10; round++) {
        r.push(Ev{round, 0, 1}, same, merge);
        r.push(Ev{round, 1, 1}, same, merge);
        ASSERT_EQ(r.pop(out, 1), 1u);
        EXPECT_EQ(out[0].who, round);
        EXPECT_EQ(out[0].what, 0u);
        ASSERT_EQ(r.pop(out, 1), 1u);
        EXPECT_EQ(out[0].what, 1u);
    }
    EXPECT_EQ(r.dropped(), 0u);
}

}  // namespace
