#include "util/tsc_clock.h"

#include <gtest/gtest.h>

namespace {

TEST(TscClock, Uncalibrated) { EXPECT_EQ(util::tsc_to_ns(123456789, 0), 0u); }

TEST(TscClock, ExactSeconds) {
    constexpr u64 hz = 2'098'303'000;
    EXPECT_EQ(util::tsc_to_ns(0, hz), 0u);
    EXPECT_EQ(util::tsc_to_ns(hz, hz), 1'000'000'000u);
    EXPECT_EQ(util::tsc_to_ns(3600 * hz, hz), 3600'000'000'000u);
}

TEST(TscClock, FractionsRoundDown) {
    constexpr u64 hz = 3'000'000'000;  // 3 ticks per ns
    EXPECT_EQ(util::tsc_to_ns(2, hz), 0u);
    EXPECT_EQ(util::tsc_to_ns(3, hz), 1u);
    EXPECT_EQ(util::tsc_to_ns(hz + 5, hz), 1'000'000'001u);
}

TEST(TscClock, NoOverflowAfterYears) {
    constexpr u64 hz = 4'000'000'000;
    constexpr u64 ten_years = 10ull * 365 * 24 * 3600;
    EXPECT_EQ(util::tsc_to_ns(ten_years * hz + hz / 2, hz), ten_years * 1'000'000'000ull + 500'000'000ull);
}

TEST(TscClock, Monotonic) {
    constexpr u64 hz = 2'098'303'123;
    u64 last = 0;
    for (u64 t = 0; t < 50'000'000; t += 9'973) {
        u64 ns = util::tsc_to_ns(t, hz);
        ASSERT_GE(ns, last);
        last = ns;
    }
}

}  // namespace
