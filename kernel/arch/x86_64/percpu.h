// Per-CPU data, reached through GS in kernel mode (swapgs on every entry
// from user mode). One CPU runs today; nothing outside this file assumes it.
#pragma once

#include "util/types.h"

namespace object {
class Thread;
}

namespace percpu {

struct Cpu {
    Cpu* self;       // %gs:0
    u64 kernel_rsp;  // %gs:8   top of the current thread's kernel stack
    u64 user_rsp;    // %gs:16  scratch for the syscall entry
    object::Thread* current;
    u32 id;
    u64 syscalls;
    u64 context_switches;
    u32 last_vector;  // the latest interrupt taken (debug/profiler: what ended an idle period)
};

// Offsets used by assembly.
constexpr u64 kOffsetKernelRsp = 8;
constexpr u64 kOffsetUserRsp = 16;

void init_bsp();
inline Cpu* current_cpu() {
    Cpu* c;
    asm volatile("mov %%gs:0, %0" : "=r"(c));
    return c;
}

}  // namespace percpu
