// Kernel heap: power-of-two size classes carved from frames through the
// direct map, and whole-frame runs for large blocks. Returns nullptr on
// exhaustion; callers turn that into Status::NoMemory.
#pragma once

#include "util/types.h"

namespace heap {

void* alloc(usize size);
void free(void* p);
u64 bytes_in_use();

}  // namespace heap
