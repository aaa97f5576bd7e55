#include "util/idle_poll.h"

#include <gtest/gtest.h>

// Idle periods in the I/O-wait band open the window, doubling up to the
// maximum; a poll that catches the wake-up keeps it.
TEST(IdlePoll, OpensForWaitsInTheBand) {
    IdlePoll p;
    EXPECT_EQ(p.window_ns(), 0u);
    p.record(250'000, false);
    EXPECT_EQ(p.window_ns(), IdlePoll::kStartNs);
    p.record(250'000, false);
    EXPECT_EQ(p.window_ns(), 2 * IdlePoll::kStartNs);
    for (int i = 0; i < 10; i++) p.record(300'000, false);
    EXPECT_EQ(p.window_ns(), IdlePoll::kMaxNs);
    p.record(220'000, true);
    EXPECT_EQ(p.window_ns(), IdlePoll::kMaxNs);
}

// Short waits (the host completes inline: spinning would steal its CPU)
// and long ones (nothing coming soon) close it, halving down to zero.
TEST(IdlePoll, ClosesOutsideTheBand) {
    IdlePoll p;
    for (int i = 0; i < 10; i++) p.record(300'000, false);
    ASSERT_EQ(p.window_ns(), IdlePoll::kMaxNs);
    p.record(40'000, true);
    EXPECT_EQ(p.window_ns(), IdlePoll::kMaxNs / 2);
    for (int i = 0; i < 10; i++) p.record(10'000'000, false);
    EXPECT_EQ(p.window_ns(), 0u);
    // a truly idle system never starts polling
    for (int i = 0; i < 100; i++) p.record(10'000'000, false);
    EXPECT_EQ(p.window_ns(), 0u);
    // nor one whose waits are all short
    for (int i = 0; i < 100; i++) p.record(50'000, false);
    EXPECT_EQ(p.window_ns(), 0u);
}

// The band's edges: kMinUsefulNs and kMaxNs themselves are inside.
TEST(IdlePoll, BandEdges) {
    IdlePoll p;
    p.record(IdlePoll::kMinUsefulNs, false);
    EXPECT_EQ(p.window_ns(), IdlePoll::kStartNs);
    p.record(IdlePoll::kMaxNs, false);
    EXPECT_EQ(p.window_ns(), 2 * IdlePoll::kStartNs);
    p.record(IdlePoll::kMinUsefulNs - 1, false);
    EXPECT_EQ(p.window_ns(), IdlePoll::kStartNs);
    p.record(IdlePoll::kMaxNs + 1, false);
    EXPECT_EQ(p.window_ns(), 0u);
}
