#include "rt/sys.h"

namespace rt {

void exit(i64 code) {
    raw_syscall(abi::Syscall::ProcessExit, static_cast<u64>(code));
    for (;;) {
    }
}

void yield() { raw_syscall(abi::Syscall::Yield); }
u64 clock_ns() { return static_cast<u64>(raw_syscall(abi::Syscall::ClockGet)); }
void sleep_ns(u64 ns) { raw_syscall(abi::Syscall::Sleep, ns); }

Result<void> log_write(const char* text, usize len) {
    auto r = to_result(raw_syscall(abi::Syscall::LogWrite, reinterpret_cast<u64>(text), len));
    if (!r.ok()) return r.status();
    return {};
}

}  // namespace rt
