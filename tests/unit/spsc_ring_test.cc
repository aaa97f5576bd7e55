// The shared-memory SPSC ring views (lib/ring/spsc_ring.h): an honest
// exchange across the u32 wrap, and a hostile peer — indices moved back,
// jumped ahead, far out; its own index rewritten under the other side;
// slots rewritten after they were published — against which each view
// reports Malformed, keeps its last good state and never reads or writes
// outside its slots.
#include "ring/spsc_ring.h"

#include <gtest/gtest.h>

#include <cstring>

namespace {

struct Entry {
    u64 id;
    u32 value;
    u32 pad;
};

constexpr u32 kN = 8;

// A ring in "shared memory" with guard words around the slots: a view
// that wrote outside them would show up there.
struct Shared {
    ring::Indices indices{};
    u64 guard_before = kGuard;
    Entry slots[kN]{};
    u64 guard_after = kGuard;
    static constexpr u64 kGuard = 0x5afe'5afe'5afe'5afeull;
    bool guards_intact() const { return guard_before == kGuard && guard_after == kGuard; }
};

using Producer = ring::Producer<Entry, kN>;
using Consumer = ring::Consumer<Entry, kN>;

Entry entry(u64 id) { return Entry{id, static_cast<u32>(id * 3), 0}; }

TEST(SpscRing, EntriesArriveInOrderAcrossTheWrap) {
    Shared s;
    const u32 start = 0xffff'fff0u;  // both sides start near the u32 wrap
    s.indices.head = s.indices.tail = start;
    Producer p(s.indices, s.slots, start);
    Consumer c(s.indices, s.slots, start);
    u64 next_put = 0, next_take = 0;
    for (int round = 0; round < 40; round++) {
        ASSERT_TRUE(p.refresh().ok());
        u32 n = (round % 3) + 1;  // batches of 1..3
        for (u32 i = 0; i < n && p.room(); i++) ASSERT_TRUE(p.put(entry(next_put++)));
        p.publish();
        auto ready = c.refresh();
        ASSERT_TRUE(ready.ok());
        Entry e;
        while (c.take(&e)) {
            EXPECT_EQ(e.id, next_take);
            EXPECT_EQ(e.value, static_cast<u32>(next_take * 3));
            next_take++;
        }
        c.release();
    }
    EXPECT_EQ(next_take, next_put);
    EXPECT_GT(next_put, u64{0x10});  // went past the wrap
    EXPECT_EQ(s.indices.tail, static_cast<u32>(start + next_put));
    EXPECT_EQ(s.indices.head, static_cast<u32>(start + next_take));
    EXPECT_TRUE(s.guards_intact());
}

TEST(SpscRing, ProducerStopsWhenFullUntilTheConsumerReleases) {
    Shared s;
    Producer p(s.indices, s.slots);
    Consumer c(s.indices, s.slots);
    ASSERT_EQ(p.refresh().value(), kN);
    for (u32 i = 0; i < kN; i++) ASSERT_TRUE(p.put(entry(i)));
    EXPECT_FALSE(p.put(entry(99)));  // full: nothing overwritten
    p.publish();
    EXPECT_EQ(p.refresh().value(), 0u);
    Entry e;
    ASSERT_EQ(c.refresh().value(), kN);
    ASSERT_TRUE(c.take(&e));
    ASSERT_TRUE(c.take(&e));
    EXPECT_EQ(p.refresh().value(), 0u);  // taken but not released: still not free
    c.release();
    EXPECT_EQ(p.refresh().value(), 2u);
    EXPECT_EQ(s.slots[0].id, 0u);  // the full put wrote nothing
}

TEST(SpscRing, OneStorePerBatch) {
    Shared s;
    Producer p(s.indices, s.slots);
    ASSERT_TRUE(p.refresh().ok());
    ASSERT_TRUE(p.put(entry(1)));
    ASSERT_TRUE(p.put(entry(2)));
    EXPECT_EQ(s.indices.tail, 0u);  // not visible before publish
    p.publish();
    EXPECT_EQ(s.indices.tail, 2u);
    // Nothing new: publish does not store (a peer's scribble stays, and is
    // overwritten by the next real publish).
    s.indices.tail = 77;
    p.publish();
    EXPECT_EQ(s.indices.tail, 77u);
    ASSERT_TRUE(p.put(entry(3)));
    p.publish();
    EXPECT_EQ(s.indices.tail, 3u);
}

// --- a hostile producer, seen by the consumer --------------------------------

TEST(SpscRingHostileProducer, TailJumpedAheadIsMalformed) {
    Shared s;
    Consumer c(s.indices, s.slots);
    s.indices.tail = kN + 1;  // more than a ring's worth
    auto r = c.refresh();
    EXPECT_EQ(r.status(), Status::Malformed);
    EXPECT_EQ(c.bad_index(), kN + 1);
    EXPECT_EQ(c.ready(), 0u);  // nothing believed
    Entry e;
    EXPECT_FALSE(c.take(&e));
    s.indices.tail = kN;  // exactly a ring's worth is fine
    EXPECT_EQ(c.refresh().value(), kN);
    s.indices.tail = 0xffff'ff00u;  // far out
    EXPECT_EQ(c.refresh().status(), Status::Malformed);
}

TEST(SpscRingHostileProducer, TailMovedBackIsMalformed) {
    Shared s;
    Consumer c(s.indices, s.slots);
    s.indices.tail = 5;
    ASSERT_EQ(c.refresh().value(), 5u);
    Entry e;
    ASSERT_TRUE(c.take(&e));
    ASSERT_TRUE(c.take(&e));
    c.release();
    // Back, still ahead of our head: entries it published are withdrawn.
    s.indices.tail = 4;
    EXPECT_EQ(c.refresh().status(), Status::Malformed);
    EXPECT_EQ(c.bad_index(), 4u);
    EXPECT_EQ(c.ready(), 3u);  // the last good state
    EXPECT_EQ(c.tail_seen(), 5u);
    // Back past our head (u32: far ahead).
    s.indices.tail = 1;
    EXPECT_EQ(c.refresh().status(), Status::Malformed);
    // Restored, it is believed again.
    s.indices.tail = 6;
    EXPECT_EQ(c.refresh().value(), 4u);
}

TEST(SpscRingHostileProducer, RewritingTheConsumersHeadChangesNothing) {
    Shared s;
    Producer p(s.indices, s.slots);
    Consumer c(s.indices, s.slots);
    ASSERT_TRUE(p.refresh().ok());
    for (u32 i = 0; i < 3; i++) ASSERT_TRUE(p.put(entry(i)));
    p.publish();
    ASSERT_EQ(c.refresh().value(), 3u);
    Entry e;
    ASSERT_TRUE(c.take(&e));
    c.release();
    // The producer says we never took it (or took more than there was):
    // our head is ours, never read back.
    s.indices.head = 0;
    ASSERT_TRUE(c.take(&e));
    EXPECT_EQ(e.id, 1u);
    s.indices.head = 1000;
    ASSERT_TRUE(c.take(&e));
    EXPECT_EQ(e.id, 2u);
    c.release();
    EXPECT_EQ(s.indices.head, 3u);  // overwritten by the next release
    EXPECT_EQ(c.head(), 3u);
}

TEST(SpscRingHostileProducer, AnEntryIsCopiedOnceAndTheCopyIsWhatCounts) {
    Shared s;
    Producer p(s.indices, s.slots);
    Consumer c(s.indices, s.slots);
    ASSERT_TRUE(p.refresh().ok());
    ASSERT_TRUE(p.put(entry(7)));
    p.publish();
    ASSERT_EQ(c.refresh().value(), 1u);
    Entry e;
    ASSERT_TRUE(c.take(&e));
    // Rewritten after the copy: the copy stands.
    s.slots[0] = Entry{0xdead, 0xbeef, 0xffff'ffffu};
    EXPECT_EQ(e.id, 7u);
    EXPECT_EQ(e.value, 21u);
    // Rewritten before the take: the consumer gets whatever is there — it
    // validates the copy, the ring only promises one copy of one slot.
    ASSERT_TRUE(p.put(entry(8)));
    p.publish();
    ASSERT_EQ(c.refresh().value(), 1u);
    s.slots[1] = Entry{0xbad, 1, 2};
    ASSERT_TRUE(c.take(&e));
    EXPECT_EQ(e.id, 0xbadu);
    EXPECT_TRUE(s.guards_intact());
}

// --- a hostile consumer, seen by the producer --------------------------------

TEST(SpscRingHostileConsumer, HeadBeyondTheTailIsMalformed) {
    Shared s;
    Producer p(s.indices, s.slots);
    ASSERT_EQ(p.refresh().value(), kN);
    s.indices.head = 5000;  // nothing was ever published
    EXPECT_EQ(p.refresh().status(), Status::Malformed);
    EXPECT_EQ(p.bad_index(), 5000u);
    EXPECT_EQ(p.room(), kN);  // the last good state
    ASSERT_TRUE(p.put(entry(1)));
    p.publish();
    s.indices.head = 2;  // one past what exists
    EXPECT_EQ(p.refresh().status(), Status::Malformed);
    s.indices.head = 1;
    EXPECT_EQ(p.refresh().value(), kN);
}

TEST(SpscRingHostileConsumer, HeadMovedBackIsMalformed) {
    Shared s;
    Producer p(s.indices, s.slots);
    ASSERT_TRUE(p.refresh().ok());
    for (u32 i = 0; i < 6; i++) ASSERT_TRUE(p.put(entry(i)));
    p.publish();
    s.indices.head = 4;
    ASSERT_EQ(p.refresh().value(), kN - 2);
    s.indices.head = 3;  // un-takes one
    EXPECT_EQ(p.refresh().status(), Status::Malformed);
    EXPECT_EQ(p.head_seen(), 4u);
    s.indices.head = 0xffff'fff0u;  // far behind (u32)
    EXPECT_EQ(p.refresh().status(), Status::Malformed);
    EXPECT_EQ(p.room(), kN - 2);
}

TEST(SpscRingHostileConsumer, RewritingTheProducersTailChangesNothing) {
    Shared s;
    Producer p(s.indices, s.slots);
    ASSERT_TRUE(p.refresh().ok());
    ASSERT_TRUE(p.put(entry(0)));
    p.publish();
    s.indices.tail = 100;  // the consumer claims more was published
    ASSERT_TRUE(p.put(entry(1)));
    p.publish();
    EXPECT_EQ(s.indices.tail, 2u);
    EXPECT_EQ(s.slots[1].id, 1u);  // written at our index, not theirs
    EXPECT_EQ(p.tail(), 2u);
}

TEST(SpscRingHostileConsumer, NoIndexItWritesMakesTheProducerWriteOutsideItsSlots) {
    Shared s;
    Producer p(s.indices, s.slots);
    const u32 lies[] = {0, 1, kN, kN + 1, 0x7fff'ffffu, 0x8000'0000u, 0xffff'ffffu, 12345};
    for (u32 round = 0; round < 64; round++) {
        s.indices.head = lies[round % 8] + round;
        if (auto room = p.refresh(); room.ok())
            for (u32 i = 0; i < room.value(); i++) ASSERT_TRUE(p.put(entry(round)));
        EXPECT_LE(p.room(), kN);
        p.publish();
        ASSERT_TRUE(s.guards_intact());
    }
}

TEST(SpscRing, RingLayoutGivesBothViews) {
    static ring::Ring<Entry, kN> r{};
    auto p = r.producer();
    auto c = r.consumer();
    ASSERT_TRUE(p.refresh().ok());
    ASSERT_TRUE(p.put(entry(42)));
    p.publish();
    ASSERT_EQ(c.refresh().value(), 1u);
    Entry e;
    ASSERT_TRUE(c.take(&e));
    EXPECT_EQ(e.id, 42u);
    EXPECT_EQ(reinterpret_cast<uptr>(&r.slots) % 64, 0u);
}

}  // namespace
