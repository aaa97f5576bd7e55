// Unit tests for lib/cap: capability spaces and the derivation forest.
// Every test runs against a Recorder that plays the kernel's refcounting
// (install/mint adopt a reference, on_acquire takes one, on_release drops
// one), and the fixture checks at teardown that every reference came back
// exactly once and no node leaked.
#include "cap/cap_space.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

static void PrintTo(Status s, std::ostream* os) { *os << status_name(s); }

namespace cap {
static void PrintTo(Handle h, std::ostream* os) { *os << "handle 0x" << std::hex << h.raw() << std::dec; }
}  // namespace cap

namespace {

using namespace cap;

constexpr u16 kTypeMemory = 5;
constexpr u16 kTypeEndpoint = 3;
constexpr Rights kRw = kRightRead | kRightWrite;
constexpr Rights kGrant = kRw | kRightMap | kRightDuplicate | kRightTransfer | kRightRevoke;

struct Recorder {
    std::vector<Release> releases;
    std::map<const void*, int> refs;  // references the slots hold, per object
    int acquires = 0;

    static void on_acquire(void* ctx, void* object, u16) {
        auto* self = static_cast<Recorder*>(ctx);
        self->refs[object]++;
        self->acquires++;
    }
    static void on_release(void* ctx, const Release& r) {
        auto* self = static_cast<Recorder*>(ctx);
        self->releases.push_back(r);
        // A double release would drive this negative.
        EXPECT_GT(self->refs[r.object], 0) << "release of an object no slot referenced";
        self->refs[r.object]--;
    }
    Hooks hooks() { return Hooks{&on_acquire, &on_release, this}; }

    int live_refs() const {
        int total = 0;
        for (const auto& [object, n] : refs) total += n;
        return total;
    }
    std::set<std::pair<u32, u32>> released_set(ReleaseReason reason) const {
        std::set<std::pair<u32, u32>> out;
        for (const Release& r : releases)
            if (r.reason == reason) out.insert({r.space_id, r.handle.raw()});
        return out;
    }
};

// Unwraps a Result, failing the test (not aborting it) on error.
template <typename T>
T ok(Result<T> r) {
    EXPECT_TRUE(r.ok()) << "unexpected " << status_name(r.status());
    return r.ok() ? r.release_value() : T{};
}

class CapTest : public ::testing::Test {
protected:
    // Declaration order is destruction order in reverse: spaces die first
    // (their destructors close_all through the hooks), then the forest,
    // then the recorder.
    Recorder rec;
    DerivationForest<256> forest{rec.hooks()};
    CapSpace<32> a{forest, 1};
    CapSpace<32> b{forest, 2};
    CapSpace<32> c{forest, 3};
    int objects[16] = {};

    void* obj(int i) { return &objects[i]; }

    // Installs as the kernel does: take a reference, hand it to the slot.
    Handle install(Space& space, int i, Rights rights = kGrant, u16 type = kTypeMemory) {
        Result<Handle> r = space.install(obj(i), type, rights);
        EXPECT_TRUE(r.ok()) << status_name(r.status());
        if (!r.ok()) return Handle{};
        rec.refs[obj(i)]++;
        return r.value();
    }
    Handle mint(Space& from, Handle parent, Space& dst, int i, Rights rights, u16 type = kTypeMemory) {
        Result<Handle> r = from.mint(parent, dst, obj(i), type, rights);
        EXPECT_TRUE(r.ok()) << status_name(r.status());
        if (!r.ok()) return Handle{};
        rec.refs[obj(i)]++;
        return r.value();
    }

    static Status status_of(const Space& space, Handle h) { return space.lookup(h, kAnyType, 0).status(); }
    static void* object_of(const Space& space, Handle h) {
        Result<Entry> e = space.lookup(h, kAnyType, 0);
        return e.ok() ? e.value().object : nullptr;
    }

    u32 live_total() const { return a.live_count() + b.live_count() + c.live_count(); }

    void TearDown() override {
        a.close_all();
        b.close_all();
        c.close_all();
        EXPECT_EQ(forest.used_count(), 0u) << "leaked derivation nodes";
        for (const auto& [object, n] : rec.refs) EXPECT_EQ(n, 0) << "object " << object << " leaked or over-released";
        for (const Space* s :
             {static_cast<const Space*>(&a), static_cast<const Space*>(&b), static_cast<const Space*>(&c)})
            EXPECT_EQ(s->free_count(), s->capacity());
    }
};

// The kernel keeps its forest in .bss and links without atexit(): the
// forest must need no destructor. (A Space does: it closes what is left.)
static_assert(std::is_trivially_destructible_v<DerivationForest<4>>);
static_assert(sizeof(Forest::Node) == 32 && sizeof(Space::Slot) == 32);

// ---------------------------------------------------------------------------
// Install, lookup, close, handles
// ---------------------------------------------------------------------------

using CapSpaceTest = CapTest;

TEST_F(CapSpaceTest, InstallThenLookupReturnsTheObject) {
    const Handle h = install(a, 0, kRw);
    EXPECT_EQ(h.raw(), 0x1001u);  // slot 0, generation 1 in an unseeded space
    Result<Entry> e = a.lookup(h, kTypeMemory, kRightRead);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e.value().object, obj(0));
    EXPECT_EQ(e.value().type, kTypeMemory);
    EXPECT_EQ(e.value().rights, kRw);
    EXPECT_EQ(a.live_count(), 1u);
    EXPECT_EQ(a.free_count(), 31u);
    EXPECT_EQ(forest.used_count(), 1u);
    EXPECT_EQ(rec.acquires, 0);  // install adopts the caller's reference
}

TEST_F(CapSpaceTest, InstallRejectsInvalidArgumentsAndChangesNothing) {
    EXPECT_EQ(a.install(nullptr, kTypeMemory, kRw).status(), Status::InvalidArgument);
    EXPECT_EQ(a.install(obj(0), kAnyType, kRw).status(), Status::InvalidArgument);
    EXPECT_EQ(a.install(obj(0), kTypeMemory, 1u << 20).status(), Status::InvalidArgument);
    EXPECT_EQ(a.install(obj(0), kTypeMemory, kSameRights).status(), Status::InvalidArgument);
    EXPECT_EQ(a.live_count(), 0u);
    EXPECT_EQ(forest.used_count(), 0u);
}

TEST_F(CapSpaceTest, LookupChecksTypeThenRights) {
    const Handle h = install(a, 0, kRightRead, kTypeEndpoint);
    EXPECT_EQ(a.lookup(h, kTypeMemory, 0).status(), Status::WrongType);
    // Wrong type wins over missing rights: the caller learns the real problem.
    EXPECT_EQ(a.lookup(h, kTypeMemory, kRightWrite).status(), Status::WrongType);
    EXPECT_EQ(a.lookup(h, kTypeEndpoint, kRightWrite).status(), Status::NoRights);
    EXPECT_EQ(a.lookup(h, kTypeEndpoint, kRightRead | kRightWrite).status(), Status::NoRights);
    EXPECT_TRUE(a.lookup(h, kTypeEndpoint, kRightRead).ok());
    EXPECT_TRUE(a.lookup(h, kAnyType, 0).ok());
}

TEST_F(CapSpaceTest, HandleZeroAndSmallValuesAreBadHandles) {
    // Fill the space so that every slot is occupied: garbage cannot
    // "accidentally" hit a free slot.
    for (u32 i = 0; i < a.capacity(); i++) install(a, 0, kRw);
    for (u32 raw = 0; raw < 0x1000; raw++) ASSERT_EQ(status_of(a, Handle::from_raw(raw)), Status::BadHandle) << raw;
    EXPECT_EQ(a.close(Handle{}).status(), Status::BadHandle);
    EXPECT_EQ(a.duplicate(Handle{}, kSameRights).status(), Status::BadHandle);
    EXPECT_EQ(a.revoke(Handle{}).status(), Status::BadHandle);
    EXPECT_EQ(a.move_to(Handle{}, b).status(), Status::BadHandle);
    EXPECT_EQ(a.copy_to(Handle{}, b, kSameRights).status(), Status::BadHandle);
}

TEST_F(CapSpaceTest, SlotBeyondCapacityOrGenerationZeroIsBadHandle) {
    const Handle h = install(a, 0, kRw);
    EXPECT_EQ(status_of(a, Handle::make(a.capacity(), 1)), Status::BadHandle);
    EXPECT_EQ(status_of(a, Handle::make(Handle::kMaxSlots - 1, h.generation())), Status::BadHandle);
    EXPECT_EQ(status_of(a, Handle::from_raw(h.raw() & Handle::kSlotFieldMask)), Status::BadHandle);
    EXPECT_EQ(status_of(a, Handle::from_raw(0xFFFFF000u)), Status::BadHandle);  // slot field 0
}

TEST_F(CapSpaceTest, GarbageHandlesNeverResolveToAnotherObject) {
    std::vector<Handle> issued;
    for (u32 i = 0; i < a.capacity(); i++) issued.push_back(install(a, i % 16, kRw));
    // Every u32 whose low 12 bits name a slot: only the exact issued value
    // resolves; everything else is BadHandle or Stale.
    u32 resolved = 0;
    for (u64 raw = 0; raw <= 0xFFFFFFFFu; raw += 4093) {  // a prime stride hits every slot field
        const Handle h = Handle::from_raw(static_cast<u32>(raw));
        const Status s = status_of(a, h);
        if (s == Status::Ok) {
            EXPECT_NE(std::find(issued.begin(), issued.end(), h), issued.end());
            resolved++;
        } else {
            EXPECT_TRUE(s == Status::BadHandle || s == Status::Stale) << status_name(s);
        }
    }
    for (const Handle h : issued) EXPECT_EQ(status_of(a, h), Status::Ok);
    EXPECT_LE(resolved, issued.size());
}

TEST_F(CapSpaceTest, ClosedSlotIsStale) {
    const Handle h = install(a, 0, kGrant);
    ASSERT_TRUE(a.close(h).ok());
    EXPECT_EQ(status_of(a, h), Status::Stale);
    EXPECT_EQ(a.close(h).status(), Status::Stale);  // no double close
    EXPECT_EQ(a.duplicate(h, kSameRights).status(), Status::Stale);
    EXPECT_EQ(a.copy_to(h, b, kSameRights).status(), Status::Stale);
    EXPECT_EQ(a.move_to(h, b).status(), Status::Stale);
    EXPECT_EQ(a.revoke(h).status(), Status::Stale);
    ASSERT_EQ(rec.releases.size(), 1u);
    EXPECT_EQ(rec.releases[0].reason, ReleaseReason::Closed);
    EXPECT_EQ(rec.releases[0].handle, h);
    EXPECT_EQ(rec.releases[0].space_id, 1u);
    EXPECT_EQ(rec.releases[0].object, obj(0));
    EXPECT_EQ(rec.refs[obj(0)], 0);
}

TEST_F(CapSpaceTest, ClosedThenReusedSlotIsStaleAndNeverResolvesToTheNewObject) {
    DerivationForest<4> f(rec.hooks());
    CapSpace<1> one(f, 9);  // a single slot: the next install must reuse it
    Result<Handle> first = one.install(obj(0), kTypeMemory, kRw);
    ASSERT_TRUE(first.ok());
    rec.refs[obj(0)]++;
    ASSERT_TRUE(one.close(first.value()).ok());
    Result<Handle> second = one.install(obj(1), kTypeEndpoint, kRightsAll);
    ASSERT_TRUE(second.ok());
    rec.refs[obj(1)]++;
    EXPECT_EQ(first.value().slot(), second.value().slot());
    EXPECT_NE(first.value(), second.value());
    EXPECT_EQ(status_of(one, first.value()), Status::Stale);
    EXPECT_EQ(one.lookup(first.value(), kTypeEndpoint, 0).status(), Status::Stale);
    EXPECT_EQ(one.close(first.value()).status(), Status::Stale);
    EXPECT_EQ(object_of(one, second.value()), obj(1));
}

TEST_F(CapSpaceTest, FreedSlotsAreReusedInFifoOrder) {
    std::vector<Handle> hs;
    for (int i = 0; i < 4; i++) hs.push_back(install(a, i, kRw));
    ASSERT_TRUE(a.close(hs[1]).ok());
    // Slot 1 goes to the back of the queue: the 28 never-used slots come
    // first.
    for (int i = 0; i < 28; i++) EXPECT_NE(install(a, 5, kRw).slot(), hs[1].slot());
    const Handle reuse = install(a, 6, kRw);
    EXPECT_EQ(reuse.slot(), hs[1].slot());
    EXPECT_EQ(reuse.generation(), hs[1].generation() + 1);
    EXPECT_EQ(status_of(a, hs[1]), Status::Stale);
}

TEST_F(CapSpaceTest, GenerationWraparoundCannotAliasWithinTheWindow) {
    // One slot, reused over and over: the worst case. The first handle
    // stays Stale for kMaxGeneration - 1 reuses; only the reuse that brings
    // the generation all the way round aliases it (the documented window).
    // (No hooks: a million releases through the recorder would only slow
    // this down; the other tests cover reference accounting.)
    DerivationForest<2> f;
    CapSpace<1> one(f, 9);
    const Handle first = ok(one.install(obj(0), kTypeMemory, kRw));
    ASSERT_TRUE(one.close(first).ok());
    Handle last{};
    for (u32 i = 1; i < Handle::kMaxGeneration; i++) {
        Result<Handle> h = one.install(obj(1), kTypeMemory, kRw);
        ASSERT_TRUE(h.ok());
        ASSERT_NE(h.value().generation(), 0u);
        ASSERT_NE(h.value(), first) << "aliased after " << i << " reuses";
        if ((i & 0xFFFF) == 0) ASSERT_EQ(status_of(one, first), Status::Stale);
        last = h.value();
        ASSERT_TRUE(one.close(h.value()).ok());
    }
    EXPECT_EQ(last.generation(), Handle::kMaxGeneration);
    EXPECT_EQ(status_of(one, first), Status::Stale);
    // Reuse number kMaxGeneration wraps to generation 1 (skipping 0).
    const Handle wrapped = ok(one.install(obj(1), kTypeMemory, kRw));
    EXPECT_EQ(wrapped.generation(), 1u);
    EXPECT_EQ(wrapped, first);
    ASSERT_TRUE(one.close(wrapped).ok());
}

TEST_F(CapSpaceTest, FifoReuseStretchesTheWindowByTheFreeSlotCount) {
    // With 32 free slots, install/close cycles touch each slot every 32nd
    // time: the handle survives 32 * (kMaxGeneration - 1) cycles. Check the
    // arithmetic over a short run: after 32 * 1000 cycles the old slot has
    // advanced exactly 1000 generations.
    const Handle first = install(a, 0, kRw);
    ASSERT_TRUE(a.close(first).ok());
    for (int i = 0; i < 32 * 1000; i++) {
        Result<Handle> h = a.install(obj(1), kTypeMemory, kRw);
        ASSERT_TRUE(h.ok());
        rec.refs[obj(1)]++;
        ASSERT_NE(h.value(), first);
        ASSERT_TRUE(a.close(h.value()).ok());
    }
    // The queue [1..31, 0] rotated 1000 times and is back where it was:
    // slot 0 comes after 31 others, 1001 generations after `first`.
    for (int i = 0; i < 31; i++) EXPECT_NE(install(a, 1, kRw).slot(), first.slot());
    const Handle h = install(a, 1, kRw);
    EXPECT_EQ(h.slot(), first.slot());
    EXPECT_EQ(h.generation(), first.generation() + 1001);
    EXPECT_EQ(status_of(a, first), Status::Stale);
}

TEST_F(CapSpaceTest, GenerationSeedScattersHandleValues) {
    CapSpace<32> x(forest, 10, 0xC0FFEE);
    CapSpace<32> y(forest, 11, 0xBADF00D);
    std::vector<Handle> hx, hy;
    for (int i = 0; i < 32; i++) {
        hx.push_back(ok(x.install(obj(0), kTypeMemory, kRw)));
        hy.push_back(ok(y.install(obj(1), kTypeMemory, kRw)));
        rec.refs[obj(0)]++;
        rec.refs[obj(1)]++;
    }
    int foreign_resolves = 0;
    for (int i = 0; i < 32; i++) {
        EXPECT_NE(hx[i].generation(), 0u);
        foreign_resolves += status_of(y, hx[i]) == Status::Ok;
        foreign_resolves += status_of(x, hy[i]) == Status::Ok;
    }
    // 64 chances at 1 / 2^20 each: a hit would mean the seed is ignored.
    EXPECT_EQ(foreign_resolves, 0);
    EXPECT_EQ(x.close_all(), 32u);
    EXPECT_EQ(y.close_all(), 32u);
}

TEST_F(CapSpaceTest, CountsTrackLiveRevokedFree) {
    const Handle root = install(a, 0, kGrant);
    const Handle d1 = ok(a.duplicate(root, kRw | kRightDuplicate));
    ok(a.copy_to(root, b, kRw));
    EXPECT_EQ(a.live_count(), 2u);
    EXPECT_EQ(b.live_count(), 1u);
    EXPECT_EQ(ok(a.revoke(root)), 2u);
    EXPECT_EQ(a.live_count(), 1u);
    EXPECT_EQ(a.revoked_count(), 1u);
    EXPECT_EQ(b.live_count(), 0u);
    EXPECT_EQ(b.revoked_count(), 1u);
    EXPECT_EQ(a.free_count(), 30u);
    ASSERT_TRUE(a.close(d1).ok());
    EXPECT_EQ(a.revoked_count(), 0u);
    EXPECT_EQ(a.free_count(), 31u);
    EXPECT_EQ(forest.used_count(), 1u);
}

TEST_F(CapSpaceTest, EnumerateListsOccupiedSlotsAndPages) {
    const Handle root = install(a, 0, kGrant, kTypeEndpoint);
    const Handle gap = install(a, 1, kRw);
    const Handle dup = ok(a.duplicate(root, kRw | kRightRevoke | kRightDuplicate));
    const Handle dup2 = ok(a.duplicate(dup, kRightRead));
    ASSERT_TRUE(a.close(gap).ok());
    ASSERT_TRUE(ok(a.revoke(dup)) == 1u);

    SlotInfo info[8];
    u32 next = 0;
    ASSERT_EQ(a.enumerate(0, info, 8, &next), 3u);
    EXPECT_EQ(next, a.capacity());
    EXPECT_EQ(info[0].handle, root);
    EXPECT_EQ(info[0].state, SlotState::Live);
    EXPECT_EQ(info[0].type, kTypeEndpoint);
    EXPECT_EQ(info[0].rights, kGrant);
    EXPECT_EQ(info[0].object, obj(0));
    EXPECT_FALSE(info[0].derived);
    EXPECT_EQ(info[0].children, 1u);
    EXPECT_EQ(info[1].handle, dup);
    EXPECT_TRUE(info[1].derived);
    EXPECT_EQ(info[1].children, 0u);
    EXPECT_EQ(info[2].handle, dup2);
    EXPECT_EQ(info[2].state, SlotState::Revoked);
    EXPECT_EQ(info[2].object, nullptr);
    EXPECT_EQ(info[2].rights, kRightRead);  // kept for display
    EXPECT_FALSE(info[2].derived);

    // Paging: one at a time.
    std::vector<Handle> seen;
    u32 cursor = 0;
    while (cursor < a.capacity()) {
        SlotInfo one;
        if (a.enumerate(cursor, &one, 1, &cursor) == 1) seen.push_back(one.handle);
    }
    EXPECT_EQ(seen, (std::vector<Handle>{root, dup, dup2}));
    EXPECT_EQ(a.enumerate(a.capacity() + 5, info, 8, &next), 0u);
    EXPECT_EQ(next, a.capacity());
}

// ---------------------------------------------------------------------------
// Capacity
// ---------------------------------------------------------------------------

using CapCapacityTest = CapTest;

TEST_F(CapCapacityTest, FullSpaceGivesNoMemoryWithoutCorruption) {
    std::vector<Handle> hs;
    for (u32 i = 0; i < a.capacity(); i++) hs.push_back(install(a, i % 16, kGrant));
    const u32 used = forest.used_count();
    const size_t releases = rec.releases.size();
    const int acquires = rec.acquires;

    EXPECT_EQ(a.install(obj(0), kTypeMemory, kRw).status(), Status::NoMemory);
    EXPECT_EQ(a.duplicate(hs[0], kRw).status(), Status::NoMemory);
    EXPECT_EQ(b.copy_to(ok(b.install(obj(0), kTypeMemory, kGrant)), a, kRw).status(), Status::NoMemory);
    rec.refs[obj(0)]++;
    const Handle in_b = ok(a.copy_to(hs[1], b, kRw));
    EXPECT_EQ(b.move_to(in_b, a).status(), Status::NoRights);  // copy has no Transfer
    EXPECT_EQ(b.mint(in_b, a, obj(2), kTypeMemory, kRightRead).status(), Status::NoRights);

    const Handle movable = ok(a.copy_to(hs[2], b, kGrant));
    EXPECT_EQ(b.move_to(movable, a).status(), Status::NoMemory);
    EXPECT_EQ(status_of(b, movable), Status::Ok);  // source untouched
    EXPECT_EQ(b.mint(movable, a, obj(3), kTypeMemory, kRightRead).status(), Status::NoMemory);

    // Nothing changed in `a` and no hook fired for the failures.
    EXPECT_EQ(a.live_count(), a.capacity());
    EXPECT_EQ(forest.used_count(), used + 3);
    EXPECT_EQ(rec.releases.size(), releases);
    EXPECT_EQ(rec.acquires, acquires + 2);
    for (u32 i = 0; i < hs.size(); i++) EXPECT_EQ(object_of(a, hs[i]), obj(i % 16));

    // Free one: the next install succeeds in that slot with a new generation.
    ASSERT_TRUE(a.close(hs[7]).ok());
    const Handle again = install(a, 9, kRw);
    EXPECT_EQ(again.slot(), hs[7].slot());
    EXPECT_EQ(status_of(a, hs[7]), Status::Stale);
}

TEST_F(CapCapacityTest, RevokedSlotsStillCountAgainstCapacity) {
    const Handle root = install(b, 0, kGrant);
    std::vector<Handle> copies;
    for (u32 i = 0; i < a.capacity(); i++) copies.push_back(ok(b.copy_to(root, a, kRw)));
    ASSERT_EQ(ok(b.revoke(root)), a.capacity());
    EXPECT_EQ(a.revoked_count(), a.capacity());
    EXPECT_EQ(a.install(obj(1), kTypeMemory, kRw).status(), Status::NoMemory);
    ASSERT_TRUE(a.close(copies[3]).ok());
    install(a, 1, kRw);
}

TEST_F(CapCapacityTest, ForestExhaustionGivesNoMemoryWithoutCorruption) {
    DerivationForest<3> small(rec.hooks());
    CapSpace<8> x(small, 20);
    CapSpace<8> y(small, 21);
    const Handle r1 = ok(x.install(obj(0), kTypeMemory, kGrant));
    const Handle r2 = ok(x.install(obj(1), kTypeMemory, kGrant));
    const Handle d = ok(x.copy_to(r1, y, kGrant));
    rec.refs[obj(0)]++;
    rec.refs[obj(1)]++;
    EXPECT_EQ(small.free_count(), 0u);
    EXPECT_EQ(x.install(obj(2), kTypeMemory, kRw).status(), Status::NoMemory);
    EXPECT_EQ(x.duplicate(r2, kRw).status(), Status::NoMemory);
    EXPECT_EQ(x.copy_to(r2, y, kRw).status(), Status::NoMemory);
    EXPECT_EQ(x.mint(r2, y, obj(3), kTypeMemory, kRw).status(), Status::NoMemory);
    EXPECT_EQ(x.live_count(), 2u);
    EXPECT_EQ(y.live_count(), 1u);
    // A move reuses its node, so it works with an empty pool.
    const Handle moved = ok(x.move_to(r2, y));
    EXPECT_EQ(object_of(y, moved), obj(1));
    EXPECT_EQ(object_of(y, d), obj(0));
    EXPECT_EQ(x.close_all(), 1u);
    EXPECT_EQ(y.close_all(), 2u);
    EXPECT_EQ(small.used_count(), 0u);
}

// ---------------------------------------------------------------------------
// Derivation: duplicate, copy_to, move_to, mint
// ---------------------------------------------------------------------------

using CapDeriveTest = CapTest;

TEST_F(CapDeriveTest, DuplicateCannotAddRights) {
    const Handle h = install(a, 0, kRightRead | kRightDuplicate);
    EXPECT_EQ(a.duplicate(h, kRightRead | kRightWrite).status(), Status::NoRights);
    EXPECT_EQ(a.duplicate(h, kRightsAll).status(), Status::NoRights);
    const Handle same = ok(a.duplicate(h, kSameRights));
    EXPECT_EQ(ok(a.lookup(same, kAnyType, 0)).rights, kRightRead | kRightDuplicate);
    const Handle fewer = ok(a.duplicate(h, kRightRead));
    EXPECT_EQ(ok(a.lookup(fewer, kAnyType, 0)).rights, kRightRead);
    // Without Duplicate itself, the narrowed copy cannot be duplicated again.
    EXPECT_EQ(a.duplicate(fewer, kRightRead).status(), Status::NoRights);
    EXPECT_EQ(a.duplicate(fewer, 0).status(), Status::NoRights);
    EXPECT_EQ(rec.acquires, 2);
    EXPECT_EQ(rec.refs[obj(0)], 3);
}

TEST_F(CapDeriveTest, DuplicateNeedsTheDuplicateRight) {
    const Handle h = install(a, 0, kRw | kRightTransfer);
    EXPECT_EQ(a.duplicate(h, kRightRead).status(), Status::NoRights);
    EXPECT_EQ(a.copy_to(h, b, kRightRead).status(), Status::NoRights);
    EXPECT_EQ(a.live_count(), 1u);
    EXPECT_EQ(b.live_count(), 0u);
}

TEST_F(CapDeriveTest, InvalidRequestedRightsAreInvalidArgumentBeforeTheHandle) {
    const Handle h = install(a, 0, kGrant);
    EXPECT_EQ(a.duplicate(h, 1u << 13).status(), Status::InvalidArgument);
    EXPECT_EQ(a.duplicate(h, kSameRights | kRightRead).status(), Status::InvalidArgument);
    EXPECT_EQ(a.duplicate(Handle{}, 1u << 13).status(), Status::InvalidArgument);
    EXPECT_EQ(a.copy_to(h, b, 1u << 30).status(), Status::InvalidArgument);
    EXPECT_EQ(a.mint(h, b, nullptr, kTypeMemory, kRw).status(), Status::InvalidArgument);
    EXPECT_EQ(a.mint(h, b, obj(1), kAnyType, kRw).status(), Status::InvalidArgument);
}

TEST_F(CapDeriveTest, TransferRequiresTheTransferRight) {
    const Handle no_transfer = install(a, 0, kRw | kRightDuplicate);
    EXPECT_EQ(a.copy_to(no_transfer, b, kRightRead).status(), Status::NoRights);
    EXPECT_EQ(a.move_to(no_transfer, b).status(), Status::NoRights);
    EXPECT_EQ(a.mint(no_transfer, b, obj(1), kTypeMemory, kRightRead).status(), Status::NoRights);
    EXPECT_EQ(b.live_count(), 0u);
    // Within the same space a copy is a duplicate: Transfer is not needed.
    ok(a.copy_to(no_transfer, a, kRightRead));

    const Handle transfer = install(a, 1, kRw | kRightDuplicate | kRightTransfer);
    const Handle copied = ok(a.copy_to(transfer, b, kRightRead));
    EXPECT_EQ(object_of(b, copied), obj(1));
    EXPECT_EQ(ok(b.lookup(copied, kTypeMemory, 0)).rights, kRightRead);
    EXPECT_EQ(status_of(a, transfer), Status::Ok);  // a copy leaves the source
    // The copy cannot go further: it was granted without Transfer.
    EXPECT_EQ(b.copy_to(copied, c, kRightRead).status(), Status::NoRights);
    EXPECT_EQ(b.move_to(copied, c).status(), Status::NoRights);
}

TEST_F(CapDeriveTest, CopyCannotAddRights) {
    const Handle h = install(a, 0, kRightRead | kRightDuplicate | kRightTransfer);
    EXPECT_EQ(a.copy_to(h, b, kRightRead | kRightWrite).status(), Status::NoRights);
    EXPECT_EQ(a.mint(h, b, obj(1), kTypeMemory, kRightMap).status(), Status::NoRights);
    EXPECT_EQ(b.live_count(), 0u);
}

TEST_F(CapDeriveTest, MoveKeepsObjectRightsAndDerivationAndStalesTheSource) {
    const Handle root = install(a, 0, kGrant);
    const Handle granted = ok(a.copy_to(root, b, kRw | kRightTransfer));
    const int acquires = rec.acquires;
    const Handle moved = ok(b.move_to(granted, c));
    EXPECT_EQ(status_of(b, granted), Status::Stale);
    EXPECT_EQ(b.live_count(), 0u);
    Result<Entry> e = c.lookup(moved, kTypeMemory, kRw);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e.value().object, obj(0));
    EXPECT_EQ(e.value().rights, kRw | kRightTransfer);
    EXPECT_EQ(rec.acquires, acquires);  // the reference moved with it
    EXPECT_TRUE(rec.releases.empty());
    // Still a child of the issuer's cap: revocation follows it.
    EXPECT_EQ(ok(a.revoke(root)), 1u);
    EXPECT_EQ(status_of(c, moved), Status::Revoked);
}

TEST_F(CapDeriveTest, MoveWithinTheSameSpaceChangesTheHandle) {
    const Handle h = install(a, 0, kGrant);
    const Handle moved = ok(a.move_to(h, a));
    EXPECT_NE(moved, h);
    EXPECT_EQ(status_of(a, h), Status::Stale);
    EXPECT_EQ(object_of(a, moved), obj(0));
    EXPECT_EQ(a.live_count(), 1u);
    EXPECT_EQ(forest.used_count(), 1u);
}

TEST_F(CapDeriveTest, MoveAndCopyCarryChildrenAcrossSpaces) {
    // The moved cap keeps its own children: revoking it from its new home
    // still reaches them.
    const Handle root = install(a, 0, kGrant);
    const Handle child = ok(a.duplicate(root, kRightRead));
    const Handle moved_root = ok(a.move_to(root, b));
    EXPECT_EQ(ok(b.revoke(moved_root)), 1u);
    EXPECT_EQ(status_of(a, child), Status::Revoked);
}

TEST_F(CapDeriveTest, SpacesOnDifferentForestsCannotExchange) {
    DerivationForest<4> other(rec.hooks());
    CapSpace<4> foreign(other, 40);
    const Handle h = install(a, 0, kGrant);
    EXPECT_EQ(a.copy_to(h, foreign, kRw).status(), Status::InvalidArgument);
    EXPECT_EQ(a.move_to(h, foreign).status(), Status::InvalidArgument);
    EXPECT_EQ(a.mint(h, foreign, obj(1), kTypeMemory, kRw).status(), Status::InvalidArgument);
    EXPECT_EQ(foreign.live_count(), 0u);
}

TEST_F(CapDeriveTest, MintNamesANewObjectRevocableThroughItsParent) {
    const Handle window = install(a, 0, kGrant, kTypeMemory);
    const int acquires = rec.acquires;
    const Handle narrow = mint(a, window, b, 1, kRightRead | kRightMap, kTypeEndpoint);
    EXPECT_EQ(rec.acquires, acquires);  // mint adopted the caller's reference
    Result<Entry> e = b.lookup(narrow, kTypeEndpoint, kRightMap);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e.value().object, obj(1));
    EXPECT_EQ(ok(a.revoke(window)), 1u);
    EXPECT_EQ(status_of(b, narrow), Status::Revoked);
    ASSERT_EQ(rec.releases.size(), 1u);
    EXPECT_EQ(rec.releases[0].object, obj(1));
    EXPECT_EQ(rec.releases[0].type, kTypeEndpoint);
    EXPECT_EQ(rec.refs[obj(1)], 0);
}

// ---------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------

using CapRevokeTest = CapTest;

TEST_F(CapRevokeTest, RevokeRequiresTheRevokeRight) {
    const Handle h = install(a, 0, kRw | kRightDuplicate | kRightTransfer);
    ok(a.copy_to(h, b, kRightRead));
    EXPECT_EQ(a.revoke(h).status(), Status::NoRights);
    EXPECT_EQ(b.live_count(), 1u);
    EXPECT_TRUE(rec.releases.empty());
}

TEST_F(CapRevokeTest, RevokedGrantIsRevokedInHolderAndDerivedCopiesAcrossSpacesIssuerKeepsWorking) {
    // devmgr (a) grants to a provider (b), which passes a narrower copy on
    // to a consumer (c) and keeps a duplicate for itself.
    const Handle issuer = install(a, 0, kGrant);
    const Handle grant = ok(a.copy_to(issuer, b, kRw | kRightDuplicate | kRightTransfer));
    const Handle provider_dup = ok(b.duplicate(grant, kRightRead | kRightTransfer | kRightDuplicate));
    const Handle consumer = ok(b.copy_to(grant, c, kRightRead));
    const Handle consumer2 = ok(b.copy_to(provider_dup, c, kRightRead));

    EXPECT_EQ(ok(a.revoke(issuer)), 4u);

    for (const auto& [space, h] :
         std::vector<std::pair<Space*, Handle>>{{&b, grant}, {&b, provider_dup}, {&c, consumer}, {&c, consumer2}}) {
        EXPECT_EQ(status_of(*space, h), Status::Revoked);
        EXPECT_EQ(space->lookup(h, kTypeMemory, kRightRead).status(), Status::Revoked);
        EXPECT_EQ(space->duplicate(h, kSameRights).status(), Status::Revoked);
        EXPECT_EQ(space->copy_to(h, a, kSameRights).status(), Status::Revoked);
        EXPECT_EQ(space->move_to(h, a).status(), Status::Revoked);
        EXPECT_EQ(space->revoke(h).status(), Status::Revoked);
    }
    // The issuer's own capability is untouched and can grant again.
    EXPECT_EQ(object_of(a, issuer), obj(0));
    const Handle regrant = ok(a.copy_to(issuer, b, kRightRead));
    EXPECT_EQ(object_of(b, regrant), obj(0));
    EXPECT_NE(regrant, grant);
    EXPECT_EQ(rec.refs[obj(0)], 2);  // issuer + regrant
}

TEST_F(CapRevokeTest, RevokeCallbackListsExactlyTheDescendants) {
    //            root(a)
    //          /        \
    //       m(b)         s(c)        <- s is m's sibling: not revoked
    //      /    \          \
    //   m1(b)   m2(c)      s1(a)
    //    |
    //   m11(a)
    const Handle root = install(a, 0, kGrant);
    const Handle m = ok(a.copy_to(root, b, kGrant));
    const Handle s = ok(a.copy_to(root, c, kGrant));
    const Handle m1 = ok(b.duplicate(m, kGrant));
    const Handle m2 = ok(b.copy_to(m, c, kRw));
    const Handle m11 = ok(b.copy_to(m1, a, kRightRead));
    const Handle s1 = ok(c.copy_to(s, a, kRightRead));

    EXPECT_EQ(ok(b.revoke(m)), 3u);
    const std::set<std::pair<u32, u32>> expected = {{2, m1.raw()}, {3, m2.raw()}, {1, m11.raw()}};
    EXPECT_EQ(rec.released_set(ReleaseReason::Revoked), expected);
    EXPECT_EQ(rec.releases.size(), 3u);
    for (const Release& r : rec.releases) {
        EXPECT_EQ(r.object, obj(0));
        EXPECT_EQ(r.type, kTypeMemory);
    }
    // Post-order: a child is reported before its parent.
    // (Handle values are per space: m11 in a and m1 in b may be equal.)
    auto pos = [&](u32 space_id, Handle h) {
        for (size_t i = 0; i < rec.releases.size(); i++)
            if (rec.releases[i].space_id == space_id && rec.releases[i].handle == h) return i;
        return size_t{99};
    };
    EXPECT_LT(pos(1, m11), pos(2, m1));
    // Outside the subtree nothing moved.
    for (const auto& [space, h] : std::vector<std::pair<Space*, Handle>>{{&a, root}, {&b, m}, {&c, s}, {&a, s1}})
        EXPECT_EQ(status_of(*space, h), Status::Ok);
    // The rights recorded are the revoked caps' own.
    for (const Release& r : rec.releases)
        if (r.space_id == 1 && r.handle == m11) EXPECT_EQ(r.rights, kRightRead);
}

TEST_F(CapRevokeTest, RevokedSlotStaysOccupiedUntilClosedThenIsStale) {
    const Handle root = install(a, 0, kGrant);
    const Handle held = ok(a.copy_to(root, b, kRw));
    ASSERT_EQ(ok(a.revoke(root)), 1u);
    EXPECT_EQ(status_of(b, held), Status::Revoked);
    EXPECT_EQ(b.revoked_count(), 1u);
    EXPECT_EQ(rec.refs[obj(0)], 1);  // released at revoke time
    const size_t releases = rec.releases.size();
    // The holder learns why, then closes: no second release.
    ASSERT_TRUE(b.close(held).ok());
    EXPECT_EQ(rec.releases.size(), releases);
    EXPECT_EQ(status_of(b, held), Status::Stale);
    EXPECT_EQ(b.close(held).status(), Status::Stale);
    EXPECT_EQ(b.revoked_count(), 0u);
    EXPECT_EQ(b.free_count(), b.capacity());
}

TEST_F(CapRevokeTest, RevokeWithoutDescendantsAndTwice) {
    const Handle root = install(a, 0, kGrant);
    EXPECT_EQ(ok(a.revoke(root)), 0u);
    ok(a.duplicate(root, kRightRead));
    EXPECT_EQ(ok(a.revoke(root)), 1u);
    EXPECT_EQ(ok(a.revoke(root)), 0u);
    EXPECT_EQ(rec.releases.size(), 1u);
}

TEST_F(CapRevokeTest, DeepChainIsRevokedWithoutRecursion) {
    // 4094 generations of derivation alternating between two spaces: a
    // recursive walk this deep would blow a small kernel stack.
    constexpr u32 kDepth = 4094;
    auto big_forest = std::make_unique<DerivationForest<kDepth + 1>>(rec.hooks());
    auto x = std::make_unique<CapSpace<Handle::kMaxSlots>>(*big_forest, 50);
    auto y = std::make_unique<CapSpace<Handle::kMaxSlots>>(*big_forest, 51);
    const Handle root = ok(x->install(obj(0), kTypeMemory, kGrant));
    rec.refs[obj(0)]++;
    Handle cur = root;
    Space* where = x.get();
    for (u32 i = 0; i < kDepth; i++) {
        Space* to = (i % 2 == 0) ? y.get() : x.get();
        cur = ok(where->copy_to(cur, *to, kGrant));
        where = to;
    }
    EXPECT_EQ(big_forest->free_count(), 0u);
    EXPECT_EQ(ok(x->revoke(root)), kDepth);
    EXPECT_EQ(status_of(*where, cur), Status::Revoked);
    EXPECT_EQ(big_forest->used_count(), 1u);
    EXPECT_EQ(rec.refs[obj(0)], 1);
    EXPECT_EQ(x->close_all(), 1u);
    EXPECT_EQ(y->close_all(), 0u);
}

TEST_F(CapRevokeTest, WideTreeIsRevokedCompletely) {
    const Handle root = install(a, 0, kGrant);
    std::vector<Handle> kids;
    for (int i = 0; i < 31; i++) kids.push_back(ok(a.copy_to(root, i % 2 ? b : c, kGrant)));
    EXPECT_EQ(ok(a.revoke(root)), 31u);
    EXPECT_EQ(b.revoked_count() + c.revoked_count(), 31u);
    EXPECT_EQ(forest.used_count(), 1u);
}

// ---------------------------------------------------------------------------
// Close and re-parenting
// ---------------------------------------------------------------------------

using CapCloseTest = CapTest;

TEST_F(CapCloseTest, ClosingAMiddleCapReparentsItsChildrenToItsParent) {
    const Handle root = install(a, 0, kGrant);
    const Handle middle = ok(a.copy_to(root, b, kGrant));
    const Handle leaf1 = ok(b.copy_to(middle, c, kRightRead));
    const Handle leaf2 = ok(b.duplicate(middle, kRightRead));
    const Handle sibling = ok(a.duplicate(root, kRightRead));

    ASSERT_TRUE(b.close(middle).ok());
    ASSERT_EQ(rec.releases.size(), 1u);
    EXPECT_EQ(rec.releases[0].reason, ReleaseReason::Closed);
    EXPECT_EQ(status_of(c, leaf1), Status::Ok);
    EXPECT_EQ(status_of(b, leaf2), Status::Ok);

    SlotInfo info;
    u32 next;
    ASSERT_EQ(a.enumerate(root.slot(), &info, 1, &next), 1u);
    EXPECT_EQ(info.children, 3u);  // sibling + the two adopted leaves

    // The issuer above can still revoke them.
    EXPECT_EQ(ok(a.revoke(root)), 3u);
    EXPECT_EQ(status_of(c, leaf1), Status::Revoked);
    EXPECT_EQ(status_of(b, leaf2), Status::Revoked);
    EXPECT_EQ(status_of(a, sibling), Status::Revoked);
}

TEST_F(CapCloseTest, ClosingARootMakesItsChildrenIndependentRoots) {
    const Handle root = install(a, 0, kGrant);
    const Handle k1 = ok(a.copy_to(root, b, kGrant));
    const Handle k2 = ok(a.copy_to(root, c, kGrant));
    const Handle k1k = ok(b.copy_to(k1, c, kRightRead));
    ASSERT_TRUE(a.close(root).ok());
    EXPECT_EQ(status_of(b, k1), Status::Ok);
    EXPECT_EQ(status_of(c, k2), Status::Ok);
    SlotInfo info[4];
    ASSERT_EQ(b.enumerate(0, info, 4, nullptr), 1u);
    EXPECT_FALSE(info[0].derived);
    EXPECT_EQ(info[0].children, 1u);
    // Each former child revokes only its own subtree.
    EXPECT_EQ(ok(c.revoke(k2)), 0u);
    EXPECT_EQ(status_of(c, k1k), Status::Ok);
    EXPECT_EQ(ok(b.revoke(k1)), 1u);
    EXPECT_EQ(status_of(c, k1k), Status::Revoked);
}

TEST_F(CapCloseTest, CloseAmongSiblingsKeepsTheSiblingListIntact) {
    const Handle root = install(a, 0, kGrant);
    std::vector<Handle> kids;
    for (int i = 0; i < 5; i++) kids.push_back(ok(a.copy_to(root, b, kGrant)));
    std::vector<Handle> grandkids;
    for (int i = 0; i < 3; i++) grandkids.push_back(ok(b.copy_to(kids[2], c, kRightRead)));
    // Close the first, middle (with children) and last of the list.
    ASSERT_TRUE(b.close(kids[0]).ok());
    ASSERT_TRUE(b.close(kids[2]).ok());
    ASSERT_TRUE(b.close(kids[4]).ok());
    SlotInfo info;
    ASSERT_EQ(a.enumerate(root.slot(), &info, 1, nullptr), 1u);
    EXPECT_EQ(info.children, 5u);  // kids 1, 3 and the three grandkids
    EXPECT_EQ(ok(a.revoke(root)), 5u);
    EXPECT_EQ(c.revoked_count(), 3u);
    EXPECT_EQ(b.revoked_count(), 2u);
}

// ---------------------------------------------------------------------------
// close_all (process death)
// ---------------------------------------------------------------------------

using CapCloseAllTest = CapTest;

TEST_F(CapCloseAllTest, ReleasesEverythingExactlyOnce) {
    const Handle r0 = install(a, 0, kGrant);
    install(a, 1, kGrant);
    const Handle r2 = install(b, 2, kGrant);
    ok(a.duplicate(r0, kRw));
    ok(a.duplicate(r0, kRw | kRightDuplicate));
    ok(b.copy_to(r2, a, kRw));
    const Handle to_revoke = ok(a.copy_to(r0, c, kGrant));
    ok(c.copy_to(to_revoke, a, kRightRead));
    ok(c.revoke(to_revoke));  // leaves one Revoked slot in a
    ASSERT_EQ(a.live_count(), 5u);
    ASSERT_EQ(a.revoked_count(), 1u);
    rec.releases.clear();

    EXPECT_EQ(a.close_all(), 5u);
    EXPECT_EQ(a.live_count(), 0u);
    EXPECT_EQ(a.revoked_count(), 0u);
    EXPECT_EQ(a.free_count(), a.capacity());
    EXPECT_EQ(rec.releases.size(), 5u);
    for (const Release& r : rec.releases) EXPECT_EQ(r.reason, ReleaseReason::SpaceClosed);
    EXPECT_EQ(rec.refs[obj(0)], 1);  // c's grant (now a root of its own)
    EXPECT_EQ(rec.refs[obj(1)], 0);
    EXPECT_EQ(rec.refs[obj(2)], 1);  // b's root
    EXPECT_EQ(forest.used_count(), b.live_count() + c.live_count());
    EXPECT_EQ(status_of(a, r0), Status::Stale);
    EXPECT_EQ(a.close_all(), 0u);  // idempotent
}

TEST_F(CapCloseAllTest, DescendantsElsewhereAreReparentedToTheNearestSurvivingIssuer) {
    // issuer(a) -> p1(b) -> p2(b) -> p3(b) -> q(c); p2 -> q2(c)
    const Handle issuer = install(a, 0, kGrant);
    const Handle p1 = ok(a.copy_to(issuer, b, kGrant));
    const Handle p2 = ok(b.duplicate(p1, kGrant));
    const Handle p3 = ok(b.duplicate(p2, kGrant));
    const Handle q = ok(b.copy_to(p3, c, kRw));
    const Handle q2 = ok(b.copy_to(p2, c, kRw));
    (void)p3;
    // b dies. Closing its caps bottom-up would re-parent q three times; the
    // top-down close moves it once, straight to the issuer.
    EXPECT_EQ(b.close_all(), 3u);
    EXPECT_EQ(status_of(c, q), Status::Ok);
    EXPECT_EQ(status_of(c, q2), Status::Ok);
    SlotInfo info[4];
    ASSERT_EQ(c.enumerate(0, info, 4, nullptr), 2u);
    EXPECT_TRUE(info[0].derived);
    EXPECT_TRUE(info[1].derived);
    ASSERT_EQ(a.enumerate(0, info, 4, nullptr), 1u);
    EXPECT_EQ(info[0].children, 2u);
    EXPECT_EQ(ok(a.revoke(issuer)), 2u);
    EXPECT_EQ(status_of(c, q), Status::Revoked);
    EXPECT_EQ(status_of(c, q2), Status::Revoked);
}

TEST_F(CapCloseAllTest, ChildrenInTheDyingSpaceOrderedBeforeTheirParents) {
    // Put the derived caps in lower slots than their parent, so the scan
    // meets children first: they must wait for their top-most ancestor.
    std::vector<Handle> filler;
    for (int i = 0; i < 3; i++) filler.push_back(install(b, 1, kRw));
    const Handle tmp_root = install(b, 0, kGrant);  // slot 3
    for (const Handle h : filler) ASSERT_TRUE(b.close(h).ok());
    // Slots 0..2 are at the back of the FIFO behind 4..31; fill those.
    std::vector<Handle> pad;
    for (int i = 0; i < 28; i++) pad.push_back(install(b, 2, kRw));
    const Handle k0 = ok(b.duplicate(tmp_root, kGrant));  // slot 0
    const Handle k1 = ok(b.duplicate(k0, kGrant));        // slot 1
    const Handle out = ok(b.copy_to(k1, c, kRw));
    ASSERT_LT(k0.slot(), tmp_root.slot());
    ASSERT_LT(k1.slot(), tmp_root.slot());
    EXPECT_EQ(b.close_all(), 31u);
    EXPECT_EQ(b.live_count(), 0u);
    EXPECT_EQ(status_of(c, out), Status::Ok);
    SlotInfo info;
    ASSERT_EQ(c.enumerate(0, &info, 1, nullptr), 1u);
    EXPECT_FALSE(info.derived);  // its whole ancestry died with b
}

TEST_F(CapCloseAllTest, DestructorClosesEverything) {
    {
        CapSpace<8> temp(forest, 77);
        const Handle h = ok(temp.install(obj(5), kTypeMemory, kGrant));
        rec.refs[obj(5)]++;
        ok(temp.copy_to(h, a, kRw));
        ok(temp.duplicate(h, kRw));
    }
    EXPECT_EQ(rec.refs[obj(5)], 1);  // a's copy survives
    EXPECT_EQ(forest.used_count(), 1u);
    SlotInfo info;
    ASSERT_EQ(a.enumerate(0, &info, 1, nullptr), 1u);
    EXPECT_FALSE(info.derived);
}

}  // namespace
