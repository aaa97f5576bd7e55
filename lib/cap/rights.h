// Capability rights: what a handle lets its holder do with the object it
// names. Rights live in the capability-space slot, never in the handle value
// (a process could forge bits in a number it passes to a syscall); the
// handle only names the slot. See docs/capabilities.md.
//
// Rule: derivation only removes rights. A derived capability (duplicate,
// copy into another space, mint) has rights ⊆ its parent's, so every
// capability's rights are a subset of its issuer's (invariant R1 in
// cap_space.h).
#pragma once

#include "util/types.h"

namespace cap {

using Rights = u32;

// Object-facing rights. Which ones an object type honours is the kernel's
// business; the capability layer only stores, compares and narrows them.
inline constexpr Rights kRightRead = 1u << 0;     // read contents / state
inline constexpr Rights kRightWrite = 1u << 1;    // modify contents / state
inline constexpr Rights kRightMap = 1u << 2;      // map into an address space
inline constexpr Rights kRightExecute = 1u << 3;  // map executable
inline constexpr Rights kRightCall = 1u << 4;     // send / call on an endpoint
inline constexpr Rights kRightServe = 1u << 5;    // receive / reply on an endpoint
inline constexpr Rights kRightSignal = 1u << 6;   // raise notification bits, ack an interrupt
inline constexpr Rights kRightWait = 1u << 7;     // wait on the object / add it to a WaitSet
inline constexpr Rights kRightInspect = 1u << 8;  // read properties (sizes, ids, window)
inline constexpr Rights kRightManage = 1u << 9;   // object control: reset, bind, kill, mask
// Capability-facing rights, enforced by this layer itself.
inline constexpr Rights kRightDuplicate = 1u << 10;  // derive a copy (duplicate, copy_to, mint)
inline constexpr Rights kRightTransfer = 1u << 11;   // hand the cap to another space (copy_to, move_to)
inline constexpr Rights kRightRevoke = 1u << 12;     // revoke everything derived from this cap
// Bits 13..30 are reserved for new rights; stored rights never have them set.

inline constexpr Rights kRightsAll = (1u << 13) - 1;

// Argument-only value for the `rights` of a derivation: "the same rights as
// the source". Never stored in a slot; invalid combined with any other bit.
inline constexpr Rights kSameRights = 1u << 31;

// True when `rights` is storable: only defined bits.
constexpr bool rights_valid(Rights rights) { return (rights & ~kRightsAll) == 0; }

// True when `have` includes every right in `need`.
constexpr bool rights_include(Rights have, Rights need) { return (have & need) == need; }

// One letter per right, '-' when absent, in bit order:
//   r w m x c s S W i M d t R   (read write map execute call serve signal
//   wait inspect manage duplicate transfer revoke)
// e.g. "rw-------Mdt-". Writes kRightsStringSize bytes including the NUL;
// a reserved bit that is set (which rights_valid() refuses) shows as '?'
// appended after the letters. Returns out.
inline constexpr usize kRightsStringSize = 15;
char* format_rights(Rights rights, char (&out)[kRightsStringSize]);

}  // namespace cap
