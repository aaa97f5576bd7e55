// The system call ABI, shared by the kernel and user/rt.
//
// `syscall` with RAX = number, arguments in RDI, RSI, RDX, R10, R8, R9.
// RAX returns a signed value: >= 0 is success (a result or 0), < 0 is
// -Status (lib/util/status.h). RCX and R11 are clobbered (SDM SYSCALL).
//
// Handles are u32 values naming a slot of the caller's capability space
// (lib/cap/handle.h); every call that takes one checks its type and rights
// and fails with Stale, Revoked, WrongType, NoRights or BadHandle.
// Timeouts are relative nanoseconds: 0 polls, kForever blocks without limit.
// docs/syscalls.md is the reference for each call.
#pragma once

#include "util/types.h"

namespace abi {

constexpr u64 kForever = ~u64{0};

// The calls, from the one table of them (abi/syscalls.def: number, name,
// kernel handler, argument count, signature).
enum class Syscall : u64 {
#define SLUICE_SYSCALL(number, Name, handler, argc) Name = number,
#include "abi/syscalls.def"
    Count,  // one past the last call: every number below it is a call (checked below)
};

// Stable names for logs ("EndpointCall"); "undefined" outside the table.
constexpr const char* syscall_name(u64 number) {
    switch (number) {
// clang-format off
#define SLUICE_SYSCALL(number, Name, handler, argc) \
    case number: return #Name;
#include "abi/syscalls.def"
        // clang-format on
    }
    return "undefined";
}

// How many arguments the call reads (0 outside the table).
constexpr u32 syscall_argc(Syscall call) {
    switch (call) {
// clang-format off
#define SLUICE_SYSCALL(number, Name, handler, argc) \
    case Syscall::Name: return argc;
#include "abi/syscalls.def"
            // clang-format on
        case Syscall::Count: break;
    }
    return 0;
}

namespace detail {
// The numbers run 0, 1, 2, ... in the order of the table's lines, so the
// table is dense, Count is its length, and a number is never used twice;
// no call reads more than the six argument registers.
constexpr bool syscall_table_well_formed() {
    u64 expected = 0;
    bool ok = true;
#define SLUICE_SYSCALL(number, Name, handler, argc) ok = ok && (number) == expected++ && (argc) <= 6;
#include "abi/syscalls.def"
    return ok && expected == static_cast<u64>(Syscall::Count);
}
}  // namespace detail
static_assert(detail::syscall_table_well_formed(),
              "abi/syscalls.def: numbers run 0, 1, 2, ... in order, at most 6 arguments per call");

// Result encoding: errors are the negated Status value.
inline constexpr i64 encode_error(i32 status) { return -static_cast<i64>(status); }

// Signals for WaitSetAdd masks and WaitEvent.signals.
constexpr u64 kSignalReady = 1u << 0;     // Notification has pending bits
constexpr u64 kSignalReadable = 1u << 1;  // Endpoint has a caller waiting
constexpr u64 kSignalDead = 1u << 2;      // Process has terminated / Thread has ended
// WaitSetAdd option (in the mask, not a signal): for a Notification, the
// WaitSetWait that reports the entry also takes (clears) its bits once the
// events reached the caller — one system call instead of two. The bit
// values are not reported: for kicks, not for bits that carry meaning.
constexpr u64 kWaitTake = 1ull << 32;

// MemoryMap flags.
constexpr u64 kMapWrite = 1u << 0;

struct WaitEvent {
    u64 key;
    u64 signals;
};

enum class ExitKind : u32 { Running = 0, Exited = 1, Faulted = 2, Killed = 3 };

struct ProcessInfo {
    u32 pid;
    ExitKind kind;
    i64 exit_code;      // Exited
    u64 fault_vector;   // Faulted: CPU exception vector
    u64 fault_address;  // Faulted: CR2 for page faults, else the RIP
    u64 fault_rip;
    char name[32];
};

}  // namespace abi
