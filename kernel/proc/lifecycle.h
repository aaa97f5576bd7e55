// Creating processes from boot modules and ending them: normal exit, a
// fault in user mode, or a kill.
#pragma once

#include "abi/startup.h"
#include "arch/x86_64/interrupt_frame.h"
#include "object/process.h"

namespace proc {

// User image layout: programs link at 0x400000; the initial stack sits
// just below kStackTop with an unmapped guard page beneath it.
constexpr u64 kImageMin = 0x400000;
constexpr u64 kStackTop = 0x00007ffffff00000ull;
constexpr u64 kStackPages = 16;

// Where the read-only abi::StartupBlock page is mapped (RDI at entry).
constexpr u64 kStartupAddress = kStackTop;

// Loads the ELF in boot module `module` into a new process, not yet
// running, whose kernel memory limit is `kernel_memory` (its image and
// stack are its first charges: NoMemory when they do not fit). A
// malformed image is refused with its reason logged; nothing is mapped.
// Returns the creator's reference.
Result<object::RefPtr<object::Process>> load_module(const char* module, usize len, u64 kernel_memory);
// Maps `block` read-only at kStartupAddress and starts the first thread.
Result<void> start(object::Process* p, const abi::StartupBlock& block, u8 priority);
// init: load (with mm::init_limit()), give it a Log and the root
// Resource, start.
Result<object::RefPtr<object::Process>> spawn_init(const char* module, usize len);

// A CPU exception in user mode: ends the current process with the fault
// recorded and runs something else. Does not return.
[[noreturn]] void user_fault(const InterruptFrame& frame);

// The current process exits with `code`. Does not return.
[[noreturn]] void exit_current(i64 code);

}  // namespace proc
