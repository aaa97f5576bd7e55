// GDT and TSS (Intel SDM Vol. 3A §3.4.5, §7.7). Selectors are fixed so
// later syscall/sysret code can rely on their order.
#pragma once

#include "util/types.h"

namespace gdt {

constexpr u16 kKernelCode = 0x08;
constexpr u16 kKernelData = 0x10;
constexpr u16 kUserData = 0x18 | 3;  // sysret expects user data before user code
constexpr u16 kUserCode = 0x20 | 3;
constexpr u16 kTss = 0x28;

// IST slots: double fault and NMI run on their own stacks so a kernel stack
// overflow still produces a panic report instead of a triple fault.
constexpr u8 kIstDoubleFault = 1;
constexpr u8 kIstNmi = 2;

void init();
void set_kernel_stack(u64 rsp0);

}  // namespace gdt
