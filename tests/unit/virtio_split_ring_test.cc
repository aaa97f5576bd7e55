// virtio::SplitRing (lib/virtio/split_ring.h) against a fake device in host
// memory: chains written the way a device follows them (direct and
// indirect), the driver-side checks of what the device writes back (ids,
// lengths, index jumps), tokens handed back exactly once, and the
// EVENT_IDX notification and interrupt decisions.
#include <gtest/gtest.h>

#include "../support/fake_virtio_device.h"
#include "virtio/blk_layout.h"
#include "virtio/pci_layout.h"

namespace {

using virtio::Segment;
using virtio::SplitRing;
using virtio::UsedEntry;
using virtio::UsedVerdict;

struct Ring {
    fake_virtio::Device device;
    fake_virtio::Host host;
    SplitRing ring;
    explicit Ring(u16 size, bool event_idx = false, u16 indirect = 0) : device(size, event_idx, indirect) {
        EXPECT_TRUE(ring.init(size, device.memory, event_idx).ok());
    }
    void invariants() {
        const char* why = "";
        EXPECT_TRUE(ring.check_invariants(&why).ok()) << why;
    }
};

// A block-style request: a readable header, a writable data segment, a
// writable status byte.
std::vector<Segment> request(u32 token_base, u32 data_len = 4096) {
    return {Segment{0x1000, 16, false, token_base}, Segment{0x2000, data_len, true, token_base + 1},
            Segment{0x3000, 1, true, token_base + 2}};
}

TEST(VirtioSplitRing, InitRefusesImpossibleShapes) {
    fake_virtio::Device d(8);
    SplitRing r;
    EXPECT_EQ(r.init(0, d.memory, false).status(), Status::InvalidArgument);
    EXPECT_EQ(r.init(6, d.memory, false).status(), Status::InvalidArgument);    // not a power of two
    EXPECT_EQ(r.init(512, d.memory, false).status(), Status::InvalidArgument);  // above kMaxSize
    auto m = d.memory;
    m.used = nullptr;
    EXPECT_EQ(r.init(8, m, false).status(), Status::InvalidArgument);
    m = d.memory;
    m.indirect_per_head = 4;  // without its memory
    EXPECT_EQ(r.init(8, m, false).status(), Status::InvalidArgument);
}

TEST(VirtioSplitRing, DirectChainIsWhatTheDeviceFollows) {
    Ring r(8);
    auto segs = request(10);
    auto head = r.ring.add_chain(segs.data(), 3);
    ASSERT_TRUE(head.ok());
    EXPECT_EQ(r.ring.free_descriptors(), 5);
    EXPECT_TRUE(r.device.fetch().empty()) << "nothing is visible before publish()";
    EXPECT_TRUE(r.ring.publish());
    auto chains = r.device.fetch();
    ASSERT_EQ(chains.size(), 1u);
    EXPECT_EQ(chains[0].head, head.value());
    ASSERT_EQ(chains[0].segments.size(), 3u);
    EXPECT_EQ(chains[0].segments[0].address, 0x1000u);
    EXPECT_FALSE(chains[0].segments[0].device_writes);
    EXPECT_EQ(chains[0].segments[1].len, 4096u);
    EXPECT_TRUE(chains[0].segments[2].device_writes);
    EXPECT_EQ(r.device.broken, 0);
    r.invariants();

    r.device.post(head.value(), 4097);
    UsedEntry out[4];
    auto n = r.ring.take_used(out, 4, r.host);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(n.value(), 1u);
    EXPECT_EQ(out[0].verdict, UsedVerdict::Ok);
    EXPECT_EQ(out[0].id, head.value());
    EXPECT_EQ(out[0].len, 4097u);
    EXPECT_EQ(r.host.released, (std::map<u32, int>{{10, 1}, {11, 1}, {12, 1}}));
    EXPECT_EQ(r.ring.free_descriptors(), 8);
    for (const auto& d : r.device.table()) EXPECT_EQ(d.addr, 0u) << "freed descriptors are zeroed";
    r.invariants();
}

TEST(VirtioSplitRing, ChainsMustBeWellFormed) {
    Ring r(8);
    std::vector<Segment> bad = {Segment{0x1000, 16, true, 1}, Segment{0x2000, 16, false, 2}};
    EXPECT_EQ(r.ring.add_chain(bad.data(), 2).status(), Status::InvalidArgument);  // readable after writable
    Segment zero{0x1000, 0, false, 1};
    EXPECT_EQ(r.ring.add_chain(&zero, 1).status(), Status::InvalidArgument);
    Segment no_token{0x1000, 16, false, 0};
    EXPECT_EQ(r.ring.add_chain(&no_token, 1).status(), Status::InvalidArgument);
    EXPECT_EQ(r.ring.add_chain(nullptr, 0).status(), Status::InvalidArgument);
    EXPECT_EQ(r.ring.free_descriptors(), 8);
    r.invariants();
}

TEST(VirtioSplitRing, FullTableIsBusyAndNothingIsWritten) {
    Ring r(4);
    auto a = request(1);
    ASSERT_TRUE(r.ring.add_chain(a.data(), 3).ok());
    auto b = request(4);
    EXPECT_EQ(r.ring.add_chain(b.data(), 3).status(), Status::Busy);
    EXPECT_EQ(r.ring.free_descriptors(), 1);
    Segment one{0x5000, 8, false, 9};
    EXPECT_TRUE(r.ring.add_chain(&one, 1).ok());
    EXPECT_EQ(r.ring.chains_outstanding(), 2);
    r.invariants();
}

TEST(VirtioSplitRing, IndirectChainTakesOneTableDescriptor) {
    Ring r(4, false, 8);
    EXPECT_EQ(r.ring.max_segments(), 8);
    std::vector<Segment> segs;
    for (u32 i = 0; i < 8; i++) segs.push_back(Segment{0x10000 + i * 0x1000, 512, i > 0, 100 + i});
    auto head = r.ring.add_chain(segs.data(), 8);
    ASSERT_TRUE(head.ok());
    EXPECT_EQ(r.ring.free_descriptors(), 3);
    r.ring.publish();
    auto chains = r.device.fetch();
    ASSERT_EQ(chains.size(), 1u);
    ASSERT_EQ(chains[0].segments.size(), 8u);
    EXPECT_EQ(chains[0].segments[7].address, 0x17000u);
    EXPECT_EQ(chains[0].writable(), 7u * 512);
    EXPECT_EQ(r.device.broken, 0);
    std::vector<Segment> nine(9, Segment{0x1000, 1, false, 1});
    EXPECT_EQ(r.ring.add_chain(nine.data(), 9).status(), Status::Busy);  // longer than a table
    r.invariants();

    r.device.post(head.value(), 7 * 512);
    UsedEntry out[1];
    ASSERT_EQ(r.ring.take_used(out, 1, r.host).value(), 1u);
    EXPECT_EQ(out[0].verdict, UsedVerdict::Ok);
    EXPECT_EQ(r.host.released.size(), 8u);
    EXPECT_EQ(r.ring.free_descriptors(), 4);
    r.invariants();
}

TEST(VirtioSplitRing, IdsTheDeviceWasNotGivenAreReportedAndIgnored) {
    Ring r(8);
    auto segs = request(1);
    u16 head = r.ring.add_chain(segs.data(), 3).value();
    r.ring.publish();
    r.device.fetch();
    r.device.post(9, 0);                           // out of range
    r.device.post(static_cast<u16>(head + 1), 0);  // inside the chain, not its head
    r.device.post(head, 100);                      // the real one
    r.device.post(head, 100);                      // the same chain twice
    UsedEntry out[8];
    auto n = r.ring.take_used(out, 8, r.host);
    ASSERT_EQ(n.value(), 4u);
    EXPECT_EQ(out[0].verdict, UsedVerdict::OutOfRange);
    EXPECT_EQ(out[0].id, 9u);
    EXPECT_EQ(out[1].verdict, UsedVerdict::NotGiven);
    EXPECT_EQ(out[2].verdict, UsedVerdict::Ok);
    EXPECT_EQ(out[3].verdict, UsedVerdict::NotGiven);
    EXPECT_EQ(r.host.bad.size(), 3u) << "every ignored id is reported";
    for (auto& [token, times] : r.host.released) EXPECT_EQ(times, 1) << "token " << token;
    r.invariants();
}

TEST(VirtioSplitRing, LengthBeyondTheWritableBytesIsNotBelieved) {
    Ring r(8);
    auto segs = request(1, 512);  // 513 writable bytes
    u16 head = r.ring.add_chain(segs.data(), 3).value();
    r.ring.publish();
    r.device.post(head, 514);
    UsedEntry out[1];
    ASSERT_EQ(r.ring.take_used(out, 1, r.host).value(), 1u);
    EXPECT_EQ(out[0].verdict, UsedVerdict::LenTooLong);
    EXPECT_EQ(out[0].len, 0u);
    EXPECT_EQ(r.host.bad.size(), 1u);
    // Caught lying about the chain, the device is not believed to be done
    // with it either: nothing of it is handed back ...
    EXPECT_TRUE(r.host.released.empty()) << "a lie must not release memory the device may still write";
    EXPECT_EQ(r.ring.chains_outstanding(), 1);
    EXPECT_EQ(r.ring.free_descriptors(), 5);
    EXPECT_FALSE(r.ring.device_holds(head));
    r.invariants();
    // ... and it is no longer the device's to return: the same id again
    // (now with a believable length) is ignored.
    r.device.post(head, 1);
    ASSERT_EQ(r.ring.take_used(out, 1, r.host).value(), 1u);
    EXPECT_EQ(out[0].verdict, UsedVerdict::NotGiven);
    EXPECT_TRUE(r.host.released.empty());
    // Only a confirmed reset gives its buffers back, each once.
    r.ring.release_all(r.host);
    EXPECT_EQ(r.host.released.size(), 3u);
    for (auto& [token, times] : r.host.released) EXPECT_EQ(times, 1) << "token " << token;
    EXPECT_EQ(r.ring.chains_outstanding(), 0);
    r.invariants();
}

TEST(VirtioSplitRing, AnIndexJumpTakesNothing) {
    Ring r(8);
    auto segs = request(1);
    r.ring.add_chain(segs.data(), 3).value();
    r.ring.publish();
    r.device.set_used_idx(9);  // more than a ring's worth
    UsedEntry out[8];
    EXPECT_EQ(r.ring.take_used(out, 8, r.host).status(), Status::Malformed);
    EXPECT_TRUE(r.host.released.empty());
    EXPECT_EQ(r.ring.chains_outstanding(), 1);
    r.device.set_used_idx(0xffff);  // backwards
    EXPECT_EQ(r.ring.take_used(out, 8, r.host).status(), Status::Malformed);
    r.invariants();
}

TEST(VirtioSplitRing, TakeUsedStopsAtMax) {
    Ring r(8);
    u16 heads[3];
    for (u32 i = 0; i < 3; i++) {
        Segment s{0x1000, 8, true, 1 + i};
        heads[i] = r.ring.add_chain(&s, 1).value();
    }
    r.ring.publish();
    for (u16 h : heads) r.device.post(h, 8);
    UsedEntry out[2];
    EXPECT_EQ(r.ring.take_used(out, 2, r.host).value(), 2u);
    EXPECT_TRUE(r.ring.used_pending());
    EXPECT_EQ(r.ring.take_used(out, 2, r.host).value(), 1u);
    EXPECT_FALSE(r.ring.used_pending());
    r.invariants();
}

TEST(VirtioSplitRing, WithoutEventIdxTheNoNotifyFlagDecides) {
    Ring r(8);
    Segment s{0x1000, 8, false, 1};
    EXPECT_FALSE(r.ring.publish()) << "nothing added: no notification";
    r.ring.add_chain(&s, 1).value();
    EXPECT_TRUE(r.ring.publish());
    r.device.set_used_flags(virtio::kUsedNoNotify);
    s.token = 2;
    r.ring.add_chain(&s, 1).value();
    EXPECT_FALSE(r.ring.publish());
}

TEST(VirtioSplitRing, EventIdxNotifiesOncePerCrossingOfAvailEvent) {
    Ring r(16, true);
    // The device asked to hear when avail idx passes 0 (its initial state).
    Segment s{0x1000, 8, false, 1};
    r.ring.add_chain(&s, 1).value();
    EXPECT_TRUE(r.ring.publish());
    // It has not fetched yet (avail_event still 0): a second batch does not
    // notify again, the device will find it when it gets to the ring.
    s.token = 2;
    r.ring.add_chain(&s, 1).value();
    EXPECT_FALSE(r.ring.publish());
    r.device.fetch();  // sets avail_event to 2: notify me when idx passes 2
    s.token = 3;
    r.ring.add_chain(&s, 1).value();
    s.token = 4;
    r.ring.add_chain(&s, 1).value();
    EXPECT_TRUE(r.ring.publish()) << "one notification for a batch of two";
}

TEST(VirtioSplitRing, EventIdxAsksForTheInterruptAfterWhatWasTaken) {
    Ring r(16, true);
    u16 heads[3];
    for (u32 i = 0; i < 3; i++) {
        Segment s{0x1000, 8, true, 1 + i};
        heads[i] = r.ring.add_chain(&s, 1).value();
    }
    r.ring.publish();
    r.device.fetch();
    EXPECT_TRUE(r.device.would_interrupt(0, 1)) << "used_event 0: the first entry interrupts";
    r.device.post(heads[0], 8);
    UsedEntry out[4];
    ASSERT_EQ(r.ring.take_used(out, 4, r.host).value(), 1u);
    EXPECT_EQ(r.device.used_event(), 1);
    r.device.post(heads[1], 8);
    EXPECT_TRUE(r.device.would_interrupt(1, 2));
    r.device.post(heads[2], 8);
    EXPECT_FALSE(r.device.would_interrupt(2, 3)) << "the driver has not looked since entry 1: no second interrupt";
}

TEST(VirtioSplitRing, ReleaseAllHandsBackEveryTokenOnce) {
    Ring r(8, false, 4);
    auto a = request(1);
    auto b = request(10);
    r.ring.add_chain(a.data(), 3).value();
    Segment s{0x1000, 8, false, 20};
    r.ring.add_chain(&s, 1).value();
    r.ring.add_chain(b.data(), 3).value();
    r.ring.publish();
    r.ring.release_all(r.host);
    EXPECT_EQ(r.host.released.size(), 7u);
    for (auto& [token, times] : r.host.released) EXPECT_EQ(times, 1) << "token " << token;
    EXPECT_EQ(r.ring.free_descriptors(), 8);
    EXPECT_EQ(r.ring.chains_outstanding(), 0);
    r.invariants();
}

TEST(VirtioSplitRing, WrapsTheSixteenBitIndexes) {
    Ring r(2);
    UsedEntry out[2];
    for (u32 i = 0; i < 70000; i++) {
        Segment s{0x1000, 8, true, 1};
        u16 head = r.ring.add_chain(&s, 1).value();
        r.ring.publish();
        r.device.fetch();
        r.device.post(head, 8);
        ASSERT_EQ(r.ring.take_used(out, 2, r.host).value(), 1u) << "at " << i;
        ASSERT_EQ(out[0].verdict, UsedVerdict::Ok);
    }
    EXPECT_EQ(r.host.released[1], 70000);
    r.invariants();
}

// The layouts' offsets are static_asserts in their headers; what is left to
// check is the arithmetic the ring relies on.
TEST(VirtioLayout, RingPartsAndIdsFollowTheSpec) {
    EXPECT_EQ(virtio::descriptor_table_bytes(256), 4096u);
    EXPECT_EQ(virtio::available_ring_bytes(256), 518u);  // §2.6: 6 + 2 * size (with used_event)
    EXPECT_EQ(virtio::used_ring_bytes(256), 2054u);      // §2.6: 6 + 8 * size (with avail_event)
    EXPECT_EQ(virtio::used_event_offset(8), 20u);
    EXPECT_EQ(virtio::avail_event_offset(8), 68u);
    EXPECT_EQ(virtio::modern_device_id(virtio::DeviceType::Block), 0x1042);
    EXPECT_EQ(virtio::modern_device_id(virtio::DeviceType::Net), 0x1041);
    // need_event across the 16-bit wrap: idx moved 65534 -> 2, event 65535 crossed.
    EXPECT_TRUE(virtio::need_event(65535, 2, 65534));
    EXPECT_FALSE(virtio::need_event(3, 2, 65534));
}

}  // namespace

// A batch refused part-way: the chains added since the last publish() come
// back (tokens and descriptors), by the ring's own record of the heads —
// not by the available ring, which is device-visible memory.
TEST(VirtioSplitRing, AbandonTakesBackWhatWasNotPublished) {
    Ring r(8);
    Segment kept{0x1000, 16, false, 1};
    auto first = r.ring.add_chain(&kept, 1);
    ASSERT_TRUE(first.ok());
    r.ring.publish();
    auto segs = request(10);
    ASSERT_TRUE(r.ring.add_chain(segs.data(), 3).ok());
    Segment more{0x4000, 8, true, 20};
    ASSERT_TRUE(r.ring.add_chain(&more, 1).ok());
    EXPECT_EQ(r.ring.free_descriptors(), 3);
    // A device scribbles over the unpublished slots: abandon must not care.
    for (u16 i = 0; i < 8; i++) r.device.memory.avail[2 + i] = 7;
    r.ring.abandon(r.host);
    EXPECT_EQ(r.ring.free_descriptors(), 7);
    EXPECT_EQ(r.ring.chains_outstanding(), 1);
    EXPECT_EQ(r.host.released, (std::map<u32, int>{{10, 1}, {11, 1}, {12, 1}, {20, 1}}));
    r.invariants();
    EXPECT_FALSE(r.ring.publish()) << "nothing left to publish";
    // The published chain is untouched and still comes back.
    r.device.post(first.value(), 0);
    UsedEntry out[2];
    ASSERT_EQ(r.ring.take_used(out, 2, r.host).value(), 1u);
    EXPECT_EQ(out[0].verdict, UsedVerdict::Ok);
    r.invariants();
}

// With EVENT_IDX a device decides to interrupt by the used_event it sees
// when it posts. An entry posted while take_used() is running (after it
// read the index, before it moved used_event) raises no interrupt: the
// ring must look again after moving used_event, or that entry waits for
// an interrupt that never comes.
TEST(VirtioSplitRing, EventIdxTakeLooksAgainAfterMovingUsedEvent) {
    struct PostingHost {
        fake_virtio::Host inner;
        fake_virtio::Device* device;
        u16 late_head;
        bool posted = false;
        void unhold(u32 token) {
            inner.unhold(token);
            if (!posted) {  // the device, meanwhile, completes another chain
                posted = true;
                device->post(late_head, 8);
            }
        }
        void bad_used(const UsedEntry& e) { inner.bad_used(e); }
    };
    Ring r(16, true);
    Segment a{0x1000, 8, true, 1}, b{0x2000, 8, true, 2};
    u16 first = r.ring.add_chain(&a, 1).value();
    u16 second = r.ring.add_chain(&b, 1).value();
    r.ring.publish();
    r.device.fetch();
    r.device.post(first, 8);
    PostingHost host{{}, &r.device, second};
    UsedEntry out[4];
    ASSERT_EQ(r.ring.take_used(out, 4, host).value(), 2u) << "the late entry is taken too";
    EXPECT_EQ(r.device.used_event(), 2);
    EXPECT_FALSE(r.ring.used_pending());
    r.invariants();
}

// A 1 MiB request in 4 KiB pieces with a header and a status byte: one
// table descriptor, one indirect table of 258 entries the device follows.
TEST(VirtioSplitRing, LongChainThroughOneIndirectTable) {
    Ring r(4, false, 258);
    std::vector<Segment> segs{Segment{0x1000, 16, false, 1}};
    for (u32 i = 0; i < 256; i++) segs.push_back(Segment{0x100000 + u64{i} * 0x1000, 4096, false, 2 + i});
    segs.push_back(Segment{0x2000, 1, true, 300});
    auto head = r.ring.add_chain(segs.data(), static_cast<u32>(segs.size()));
    ASSERT_TRUE(head.ok());
    EXPECT_EQ(r.ring.free_descriptors(), 3);
    r.ring.publish();
    auto chains = r.device.fetch();
    ASSERT_EQ(chains.size(), 1u);
    ASSERT_EQ(chains[0].segments.size(), 258u);
    EXPECT_EQ(chains[0].segments[256].address, 0x100000u + 255 * 0x1000);
    EXPECT_EQ(chains[0].writable(), 1u);
    EXPECT_EQ(r.device.broken, 0);
    r.device.post(head.value(), 1);
    UsedEntry out[1];
    ASSERT_EQ(r.ring.take_used(out, 1, r.host).value(), 1u);
    EXPECT_EQ(r.host.released.size(), 258u);
    r.invariants();
}
