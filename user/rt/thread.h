// Threads in the calling process. The caller provides the stack (static or
// from a MemoryObject); it must stay valid until the thread exits.
#pragma once

#include "rt/sys.h"

namespace rt {

using ThreadFn = void (*)(u64 arg);

// Starts fn(arg) on [stack, stack + stack_size) at `priority` (0..31);
// returns a handle that raises abi::kSignalDead when the thread ends (wait
// for it with a WaitSet). When fn returns the thread exits; when the last
// thread of a process exits, the process exits with 0.
Result<Handle> thread_create(ThreadFn fn, u64 arg, void* stack, usize stack_size, u32 priority);
[[noreturn]] void thread_exit();

}  // namespace rt
