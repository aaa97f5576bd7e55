#include "arch/x86_64/gdt.h"

namespace gdt {
namespace {

struct [[gnu::packed]] Tss {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 iopb_offset;
};
static_assert(sizeof(Tss) == 104);

struct [[gnu::packed]] Pointer {
    u16 limit;
    u64 base;
};

alignas(16) Tss g_tss;
alignas(16) u64 g_gdt[7];
alignas(16) u8 g_double_fault_stack[16384];
alignas(16) u8 g_nmi_stack[8192];

constexpr u64 descriptor(u8 access, u8 flags) {
    // limit 0xfffff, base 0 (ignored in long mode for code/data)
    return 0xffffull | (u64(access) << 40) | (u64(flags | 0xf) << 48);
}

}  // namespace

void init() {
    g_gdt[0] = 0;
    g_gdt[1] = descriptor(0x9a, 0xa0);  // kernel code: P, DPL0, exec/read; L
    g_gdt[2] = descriptor(0x92, 0xc0);  // kernel data
    g_gdt[3] = descriptor(0xf2, 0xc0);  // user data, DPL3
    g_gdt[4] = descriptor(0xfa, 0xa0);  // user code, DPL3, L
    g_tss.iopb_offset = sizeof(Tss);    // no I/O permission bitmap
    g_tss.ist[kIstDoubleFault - 1] = reinterpret_cast<u64>(g_double_fault_stack + sizeof g_double_fault_stack);
    g_tss.ist[kIstNmi - 1] = reinterpret_cast<u64>(g_nmi_stack + sizeof g_nmi_stack);
    u64 base = reinterpret_cast<u64>(&g_tss);
    u64 limit = sizeof(Tss) - 1;
    g_gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
               (((base >> 24) & 0xff) << 56);
    g_gdt[6] = base >> 32;

    Pointer ptr{sizeof g_gdt - 1, reinterpret_cast<u64>(g_gdt)};
    asm volatile(
        "lgdt %0\n"
        "pushq %1\n"
        "leaq 1f(%%rip), %%rax\n"
        "pushq %%rax\n"
        "lretq\n"
        "1:\n"
        "mov %2, %%ax\n"
        "mov %%ax, %%ds\n"
        "mov %%ax, %%es\n"
        "mov %%ax, %%ss\n"
        "ltr %w3\n"
        :
        : "m"(ptr), "i"(kKernelCode), "i"(kKernelData), "r"(kTss)
        : "rax", "memory");
}

void set_kernel_stack(u64 rsp0) { g_tss.rsp[0] = rsp0; }

}  // namespace gdt
