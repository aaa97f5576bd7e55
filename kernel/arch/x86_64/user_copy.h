// Copies between kernel and user memory that turn a bad user pointer into
// an error instead of a kernel fault.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace user {

// The user half of every address space: [kBase, kLimit).
constexpr u64 kBase = 0x1000;
constexpr u64 kLimit = 0x0000800000000000ull;

inline bool range_ok(u64 addr, u64 len) { return addr >= kBase && addr <= kLimit && len <= kLimit - addr; }

Result<void> copy_from(void* dst, u64 user_src, usize len);
Result<void> copy_to(u64 user_dst, const void* src, usize len);
// Writes zeros: proves a user output buffer writable before anything is
// consumed into it, without zeroing a kernel array to copy from.
Result<void> zero(u64 user_dst, usize len);

// Called by the #PF handler: true (and RIP redirected) when the fault is
// inside user_copy.
bool fixup_fault(u64* rip);

}  // namespace user
