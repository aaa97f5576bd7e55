// Typed system call wrappers for user programs.
#pragma once

#include "rt/syscall.h"

namespace rt {

[[noreturn]] void exit(i64 code);
void yield();
u64 clock_ns();
void sleep_ns(u64 ns);
Result<void> log_write(const char* text, usize len);

}  // namespace rt
