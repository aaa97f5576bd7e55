// Raw system calls (ABI in lib/abi/syscall.h). Prefer the typed wrappers
// in rt/sys.h; these exist for them and for the syscall fuzzer.
#pragma once

#include "abi/syscall.h"
#include "util/result.h"

namespace rt {

inline i64 raw_syscall(abi::Syscall n, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0, u64 a5 = 0) {
    i64 ret;
    register u64 r10 asm("r10") = a3;
    register u64 r8 asm("r8") = a4;
    register u64 r9 asm("r9") = a5;
    asm volatile("syscall"
                 : "=a"(ret)
                 : "a"(static_cast<u64>(n)), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                 : "rcx", "r11", "memory");
    return ret;
}

// Call N with exactly the arguments its line in lib/abi/syscalls.def says
// it reads: a wrapper that passes more or fewer does not compile.
template <abi::Syscall N, typename... Args>
inline i64 syscall(Args... args) {
    static_assert(sizeof...(Args) == abi::syscall_argc(N),
                  "wrong number of arguments for this system call (lib/abi/syscalls.def)");
    return raw_syscall(N, static_cast<u64>(args)...);
}

// Turns a raw return value into a Result.
inline Result<u64> to_result(i64 raw) {
    if (raw < 0) return static_cast<Status>(-raw);
    return static_cast<u64>(raw);
}

}  // namespace rt
