// Unit tests for lib/dma/ledger: the per-device DMA ledger.
//
// Every test records what the ledger gives back through a Recorder and
// asserts the exact (address, bytes) ranges, so "given back twice", "given
// back while the device may still write it" and "never given back" all show
// up as concrete differences. The rule under test is the ledger's: nothing
// is returned that a device can still write.
#include <gtest/gtest.h>

#include <ostream>
#include <utility>
#include <vector>

#include "dma/ledger.h"
#include "util/page.h"

static void PrintTo(Status s, std::ostream* os) { *os << status_name(s); }

namespace dma {
static void PrintTo(LedgerState s, std::ostream* os) {
    *os << (s == LedgerState::Active     ? "active"
            : s == LedgerState::Stopping ? "stopping"
            : s == LedgerState::Quiesced ? "quiesced"
                                         : "quarantined");
}
}  // namespace dma

namespace {

using namespace dma;

using Range = std::pair<u64, u64>;  // (address, bytes) as given back

constexpr u64 kTop = ~u64{0};  // 2^64 - 1
constexpr u32 kPoolA = 7;
constexpr u32 kPoolB = 9;

struct Recorder {
    std::vector<Range> given;
    std::vector<u64> device_addresses;  // what give_back was told the device knew each range as
    static void give_back(void* ctx, u64 address, u64 bytes, u64 device_address) {
        static_cast<Recorder*>(ctx)->given.push_back({address, bytes});
        static_cast<Recorder*>(ctx)->device_addresses.push_back(device_address);
    }
};

class DmaLedger : public ::testing::Test {
protected:
    // Adds a range and returns its id; fails the test on error.
    u32 add(u64 address, u64 bytes, u32 owner = kPoolA, Use use = Use::Buffer) {
        Result<u32> r = ledger.add(address, bytes, owner, use);
        EXPECT_EQ(r.status(), Status::Ok) << "add " << std::hex << address << "+" << bytes;
        return r.ok() ? r.value() : 0;
    }
    Result<bool> release(u32 id) { return ledger.release(id, &Recorder::give_back, &rec); }
    Result<bool> unhold(u32 id) { return ledger.unhold(id, &Recorder::give_back, &rec); }
    u32 quiesce() { return ledger.quiesce(&Recorder::give_back, &rec); }

    // Asserts ok and the returned bool.
    static void expect_value(const Result<bool>& r, bool want) {
        ASSERT_EQ(r.status(), Status::Ok);
        EXPECT_EQ(r.value(), want);
    }

    Ledger ledger;
    Recorder rec;
};

// The remapped lane: a range the device knows by an IOVA. The ledger keeps
// it with the range and hands it back with the frames (the kernel unmaps
// the IOVA before it frees them); by default it is the address itself.
TEST_F(DmaLedger, DeviceAddressIsKeptAndGivenBack) {
    auto remapped = ledger.add(0x200000, 0x2000, kPoolA, Use::Buffer, 0x1'0000'4000);
    ASSERT_TRUE(remapped.ok());
    u32 same = add(0x300000, 0x1000);
    EXPECT_EQ(ledger.find(remapped.value())->device_address, 0x1'0000'4000u);
    EXPECT_EQ(ledger.find(same)->device_address, 0x300000u);
    // covers() answers for host addresses, never for device addresses
    EXPECT_TRUE(ledger.covers(0x200000, 0x2000));
    EXPECT_FALSE(ledger.covers(0x1'0000'4000, 1));
    expect_value(release(remapped.value()), true);
    expect_value(release(same), true);
    ASSERT_EQ(rec.device_addresses.size(), 2u);
    EXPECT_EQ(rec.device_addresses[0], 0x1'0000'4000u);
    EXPECT_EQ(rec.device_addresses[1], 0x300000u);
}

TEST_F(DmaLedger, AddRecordsTheRangeUnderADistinctNonZeroId) {
    const u32 a = add(0x10000, 2 * kPage, kPoolA, Use::Buffer);
    const u32 b = add(0x20000, kPage, kPoolB, Use::Queue);
    EXPECT_NE(a, 0u);
    EXPECT_NE(b, 0u);
    EXPECT_NE(a, b);
    EXPECT_EQ(ledger.live(), 2u);
    EXPECT_EQ(ledger.state(), LedgerState::Active);

    const Ledger::Entry* e = ledger.find(b);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->address, 0x20000u);
    EXPECT_EQ(e->bytes, kPage);
    EXPECT_EQ(e->owner, kPoolB);
    EXPECT_EQ(e->use, Use::Queue);
    EXPECT_EQ(e->in_flight, 0u);
    EXPECT_TRUE(e->live);
    EXPECT_FALSE(e->released);
    ASSERT_NE(ledger.find(a), nullptr);
    EXPECT_EQ(ledger.find(a)->address, 0x10000u);
    EXPECT_EQ(ledger.find(0), nullptr);
}

TEST_F(DmaLedger, ReleaseWithoutHoldsGivesBackAtOnce) {
    const u32 keep = add(0x10000, kPage);
    const u32 id = add(0x40000, 3 * kPage);
    expect_value(release(id), true);
    EXPECT_EQ(rec.given, (std::vector<Range>{{0x40000, 3 * kPage}}));
    EXPECT_EQ(ledger.live(), 1u);
    EXPECT_EQ(ledger.find(id), nullptr);
    EXPECT_NE(ledger.find(keep), nullptr);
    EXPECT_EQ(ledger.deferred(), 0u);
}

TEST_F(DmaLedger, ReleaseAcceptsANullCallback) {
    const u32 id = add(0x40000, kPage);
    Result<bool> r = ledger.release(id, nullptr, nullptr);
    ASSERT_EQ(r.status(), Status::Ok);
    EXPECT_TRUE(r.value());
    EXPECT_EQ(ledger.live(), 0u);
}

TEST_F(DmaLedger, ReleaseWhileHeldIsDeferredUntilTheLastUnhold) {
    const u32 id = add(0x80000, 2 * kPage);
    ASSERT_EQ(ledger.hold(id).status(), Status::Ok);
    ASSERT_EQ(ledger.hold(id).status(), Status::Ok);
    EXPECT_EQ(ledger.find(id)->in_flight, 2u);

    expect_value(release(id), false);
    EXPECT_TRUE(rec.given.empty());
    EXPECT_EQ(ledger.deferred(), 1u);
    EXPECT_EQ(ledger.live(), 1u);
    ASSERT_NE(ledger.find(id), nullptr);
    EXPECT_TRUE(ledger.find(id)->released);

    expect_value(unhold(id), false);  // one hold still outstanding
    EXPECT_TRUE(rec.given.empty());
    EXPECT_EQ(ledger.deferred(), 1u);

    expect_value(unhold(id), true);  // the last one
    EXPECT_EQ(rec.given, (std::vector<Range>{{0x80000, 2 * kPage}}));
    EXPECT_EQ(ledger.deferred(), 0u);
    EXPECT_EQ(ledger.live(), 0u);
    EXPECT_EQ(ledger.find(id), nullptr);
}

TEST_F(DmaLedger, UnholdOfAnUnreleasedRangeGivesNothingBack) {
    const u32 id = add(0x80000, kPage);
    ASSERT_EQ(ledger.hold(id).status(), Status::Ok);
    expect_value(unhold(id), false);
    EXPECT_TRUE(rec.given.empty());
    EXPECT_EQ(ledger.live(), 1u);
    EXPECT_EQ(ledger.find(id)->in_flight, 0u);
    // Not held any more: release now gives back at once.
    expect_value(release(id), true);
    EXPECT_EQ(rec.given, (std::vector<Range>{{0x80000, kPage}}));
}

TEST_F(DmaLedger, DoubleReleaseOfADeferredRangeIsBusy) {
    const u32 id = add(0x80000, kPage);
    ASSERT_EQ(ledger.hold(id).status(), Status::Ok);
    expect_value(release(id), false);
    EXPECT_EQ(release(id).status(), Status::Busy);
    EXPECT_TRUE(rec.given.empty());
    EXPECT_EQ(ledger.deferred(), 1u);
    // The second release did not disturb the deferral: one unhold returns it once.
    expect_value(unhold(id), true);
    EXPECT_EQ(rec.given, (std::vector<Range>{{0x80000, kPage}}));
}

TEST_F(DmaLedger, ReleaseOfARangeAlreadyGivenBackIsNotFound) {
    const u32 id = add(0x80000, kPage);
    expect_value(release(id), true);
    EXPECT_EQ(release(id).status(), Status::NotFound);
    EXPECT_EQ(rec.given.size(), 1u);
}

TEST_F(DmaLedger, HoldAfterReleaseIsBusy) {
    const u32 id = add(0x80000, kPage);
    ASSERT_EQ(ledger.hold(id).status(), Status::Ok);
    expect_value(release(id), false);
    EXPECT_EQ(ledger.hold(id).status(), Status::Busy);
    EXPECT_EQ(ledger.find(id)->in_flight, 1u);  // the refused hold was not counted
    expect_value(unhold(id), true);             // so one unhold is the last
    EXPECT_EQ(rec.given.size(), 1u);
    // Once given back the id names nothing.
    EXPECT_EQ(ledger.hold(id).status(), Status::NotFound);
}

TEST_F(DmaLedger, UnholdOfARangeNotHeldIsInvalidArgument) {
    const u32 id = add(0x80000, kPage);
    EXPECT_EQ(unhold(id).status(), Status::InvalidArgument);
    ASSERT_EQ(ledger.hold(id).status(), Status::Ok);
    expect_value(unhold(id), false);
    EXPECT_EQ(unhold(id).status(), Status::InvalidArgument);  // more unholds than holds
    EXPECT_EQ(ledger.find(id)->in_flight, 0u);
    EXPECT_TRUE(rec.given.empty());
}

TEST_F(DmaLedger, UnknownIdsAreNotFound) {
    add(0x80000, kPage);
    for (u32 id : {0u, 1u, 0x100u | 5u, 0xFFFFFFFFu, 0x200u}) {
        EXPECT_EQ(ledger.hold(id).status(), Status::NotFound) << id;
        EXPECT_EQ(unhold(id).status(), Status::NotFound) << id;
        EXPECT_EQ(release(id).status(), Status::NotFound) << id;
        EXPECT_EQ(ledger.find(id), nullptr) << id;
    }
    EXPECT_TRUE(rec.given.empty());
    EXPECT_EQ(ledger.live(), 1u);
}

TEST_F(DmaLedger, StaleIdAfterSlotReuseIsNotFound) {
    const u32 old_id = add(0x80000, kPage);
    expect_value(release(old_id), true);
    const u32 new_id = add(0x90000, 2 * kPage);
    // Same slot (the lowest free one), new generation.
    EXPECT_EQ(new_id & (Ledger::kCapacity - 1), old_id & (Ledger::kCapacity - 1));
    EXPECT_NE(new_id, old_id);

    EXPECT_EQ(ledger.find(old_id), nullptr);
    EXPECT_EQ(ledger.hold(old_id).status(), Status::NotFound);
    EXPECT_EQ(unhold(old_id).status(), Status::NotFound);
    EXPECT_EQ(release(old_id).status(), Status::NotFound);
    // The stale calls touched nothing of the new range.
    ASSERT_NE(ledger.find(new_id), nullptr);
    EXPECT_EQ(ledger.find(new_id)->address, 0x90000u);
    EXPECT_EQ(ledger.find(new_id)->in_flight, 0u);
    EXPECT_FALSE(ledger.find(new_id)->released);
    EXPECT_EQ(rec.given, (std::vector<Range>{{0x80000, kPage}}));

    ASSERT_EQ(ledger.hold(new_id).status(), Status::Ok);
    EXPECT_EQ(ledger.find(new_id)->in_flight, 1u);
}

TEST_F(DmaLedger, StaleIdCannotUnholdTheRangeReusingItsSlot) {
    // A completion arriving late for a range that has since been given back
    // and whose slot was reused must not drop the new range's hold.
    const u32 old_id = add(0x80000, kPage);
    ASSERT_EQ(ledger.hold(old_id).status(), Status::Ok);
    expect_value(release(old_id), false);
    expect_value(unhold(old_id), true);
    const u32 new_id = add(0x90000, kPage);
    ASSERT_EQ(ledger.hold(new_id).status(), Status::Ok);
    expect_value(release(new_id), false);

    EXPECT_EQ(unhold(old_id).status(), Status::NotFound);
    EXPECT_EQ(ledger.find(new_id)->in_flight, 1u);
    EXPECT_EQ(rec.given, (std::vector<Range>{{0x80000, kPage}}));
}

TEST_F(DmaLedger, GenerationWrapsWithoutEverIssuingIdZero) {
    // Slot 0 is reused 2^24 times: the 24-bit generation wraps to 1 (never
    // 0), so no id is ever 0 and ids stay distinct across the whole cycle
    // except for the unavoidable wrap itself.
    const u32 first = add(kPage, kPage);
    EXPECT_EQ(first, 1u << 8);  // generation 1, slot 0
    expect_value(release(first), true);
    u32 id = first;
    for (u32 i = 1; i < (1u << 24) - 1; i++) {
        Result<u32> r = ledger.add(kPage, kPage, kPoolA, Use::Buffer);
        ASSERT_TRUE(r.ok());
        id = r.value();
        ASSERT_NE(id, 0u);
        ASSERT_TRUE(ledger.release(id, nullptr, nullptr).ok());
    }
    EXPECT_EQ(id, 0xFFFFFFu << 8);  // the last generation
    const u32 wrapped = add(kPage, kPage);
    EXPECT_EQ(wrapped, 1u << 8);  // 0 skipped
    EXPECT_EQ(ledger.find(id), nullptr);
    EXPECT_NE(ledger.find(wrapped), nullptr);
}

TEST_F(DmaLedger, FullLedgerIsNoMemoryAndRecoversAfterARelease) {
    std::vector<u32> ids;
    for (u32 i = 0; i < Ledger::kCapacity; i++) ids.push_back(add(u64{i + 1} * 0x10000, kPage));
    EXPECT_EQ(ledger.live(), Ledger::kCapacity);
    Result<u32> full = ledger.add(0xF000000, kPage, kPoolA, Use::Buffer);
    EXPECT_EQ(full.status(), Status::NoMemory);
    EXPECT_EQ(ledger.live(), Ledger::kCapacity);

    expect_value(release(ids[100]), true);
    EXPECT_EQ(ledger.live(), Ledger::kCapacity - 1);
    Result<u32> again = ledger.add(0xF000000, kPage, kPoolA, Use::Buffer);
    ASSERT_EQ(again.status(), Status::Ok);
    EXPECT_EQ(again.value() & (Ledger::kCapacity - 1), 100u);  // the freed slot
    EXPECT_NE(again.value(), ids[100]);
    EXPECT_EQ(ledger.find(again.value())->address, 0xF000000u);
    EXPECT_EQ(ledger.add(0xF100000, kPage, kPoolA, Use::Buffer).status(), Status::NoMemory);
    // Every other id is intact.
    for (u32 i = 0; i < Ledger::kCapacity; i++) {
        if (i == 100) continue;
        ASSERT_NE(ledger.find(ids[i]), nullptr) << i;
        EXPECT_EQ(ledger.find(ids[i])->address, u64{i + 1} * 0x10000) << i;
    }
}

TEST_F(DmaLedger, DeferredRangeKeepsItsSlotUntilGivenBack) {
    std::vector<u32> ids;
    for (u32 i = 0; i < Ledger::kCapacity; i++) ids.push_back(add(u64{i + 1} * 0x10000, kPage));
    ASSERT_EQ(ledger.hold(ids[3]).status(), Status::Ok);
    expect_value(release(ids[3]), false);
    EXPECT_EQ(ledger.add(0xF000000, kPage, kPoolA, Use::Buffer).status(), Status::NoMemory);
    expect_value(unhold(ids[3]), true);
    Result<u32> r = ledger.add(0xF000000, kPage, kPoolA, Use::Buffer);
    ASSERT_EQ(r.status(), Status::Ok);
    EXPECT_EQ(r.value() & (Ledger::kCapacity - 1), 3u);
}

TEST_F(DmaLedger, QuiesceGivesBackEveryReleasedRangeExactlyOnce) {
    const u32 deferred1 = add(0x100000, kPage);      // held twice, released
    const u32 deferred2 = add(0x200000, 2 * kPage);  // held, released
    const u32 held = add(0x300000, 4 * kPage);       // held, not released
    const u32 idle = add(0x400000, 8 * kPage);       // never held
    ASSERT_EQ(ledger.hold(deferred1).status(), Status::Ok);
    ASSERT_EQ(ledger.hold(deferred1).status(), Status::Ok);
    ASSERT_EQ(ledger.hold(deferred2).status(), Status::Ok);
    ASSERT_EQ(ledger.hold(held).status(), Status::Ok);
    expect_value(release(deferred1), false);
    expect_value(release(deferred2), false);
    ASSERT_TRUE(rec.given.empty());
    EXPECT_EQ(ledger.deferred(), 2u);

    EXPECT_EQ(quiesce(), 2u);
    EXPECT_EQ(ledger.state(), LedgerState::Quiesced);
    EXPECT_EQ(rec.given, (std::vector<Range>{{0x100000, kPage}, {0x200000, 2 * kPage}}));
    EXPECT_EQ(ledger.live(), 2u);
    EXPECT_EQ(ledger.deferred(), 0u);
    EXPECT_EQ(ledger.held_bytes(), 0u);  // every hold dropped
    EXPECT_EQ(ledger.find(deferred1), nullptr);
    EXPECT_EQ(ledger.find(deferred2), nullptr);

    // A second quiesce finds nothing more.
    EXPECT_EQ(quiesce(), 0u);
    EXPECT_EQ(rec.given.size(), 2u);

    // Later releases give back at once, even the range that was held.
    expect_value(release(held), true);
    expect_value(release(idle), true);
    EXPECT_EQ(rec.given, (std::vector<Range>{
                             {0x100000, kPage}, {0x200000, 2 * kPage}, {0x300000, 4 * kPage}, {0x400000, 8 * kPage}}));
    EXPECT_EQ(ledger.live(), 0u);
    EXPECT_EQ(quiesce(), 0u);
    EXPECT_EQ(rec.given.size(), 4u);
}

// A slow reset: the device was told to stop and has not confirmed it. Not
// even a range nobody holds comes back until it has — the device might
// still write anything it was ever told about.
TEST_F(DmaLedger, StoppingDefersEveryReleaseUntilTheDeviceConfirms) {
    const u32 idle = add(0x100000, kPage);      // never held
    const u32 held = add(0x200000, 2 * kPage);  // held, its work still out
    ASSERT_EQ(ledger.hold(held).status(), Status::Ok);
    ledger.stop();
    EXPECT_EQ(ledger.state(), LedgerState::Stopping);
    expect_value(release(idle), false);
    expect_value(release(held), false);
    expect_value(unhold(held), false);  // its last hold: still nothing back
    EXPECT_TRUE(rec.given.empty());
    EXPECT_EQ(ledger.hold(held).status(), Status::TornDown);
    EXPECT_EQ(ledger.add(0x300000, kPage, kPoolA, Use::Buffer).status(), Status::TornDown);
    EXPECT_EQ(ledger.deferred(), 2u);
    // Confirmed: both come back, once.
    EXPECT_EQ(quiesce(), 2u);
    EXPECT_EQ(rec.given, (std::vector<Range>{{0x100000, kPage}, {0x200000, 2 * kPage}}));
}

TEST_F(DmaLedger, StoppingThenQuarantineGivesNothingBack) {
    const u32 idle = add(0x100000, kPage);
    ledger.stop();
    expect_value(release(idle), false);
    EXPECT_EQ(ledger.quarantine(), kPage);
    EXPECT_EQ(ledger.state(), LedgerState::Quarantined);
    EXPECT_EQ(quiesce(), 0u);
    EXPECT_TRUE(rec.given.empty());
}

TEST_F(DmaLedger, QuiescedLedgerRefusesNewHoldsAndRanges) {
    const u32 id = add(0x100000, kPage);
    ASSERT_EQ(ledger.hold(id).status(), Status::Ok);
    EXPECT_EQ(quiesce(), 0u);
    EXPECT_EQ(ledger.hold(id).status(), Status::TornDown);
    EXPECT_EQ(ledger.find(id)->in_flight, 0u);
    // The quiesce dropped the hold, so a late completion has nothing to drop.
    EXPECT_EQ(unhold(id).status(), Status::InvalidArgument);
    Result<u32> r = ledger.add(0x500000, kPage, kPoolA, Use::Buffer);
    EXPECT_EQ(r.status(), Status::TornDown);
    EXPECT_EQ(ledger.live(), 1u);
    EXPECT_TRUE(rec.given.empty());
}

TEST_F(DmaLedger, QuarantineNeverGivesAnythingBack) {
    const u32 deferred = add(0x100000, kPage);  // held, released before quarantine
    const u32 held = add(0x200000, 2 * kPage);  // held, not released
    const u32 idle = add(0x300000, 4 * kPage);  // never held
    const u32 gone = add(0x400000, 8 * kPage);  // given back before quarantine
    ASSERT_EQ(ledger.hold(deferred).status(), Status::Ok);
    ASSERT_EQ(ledger.hold(held).status(), Status::Ok);
    expect_value(release(deferred), false);
    expect_value(release(gone), true);
    ASSERT_EQ(rec.given, (std::vector<Range>{{0x400000, 8 * kPage}}));
    rec.given.clear();

    EXPECT_EQ(ledger.quarantine(), 7 * kPage);  // every live range, released or not
    EXPECT_EQ(ledger.state(), LedgerState::Quarantined);

    // Nothing comes back: not on release, not on the last unhold, not on quiesce.
    expect_value(release(idle), false);
    expect_value(release(held), false);
    expect_value(unhold(deferred), false);
    expect_value(unhold(held), false);
    EXPECT_EQ(quiesce(), 0u);
    EXPECT_EQ(ledger.state(), LedgerState::Quarantined);
    EXPECT_TRUE(rec.given.empty());
    EXPECT_EQ(ledger.live(), 3u);

    // Quarantined memory stays accounted; a second call reports the same loss.
    EXPECT_EQ(ledger.quarantine(), 7 * kPage);
    EXPECT_EQ(release(idle).status(), Status::Busy);
    EXPECT_EQ(ledger.hold(idle).status(), Status::TornDown);
    EXPECT_EQ(ledger.add(0x500000, kPage, kPoolA, Use::Buffer).status(), Status::TornDown);
    EXPECT_TRUE(rec.given.empty());
}

TEST_F(DmaLedger, QuarantineOfAnEmptyLedgerLosesNothing) {
    const u32 id = add(0x100000, kPage);
    expect_value(release(id), true);
    EXPECT_EQ(ledger.quarantine(), 0u);
    EXPECT_EQ(ledger.state(), LedgerState::Quarantined);
}

TEST_F(DmaLedger, QuarantineAfterQuiesceChangesNothing) {
    // Once the device was confirmed stopped, a later failed reset cannot make
    // the memory unsafe again: the ledger stays quiesced and keeps giving back.
    const u32 id = add(0x100000, kPage);
    EXPECT_EQ(quiesce(), 0u);
    EXPECT_EQ(ledger.quarantine(), 0u);
    EXPECT_EQ(ledger.state(), LedgerState::Quiesced);
    expect_value(release(id), true);
    EXPECT_EQ(rec.given, (std::vector<Range>{{0x100000, kPage}}));
}

TEST_F(DmaLedger, CoversChecksBoundsInsideOneRange) {
    add(0x10000, 2 * kPage, kPoolA);
    EXPECT_TRUE(ledger.covers(0x10000, 2 * kPage));            // exactly
    EXPECT_TRUE(ledger.covers(0x10000, 1));                    // first byte
    EXPECT_TRUE(ledger.covers(0x11FFF, 1));                    // last byte
    EXPECT_TRUE(ledger.covers(0x10800, kPage));                // inside
    EXPECT_TRUE(ledger.covers(0x11000, kPage));                // ends at the edge
    EXPECT_FALSE(ledger.covers(0x12000, 1));                   // one byte past
    EXPECT_FALSE(ledger.covers(0x11001, kPage));               // ends one byte past
    EXPECT_FALSE(ledger.covers(0x10000, 2 * kPage + 1));       // one byte too long
    EXPECT_FALSE(ledger.covers(0xFFFF, 1));                    // one byte before
    EXPECT_FALSE(ledger.covers(0xFFFF, 2));                    // straddles the start
    EXPECT_FALSE(ledger.covers(0, 0x10000 + kPage));           // starts before
    EXPECT_FALSE(ledger.covers(0x11000, kTop));                // length alone wraps
    EXPECT_FALSE(ledger.covers(0x11000, kTop - 0x11000 + 1));  // address + length == 2^64
}

TEST_F(DmaLedger, CoversNeedsOneRangeNotTwoAdjacentOnes) {
    add(0x10000, kPage, kPoolA);
    add(0x11000, kPage, kPoolA);
    EXPECT_TRUE(ledger.covers(0x10000, kPage));
    EXPECT_TRUE(ledger.covers(0x11000, kPage));
    EXPECT_FALSE(ledger.covers(0x10800, kPage));  // spans both: refused
}

TEST_F(DmaLedger, CoversFiltersByOwner) {
    add(0x10000, kPage, kPoolA);
    add(0x20000, kPage, kPoolB);
    EXPECT_TRUE(ledger.covers(0x10000, kPage, kPoolA));
    EXPECT_FALSE(ledger.covers(0x10000, kPage, kPoolB));
    EXPECT_TRUE(ledger.covers(0x20000, kPage, kPoolB));
    EXPECT_FALSE(ledger.covers(0x20000, kPage, kPoolA));
    EXPECT_FALSE(ledger.covers(0x10000, kPage, 42));
    EXPECT_TRUE(ledger.covers(0x10000, kPage, 0));  // 0: any owner
    EXPECT_TRUE(ledger.covers(0x20000, kPage, 0));
}

TEST_F(DmaLedger, CoversSeesOnlyLiveRanges) {
    const u32 given = add(0x10000, kPage);
    const u32 deferred = add(0x20000, kPage);
    ASSERT_EQ(ledger.hold(deferred).status(), Status::Ok);
    expect_value(release(given), true);
    expect_value(release(deferred), false);
    EXPECT_FALSE(ledger.covers(0x10000, kPage));  // given back: the frame may be anyone's now
    EXPECT_TRUE(ledger.covers(0x20000, kPage));   // deferred: still recorded
    expect_value(unhold(deferred), true);
    EXPECT_FALSE(ledger.covers(0x20000, kPage));
}

TEST_F(DmaLedger, CoversNearTheTopOfTheAddressSpace) {
    // [2^64 - 0x2001, 2^64 - 1): its end is representable.
    const u64 start = kTop - 0x2000;
    add(start, 0x2000, kPoolA);
    EXPECT_TRUE(ledger.covers(start, 0x2000));
    EXPECT_TRUE(ledger.covers(kTop - 1, 1));         // the last byte
    EXPECT_FALSE(ledger.covers(kTop, 1));            // one byte past
    EXPECT_FALSE(ledger.covers(kTop - 1, 2));        // runs one byte past
    EXPECT_FALSE(ledger.covers(start, 0x2001));      // one byte too long
    EXPECT_FALSE(ledger.covers(kTop - 0x10, kTop));  // length wraps around
    EXPECT_FALSE(ledger.covers(kTop - 0x10, 0x20));  // address + length wraps
    EXPECT_FALSE(ledger.covers(start - 1, 0x2000));  // straddles the start
    EXPECT_FALSE(ledger.covers(0, 0x10));            // nowhere near
}

TEST_F(DmaLedger, AddRejectsEmptyAndWrappingRanges) {
    EXPECT_EQ(ledger.add(0x10000, 0, kPoolA, Use::Buffer).status(), Status::InvalidArgument);
    EXPECT_EQ(ledger.add(kTop, 2, kPoolA, Use::Buffer).status(), Status::InvalidArgument);
    EXPECT_EQ(ledger.add(kPage, kTop, kPoolA, Use::Buffer).status(), Status::InvalidArgument);
    EXPECT_EQ(ledger.add(u64{1} << 63, (u64{1} << 63) + kPage, kPoolA, Use::Buffer).status(), Status::InvalidArgument);
    // A range whose end would be exactly 2^64 is refused as well: its end is
    // not representable in a u64.
    EXPECT_EQ(ledger.add(kTop - kPage + 1, kPage, kPoolA, Use::Buffer).status(), Status::InvalidArgument);
    EXPECT_EQ(ledger.live(), 0u);
    // The largest ranges that fit are accepted.
    EXPECT_EQ(ledger.add(kTop - kPage, kPage, kPoolA, Use::Buffer).status(), Status::Ok);
    EXPECT_EQ(ledger.add(0, kTop, kPoolA, Use::Buffer).status(), Status::Ok);
    EXPECT_EQ(ledger.live(), 2u);
}

TEST_F(DmaLedger, CountersFollowHoldsAndDeferrals) {
    const u32 a = add(0x100000, kPage);
    const u32 b = add(0x200000, 2 * kPage);
    const u32 c = add(0x300000, 4 * kPage);
    EXPECT_EQ(ledger.held_bytes(), 0u);
    EXPECT_EQ(ledger.deferred(), 0u);

    ASSERT_EQ(ledger.hold(a).status(), Status::Ok);
    ASSERT_EQ(ledger.hold(a).status(), Status::Ok);  // counted once, by bytes
    ASSERT_EQ(ledger.hold(b).status(), Status::Ok);
    EXPECT_EQ(ledger.held_bytes(), 3 * kPage);

    expect_value(release(a), false);
    expect_value(release(c), true);
    EXPECT_EQ(ledger.deferred(), 1u);
    EXPECT_EQ(ledger.held_bytes(), 3 * kPage);
    EXPECT_EQ(ledger.live(), 2u);

    expect_value(unhold(b), false);
    EXPECT_EQ(ledger.held_bytes(), kPage);
    expect_value(unhold(a), false);
    EXPECT_EQ(ledger.held_bytes(), kPage);
    EXPECT_EQ(ledger.deferred(), 1u);
    expect_value(unhold(a), true);
    EXPECT_EQ(ledger.held_bytes(), 0u);
    EXPECT_EQ(ledger.deferred(), 0u);
    EXPECT_EQ(ledger.live(), 1u);
    EXPECT_EQ(rec.given, (std::vector<Range>{{0x300000, 4 * kPage}, {0x100000, kPage}}));
}

// The callback runs after the ledger forgot the range, so it may free the
// frame and record a new range (even in the same slot) without confusion.
struct Reentrant {
    Ledger* ledger;
    u32 id_given_back;
    u32 live_seen = ~0u;
    bool find_saw_entry = true;
    Status readded_status = Status::NotFound;
    u32 readded = 0;
    static void give_back(void* ctx, u64 address, u64 bytes, u64) {
        auto* self = static_cast<Reentrant*>(ctx);
        self->live_seen = self->ledger->live();
        self->find_saw_entry = self->ledger->find(self->id_given_back) != nullptr;
        Result<u32> r = self->ledger->add(address + 0x100000, bytes, kPoolB, Use::Buffer);
        self->readded_status = r.status();
        self->readded = r.value_or(0);
    }
};

TEST_F(DmaLedger, GiveBackMayReenterTheLedger) {
    const u32 keep = add(0x10000, kPage);
    const u32 id = add(0x20000, kPage);
    ASSERT_EQ(ledger.hold(id).status(), Status::Ok);
    ASSERT_TRUE(ledger.release(id, nullptr, nullptr).ok());
    Reentrant r{&ledger, id};
    Result<bool> u = ledger.unhold(id, &Reentrant::give_back, &r);
    ASSERT_EQ(u.status(), Status::Ok);
    EXPECT_TRUE(u.value());
    EXPECT_EQ(r.live_seen, 1u);
    EXPECT_FALSE(r.find_saw_entry);
    ASSERT_EQ(r.readded_status, Status::Ok);
    EXPECT_EQ(r.readded & (Ledger::kCapacity - 1), id & (Ledger::kCapacity - 1));
    EXPECT_NE(r.readded, id);
    EXPECT_EQ(ledger.live(), 2u);
    ASSERT_NE(ledger.find(r.readded), nullptr);
    EXPECT_EQ(ledger.find(r.readded)->address, 0x120000u);
    EXPECT_EQ(ledger.find(r.readded)->owner, kPoolB);
    EXPECT_NE(ledger.find(keep), nullptr);
}

}  // namespace
