// The system call ABI, shared by the kernel and user/rt.
//
// `syscall` with RAX = number, arguments in RDI, RSI, RDX, R10, R8, R9.
// RAX returns a signed value: >= 0 is success (a result or 0), < 0 is
// -Status (lib/util/status.h). RCX and R11 are clobbered (SDM SYSCALL).
#pragma once

#include "util/types.h"

namespace abi {

enum class Syscall : u64 {
    LogWrite = 0,      // (const char* text, usize len) -> 0
    ProcessExit = 1,   // (i64 code) -> does not return
    Yield = 2,         // () -> 0
    ClockGet = 3,      // () -> monotonic ns
    Sleep = 4,         // (u64 ns) -> 0
    Count,
};

// Result encoding helpers.
inline constexpr i64 encode_error(i32 status) { return -static_cast<i64>(status); }

}  // namespace abi
