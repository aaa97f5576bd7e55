#include "arch/x86_64/percpu.h"

#include "arch/x86_64/cpu.h"

namespace percpu {
namespace {
constexpr u32 kMsrGsBase = 0xc0000101;
constexpr u32 kMsrKernelGsBase = 0xc0000102;
Cpu g_bsp;
}  // namespace

void init_bsp() {
    g_bsp.self = &g_bsp;
    g_bsp.id = 0;
    cpu::wrmsr(kMsrGsBase, reinterpret_cast<u64>(&g_bsp));
    cpu::wrmsr(kMsrKernelGsBase, 0);  // what user mode sees after swapgs
}

}  // namespace percpu
