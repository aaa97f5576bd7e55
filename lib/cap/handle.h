// Handle: the 32-bit name a process uses for a capability in its own space.
//
// Encoding (stable syscall ABI):
//
//    31                              12 11            0
//   +----------------------------------+---------------+
//   |     generation (20 bits, ≥ 1)    |  slot + 1     |
//   +----------------------------------+---------------+
//
// - The slot field is 1-based, so it is never 0 for a real handle: the value
//   0 (zero-initialised memory, a forgotten out-parameter) is never valid.
// - Generations run 1 .. kMaxGeneration and wrap back to 1, skipping 0, so
//   every value below 0x1000 is also never valid (small integers — fds,
//   counts, indices — passed by mistake are refused as BadHandle).
// - A slot's generation advances each time the slot is freed. A handle whose
//   generation differs from its slot's is Stale, never another object.
// - Aliasing (an old handle becoming valid again) needs the *same slot* to be
//   reused kMaxGeneration (1,048,575) times. Spaces hand out free slots in
//   FIFO order, so with F free slots that is about F × 2^20 installs in that
//   one space while the holder keeps the stale value. See
//   docs/capabilities.md for why that window is acceptable.
//
// The handle carries no rights: rights live in the slot (see rights.h).
#pragma once

#include "util/types.h"

namespace cap {

class Handle {
public:
    static constexpr u32 kSlotBits = 12;
    static constexpr u32 kGenerationBits = 32 - kSlotBits;
    static constexpr u32 kSlotFieldMask = (1u << kSlotBits) - 1;
    // Largest space a handle can address (slot field 1..4095).
    static constexpr u32 kMaxSlots = kSlotFieldMask;
    static constexpr u32 kMaxGeneration = (1u << kGenerationBits) - 1;

    constexpr Handle() = default;
    static constexpr Handle from_raw(u32 raw) { return Handle(raw); }
    // slot < kMaxSlots, 1 <= generation <= kMaxGeneration (not checked here;
    // only Space mints handles).
    static constexpr Handle make(u32 slot, u32 generation) { return Handle((generation << kSlotBits) | (slot + 1)); }

    constexpr u32 raw() const { return m_raw; }
    constexpr bool is_null() const { return m_raw == 0; }
    // Meaningful only when has_slot_field(): the 0-based slot index.
    constexpr bool has_slot_field() const { return (m_raw & kSlotFieldMask) != 0; }
    constexpr u32 slot() const { return (m_raw & kSlotFieldMask) - 1; }
    constexpr u32 generation() const { return m_raw >> kSlotBits; }

    // The generation after g, skipping 0.
    static constexpr u32 next_generation(u32 g) { return g >= kMaxGeneration ? 1 : g + 1; }

    friend constexpr bool operator==(Handle a, Handle b) { return a.m_raw == b.m_raw; }

private:
    explicit constexpr Handle(u32 raw) : m_raw(raw) {}
    u32 m_raw = 0;
};

static_assert(sizeof(Handle) == 4);
static_assert(Handle::make(0, 1).raw() == 0x1001);
static_assert(Handle::make(Handle::kMaxSlots - 1, Handle::kMaxGeneration).raw() == 0xFFFFFFFFu);
static_assert(Handle::next_generation(Handle::kMaxGeneration) == 1);

}  // namespace cap
