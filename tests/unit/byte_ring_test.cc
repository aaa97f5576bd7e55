// The shared-memory byte ring views (lib/ring/byte_ring.h): bytes arrive
// whole and in order across the ring's end and the u32 wrap, and a hostile
// peer's indices (moved back, jumped ahead, far out) are Malformed, the view
// keeping its last good state and touching nothing outside its bytes.
#include "ring/byte_ring.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

constexpr u32 kCapacity = 64;

struct Shared {
    ring::Indices indices{};
    u64 guard_before = kGuard;
    u8 bytes[kCapacity]{};
    u64 guard_after = kGuard;
    static constexpr u64 kGuard = 0x5afe'5afe'5afe'5afeull;
    bool guards_intact() const { return guard_before == kGuard && guard_after == kGuard; }
};

TEST(ByteRing, CapacityMustBeAPowerOfTwo) {
    EXPECT_TRUE(ring::valid_byte_capacity(4096));
    EXPECT_TRUE(ring::valid_byte_capacity(1u << 31));
    EXPECT_FALSE(ring::valid_byte_capacity(0));
    EXPECT_FALSE(ring::valid_byte_capacity(5000));
    EXPECT_FALSE(ring::valid_byte_capacity(0xffff'ffffu));
}

TEST(ByteRing, BytesArriveInOrderAcrossTheWrap) {
    Shared s;
    const u32 start = 0xffff'ffd0u;  // near the u32 wrap
    s.indices.head = s.indices.tail = start;
    ring::ByteProducer p(s.indices, s.bytes, kCapacity, start);
    ring::ByteConsumer c(s.indices, s.bytes, kCapacity, start);
    u8 next_write = 0, next_read = 0;
    u32 total = 0;
    for (int round = 0; round < 100; round++) {
        ASSERT_TRUE(p.refresh().ok());
        u8 chunk[41];
        u32 n = static_cast<u32>(round * 7 % 41) + 1;
        for (u32 i = 0; i < n; i++) chunk[i] = static_cast<u8>(next_write + i);
        u32 wrote = p.write(chunk, n);
        next_write = static_cast<u8>(next_write + wrote);
        p.publish();
        auto ready = c.refresh();
        ASSERT_TRUE(ready.ok());
        // Half through peek+consume, half in place.
        if (round % 2 == 0) {
            u8 out[kCapacity];
            u32 got = c.peek(0, out, sizeof out);
            ASSERT_EQ(got, ready.value());
            for (u32 i = 0; i < got; i++) ASSERT_EQ(out[i], static_cast<u8>(next_read + i));
            c.consume(got);
            next_read = static_cast<u8>(next_read + got);
            total += got;
        } else {
            while (c.ready() > 0) {
                u32 run = 0;
                const u8* at = c.contiguous(&run);
                ASSERT_GT(run, 0u);
                for (u32 i = 0; i < run; i++) ASSERT_EQ(at[i], static_cast<u8>(next_read + i));
                c.consume(run);
                next_read = static_cast<u8>(next_read + run);
                total += run;
            }
        }
        c.release();
    }
    EXPECT_EQ(next_read, next_write);
    EXPECT_GT(total, 2 * kCapacity);
    EXPECT_EQ(s.indices.tail, s.indices.head);
    EXPECT_LT(s.indices.tail, start);  // went past the u32 wrap
    EXPECT_TRUE(s.guards_intact());
}

TEST(ByteRing, ProducerStopsWhenFullUntilTheConsumerReleases) {
    Shared s;
    ring::ByteProducer p(s.indices, s.bytes, kCapacity);
    ring::ByteConsumer c(s.indices, s.bytes, kCapacity);
    u8 big[100];
    std::memset(big, 0xab, sizeof big);
    ASSERT_EQ(p.refresh().value(), kCapacity);
    EXPECT_EQ(p.write(big, sizeof big), kCapacity);  // what fits, no more
    EXPECT_EQ(p.write(big, 1), 0u);
    p.produce(5);  // past room: ignored
    EXPECT_EQ(p.tail(), kCapacity);
    p.publish();
    ASSERT_EQ(c.refresh().value(), kCapacity);
    c.consume(10);
    EXPECT_EQ(p.refresh().value(), 0u);  // consumed but not released
    c.release();
    EXPECT_EQ(p.refresh().value(), 10u);
    u32 run = 0;
    p.contiguous(&run);
    EXPECT_EQ(run, 10u);
    c.consume(1000);  // past ready: only what is there
    EXPECT_EQ(c.ready(), 0u);
    EXPECT_TRUE(s.guards_intact());
}

TEST(ByteRing, PeekWrapsAndStopsAtWhatIsReady) {
    Shared s;
    ring::ByteProducer p(s.indices, s.bytes, kCapacity, 60);
    ring::ByteConsumer c(s.indices, s.bytes, kCapacity, 60);
    s.indices.head = s.indices.tail = 60;
    u8 in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ASSERT_TRUE(p.refresh().ok());
    ASSERT_EQ(p.write(in, 8), 8u);  // 4 at the end, 4 at the start
    p.publish();
    ASSERT_EQ(c.refresh().value(), 8u);
    u8 out[16]{};
    EXPECT_EQ(c.peek(2, out, 16), 6u);
    EXPECT_EQ(0, std::memcmp(out, in + 2, 6));
    EXPECT_EQ(c.peek(8, out, 1), 0u);
    EXPECT_EQ(c.peek(0xffff'fff0u, out, 16), 0u);
}

// --- a hostile producer, seen by the consumer --------------------------------

TEST(ByteRingHostileProducer, TailAheadOrBackIsMalformed) {
    Shared s;
    ring::ByteConsumer c(s.indices, s.bytes, kCapacity);
    s.indices.tail = kCapacity + 1;  // more than the ring holds
    EXPECT_EQ(c.refresh().status(), Status::Malformed);
    EXPECT_EQ(c.bad_index(), kCapacity + 1);
    EXPECT_EQ(c.ready(), 0u);
    s.indices.tail = 10;
    ASSERT_EQ(c.refresh().value(), 10u);
    c.consume(4);
    s.indices.tail = 8;  // back, still ahead of our head
    EXPECT_EQ(c.refresh().status(), Status::Malformed);
    EXPECT_EQ(c.ready(), 6u);  // the last good state
    s.indices.tail = 2;        // back past our head (far ahead as u32)
    EXPECT_EQ(c.refresh().status(), Status::Malformed);
    s.indices.tail = 0xffff'ff00u;
    EXPECT_EQ(c.refresh().status(), Status::Malformed);
    u8 out[kCapacity];
    EXPECT_EQ(c.peek(0, out, sizeof out), 6u);
}

// --- a hostile consumer, seen by the producer --------------------------------

TEST(ByteRingHostileConsumer, HeadPastTailOrBackIsMalformed) {
    Shared s;
    ring::ByteProducer p(s.indices, s.bytes, kCapacity);
    u8 in[20]{};
    ASSERT_TRUE(p.refresh().ok());
    p.write(in, 20);
    p.publish();
    s.indices.head = 21;  // past what we published
    EXPECT_EQ(p.refresh().status(), Status::Malformed);
    EXPECT_EQ(p.bad_index(), 21u);
    EXPECT_EQ(p.room(), kCapacity - 20);  // nothing believed
    s.indices.head = 12;
    EXPECT_EQ(p.refresh().value(), kCapacity - 8);
    s.indices.head = 11;  // back
    EXPECT_EQ(p.refresh().status(), Status::Malformed);
    EXPECT_EQ(p.room(), kCapacity - 8);
    // Its own index rewritten under us changes nothing here.
    s.indices.tail = 0xdead;
    EXPECT_EQ(p.tail(), 20u);
    p.write(in, 1);
    p.publish();
    EXPECT_EQ(s.indices.tail, 21u);
    EXPECT_TRUE(s.guards_intact());
}

}  // namespace
