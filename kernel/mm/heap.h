// Kernel heap: power-of-two size classes carved from frames through the
// direct map, and whole-frame runs for large blocks. Returns nullptr on
// exhaustion; callers turn that into Status::NoMemory.
#pragma once

#include "util/types.h"

namespace heap {

void* alloc(usize size);
void free(void* p);
// What alloc(size) really takes: its size class, or its whole frames (the
// kernel memory a process is charged for it, mm/account.h).
u64 block_bytes(usize size);
u64 bytes_in_use();

}  // namespace heap
