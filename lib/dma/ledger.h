// The per-device DMA ledger (DESIGN §3, §5): every range of memory a device
// may be told about, who owns it, and whether in-flight work references it.
//
// The rule it enforces is "nothing is freed that a device can still write":
//  - release() of a range nobody has handed to the device returns it at
//    once; a range still referenced by in-flight work (hold()) is *deferred*
//    and comes back on its last unhold() or when the device is quiesced;
//  - quiesce() is called once the device provably stopped DMA (Bus Master
//    Enable cleared, class reset confirmed): every deferred range comes back
//    and no new hold is accepted;
//  - quarantine() is called when that could not be confirmed (a reset that
//    timed out): nothing recorded is ever returned, released ranges are
//    counted as quarantined instead.
//
// Pure bookkeeping: addresses are opaque numbers here (the kernel stores
// host-physical addresses), each with the address the device is given for
// it — the same on the brokered lane, an IOVA of the grant's domain on the
// remapped one; frames are returned through the caller's callback. Never
// exposed to user space (a remapped lane's IOVA is, by DmaBufferAddress).
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace dma {

enum class Use : u8 {
    Buffer,  // a DmaBuffer: provider data, referenced per command
    Queue,   // a queue or PRP page the broker owns: held while the device is enabled
};

// Stopping: the grant ended and the device was told to stop, but has not
// confirmed it yet (a slow reset: kdma::Session hands the wait to the
// timer tick). Nothing is given back then, held or not — a device that
// has not stopped might still write anything it was ever told about —
// until quiesce() or quarantine() decides.
enum class LedgerState : u8 { Active, Stopping, Quiesced, Quarantined };

class Ledger {
public:
    static constexpr u32 kCapacity = 256;

    struct Entry {
        u64 address = 0;
        u64 bytes = 0;
        u64 device_address = 0;  // what the device is given for `address`
        u32 owner = 0;           // the pool (or queue) that allocated it
        u32 in_flight = 0;       // holds by submitted work
        u32 generation = 0;
        Use use = Use::Buffer;
        bool live = false;      // recorded and not yet returned
        bool released = false;  // its owner let go; waiting for in_flight == 0
    };

    // Called with (address, bytes, device address) for each range that may
    // now be freed.
    using GiveBack = void (*)(void* ctx, u64 address, u64 bytes, u64 device_address);

    // Records a range, which the device knows as `device_address` (by
    // default `address` itself). Returns its id (never 0). NoMemory when
    // full, InvalidArgument for an empty range, TornDown once quiesced or
    // quarantined (a dead device gets no new memory).
    static constexpr u64 kSameAddress = ~0ull;
    [[nodiscard]] Result<u32> add(u64 address, u64 bytes, u32 owner, Use use, u64 device_address = kSameAddress);

    // One more in-flight reference. NotFound (no such live id), Busy (its
    // owner already released it: no new work may name it), TornDown.
    [[nodiscard]] Result<void> hold(u32 id);
    // Drops one in-flight reference; when it was the last one and the owner
    // had released the range, the range is given back (returns true).
    // NotFound, InvalidArgument (not held).
    [[nodiscard]] Result<bool> unhold(u32 id, GiveBack give_back, void* ctx);

    // The owner is done with the range. Returns true when it was given back
    // now, false when deferred (in flight) or quarantined. NotFound, Busy
    // (released twice).
    [[nodiscard]] Result<bool> release(u32 id, GiveBack give_back, void* ctx);

    // The device was told to stop and has not confirmed it: from now on
    // releases and last unholds are deferred, and no new hold is accepted.
    void stop();
    // The device can no longer reach memory: every hold is dropped, every
    // released range is given back, later releases give back at once.
    // Returns how many ranges were given back now.
    u32 quiesce(GiveBack give_back, void* ctx);
    // The device could not be confirmed stopped: nothing recorded is ever
    // given back. Returns the bytes of every live range (all now lost).
    u64 quarantine();

    LedgerState state() const { return m_state; }
    const Entry* find(u32 id) const;
    // Does [address, address + bytes) fall inside one live range of `owner`?
    // (0 matches any owner.)
    bool covers(u64 address, u64 bytes, u32 owner = 0) const;
    u32 live() const { return m_live; }
    u32 deferred() const;    // released, waiting for in-flight work
    u64 held_bytes() const;  // bytes of live ranges with in-flight holds

private:
    Entry* lookup(u32 id);
    void give_back_entry(Entry& e, GiveBack give_back, void* ctx);

    Entry m_entries[kCapacity];
    u32 m_live = 0;
    LedgerState m_state = LedgerState::Active;
};

}  // namespace dma
