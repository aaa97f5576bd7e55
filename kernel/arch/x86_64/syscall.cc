#include "arch/x86_64/syscall.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"

extern "C" void syscall_entry();

namespace syscall_msr {
namespace {
constexpr u32 kMsrStar = 0xc0000081, kMsrLstar = 0xc0000082, kMsrFmask = 0xc0000084;
}

void init() {
    cpu::wrmsr(cpu::kMsrEfer, cpu::rdmsr(cpu::kMsrEfer) | 1);  // SCE
    // STAR[47:32]: kernel CS (SS = +8). STAR[63:48]: base for sysret:
    // SS = base + 8, CS = base + 16, both with RPL 3 (SDM SYSRET).
    u64 sysret_base = gdt::kUserData - 8 - 3;
    cpu::wrmsr(kMsrStar, (sysret_base << 48) | (u64(gdt::kKernelCode) << 32));
    cpu::wrmsr(kMsrLstar, reinterpret_cast<u64>(syscall_entry));
    // Cleared on entry: IF (kernel not preemptible), TF, DF, AC.
    cpu::wrmsr(kMsrFmask, (1 << 9) | (1 << 8) | (1 << 10) | (1 << 18));
}

}  // namespace syscall_msr
