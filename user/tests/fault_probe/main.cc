// fault_probe: hands the kernel bad arguments — a kernel pointer, an
// unmapped user pointer, a system call that does not exist — and expects a
// specific error for each instead of a kernel fault; then faults itself on
// purpose, which must end this process only.
#include "rt/log.h"
#include "rt/sys.h"

namespace {

const char* outcome(i64 raw) { return raw >= 0 ? "accepted" : status_name(static_cast<Status>(-raw)); }

}  // namespace

int main(u64) {
    u32 log = rt::startup_handle("log");
    i64 kernel_ptr = rt::raw_syscall(abi::Syscall::LogWrite, log, 0xffffffff80200000ull, 16);
    i64 unmapped = rt::raw_syscall(abi::Syscall::LogWrite, log, 0x10000000ull, 16);
    i64 wraps = rt::raw_syscall(abi::Syscall::LogWrite, log, 0x00007ffffffffff0ull, 64);
    i64 no_such_call = rt::raw_syscall(static_cast<abi::Syscall>(9999));
    rt::log("probe: kernel-pointer=%s unmapped=%s wraps=%s no-such-call=%s", outcome(kernel_ptr), outcome(unmapped),
            outcome(wraps), outcome(no_such_call));
    rt::log("probe: faulting on purpose at 0xdead1000");
    *reinterpret_cast<volatile u64*>(0xdead1000ull) = 1;
    rt::log("probe: still alive after the fault (wrong)");
    return 1;
}
