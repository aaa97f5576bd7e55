#include "util/idle_poll.h"

#include <gtest/gtest.h>

// Idle periods short enough to be I/O waits open the window, doubling up
// to the maximum; a poll that catches the wake-up keeps it.
TEST(IdlePoll, OpensForIoWaits) {
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

// Short waits open it too (a fast device's completion: a null-co QD1 I/O
// under TCG idles ~60 us); once the window covers them, it stays.
TEST(IdlePoll, OpensForShortWaits) {
    IdlePoll p;
    p.record(60'000, false);
    EXPECT_EQ(p.window_ns(), IdlePoll::kStartNs);
    p.record(60'000, false);  // the 50 us poll missed it by 10 us
    EXPECT_EQ(p.window_ns(), 2 * IdlePoll::kStartNs);
    for (int i = 0; i < 100; i++) p.record(60'000, true);
    EXPECT_EQ(p.window_ns(), 2 * IdlePoll::kStartNs);
}

// Long idle periods (nothing coming soon) close it, halving down to zero.
TEST(IdlePoll, ClosesForLongIdle) {
    IdlePoll p;
    for (int i = 0; i < 10; i++) p.record(300'000, false);
    ASSERT_EQ(p.window_ns(), IdlePoll::kMaxNs);
    p.record(10'000'000, false);
    EXPECT_EQ(p.window_ns(), IdlePoll::kMaxNs / 2);
    for (int i = 0; i < 10; i++) p.record(10'000'000, false);
    EXPECT_EQ(p.window_ns(), 0u);
    // a truly idle system never starts polling
    for (int i = 0; i < 100; i++) p.record(10'000'000, false);
    EXPECT_EQ(p.window_ns(), 0u);
}

// kMaxNs itself is an I/O wait; one more nanosecond is not.
TEST(IdlePoll, MaxEdge) {
    IdlePoll p;
    p.record(IdlePoll::kMaxNs, false);
    EXPECT_EQ(p.window_ns(), IdlePoll::kStartNs);
    p.record(IdlePoll::kMaxNs, false);
    EXPECT_EQ(p.window_ns(), 2 * IdlePoll::kStartNs);
    p.record(IdlePoll::kMaxNs + 1, false);
    EXPECT_EQ(p.window_ns(), IdlePoll::kStartNs);
    p.record(IdlePoll::kMaxNs + 1, false);
    EXPECT_EQ(p.window_ns(), 0u);
}
