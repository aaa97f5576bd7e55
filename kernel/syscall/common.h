// Helpers shared by the system call handlers.
#pragma once

#include "abi/syscall.h"
#include "arch/x86_64/clock.h"
#include "object/handles.h"
#include "object/process.h"
#include "sched/scheduler.h"

namespace sys {

inline object::Process* self() { return sched::current()->process; }

// The kernel memory a new object of type T takes (plus `extra` bytes it
// owns), charged to the calling process before the object is made:
// NoMemory past its limit (mm/account.h). The object adopts the charge.
template <typename T>
inline Result<mm::Charge> charge_new(u64 extra = 0) {
    return mm::Charge::take(self()->kmem(), mm::object_bytes<T>() + extra);
}

// A handle argument: values that do not fit 32 bits can never be handles
// (0 is refused as BadHandle by the capability layer).
inline u32 handle_arg(u64 v) { return v > 0xffffffffull ? 0 : static_cast<u32>(v); }

// Relative timeout (abi) -> absolute deadline (scheduler): 0 polls (~0 in
// the kernel's convention), kForever blocks (0 in the kernel's convention).
inline u64 deadline_from_timeout(u64 timeout) {
    if (timeout == 0) return ~u64{0};
    if (timeout == abi::kForever) return 0;
    u64 now = clock::monotonic_ns();
    return timeout > ~u64{0} - 1 - now ? ~u64{0} - 1 : now + timeout;
}

// The handlers: one per line of lib/abi/syscalls.def, declared from it,
// with its argc arguments as the ABI gives them (u64 each). A handler
// returns its value or the Status it failed with; dispatch.cc encodes
// that into RAX (abi::encode_error), the only place that does. A refusal
// a handler logs or records itself stays explicit in the handler; TRY is
// for errors passed on unchanged. ProcessExit and ThreadExit never return.
#define SLUICE_SYSCALL_PARAMS_0
#define SLUICE_SYSCALL_PARAMS_1 u64
#define SLUICE_SYSCALL_PARAMS_2 u64, u64
#define SLUICE_SYSCALL_PARAMS_3 u64, u64, u64
#define SLUICE_SYSCALL_PARAMS_4 u64, u64, u64, u64
#define SLUICE_SYSCALL_PARAMS_5 u64, u64, u64, u64, u64
#define SLUICE_SYSCALL_PARAMS_6 u64, u64, u64, u64, u64, u64
#define SLUICE_SYSCALL(number, Name, handler, argc) Result<u64> handler(SLUICE_SYSCALL_PARAMS_##argc);
#include "abi/syscalls.def"
#undef SLUICE_SYSCALL_PARAMS_0
#undef SLUICE_SYSCALL_PARAMS_1
#undef SLUICE_SYSCALL_PARAMS_2
#undef SLUICE_SYSCALL_PARAMS_3
#undef SLUICE_SYSCALL_PARAMS_4
#undef SLUICE_SYSCALL_PARAMS_5
#undef SLUICE_SYSCALL_PARAMS_6

// A refused call, recorded against the caller (DESIGN §5: every refusal is
// attributed to whoever caused it) through events/refusals.h, which
// rate-limits the log and delivers the event — unless the call already
// recorded a more specific refusal itself.
void note_refusal(u64 number, i64 result);

// Moves/copies message handles between two threads' processes
// (object::Endpoint::transfer).
Status transfer_message_handles(object::Thread* from, object::Thread* to);

}  // namespace sys
