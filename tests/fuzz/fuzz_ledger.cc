// Fuzzes lib/dma/ledger: the input is a program of ledger operations (add,
// hold, unhold, release, stop, quiesce, quarantine, covers) run against the
// Ledger and against a plain reference model (std::map, linear scans,
// 128-bit bounds arithmetic), and the fuzzer traps unless they agree on:
//   - the exact Status of every call and the value it returns (ids included:
//     the model predicts slot and generation, so a stale id never resolves);
//   - exactly which (address, bytes) ranges each call gives back.
// Independently of the model, every give-back is checked against the rule
// the ledger exists for:
//   - a recorded range is given back at most once, and only after its owner
//     released it;
//   - never while it has holds and the ledger is Active;
//   - never while the ledger is Stopping (a device that has not confirmed
//     its reset might still write anything it was told about);
//   - never once the ledger is quarantined;
//   - after quiesce every released range has been given back;
// and at the end of the program the ledger is drained (release all, then
// quiesce) and every range recorded is given back exactly once, unless the
// ledger was quarantined, in which case quarantine() reports every range
// still recorded as lost and nothing more ever comes back.
//
// Program format: a sequence of records, each an opcode byte followed by
// its argument bytes (see Harness::run); the program ends when the input
// does. SLUICE_FUZZ_TRACE=1 prints every operation and its result.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "dma/ledger.h"
#include "fuzz_support.h"

namespace {

using namespace dma;

using fuzz_support::check;
using fuzz_support::trace;
using fuzz_support::tracing;

const char* state_name(LedgerState s) {
    return s == LedgerState::Active     ? "active"
           : s == LedgerState::Stopping ? "stopping"
           : s == LedgerState::Quiesced ? "quiesced"
                                        : "quarantined";
}

constexpr u32 kSlots = Ledger::kCapacity;
constexpr u32 kOwners = 4;  // owners 1..3 are used; 0 means "any" to covers()

class Reader {
public:
    Reader(const u8* data, size_t size) : m_data(data), m_size(size) {}
    bool empty() const { return m_pos >= m_size; }
    u8 byte() { return m_pos < m_size ? m_data[m_pos++] : 0; }
    u64 bytes(int n) {
        u64 v = 0;
        for (int i = 0; i < n; i++) v |= u64{byte()} << (8 * i);
        return v;
    }

private:
    const u8* m_data;
    size_t m_size;
    size_t m_pos = 0;
};

using Range = std::pair<u64, u64>;  // (address, bytes)

// One range the program recorded, for its whole life (model id = index).
struct MEntry {
    u64 address;
    u64 bytes;
    u32 owner;
    Use use;
    u32 id;  // the ledger's id for it
    u32 in_flight = 0;
    bool released = false;
    bool given_back = false;
    bool claimed = false;  // matched by a give-back during the current call
};

struct Model {
    std::vector<MEntry> entries;  // every range ever recorded
    u32 slot_generation[kSlots] = {};
    int slot_entry[kSlots];              // model index of the live range in each slot, -1 if free
    std::multimap<Range, int> by_range;  // live ranges by (address, bytes), for the callback
    LedgerState state = LedgerState::Active;

    Model() { std::fill(slot_entry, slot_entry + kSlots, -1); }

    bool live(const MEntry& e) const { return !e.given_back; }
    // Calls fn(index, entry) for each live range, in slot order. Linear in
    // the ledger's capacity, not in the program's history.
    template <typename Fn>
    void for_live(Fn fn) {
        for (u32 s = 0; s < kSlots; s++)
            if (slot_entry[s] >= 0) fn(slot_entry[s], entries[slot_entry[s]]);
    }
    template <typename Fn>
    void for_live(Fn fn) const {
        for (u32 s = 0; s < kSlots; s++)
            if (slot_entry[s] >= 0) fn(slot_entry[s], entries[slot_entry[s]]);
    }
    // The model index an id resolves to, or -1.
    int resolve(u32 id) const {
        const int i = slot_entry[id % kSlots];
        if (i < 0 || entries[i].id != id) return -1;
        return i;
    }
    u32 live_count() const {
        u32 n = 0;
        for_live([&](int, const MEntry&) { n++; });
        return n;
    }
    u32 deferred() const {
        u32 n = 0;
        for_live([&](int, const MEntry& e) { n += e.released; });
        return n;
    }
    u64 held_bytes() const {
        u64 n = 0;
        for_live([&](int, const MEntry& e) { n += e.in_flight ? e.bytes : 0; });
        return n;
    }
    u64 live_bytes() const {
        u64 n = 0;
        for_live([&](int, const MEntry& e) { n += e.bytes; });
        return n;
    }
    bool covers(u64 address, u64 bytes, u32 owner) const {
        using u128 = unsigned __int128;
        bool hit = false;
        for_live([&](int, const MEntry& e) {
            if (owner && e.owner != owner) return;
            if (address >= e.address && u128{address} + bytes <= u128{e.address} + e.bytes) hit = true;
        });
        return hit;
    }
};

struct Harness {
    Ledger ledger;
    Model model;
    std::vector<Range> given;     // what the ledger gave back during the current call
    std::vector<Range> expected;  // what the model says it should have
    std::vector<int> pending;     // model indices of `expected`, marked gone by check_given()
    std::vector<u32> history;     // every id issued, for stale lookups
    bool quarantined_ever = false;

    // The ledger's callback. The rule is checked here, at the moment of the
    // give-back, independently of the model's bookkeeping: the ledger must
    // already have forgotten the range, must not be quarantined, and the
    // range must be one its owner released that nothing may still write.
    static void give_back(void* ctx, u64 address, u64 bytes, u64) {
        auto* self = static_cast<Harness*>(ctx);
        check(self->ledger.state() != LedgerState::Quarantined);
        check(!self->quarantined_ever);
        bool match = false;
        auto [first, last] = self->model.by_range.equal_range({address, bytes});
        for (auto it = first; it != last && !match; ++it) {
            MEntry& e = self->model.entries[it->second];
            if (e.given_back || e.claimed || !e.released) continue;
            // Only a range with no holds may come back while Active; nothing
            // while Stopping (the device has not confirmed it stopped).
            if (self->ledger.state() == LedgerState::Active && e.in_flight != 0) continue;
            if (self->ledger.state() == LedgerState::Stopping) continue;
            if (self->ledger.find(e.id) != nullptr) continue;  // still recorded: not this one
            e.claimed = true;                                  // so a second give-back of it cannot match again
            match = true;
        }
        check(match);
        self->given.push_back({address, bytes});
    }

    // The model predicts a give-back by the call about to be made; it is
    // committed (the range marked gone) once the call returned, so the
    // callback still sees the range as recorded-but-released.
    void expect_give_back(int i) {
        const MEntry& e = model.entries[i];
        check(!e.given_back);
        pending.push_back(i);
        expected.push_back({e.address, e.bytes});
    }

    void check_given() {
        for (int i : pending) {
            MEntry& e = model.entries[i];
            check(!e.given_back && e.claimed);
            e.claimed = false;
            e.given_back = true;
            model.slot_entry[e.id % kSlots] = -1;
            auto [first, last] = model.by_range.equal_range({e.address, e.bytes});
            auto it = first;
            while (it != last && it->second != i) ++it;
            check(it != last);
            model.by_range.erase(it);
        }
        pending.clear();
        std::sort(given.begin(), given.end());
        std::sort(expected.begin(), expected.end());
        check(given == expected);
        given.clear();
        expected.clear();
    }

    void check_state() {
        check(ledger.state() == model.state);
        check(ledger.live() == model.live_count());
        check(ledger.deferred() == model.deferred());
        check(ledger.held_bytes() == model.held_bytes());
        model.for_live([&](int, const MEntry& e) {
            const Ledger::Entry* le = ledger.find(e.id);
            check(le != nullptr);
            check(le->address == e.address && le->bytes == e.bytes && le->owner == e.owner && le->use == e.use);
            check(le->in_flight == e.in_flight && le->released == e.released && le->live);
            // Quiesced: nothing released is still waiting, nothing is held.
            if (model.state == LedgerState::Quiesced) check(!e.released && e.in_flight == 0);
        });
    }

    // Every id ever issued for a range since given back resolves to nothing:
    // a 24-bit generation cannot wrap within one program, so no newer range
    // answers to it. Linear in the history, so run once at the end.
    void check_history() {
        for (const MEntry& e : model.entries)
            if (!model.live(e)) check(ledger.find(e.id) == nullptr);
    }

    // An id to operate on: mostly a live one, sometimes one from history
    // (often stale), sometimes one the ledger never issued.
    u32 pick_id(Reader& in) {
        const u8 mode = in.byte();
        const u8 k = in.byte();
        switch (mode % 8) {
            case 5:
            case 6:
                if (!history.empty()) return history[k % history.size()];
                break;
            case 7: return static_cast<u32>(in.bytes(4));
            default: {
                std::vector<u32> live;
                model.for_live([&](int, const MEntry& e) { live.push_back(e.id); });
                if (!live.empty()) return live[k % live.size()];
                break;
            }
        }
        return u32{k} << 8 | mode;
    }

    static u64 pick_address(Reader& in) {
        const u8 mode = in.byte();
        switch (mode % 8) {
            case 0: return in.bytes(8);            // anywhere
            case 1: return ~u64{0} - in.bytes(2);  // near the top
            case 2: return in.bytes(1);            // near zero
            default: return in.bytes(2) << 12;     // page-aligned, often overlapping
        }
    }
    static u64 pick_bytes(Reader& in) {
        const u8 mode = in.byte();
        switch (mode % 8) {
            case 0: return 0;
            case 1: return in.bytes(8);
            case 2: return ~u64{0} - in.bytes(1);
            case 3: return in.bytes(1);
            default: return (in.bytes(1) % 16 + 1) << 12;
        }
    }

    void op_add(Reader& in) {
        const u64 address = pick_address(in);
        const u64 bytes = pick_bytes(in);
        const u8 b = in.byte();
        (void)add(address, bytes, 1 + b % (kOwners - 1), b & 0x80 ? Use::Queue : Use::Buffer);
    }

    // Records up to 256 consecutive pages at once: how a program reaches a
    // full ledger (NoMemory) without needing kilobytes of add records.
    void op_fill(Reader& in) {
        const u32 n = u32{in.byte()} + 1;
        const u64 base = in.bytes(2) << 24;
        const u8 b = in.byte();
        // Stops at the first refusal: every later add would be refused too.
        for (u32 k = 0; k < n; k++)
            if (!add(base + u64{k} * 0x1000, 0x1000, 1 + (b + k) % (kOwners - 1), Use::Buffer)) break;
    }

    // Returns whether the ledger recorded the range.
    bool add(u64 address, u64 bytes, u32 owner, Use use) {
        Status want = Status::Ok;
        int slot = -1;
        if (bytes == 0 || address + bytes < address) {
            want = Status::InvalidArgument;
        } else if (model.state != LedgerState::Active) {
            want = Status::TornDown;
        } else {
            for (u32 s = 0; s < kSlots && slot < 0; s++)
                if (model.slot_entry[s] < 0) slot = static_cast<int>(s);
            if (slot < 0) want = Status::NoMemory;
        }
        Result<u32> r = ledger.add(address, bytes, owner, use);
        trace("add %#llx+%#llx owner %u -> %s %#x", (unsigned long long)address, (unsigned long long)bytes, owner,
              status_name(r.status()), r.ok() ? r.value() : 0);
        check(r.status() == want);
        if (!r.ok()) return false;
        u32 generation = (model.slot_generation[slot] + 1) & 0xFFFFFF;
        if (generation == 0) generation = 1;
        model.slot_generation[slot] = generation;
        const u32 id = generation << 8 | static_cast<u32>(slot);
        check(r.value() == id && id != 0);
        model.slot_entry[slot] = static_cast<int>(model.entries.size());
        model.by_range.insert({{address, bytes}, static_cast<int>(model.entries.size())});
        model.entries.push_back(MEntry{address, bytes, owner, use, id});
        history.push_back(id);
        return true;
    }

    void op_hold(Reader& in) {
        const u32 id = pick_id(in);
        const int i = model.resolve(id);
        Status want = Status::Ok;
        if (model.state != LedgerState::Active)
            want = Status::TornDown;
        else if (i < 0)
            want = Status::NotFound;
        else if (model.entries[i].released)
            want = Status::Busy;
        Result<void> r = ledger.hold(id);
        trace("hold %#x -> %s", id, status_name(r.status()));
        check(r.status() == want);
        if (r.ok()) model.entries[i].in_flight++;
    }

    void op_unhold(Reader& in) {
        const u32 id = pick_id(in);
        const int i = model.resolve(id);
        Status want = Status::Ok;
        bool want_value = false;
        if (i < 0) {
            want = Status::NotFound;
        } else if (model.entries[i].in_flight == 0) {
            want = Status::InvalidArgument;
        } else {
            MEntry& e = model.entries[i];
            e.in_flight--;
            if (e.in_flight == 0 && e.released && model.state == LedgerState::Active) {
                want_value = true;
                expect_give_back(i);
            }
        }
        Result<bool> r = ledger.unhold(id, &give_back, this);
        trace("unhold %#x -> %s %d", id, status_name(r.status()), r.ok() ? r.value() : 0);
        check(r.status() == want);
        if (r.ok()) check(r.value() == want_value);
    }

    void op_release(Reader& in) {
        const u32 id = pick_id(in);
        const int i = model.resolve(id);
        Status want = Status::Ok;
        bool want_value = false;
        if (i < 0) {
            want = Status::NotFound;
        } else if (model.entries[i].released) {
            want = Status::Busy;
        } else {
            MEntry& e = model.entries[i];
            e.released = true;
            if (model.state != LedgerState::Quarantined && model.state != LedgerState::Stopping &&
                (e.in_flight == 0 || model.state == LedgerState::Quiesced)) {
                want_value = true;
                expect_give_back(i);
            }
        }
        Result<bool> r = ledger.release(id, &give_back, this);
        trace("release %#x -> %s %d", id, status_name(r.status()), r.ok() ? r.value() : 0);
        check(r.status() == want);
        if (r.ok()) check(r.value() == want_value);
    }

    void op_stop() {
        if (model.state == LedgerState::Active) model.state = LedgerState::Stopping;
        ledger.stop();
        trace("stop -> %s", state_name(ledger.state()));
        check(ledger.state() == model.state);
    }

    void op_quiesce() {
        u32 want = 0;
        if (model.state == LedgerState::Active || model.state == LedgerState::Stopping) {
            model.state = LedgerState::Quiesced;
            model.for_live([&](int i, MEntry& e) {
                e.in_flight = 0;
                if (e.released) {
                    expect_give_back(i);
                    want++;
                }
            });
        }
        const u32 n = ledger.quiesce(&give_back, this);
        trace("quiesce -> %u given back, %s", n, state_name(ledger.state()));
        check(n == want);
    }

    void op_quarantine() {
        if (model.state == LedgerState::Active || model.state == LedgerState::Stopping)
            model.state = LedgerState::Quarantined;
        const u64 want = model.state == LedgerState::Quarantined ? model.live_bytes() : 0;
        const u64 lost = ledger.quarantine();
        trace("quarantine -> %#llx lost, %s", (unsigned long long)lost, state_name(ledger.state()));
        check(lost == want);
        if (model.state == LedgerState::Quarantined) quarantined_ever = true;
    }

    void op_covers(Reader& in) {
        const u8 mode = in.byte();
        u64 address, bytes;
        std::vector<const MEntry*> live;
        model.for_live([&](int, const MEntry& e) { live.push_back(&e); });
        if (mode % 4 != 0 && !live.empty()) {
            // Near the edges of a live range: exact, shifted or stretched by a
            // few bytes either way.
            const MEntry& e = *live[in.byte() % live.size()];
            const i64 da = static_cast<i8>(in.byte()) % 4;
            const i64 db = static_cast<i8>(in.byte()) % 4;
            address = e.address + static_cast<u64>(da);
            bytes = (mode & 0x10) ? e.bytes + static_cast<u64>(db) : static_cast<u64>(in.byte());
        } else {
            address = pick_address(in);
            bytes = pick_bytes(in);
        }
        const u32 owner = in.byte() % kOwners;
        const bool got = ledger.covers(address, bytes, owner);
        trace("covers %#llx+%#llx owner %u -> %d", (unsigned long long)address, (unsigned long long)bytes, owner, got);
        check(got == model.covers(address, bytes, owner));
    }

    void run(Reader& in) {
        for (int ops = 0; ops < 8192 && !in.empty(); ops++) {
            const u8 op = in.byte();
            switch (op % 16) {
                case 0:
                case 1:
                case 2:
                case 3: op_add(in); break;
                case 4:
                case 5:
                case 6: op_hold(in); break;
                case 7:
                case 8: op_unhold(in); break;
                case 9:
                case 10:
                case 11: op_release(in); break;
                case 12:
                    // Rare, they end the device's life (stop first, as a
                    // teardown waiting for a slow reset does).
                    if ((op >> 4) < 2)
                        op_quiesce();
                    else if ((op >> 4) < 4)
                        op_stop();
                    break;
                case 13:
                    if ((op >> 4) < 2) op_quarantine();
                    break;
                case 14: op_covers(in); break;
                default:
                    if ((op >> 4) < 2)
                        op_fill(in);
                    else
                        op_covers(in);
                    break;
            }
            check_given();
            check_state();
        }
        finish();
    }

    // Tears the device down the way the kernel would and checks nothing
    // leaked and nothing came back twice.
    void finish() {
        trace("-- drain");
        const bool was_quarantined = model.state == LedgerState::Quarantined;
        // Completions arrive for everything still in flight, then owners let go.
        for (size_t i = 0; i < model.entries.size(); i++) {
            while (model.live(model.entries[i]) && model.entries[i].in_flight > 0) {
                const u32 id = model.entries[i].id;
                MEntry& e = model.entries[i];
                e.in_flight--;
                const bool want = e.in_flight == 0 && e.released && model.state == LedgerState::Active;
                if (want) expect_give_back(static_cast<int>(i));
                Result<bool> r = ledger.unhold(id, &give_back, this);
                check(r.ok() && r.value() == want);
            }
        }
        check_given();
        for (size_t i = 0; i < model.entries.size(); i++) {
            MEntry& e = model.entries[i];
            if (!model.live(e) || e.released) continue;
            e.released = true;
            const bool want = model.state != LedgerState::Quarantined && model.state != LedgerState::Stopping;
            if (want) expect_give_back(static_cast<int>(i));
            Result<bool> r = ledger.release(e.id, &give_back, this);
            check(r.ok() && r.value() == want);
        }
        check_given();
        check_state();
        op_quiesce();
        check_given();
        check_state();
        check_history();
        if (was_quarantined) {
            check(ledger.state() == LedgerState::Quarantined);
            // Everything still recorded is lost, and reported as such.
            check(ledger.quarantine() == model.live_bytes());
            check(ledger.live() == model.live_count());
        } else {
            // Every range ever recorded came back exactly once.
            for (const MEntry& e : model.entries) check(e.given_back);
            check(ledger.live() == 0 && ledger.deferred() == 0 && ledger.held_bytes() == 0);
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader in(data, size);
    auto* harness = new Harness;  // ~12 KiB of ledger: keep it off the stack
    harness->run(in);
    delete harness;
    return 0;
}
