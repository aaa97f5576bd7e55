// Starting a child process from a boot module with named handles
// (needs the root Resource handle, which init holds).
#pragma once

#include "rt/sys.h"

namespace rt {

struct Grant {
    const char* name;
    u32 handle;
    bool copy;       // true: the child gets a derived copy; false: the handle moves
    u32 rights = 0;  // copies only: the child's rights (a subset; 0 = the same)
};

// kernel_memory: the child's kernel memory limit in bytes (0: the kernel's
// default; at most the caller's own limit — abi::SpawnRequest).
Result<Handle> spawn(u32 resource, const char* module, const Grant* grants, u32 count, u32 priority = 16,
                     const char* args = "", u64 kernel_memory = 0);

// Waits until the process dies (or timeout) and returns why.
Result<abi::ProcessInfo> wait_for_exit(u32 process, u64 timeout_ns);

}  // namespace rt
