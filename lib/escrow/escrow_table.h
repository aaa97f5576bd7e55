// The table behind init's handle escrow (lib/protocol/escrow.h): which
// handles init keeps for whom, under which key, within which quota. Pure
// bookkeeping over raw handle values — init does the system calls — so the
// rules (quota, replacement, isolation between holders) are unit-tested
// (tests/unit/escrow_table_test.cc).
//
// Invariants:
//   E1  an entry belongs to exactly one owner and holds 1..kEscrowHandles
//       handles; (owner, key) names at most one entry;
//   E2  used(owner) = the handles of its entries <= the quota it was kept
//       with (a refused keep changes nothing);
//   E3  a handle leaves the table only by close() (replacement, drop) —
//       never silently: the table owns what it holds.
#pragma once

#include "protocol/escrow.h"
#include "util/result.h"
#include "util/status.h"
#include "util/types.h"

namespace escrow {

struct Entry {
    u32 owner = 0;
    u32 key = 0;
    u32 count = 0;  // 0: a free slot
    u32 handles[abi::kEscrowHandles] = {};
};

class Table {
public:
    // Handles across all owners: what init's capability space can spare
    // (1024 slots); init refuses a manifest whose quotas add up to more.
    // An entry holds at least one handle, so entries never run out first.
    static constexpr u32 kMaxHandles = 512;
    static constexpr u32 kMaxEntries = kMaxHandles;

    using CloseFn = void (*)(u32 handle);
    explicit Table(CloseFn close) : m_close(close) {}

    // Keeps handles[0..n) under (owner, key), replacing (closing) what
    // the key held. On an error nothing changed and the handles are still
    // the caller's: InvalidArgument (n outside 1..kEscrowHandles, a zero
    // handle), QuotaExceeded (the owner's quota or the table's).
    [[nodiscard]] Result<void> keep(u32 owner, u32 quota, u32 key, const u32* handles, u32 n);
    // The entry, or nullptr.
    const Entry* find(u32 owner, u32 key) const;
    // Closes the entry's handles and frees it; NotFound if there is none.
    [[nodiscard]] Result<void> drop(u32 owner, u32 key);
    u32 used(u32 owner) const;
    u32 total() const { return m_total; }

private:
    Entry* lookup(u32 owner, u32 key);
    void close_entry(Entry& e);
    CloseFn m_close;
    Entry m_entries[kMaxEntries];
    u32 m_total = 0;  // handles held, all owners
};

}  // namespace escrow
