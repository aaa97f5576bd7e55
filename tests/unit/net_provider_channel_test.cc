// The NetDevice provider channel (lib/net/provider_channel.h): who holds
// each slot, and a client that lends what it does not hold, names slots
// outside the buffer, sends impossible lengths or moves its indices.
#define GTEST_HAS_CXXABI_H_ 0  // its <cxxabi.h> aliases `namespace abi` (docs/testing.md)
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "net/provider_channel.h"

namespace {

using abi::NetBuffer;
using net::Holder;
using net::ProviderChannel;

constexpr u32 kBytes = abi::kNetBufferBytes;
constexpr u32 kCount = 16;
constexpr u32 kMaxFrame = 1514;

// A well-behaved client's views, over the same memory.
struct Client {
    explicit Client(abi::NetRings& r)
        : rx_free(r.rx_free.producer()),
          tx_ready(r.tx_ready.producer()),
          rx_used(r.rx_used.consumer()),
          tx_done(r.tx_done.consumer()) {}
    ring::Producer<NetBuffer, abi::kNetRingEntries> rx_free, tx_ready;
    ring::Consumer<NetBuffer, abi::kNetRingEntries> rx_used, tx_done;

    std::vector<NetBuffer> drain(ring::Consumer<NetBuffer, abi::kNetRingEntries>& c) {
        std::vector<NetBuffer> out;
        EXPECT_TRUE(c.refresh().ok());
        NetBuffer d;
        while (c.take(&d)) out.push_back(d);
        c.release();
        return out;
    }
    void lend(ring::Producer<NetBuffer, abi::kNetRingEntries>& p, NetBuffer d) {
        EXPECT_TRUE(p.refresh().ok());
        EXPECT_TRUE(p.put(d));
        p.publish();
    }
};

struct Fixture : ::testing::Test {
    void SetUp() override {  // also called again by tests that start over
        channel = ProviderChannel();
        rings = std::make_unique<abi::NetRings>();
        ASSERT_TRUE(channel.init(kBytes, kCount, kMaxFrame).ok());
        ASSERT_TRUE(channel.open(rings.get()).ok());
        EXPECT_TRUE(channel.publish());
        client = std::make_unique<Client>(*rings);
    }
    std::unique_ptr<abi::NetRings> rings;
    ProviderChannel channel;
    std::unique_ptr<Client> client;
};

using NetProviderChannel = Fixture;

TEST_F(NetProviderChannel, EverySlotGoesToTheClientAtOpen) {
    auto given = client->drain(client->tx_done);
    ASSERT_EQ(given.size(), kCount);
    for (u32 i = 0; i < kCount; i++) {
        EXPECT_EQ(given[i].offset, i * kBytes);
        EXPECT_EQ(given[i].length, 0u);
    }
    EXPECT_EQ(channel.held_by(Holder::Client), kCount);
    EXPECT_EQ(rings->link & abi::kNetLinkUp, abi::kNetLinkUp);
}

TEST_F(NetProviderChannel, ReceiveAndSendRoundTrip) {
    client->drain(client->tx_done);
    client->lend(client->rx_free, {0, 0});
    client->lend(client->rx_free, {kBytes, 12345});  // length ignored on rx_free
    client->lend(client->tx_ready, {2 * kBytes, 60});
    u32 slots[8];
    ASSERT_EQ(channel.take_rx_free(slots, 8).value(), 2u);
    EXPECT_EQ(slots[0], 0u);
    EXPECT_EQ(slots[1], 1u);
    net::TxFrame frames[8];
    ASSERT_EQ(channel.take_tx_ready(frames, 8).value(), 1u);
    EXPECT_EQ(frames[0].slot, 2u);
    EXPECT_EQ(frames[0].length, 60u);
    EXPECT_EQ(channel.holder(0), Holder::Rx);
    EXPECT_EQ(channel.holder(2), Holder::Tx);
    ASSERT_TRUE(channel.rx_complete(1, 98).ok());
    ASSERT_TRUE(channel.tx_complete(2, Status::Ok).ok());
    EXPECT_TRUE(channel.publish());
    EXPECT_FALSE(channel.publish());  // nothing new
    auto used = client->drain(client->rx_used);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0].offset, kBytes);
    EXPECT_EQ(used[0].length, 98u);
    auto done = client->drain(client->tx_done);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].offset, 2 * kBytes);
    EXPECT_EQ(done[0].length, 0u);
    EXPECT_EQ(channel.holder(1), Holder::Client);
    // Completing what the device does not hold is refused, changes nothing.
    EXPECT_EQ(channel.rx_complete(1, 60).status(), Status::InvalidArgument);
    EXPECT_EQ(channel.tx_complete(0, Status::Ok).status(), Status::InvalidArgument);  // 0 is Rx, not Tx
    EXPECT_EQ(channel.rx_complete(kCount, 60).status(), Status::InvalidArgument);
    EXPECT_EQ(channel.rx_complete(0, kBytes + 1).status(), Status::InvalidArgument);
}

TEST_F(NetProviderChannel, TakesNoMoreThanAsked) {
    client->drain(client->tx_done);
    for (u32 i = 0; i < 5; i++) client->lend(client->rx_free, {i * kBytes, 0});
    u32 slots[8];
    EXPECT_EQ(channel.take_rx_free(slots, 3).value(), 3u);
    EXPECT_EQ(channel.take_rx_free(slots, 8).value(), 2u);
    EXPECT_EQ(slots[0], 3u);
    EXPECT_EQ(channel.take_rx_free(slots, 8).value(), 0u);
}

// A slot the device holds to send from (to complete).
u32 frames_left_in_tx(const ProviderChannel& c) {
    for (u32 i = 0; i < c.buffer_count(); i++)
        if (c.holder(i) == Holder::Tx) return i;
    return c.buffer_count();
}

struct BadCase {
    const char* name;
    NetBuffer d;
    bool tx;
    Status expect;
};

TEST_F(NetProviderChannel, BadDescriptorsAreRefusedAndUndone) {
    const BadCase cases[] = {
        {"misaligned", {kBytes + 4, 60}, false, Status::InvalidArgument},
        {"past the buffer", {kCount * kBytes, 60}, false, Status::OutOfBounds},
        {"far past", {0xfffff800u, 60}, true, Status::OutOfBounds},
        {"runt", {0, 13}, true, Status::InvalidArgument},
        {"too long", {0, kMaxFrame + 1}, true, Status::InvalidArgument},
        {"huge", {0, 0xffffffffu}, true, Status::InvalidArgument},
    };
    for (const BadCase& c : cases) {
        SetUp();
        client->drain(client->tx_done);
        auto& ring = c.tx ? client->tx_ready : client->rx_free;
        client->lend(ring, {3 * kBytes, 60});  // a good one first: undone with the refusal
        client->lend(ring, c.d);
        u32 slots[8];
        net::TxFrame frames[8];
        Status got = c.tx ? channel.take_tx_ready(frames, 8).status() : channel.take_rx_free(slots, 8).status();
        EXPECT_EQ(got, c.expect) << c.name;
        EXPECT_STREQ(channel.refusal().ring, c.tx ? "tx_ready" : "rx_free") << c.name;
        EXPECT_EQ(channel.refusal().offset, c.d.offset) << c.name;
        EXPECT_EQ(channel.holder(3), Holder::Client) << c.name;
        EXPECT_EQ(channel.held_by(Holder::Client), kCount) << c.name;
    }
}

TEST_F(NetProviderChannel, LendingTwiceOrWhatWasNeverGivenIsRefused) {
    client->drain(client->tx_done);
    client->lend(client->rx_free, {0, 0});
    u32 slots[8];
    ASSERT_EQ(channel.take_rx_free(slots, 8).value(), 1u);
    // Slot 0 is the device's now: lending it again (to send from, the
    // other ring) is a double return.
    client->lend(client->tx_ready, {0, 60});
    net::TxFrame frames[8];
    EXPECT_EQ(channel.take_tx_ready(frames, 8).status(), Status::NotOwner);
    EXPECT_EQ(channel.holder(0), Holder::Rx);  // still the device's
    // After a close, the slots the client held are Free: a client that
    // keeps lending them (with a stale view) is refused on the next channel
    // until it is given them again.
    channel.close();
    EXPECT_EQ(channel.holder(1), Holder::Free);
    EXPECT_EQ(channel.holder(0), Holder::Rx);
    EXPECT_EQ(channel.take_rx_free(slots, 8).status(), Status::Stale);
}

TEST_F(NetProviderChannel, DeviceSlotsFromAnEarlierChannelReachTheNextClient) {
    client->drain(client->tx_done);
    client->lend(client->rx_free, {0, 0});
    client->lend(client->tx_ready, {kBytes, 60});
    u32 slots[8];
    net::TxFrame frames[8];
    ASSERT_EQ(channel.take_rx_free(slots, 8).value(), 1u);
    ASSERT_EQ(channel.take_tx_ready(frames, 8).value(), 1u);
    channel.close();
    // The send completes with nobody attached: Free.
    ASSERT_TRUE(channel.tx_complete(1, Status::Ok).ok());
    EXPECT_EQ(channel.holder(1), Holder::Free);
    // A new client gets every slot but the one the device still holds...
    auto fresh = std::make_unique<abi::NetRings>();
    ASSERT_TRUE(channel.open(fresh.get()).ok());
    channel.publish();
    Client second(*fresh);
    EXPECT_EQ(second.drain(second.tx_done).size(), kCount - 1);
    // ...and that one when the device fills it.
    ASSERT_TRUE(channel.rx_complete(0, 70).ok());
    channel.publish();
    auto used = second.drain(second.rx_used);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0].offset, 0u);
    EXPECT_EQ(channel.held_by(Holder::Client), kCount);
    EXPECT_EQ(channel.open(fresh.get()).status(), Status::Busy);
}

TEST_F(NetProviderChannel, IndicesMovedBackOrRunAheadAreMalformed) {
    client->drain(client->tx_done);
    rings->rx_free.indices.tail = abi::kNetRingEntries + 1;  // more than a ring's worth
    u32 slots[8];
    EXPECT_EQ(channel.take_rx_free(slots, 8).status(), Status::Malformed);
    EXPECT_STREQ(channel.refusal().ring, "rx_free");
    EXPECT_EQ(channel.refusal().offset, abi::kNetRingEntries + 1);
    // tx_ready likewise, and what was refused changes no holder.
    SetUp();
    client->drain(client->tx_done);
    rings->tx_ready.indices.tail = 0xffffffffu;  // "moved back" by one
    net::TxFrame frames[8];
    EXPECT_EQ(channel.take_tx_ready(frames, 8).status(), Status::Malformed);
    EXPECT_STREQ(channel.refusal().ring, "tx_ready");
    EXPECT_EQ(channel.held_by(Holder::Client), kCount);
}

TEST_F(NetProviderChannel, AClientThatNeverDrainsIsMalformedNotOverrun) {
    // The client takes the slots (copies) but never releases tx_done's
    // head, and lends the same slots again and again: the ring fills with
    // entries the client holds, and the provider refuses rather than
    // overwrite them.
    ring::Consumer<NetBuffer, abi::kNetRingEntries> sloppy(rings->tx_done.indices, rings->tx_done.slots);
    ASSERT_TRUE(sloppy.refresh().ok());
    Status last = Status::Ok;
    for (u32 round = 0; round < 64 && last == Status::Ok; round++) {
        NetBuffer d;
        while (sloppy.take(&d)) client->lend(client->tx_ready, {d.offset, 60});  // never released
        net::TxFrame frames[abi::kNetBufferCount];
        auto n = channel.take_tx_ready(frames, abi::kNetBufferCount);
        ASSERT_TRUE(n.ok());
        for (u32 i = 0; i < n.value() && last == Status::Ok; i++) {
            auto r = channel.tx_complete(frames[i].slot, Status::Ok);
            if (!r.ok()) last = r.status();
        }
        channel.publish();
        ASSERT_TRUE(sloppy.refresh().ok());
    }
    EXPECT_EQ(last, Status::Malformed);
    EXPECT_STREQ(channel.refusal().why, "ring not drained");
    // A head written past the tail the provider published is refused too.
    rings->tx_done.indices.head = rings->tx_done.indices.tail + 1;
    EXPECT_EQ(channel.tx_complete(frames_left_in_tx(channel), Status::Ok).status(), Status::Malformed);
    EXPECT_STREQ(channel.refusal().why, "index moved back or passed the tail");
}

TEST_F(NetProviderChannel, LinkChangesAreCountedInTheRings) {
    EXPECT_FALSE(channel.set_link(true));
    EXPECT_TRUE(channel.set_link(false));
    EXPECT_EQ(rings->link, 1u << abi::kNetLinkChangeShift);
    EXPECT_TRUE(channel.set_link(true));
    EXPECT_EQ(rings->link, (2u << abi::kNetLinkChangeShift) | abi::kNetLinkUp);
}

// Notify-needed words (NetRings::client_awake, provider_awake).
TEST_F(NetProviderChannel, TheClientIsSignalledOnlyWhenItSaysItSleeps) {
    // Fresh memory (no token): every publish is signalled.
    EXPECT_TRUE(channel.client_sleeping());
    EXPECT_TRUE(channel.client_sleeping());
    rings->client_awake = abi::kNetAwake;
    EXPECT_FALSE(channel.client_sleeping());
    // A sleep token: signalled once; told already while it sleeps on.
    rings->client_awake = 2;
    EXPECT_TRUE(channel.client_sleeping());
    EXPECT_FALSE(channel.client_sleeping());
    rings->client_awake = abi::kNetAwake;
    EXPECT_FALSE(channel.client_sleeping());
    rings->client_awake = 4;  // asleep again: a new token
    EXPECT_TRUE(channel.client_sleeping());
    EXPECT_FALSE(channel.client_sleeping());
    // A client that keeps one token misses its own signals; one that writes
    // 0 is signalled per publish, as it could kick itself anyway.
    rings->client_awake = 0;
    EXPECT_TRUE(channel.client_sleeping());
    EXPECT_TRUE(channel.client_sleeping());
}

TEST_F(NetProviderChannel, SleepTokensStartOverWithEveryChannel) {
    rings->client_awake = 2;
    EXPECT_TRUE(channel.client_sleeping());
    channel.close();
    auto fresh = std::make_unique<abi::NetRings>();
    ASSERT_TRUE(channel.open(fresh.get()).ok());
    fresh->client_awake = 2;  // the new client's first sleep: told, whatever the old one's was
    EXPECT_TRUE(channel.client_sleeping());
}

TEST_F(NetProviderChannel, TheProviderLooksAgainBeforeItSleeps) {
    client->drain(client->tx_done);  // every slot the client's
    rings->provider_awake = 7;       // the client writes the provider's word: overwritten, never read back
    EXPECT_FALSE(channel.about_to_sleep());
    u32 token = rings->provider_awake;
    EXPECT_TRUE(token >= 2 && token % 2 == 0);  // a sleep token: never 0 (none) or 1 (awake)
    channel.awake();
    EXPECT_EQ(rings->provider_awake, abi::kNetAwake);
    EXPECT_FALSE(channel.about_to_sleep());
    EXPECT_NE(rings->provider_awake, token);  // every sleep a new one
    // Published while the provider was awake (the client did not kick): the
    // look before sleeping sees it, in either ring.
    client->lend(client->rx_free, NetBuffer{0, 0});
    EXPECT_TRUE(channel.about_to_sleep());
    EXPECT_TRUE(channel.about_to_sleep());  // still there: looking takes nothing
    u32 slots[4];
    ASSERT_EQ(channel.take_rx_free(slots, 4).value(), 1u);
    EXPECT_FALSE(channel.about_to_sleep());
    client->lend(client->tx_ready, NetBuffer{kBytes, 60});
    EXPECT_TRUE(channel.about_to_sleep());
    net::TxFrame frames[4];
    ASSERT_EQ(channel.take_tx_ready(frames, 4).value(), 1u);
    EXPECT_FALSE(channel.about_to_sleep());
}

TEST_F(NetProviderChannel, ABrokenIndexKeepsTheProviderAwakeToRefuseIt) {
    rings->tx_ready.indices.tail = 1000;  // ran ahead of the ring
    EXPECT_TRUE(channel.about_to_sleep());
    net::TxFrame frames[4];
    EXPECT_EQ(channel.take_tx_ready(frames, 4).status(), Status::Malformed);
}

TEST(NetProviderChannelInit, GeometryIsChecked) {
    ProviderChannel c;
    EXPECT_EQ(c.init(kBytes, 0, kMaxFrame).status(), Status::InvalidArgument);
    EXPECT_EQ(c.init(kBytes, abi::kNetBufferCount + 1, kMaxFrame).status(), Status::InvalidArgument);
    EXPECT_EQ(c.init(1024, 4, kMaxFrame).status(), Status::InvalidArgument);
    EXPECT_EQ(c.init(kBytes, 4, 13).status(), Status::InvalidArgument);
    abi::NetRings r{};
    EXPECT_EQ(c.open(&r).status(), Status::Busy);  // not initialised
}

}  // namespace
