// A small allocator for user programs: power-of-two size classes (16 B to
// 2 KiB) carved from 64 KiB arenas, each arena a MemoryObject mapped
// read/write; larger blocks get their own MemoryObject. Single-threaded:
// programs with several threads allocate from one thread or add a lock.
// rt::alloc returns nullptr when memory runs out; operator new (built on
// it) cannot, so it ends the process with -NoMemory instead.
#pragma once

#include "util/types.h"

namespace rt {

void* alloc(usize size);
void free(void* p);
u64 bytes_in_use();

}  // namespace rt
