#include "rt/thread.h"

namespace rt {
namespace {

struct ThreadStart {
    ThreadFn fn;
    u64 arg;
};

}  // namespace

extern "C" [[noreturn]] void rt_thread_main(ThreadStart* start) {
    start->fn(start->arg);
    thread_exit();
}

// The kernel enters with RSP 16-byte aligned and RDI = the ThreadStart
// (placed at the top of the stack); a zero "return address" gives the C++
// code the ABI's alignment and ends backtraces.
asm(R"(
    .text
    .global rt_thread_entry
    .type rt_thread_entry, @function
rt_thread_entry:
    xor %ebp, %ebp
    push %rbp
    jmp rt_thread_main
    .size rt_thread_entry, . - rt_thread_entry
)");
extern "C" void rt_thread_entry();

Result<Handle> thread_create(ThreadFn fn, u64 arg, void* stack, usize stack_size, u32 priority) {
    if (!stack || stack_size < 256) return Status::InvalidArgument;
    u64 top = (reinterpret_cast<u64>(stack) + stack_size) & ~u64{15};
    top -= 16;
    auto* start = reinterpret_cast<ThreadStart*>(top);
    start->fn = fn;
    start->arg = arg;
    i64 r = raw_syscall(abi::Syscall::ThreadCreate, reinterpret_cast<u64>(rt_thread_entry), top,
                        reinterpret_cast<u64>(start), priority);
    if (r < 0) return static_cast<Status>(-r);
    return Handle(static_cast<u32>(r));
}

void thread_exit() {
    raw_syscall(abi::Syscall::ThreadExit);
    __builtin_unreachable();
}

}  // namespace rt
