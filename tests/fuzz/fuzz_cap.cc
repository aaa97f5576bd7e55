// Fuzzes lib/cap: the input is a program of capability operations on four
// small spaces sharing one small Forest (so slot and node exhaustion are
// common). Every operation runs against the library and against a plain
// reference model (std::map, recursion-free but naive), and the fuzzer traps
// unless they agree on:
//   - the exact Status of every call (error precedence included);
//   - what a successful lookup resolves to (object, type, rights) — a stale
//     or revoked handle never resolves, and a handle value is never issued
//     twice in one space;
//   - exactly which (space, handle, object, reason) releases each call
//     reports, so revocation reaches precisely the descendants and close /
//     close_all re-parent as specified;
//   - per-object reference counts as the hooks maintain them: never below
//     zero (double release), equal to the live slots naming the object, and
//     zero once every space is closed (no leak);
//   - live / revoked / free counts, node usage and enumerate() output.
//
// Program format: a sequence of records, each an opcode byte followed by
// its argument bytes (see Harness::run); the program ends when the input
// does. SLUICE_FUZZ_TRACE=1 prints every operation and its result, which is
// how to read a crash artifact or check what a seed in corpus/cap does.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "cap/cap_space.h"
#include "fuzz_support.h"

namespace {

using namespace cap;

using fuzz_support::check;
using fuzz_support::trace;
using fuzz_support::tracing;

constexpr int kSpaces = 4;
constexpr u32 kSlots = 8;
constexpr u32 kNodes = 20;  // fewer than 4 * 8 slots: node exhaustion happens
constexpr int kObjects = 24;
constexpr int kNullObject = -1;

class Reader {
public:
    Reader(const u8* data, size_t size) : m_data(data), m_size(size) {}
    bool empty() const { return m_pos >= m_size; }
    u8 byte() { return m_pos < m_size ? m_data[m_pos++] : 0; }
    u32 word() {
        u32 v = 0;
        for (int i = 0; i < 4; i++) v |= u32{byte()} << (8 * i);
        return v;
    }

private:
    const u8* m_data;
    size_t m_size;
    size_t m_pos = 0;
};

// ---------------------------------------------------------------------------
// The library side: objects with hook-maintained reference counts.
// ---------------------------------------------------------------------------

struct Actual {
    int refs[kObjects] = {};
    u32 objects[kObjects] = {};  // their addresses are the object pointers
    std::vector<Release> releases;

    int index_of(const void* p) const {
        for (int i = 0; i < kObjects; i++)
            if (p == &objects[i]) return i;
        return kNullObject;
    }
    static void on_acquire(void* ctx, void* object, u16) {
        auto* self = static_cast<Actual*>(ctx);
        const int i = self->index_of(object);
        check(i != kNullObject);
        self->refs[i]++;
    }
    static void on_release(void* ctx, const Release& r) {
        auto* self = static_cast<Actual*>(ctx);
        const int i = self->index_of(r.object);
        check(i != kNullObject);
        check(self->refs[i] > 0);  // double release
        self->refs[i]--;
        self->releases.push_back(r);
    }
};

// ---------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------

struct MCap {
    int space;
    u32 handle;
    int object;
    u16 type;
    Rights rights;
    bool revoked;
    int parent;  // model id of the parent cap, -1 for a root (live caps only)
};

// (space id, handle, object index, type, rights, reason) of one release.
using MRelease = std::tuple<u32, u32, int, u16, Rights, int>;

struct Model {
    std::map<int, MCap> caps;                      // occupied slots (live or revoked), by model id
    std::map<std::pair<int, u32>, int> by_handle;  // (space, handle) -> id
    std::set<std::pair<int, u32>> ever_issued;
    std::vector<std::pair<int, u32>> history;
    int refs[kObjects] = {};
    int next_id = 0;

    int occupied(int space) const {
        int n = 0;
        for (const auto& [id, c] : caps) n += c.space == space;
        return n;
    }
    int live(int space) const {
        int n = 0;
        for (const auto& [id, c] : caps) n += c.space == space && !c.revoked;
        return n;
    }
    int live_total() const {
        int n = 0;
        for (const auto& [id, c] : caps) n += !c.revoked;
        return n;
    }
    bool is_descendant(int id, int ancestor) const {
        for (int p = caps.at(id).parent; p != -1; p = caps.at(p).parent)
            if (p == ancestor) return true;
        return false;
    }
    int children(int id) const {
        int n = 0;
        for (const auto& [cid, c] : caps) n += !c.revoked && c.parent == id;
        return n;
    }

    // Resolution by the documented precedence: BadHandle, Stale, Revoked.
    Status resolve(int space, u32 raw, bool allow_revoked, int* id) const {
        const Handle h = Handle::from_raw(raw);
        if (!h.has_slot_field() || h.slot() >= kSlots || h.generation() == 0) return Status::BadHandle;
        auto it = by_handle.find({space, raw});
        if (it == by_handle.end()) return Status::Stale;
        if (caps.at(it->second).revoked && !allow_revoked) return Status::Revoked;
        *id = it->second;
        return Status::Ok;
    }
    Status resolve_live(int space, u32 raw, u16 type, Rights need, int* id) const {
        const Status s = resolve(space, raw, false, id);
        if (s != Status::Ok) return s;
        const MCap& c = caps.at(*id);
        if (type != kAnyType && c.type != type) return Status::WrongType;
        if (!rights_include(c.rights, need)) return Status::NoRights;
        return Status::Ok;
    }

    // A new handle must never have been issued in that space before.
    int add(int space, u32 raw, int object, u16 type, Rights rights, int parent) {
        check(ever_issued.insert({space, raw}).second);
        history.push_back({space, raw});
        const int id = next_id++;
        caps[id] = MCap{space, raw, object, type, rights, false, parent};
        by_handle[{space, raw}] = id;
        return id;
    }
    // Drops an occupied cap; a live one re-parents its children to its
    // parent first.
    void remove(int id) {
        const MCap c = caps.at(id);
        if (!c.revoked) {
            for (auto& [cid, child] : caps)
                if (!child.revoked && child.parent == id) child.parent = c.parent;
        }
        by_handle.erase({c.space, c.handle});
        caps.erase(id);
    }
};

u32 space_id(int s) { return 100 + static_cast<u32>(s); }

MRelease release_of(const MCap& c, ReleaseReason reason) {
    return {space_id(c.space), c.handle, c.object, c.type, c.rights, static_cast<int>(reason)};
}

struct Harness {
    Actual actual;
    Model model;
    DerivationForest<kNodes> forest{Hooks{&Actual::on_acquire, &Actual::on_release, &actual}};
    // Space 3 is seeded: its handle values differ from the others'.
    CapSpace<kSlots> spaces[kSpaces] = {
        {forest, space_id(0)}, {forest, space_id(1)}, {forest, space_id(2)}, {forest, space_id(3), 0x5EED5EEDu}};
    std::vector<MRelease> expected;

    void* object_ptr(int i) { return i == kNullObject ? nullptr : &actual.objects[i]; }

    // Compares the releases the last call reported with `expected`.
    void check_releases() {
        std::vector<MRelease> got;
        for (const Release& r : actual.releases)
            got.push_back(
                {r.space_id, r.handle.raw(), actual.index_of(r.object), r.type, r.rights, static_cast<int>(r.reason)});
        std::sort(got.begin(), got.end());
        std::sort(expected.begin(), expected.end());
        check(got == expected);
        actual.releases.clear();
        expected.clear();
    }

    void check_state() {
        for (int i = 0; i < kObjects; i++) check(actual.refs[i] == model.refs[i]);
        int live_refs = 0;
        for (const auto& [id, c] : model.caps) live_refs += !c.revoked;
        int total = 0;
        for (int i = 0; i < kObjects; i++) total += model.refs[i];
        check(total == live_refs);
        for (int s = 0; s < kSpaces; s++) {
            const Space& sp = spaces[s];
            check(sp.live_count() == static_cast<u32>(model.live(s)));
            check(sp.live_count() + sp.revoked_count() == static_cast<u32>(model.occupied(s)));
            check(sp.live_count() + sp.revoked_count() + sp.free_count() == sp.capacity());
        }
        check(forest.used_count() == static_cast<u32>(model.live_total()));
    }

    void check_enumerate(int s, u32 page) {
        trace("enumerate s%d (%u live, %u revoked)", s, spaces[s].live_count(), spaces[s].revoked_count());
        std::vector<SlotInfo> got;
        u32 cursor = 0;
        SlotInfo buf[kSlots];
        page = page % kSlots + 1;
        while (cursor < kSlots) {
            u32 next = 0;
            const u32 n = spaces[s].enumerate(cursor, buf, page, &next);
            check(n <= page && next > cursor);
            got.insert(got.end(), buf, buf + n);
            cursor = next;
        }
        std::vector<std::pair<u32, int>> want;  // (slot, id)
        for (const auto& [id, c] : model.caps)
            if (c.space == s) want.push_back({Handle::from_raw(c.handle).slot(), id});
        std::sort(want.begin(), want.end());
        check(got.size() == want.size());
        for (size_t i = 0; i < got.size(); i++) {
            const MCap& c = model.caps.at(want[i].second);
            const SlotInfo& g = got[i];
            check(g.handle.raw() == c.handle);
            check(g.state == (c.revoked ? SlotState::Revoked : SlotState::Live));
            check(g.type == c.type && g.rights == c.rights);
            check(g.object == (c.revoked ? nullptr : object_ptr(c.object)));
            check(g.derived == (!c.revoked && c.parent != -1));
            check(g.children == (c.revoked ? 0u : static_cast<u32>(model.children(want[i].second))));
        }
    }

    // Picks (space, handle) to operate on: mostly a handle that is occupied
    // right now, sometimes one from history (often stale), one used in the
    // wrong space, or raw garbage.
    std::pair<int, u32> pick_handle(Reader& in) {
        const u8 mode = in.byte();
        const u8 k = in.byte();
        switch (mode % 8) {
            case 5:
            case 6: {
                if (model.history.empty()) break;
                const auto& [s, raw] = model.history[k % model.history.size()];
                return {mode % 8 == 5 ? s : (mode >> 3) % kSpaces, raw};
            }
            case 7: return {(mode >> 3) % kSpaces, in.word()};
            default: {
                if (model.caps.empty()) break;
                auto it = model.caps.begin();
                std::advance(it, k % model.caps.size());
                return {it->second.space, it->second.handle};
            }
        }
        return {(mode >> 3) % kSpaces, in.word()};
    }

    // Requested rights for a derivation: kSameRights, a subset of all rights,
    // or (rarely) an invalid value.
    static Rights pick_rights(Reader& in) {
        const u8 mode = in.byte();
        switch (mode % 8) {
            case 0:
            case 1: return kSameRights;
            case 2: return in.word();  // usually invalid
            case 3: return kRightsAll;
            default: return rights_bits(in);
        }
    }
    // Two bytes masked to the defined rights.
    static Rights rights_bits(Reader& in) {
        const u32 lo = in.byte();
        const u32 hi = in.byte();
        return (lo | hi << 8) & kRightsAll;
    }
    // Rights for a new root: mostly everything, so derivations can succeed.
    static Rights pick_root_rights(Reader& in) {
        const u8 mode = in.byte();
        if (mode < 160) return kRightsAll;
        if (mode < 250) return kRightsAll & ~(u32{1} << (mode % 13));
        return mode == 255 ? kSameRights : (1u << 13);  // invalid
    }
    static u16 pick_type(Reader& in) { return in.byte() % 4; }  // 0 = kAnyType / invalid
    static int pick_object(Reader& in) {
        const u8 b = in.byte();
        return b == 0xFF ? kNullObject : b % kObjects;
    }

    void op_install(Reader& in) {
        const int s = in.byte() % kSpaces;
        const int o = pick_object(in);
        const u16 type = pick_type(in);
        const Rights rights = pick_root_rights(in);
        Status want = Status::Ok;
        if (o == kNullObject || type == kAnyType || !rights_valid(rights))
            want = Status::InvalidArgument;
        else if (model.occupied(s) == static_cast<int>(kSlots) || model.live_total() == static_cast<int>(kNodes))
            want = Status::NoMemory;
        // The kernel takes a reference, hands it to the slot on success.
        if (o != kNullObject) actual.refs[o]++;
        Result<Handle> r = spaces[s].install(object_ptr(o), type, rights);
        trace("install s%d obj%d type%u rights %#x -> %s %#x", s, o, type, rights, status_name(r.status()),
              r.ok() ? r.value().raw() : 0);
        check(r.status() == want);
        if (o != kNullObject && !r.ok()) actual.refs[o]--;
        if (r.ok()) {
            model.add(s, r.value().raw(), o, type, rights, -1);
            model.refs[o]++;
        }
    }

    void op_lookup(Reader& in) {
        const auto [s, raw] = pick_handle(in);
        const u16 type = pick_type(in);
        const Rights need = in.byte() & 1 ? rights_bits(in) : 0;
        int id = -1;
        const Status want = model.resolve_live(s, raw, type, need, &id);
        Result<Entry> r = spaces[s].lookup(Handle::from_raw(raw), type, need);
        trace("lookup s%d %#x type%u need %#x -> %s", s, raw, type, need, status_name(r.status()));
        check(r.status() == want);
        if (r.ok()) {
            const MCap& c = model.caps.at(id);
            check(!c.revoked);
            check(r.value().object == object_ptr(c.object));
            check(r.value().type == c.type && r.value().rights == c.rights);
        }
    }

    // duplicate (d == s via duplicate()), copy_to, mint.
    void op_derive(Reader& in, bool via_duplicate, bool mint) {
        const auto [s, raw] = pick_handle(in);
        const int d = via_duplicate ? s : in.byte() % kSpaces;
        const Rights rights = pick_rights(in);
        const int new_object = mint ? pick_object(in) : kNullObject;
        const u16 new_type = mint ? pick_type(in) : 0;

        int id = -1;
        Status want = Status::Ok;
        Rights granted = 0;
        if (mint && (new_object == kNullObject || new_type == kAnyType)) {
            want = Status::InvalidArgument;
        } else if (rights != kSameRights && !rights_valid(rights)) {
            want = Status::InvalidArgument;
        } else {
            const Rights need = d == s ? kRightDuplicate : kRightDuplicate | kRightTransfer;
            want = model.resolve_live(s, raw, kAnyType, need, &id);
            if (want == Status::Ok) {
                const Rights have = model.caps.at(id).rights;
                granted = rights == kSameRights ? have : rights;
                if (!rights_include(have, granted))
                    want = Status::NoRights;
                else if (model.occupied(d) == static_cast<int>(kSlots) ||
                         model.live_total() == static_cast<int>(kNodes))
                    want = Status::NoMemory;
            }
        }

        if (mint && new_object != kNullObject) actual.refs[new_object]++;
        const Handle h = Handle::from_raw(raw);
        Result<Handle> r = mint            ? spaces[s].mint(h, spaces[d], object_ptr(new_object), new_type, rights)
                           : via_duplicate ? spaces[s].duplicate(h, rights)
                                           : spaces[s].copy_to(h, spaces[d], rights);
        trace("%s s%d %#x -> s%d rights %#x -> %s %#x",
              mint            ? "mint"
              : via_duplicate ? "duplicate"
                              : "copy_to",
              s, raw, d, rights, status_name(r.status()), r.ok() ? r.value().raw() : 0);
        check(r.status() == want);
        if (mint && new_object != kNullObject && !r.ok()) actual.refs[new_object]--;
        if (!r.ok()) return;
        const MCap src = model.caps.at(id);
        const int object = mint ? new_object : src.object;
        model.add(d, r.value().raw(), object, mint ? new_type : src.type, granted, id);
        model.refs[object]++;
    }

    void op_move(Reader& in) {
        const auto [s, raw] = pick_handle(in);
        const int d = in.byte() % kSpaces;
        int id = -1;
        Status want = model.resolve_live(s, raw, kAnyType, kRightTransfer, &id);
        if (want == Status::Ok && model.occupied(d) == static_cast<int>(kSlots)) want = Status::NoMemory;
        Result<Handle> r = spaces[s].move_to(Handle::from_raw(raw), spaces[d]);
        trace("move_to s%d %#x -> s%d -> %s %#x", s, raw, d, status_name(r.status()), r.ok() ? r.value().raw() : 0);
        check(r.status() == want);
        if (!r.ok()) return;
        // Same node: the model cap keeps its id (parent and children intact).
        MCap& c = model.caps.at(id);
        model.by_handle.erase({c.space, c.handle});
        check(model.ever_issued.insert({d, r.value().raw()}).second);
        model.history.push_back({d, r.value().raw()});
        c.space = d;
        c.handle = r.value().raw();
        model.by_handle[{d, c.handle}] = id;
    }

    void op_close(Reader& in) {
        const auto [s, raw] = pick_handle(in);
        int id = -1;
        const Status want = model.resolve(s, raw, true, &id);
        Result<void> r = spaces[s].close(Handle::from_raw(raw));
        trace("close s%d %#x -> %s", s, raw, status_name(r.status()));
        check(r.status() == want);
        if (!r.ok()) return;
        const MCap c = model.caps.at(id);
        if (!c.revoked) {
            expected.push_back(release_of(c, ReleaseReason::Closed));
            model.refs[c.object]--;
        }
        model.remove(id);
    }

    void op_revoke(Reader& in) {
        const auto [s, raw] = pick_handle(in);
        int id = -1;
        const Status want = model.resolve_live(s, raw, kAnyType, kRightRevoke, &id);
        Result<u32> r = spaces[s].revoke(Handle::from_raw(raw));
        trace("revoke s%d %#x -> %s %u", s, raw, status_name(r.status()), r.ok() ? r.value() : 0);
        check(r.status() == want);
        if (!r.ok()) return;
        u32 count = 0;
        std::vector<int> victims;
        for (const auto& [cid, c] : model.caps)
            if (!c.revoked && model.is_descendant(cid, id)) victims.push_back(cid);
        for (int v : victims) {
            MCap& c = model.caps.at(v);
            expected.push_back(release_of(c, ReleaseReason::Revoked));
            model.refs[c.object]--;
            count++;
        }
        for (int v : victims) {
            model.caps.at(v).revoked = true;
            model.caps.at(v).parent = -1;
        }
        check(r.value() == count);
    }

    void op_close_all(int s) {
        // Live caps elsewhere whose parent dies move to their nearest
        // ancestor outside s (or become roots).
        for (auto& [cid, c] : model.caps) {
            if (c.revoked || c.space == s) continue;
            int p = c.parent;
            while (p != -1 && model.caps.at(p).space == s) p = model.caps.at(p).parent;
            c.parent = p;
        }
        u32 released = 0;
        std::vector<int> dying;
        for (const auto& [cid, c] : model.caps)
            if (c.space == s) dying.push_back(cid);
        for (int v : dying) {
            const MCap c = model.caps.at(v);
            if (!c.revoked) {
                expected.push_back(release_of(c, ReleaseReason::SpaceClosed));
                model.refs[c.object]--;
                released++;
            }
            model.by_handle.erase({c.space, c.handle});
            model.caps.erase(v);
        }
        const u32 closed = spaces[s].close_all();
        trace("close_all s%d -> %u released", s, closed);
        check(closed == released);
    }

    void run(Reader& in) {
        for (int ops = 0; ops < 4096 && !in.empty(); ops++) {
            const u8 op = in.byte();
            switch (op % 16) {
                case 0:
                case 1: op_install(in); break;
                case 2:
                case 3: op_lookup(in); break;
                case 4: op_derive(in, true, false); break;
                case 5:
                case 6: op_derive(in, false, false); break;
                case 7: op_derive(in, false, true); break;
                case 8: op_move(in); break;
                case 9:
                case 10: op_close(in); break;
                case 11:
                case 12: op_revoke(in); break;
                case 13:
                    // Rare: process death empties a space.
                    if ((op >> 4) < 2) op_close_all(in.byte() % kSpaces);
                    break;
                default: check_enumerate(in.byte() % kSpaces, in.byte()); break;
            }
            check_releases();
            check_state();
        }
        for (int s = 0; s < kSpaces; s++) op_close_all(s);
        check_releases();
        check_state();
        for (int i = 0; i < kObjects; i++) check(actual.refs[i] == 0);  // nothing leaked
        check(forest.used_count() == 0);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader in(data, size);
    Harness harness;
    harness.run(in);
    return 0;
}
