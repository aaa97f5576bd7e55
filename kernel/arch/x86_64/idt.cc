#include "arch/x86_64/idt.h"

#include "arch/x86_64/gdt.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/user_copy.h"
#include "console/log.h"
#include "debug/panic.h"
#include "proc/lifecycle.h"

extern "C" const char interrupt_stubs[];  // 256 stubs, 16 bytes apart

namespace idt {
namespace {

struct [[gnu::packed]] Gate {
    u16 offset_low;
    u16 selector;
    u8 ist;
    u8 type_attr;
    u16 offset_mid;
    u32 offset_high;
    u32 reserved;
};
static_assert(sizeof(Gate) == 16);

alignas(16) Gate g_idt[256];
Handler g_handlers[256];

const char* const kExceptionNames[32] = {"divide error (#DE)",
                                         "debug (#DB)",
                                         "NMI",
                                         "breakpoint (#BP)",
                                         "overflow (#OF)",
                                         "bound range (#BR)",
                                         "invalid opcode (#UD)",
                                         "device not available (#NM)",
                                         "double fault (#DF)",
                                         "coprocessor segment overrun",
                                         "invalid TSS (#TS)",
                                         "segment not present (#NP)",
                                         "stack fault (#SS)",
                                         "general protection (#GP)",
                                         "page fault (#PF)",
                                         "reserved 15",
                                         "x87 floating point (#MF)",
                                         "alignment check (#AC)",
                                         "machine check (#MC)",
                                         "SIMD floating point (#XM)",
                                         "virtualization (#VE)",
                                         "control protection (#CP)",
                                         "reserved 22",
                                         "reserved 23",
                                         "reserved 24",
                                         "reserved 25",
                                         "reserved 26",
                                         "reserved 27",
                                         "hypervisor injection (#HV)",
                                         "VMM communication (#VC)",
                                         "security (#SX)",
                                         "reserved 31"};

}  // namespace

const char* exception_name(u64 vector) { return vector < 32 ? kExceptionNames[vector] : "interrupt"; }

void init() {
    for (int v = 0; v < 256; v++) {
        u64 addr = reinterpret_cast<u64>(interrupt_stubs) + 16 * v;
        Gate& g = g_idt[v];
        g.offset_low = addr & 0xffff;
        g.selector = gdt::kKernelCode;
        g.ist = v == 8 ? gdt::kIstDoubleFault : v == 2 ? gdt::kIstNmi : 0;
        g.type_attr = 0x8e;  // present, DPL0, 64-bit interrupt gate
        g.offset_mid = (addr >> 16) & 0xffff;
        g.offset_high = addr >> 32;
        g.reserved = 0;
    }
    struct [[gnu::packed]] {
        u16 limit;
        u64 base;
    } ptr{sizeof g_idt - 1, reinterpret_cast<u64>(g_idt)};
    asm volatile("lidt %0" ::"m"(ptr));
}

void set_handler(u8 vector, Handler handler) { g_handlers[vector] = handler; }

}  // namespace idt

extern "C" void interrupt_dispatch(InterruptFrame* frame) {
    u64 v = frame->vector;
    if (v < 32) {
        // A fault in user mode ends that process (its supervisor learns the
        // reason); a fault in the kernel is a bug, except a bad user pointer
        // inside user_copy, which becomes an error for the syscall.
        if ((frame->cs & 3) == 3) proc::user_fault(*frame);  // does not return
        if (v == 14 && user::fixup_fault(&frame->rip)) return;
        panic_from_exception(*frame);
    }
    if (v == idt::kVectorSpurious) return;  // no EOI for spurious (SDM §10.9)
    percpu::current_cpu()->last_vector = static_cast<u32>(v);
    // EOI first: a handler may switch threads (the timer does), and the
    // LAPIC holds back further interrupts of this priority until EOI.
    // Every source routed so far is edge-triggered (LAPIC timer, ISA IRQs,
    // MSI/MSI-X), so an early EOI loses nothing.
    lapic::eoi();
    if (idt::g_handlers[v]) {
        idt::g_handlers[v](*frame);
    } else {
        LOG_WARN("irq: unexpected vector %llu", static_cast<unsigned long long>(v));
    }
}
