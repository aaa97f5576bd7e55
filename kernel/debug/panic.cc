#include "debug/panic.h"

#include <stdarg.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/idt.h"
#include "console/log.h"
#include "console/serial.h"
#include "debug/symbols.h"
#include "mm/direct_map.h"
#include "mm/kernel_stack.h"
#include "util/format.h"

extern "C" char __kernel_text_start[], __kernel_data_end[];

namespace {

volatile bool g_panicking = false;

// A frame-pointer chain may be corrupt; only follow pointers into memory we
// know is mapped (kernel image or direct map) and that move up the stack.
bool plausible_frame(u64 rbp) {
    if (rbp & 7) return false;
    u64 image_lo = reinterpret_cast<u64>(__kernel_text_start), image_hi = reinterpret_cast<u64>(__kernel_data_end);
    if (rbp >= image_lo && rbp + 16 <= image_hi) return true;
    if (kstack::contains(rbp, 16)) return true;
    return rbp >= direct_map::kBase && direct_map::covers(rbp - direct_map::kBase, 16);
}

void print_location(const char* prefix, u64 addr) {
    char sym[192];
    if (symbols::describe(addr, sym, sizeof sym))
        log::raw("%s0x%016llx %s\n", prefix, static_cast<unsigned long long>(addr), sym);
    else
        log::raw("%s0x%016llx ?\n", prefix, static_cast<unsigned long long>(addr));
}

void backtrace(u64 rip, u64 rbp) {
    log::raw("backtrace:\n");
    char prefix[16];
    format(prefix, sizeof prefix, "  #0 ");
    print_location(prefix, rip);
    for (int depth = 1; depth < 32 && rbp && plausible_frame(rbp); depth++) {
        const u64* frame = reinterpret_cast<const u64*>(rbp);
        u64 next = frame[0], ret = frame[1];
        if (!ret) break;
        format(prefix, sizeof prefix, "  #%d ", depth);
        print_location(prefix, ret);
        if (next <= rbp) break;  // stacks grow down: callers are above
        rbp = next;
    }
}

[[noreturn]] void finish() {
    log::raw("PANIC: end of report\n");
    cpu::outl(kDebugExitPort, kDebugExitPanic);  // leaves QEMU when the device exists
    cpu::halt_forever();
}

bool enter() {
    cpu::cli();
    if (g_panicking) return false;
    g_panicking = true;
    return true;
}

}  // namespace

void panic(const char* fmt, ...) {
    if (!enter()) cpu::halt_forever();
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    format_v(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log::raw("\nPANIC: %s\n", msg);
    u64 rbp;
    asm volatile("mov %%rbp, %0" : "=r"(rbp));
    backtrace(reinterpret_cast<u64>(__builtin_return_address(0)), rbp);
    finish();
}

void panic_from_exception(const InterruptFrame& f) {
    if (!enter()) cpu::halt_forever();
    char sym[192];
    if (!symbols::describe(f.rip, sym, sizeof sym)) format(sym, sizeof sym, "?");
    log::raw("\nPANIC: %s at rip 0x%016llx <%s>\n", idt::exception_name(f.vector),
             static_cast<unsigned long long>(f.rip), sym);
    log::raw("  vector %llu error 0x%016llx", static_cast<unsigned long long>(f.vector),
             static_cast<unsigned long long>(f.error_code));
    if (f.vector == 14) {
        // SDM Vol. 3A §4.7: P, W/R, U/S, RSVD, I/D bits of the #PF error code.
        log::raw(" (%s, %s, %s%s%s)", f.error_code & 2 ? "write" : "read",
                 f.error_code & 1 ? "protection" : "not-present", f.error_code & 4 ? "user" : "supervisor",
                 f.error_code & 8 ? ", reserved-bit" : "", f.error_code & 16 ? ", instruction-fetch" : "");
    }
    log::raw("\n  cr2 0x%016llx (faulting address)\n", static_cast<unsigned long long>(cpu::read_cr2()));
    auto r = [](const char* n, u64 v) { log::raw("  %-3s 0x%016llx", n, static_cast<unsigned long long>(v)); };
    // Three registers a line, as printed.
    // clang-format off
    r("rax", f.rax); r("rbx", f.rbx); r("rcx", f.rcx); log::raw("\n");
    r("rdx", f.rdx); r("rsi", f.rsi); r("rdi", f.rdi); log::raw("\n");
    r("rbp", f.rbp); r("rsp", f.rsp); r("r8", f.r8); log::raw("\n");
    r("r9", f.r9); r("r10", f.r10); r("r11", f.r11); log::raw("\n");
    r("r12", f.r12); r("r13", f.r13); r("r14", f.r14); log::raw("\n");
    r("r15", f.r15); r("rip", f.rip); r("rfl", f.rflags); log::raw("\n");
    r("cs", f.cs); r("ss", f.ss); r("cr3", cpu::read_cr3()); log::raw("\n");
    r("cr0", cpu::read_cr0()); r("cr4", cpu::read_cr4()); log::raw("\n");
    // clang-format on
    backtrace(f.rip, f.rbp);
    finish();
}
