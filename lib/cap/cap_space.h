// A capability space: one process's table of slots, named by Handles
// (handle.h). This is the portable logic the kernel wraps with real,
// ref-counted kernel objects; it never allocates and never sees an object's
// contents (void* + u16 type). DESIGN §2, docs/capabilities.md.
//
// Slot states:
//   Free     no capability. Handles to it are Stale.
//   Live     names an object (holding one reference, see derivation_forest.h
//            "Lifetime rules"), with a type and rights, and owns one node in
//            the Forest.
//   Revoked  a revoke above this capability reached it: the object reference
//            was released (on_release, reason Revoked) and the node freed, but
//            the slot stays occupied so its holder gets Revoked — not Stale,
//            and never another object — until it closes the handle.
//
// Invariants (between any two calls):
//   S1  live_count() + revoked_count() + free_count() == capacity();
//   S2  a Handle resolves only while its slot is occupied (Live or Revoked)
//       with the same generation; a slot's generation advances when it is
//       freed, so a handle to a closed slot stays Stale while the slot is
//       reused (up to Handle::kMaxGeneration reuses of that slot; FIFO
//       reuse spreads them over all free slots);
//   R1  a derived capability's rights ⊆ its parent's at derivation time, and
//       rights never change afterwards, so the forest is rights-monotone;
//   -   a failed call changes nothing and fires no hook.
//
// Error precedence (every call that takes a handle checks in this order, so
// the result is predictable; the fuzzer's model relies on it):
//   1. InvalidArgument  arguments wrong whatever the handle: undefined rights
//                       bits, kSameRights mixed with other bits, null object,
//                       type 0, destination space on another Forest;
//   2. BadHandle        value can never name a slot here: 0, slot field 0 or
//                       beyond capacity(), generation 0;
//   3. Stale            slot free, or generation differs (closed, reused);
//   4. Revoked          slot Revoked (close() accepts it);
//   5. WrongType        lookup() type mismatch (kAnyType matches any);
//   6. NoRights         a required right is missing, then: requested rights
//                       are not a subset of the source's;
//   7. NoMemory         no free slot in the destination, then no free Forest
//                       node.
//
// Locking (single-threaded today; for SMP, DESIGN §7). Each Space gets a
// slot lock protecting m_slots, the free list and the counters. Order:
//     Forest derivation lock  ->  Space slot locks (ascending space id)
//                             ->  object locks
// - lookup() takes only this space's slot lock (no global lock on the I/O
//   path). The kernel must take its own object reference (from Entry.object)
//   before dropping the slot lock; after that a concurrent close or revoke
//   only affects *new* lookups, which is what "immediate for new operations"
//   means.
// - Everything else takes the derivation lock first, then the slot lock(s)
//   of the space(s) it touches: copy_to / move_to / mint both spaces in id
//   order; revoke each descendant's space in turn while holding the
//   derivation lock; close_all only its own space (descendants elsewhere are
//   re-parented, which touches nodes, not their slots).
// - Hooks run with these locks held (derivation_forest.h "Hook rules").
#pragma once

#include "cap/derivation_forest.h"
#include "cap/handle.h"
#include "cap/rights.h"
#include "util/result.h"
#include "util/types.h"

namespace cap {

// Type 0 is never an object type (zeroed memory is not a type); as a lookup
// argument it means "any type".
inline constexpr u16 kAnyType = 0;

// Slots per process capability space.
inline constexpr u32 kProcessSlots = 1024;

enum class SlotState : u8 { Free, Live, Revoked };

// What lookup() returns: a copy, valid only while the caller holds the slot
// lock (or its own reference to `object`).
struct Entry {
    void* object;
    u16 type;
    Rights rights;
};

// One occupied slot, for diagnostics (the shell's `caps <pid>`).
struct SlotInfo {
    Handle handle;
    SlotState state;
    u16 type;       // kept after revocation, for display
    Rights rights;  // kept after revocation, for display
    void* object;   // null when Revoked
    bool derived;   // Live and has a parent (revocable by an issuer above)
    u32 children;   // Live: number of direct derivations
};

class Space {
public:
    static constexpr u32 kNoSlot = ~0u;

    // Opaque to users; public only so storage can be declared. 32 bytes.
    struct Slot {
        void* object = nullptr;  // Live only
        Rights rights = 0;       // Live and Revoked
        u32 node = kNoNode;      // Live only
        u32 generation = 0;      // occupied: the occupant's; free: the next occupant's
        u32 next_free = kNoSlot;
        u16 type = 0;  // Live and Revoked
        SlotState state = SlotState::Free;
    };

    // `slots[0..capacity)` is caller storage that must outlive the Space
    // (capacity ≤ Handle::kMaxSlots; larger values are clamped). `forest`
    // must outlive the Space. `id` is reported in Release records (a pid).
    // `generation_seed` != 0 scatters the slots' first generations so that
    // handle values from another space are unlikely to resolve here; 0
    // starts every slot at generation 1 (the first handle is 0x1001).
    Space(Slot* slots, u32 capacity, Forest& forest, u32 id, u32 generation_seed = 0);
    // Closes everything still here (close_all), so no node can point at a
    // dead Space; hooks fire, so the Forest and the hook context must still
    // be alive.
    ~Space();
    Space(const Space&) = delete;
    Space& operator=(const Space&) = delete;

    u32 id() const { return m_id; }
    u32 capacity() const { return m_capacity; }
    u32 live_count() const { return m_live; }
    u32 revoked_count() const { return m_revoked; }
    u32 free_count() const { return m_capacity - m_live - m_revoked; }
    Forest& forest() const { return m_forest; }

    // A new root capability to `object` (a new object the kernel made for
    // this process). Adopts one reference on success; on failure the caller
    // still owns it. InvalidArgument (null object, type 0, invalid rights),
    // NoMemory.
    [[nodiscard]] Result<Handle> install(void* object, u16 type, Rights rights);

    // Resolves `handle` to a Live slot of `type` (kAnyType: any) holding at
    // least `required`. Never resolves a Stale or Revoked handle, never
    // returns another object than the one the handle was issued for.
    // BadHandle, Stale, Revoked, WrongType, NoRights.
    [[nodiscard]] Result<Entry> lookup(Handle handle, u16 type, Rights required) const;

    // A derived copy in this space with `rights` (⊆ the source's, or
    // kSameRights). Needs kRightDuplicate. Calls on_acquire.
    [[nodiscard]] Result<Handle> duplicate(Handle handle, Rights rights);

    // A derived copy in `dst` (IPC transfer by copy): a child of the source,
    // revoked with it. Needs kRightDuplicate, and kRightTransfer when dst is
    // another space. Calls on_acquire. dst == *this behaves as duplicate().
    [[nodiscard]] Result<Handle> copy_to(Handle handle, Space& dst, Rights rights);

    // Moves the capability to `dst` (IPC transfer by move): same node, same
    // rights, same derivation position (still revocable by its issuer); the
    // source handle becomes Stale. Needs kRightTransfer. The object
    // reference moves with it (no hook). To hand over fewer rights, copy_to
    // then close.
    [[nodiscard]] Result<Handle> move_to(Handle handle, Space& dst);

    // A child of `parent` that names a *different* object the kernel built
    // from the parent's (a narrower DeviceMmio window, a badged endpoint
    // view, ...), placed in `dst`. Revoking `parent` revokes it. Needs
    // kRightDuplicate (and kRightTransfer when dst is another space);
    // `rights` ⊆ parent's. Adopts a reference to `object` on success, like
    // install().
    [[nodiscard]] Result<Handle> mint(Handle parent, Space& dst, void* object, u16 type, Rights rights);

    // Frees the slot. Live: children are re-parented to this cap's parent,
    // on_release(Closed) fires. Revoked: just frees the slot (the object was
    // released at revoke time). No rights needed. BadHandle, Stale.
    [[nodiscard]] Result<void> close(Handle handle);

    // Revokes every capability derived from this one, transitively, in every
    // space: each turns Revoked and is reported through on_release(Revoked)
    // — the kernel drops its reference and unmaps what was mapped through
    // it. This capability stays Live. Needs kRightRevoke. Returns how many
    // were revoked.
    [[nodiscard]] Result<u32> revoke(Handle handle);

    // Process death: closes every slot (Live ones as close() does, including
    // re-parenting of descendants in other spaces; Revoked ones are freed).
    // Returns how many objects were released (on_release(SpaceClosed) each).
    // O(capacity + re-parented children): slots are closed top-down, so no
    // child is re-parented twice.
    u32 close_all();

    // Fills `out` with up to `max` occupied slots at index ≥ `start`, in
    // index order; returns how many. *next (if not null) is where to resume:
    // capacity() when the scan is complete.
    u32 enumerate(u32 start, SlotInfo* out, u32 max, u32* next) const;

private:
    friend class Forest;

    Result<u32> resolve(Handle handle, bool allow_revoked) const;
    Result<u32> resolve_live(Handle handle, u16 type, Rights required) const;
    Result<Handle> derive(Handle handle, Space& dst, Rights rights, void* new_object, u16 new_type);

    Handle handle_of(u32 slot) const { return Handle::make(slot, m_slots[slot].generation); }
    bool has_free_slot() const { return m_free_head != kNoSlot; }
    u32 take_free_slot();
    void put_free_slot(u32 slot);
    Handle occupy(u32 slot, void* object, u16 type, Rights rights, u32 node);
    // Closes an occupied slot (see close()); fires on_release for a Live one.
    void close_slot(u32 slot, ReleaseReason reason);
    // Closes the Live slot owning `top` (a node whose parent is not in this
    // space) and every descendant in this space, parents before children.
    u32 close_top_down(u32 top);
    // Called by Forest::revoke_descendants after detaching the slot's node.
    Release mark_revoked(u32 slot);

    Slot* m_slots;
    u32 m_capacity;
    Forest& m_forest;
    u32 m_id;
    u32 m_live = 0;
    u32 m_revoked = 0;
    // FIFO free list: freed slots go to the tail, so a slot is reused only
    // after every other free slot — this stretches the aliasing window (S2).
    u32 m_free_head = kNoSlot;
    u32 m_free_tail = kNoSlot;
};

namespace detail {
template <u32 kSlots>
struct SlotStorage {
    Space::Slot m_slot_storage[kSlots];
};
}  // namespace detail

// A Space with its slots inside: `CapSpace<kProcessSlots>` is 32 KiB — embed
// it in the process object, never on a kernel stack.
template <u32 kSlots>
class CapSpace : private detail::SlotStorage<kSlots>, public Space {
    static_assert(kSlots > 0 && kSlots <= Handle::kMaxSlots, "a Handle addresses at most 4095 slots");

public:
    CapSpace(Forest& forest, u32 id, u32 generation_seed = 0)
        : Space(detail::SlotStorage<kSlots>::m_slot_storage, kSlots, forest, id, generation_seed) {}
};

}  // namespace cap
