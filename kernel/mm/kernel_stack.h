// Kernel stacks for threads: 16 KiB each, mapped in their own area with an
// unmapped guard page below, so an overflow faults (and the #DF handler,
// on its IST stack, reports it) instead of corrupting a neighbour.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace kstack {

constexpr u64 kSize = 16 * 1024;

struct Stack {
    u64 base;  // lowest mapped address
    u64 top;   // one past the highest
};

Result<Stack> alloc();
void free(const Stack& s);
u64 in_use();
// True when [addr, addr+len) lies in a mapped kernel stack (for backtraces).
bool contains(u64 addr, u64 len);

}  // namespace kstack
