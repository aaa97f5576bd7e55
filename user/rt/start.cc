// Process entry: runs static constructors, then main(), then exits with
// main's return value. The kernel starts the first thread with a 16-byte
// aligned stack and RDI = the startup argument.
#include "rt/sys.h"

extern "C" void (*__init_array_start[])(), (*__init_array_end[])();
int main(u64 startup_arg);

namespace rt {
void set_startup_block(u64 address);
}

extern "C" [[noreturn]] void rt_start(u64 startup_arg) {
    rt::set_startup_block(startup_arg);
    for (auto* ctor = __init_array_start; ctor != __init_array_end; ctor++) (*ctor)();
    rt::exit(main(startup_arg));
}

// _start: the stack is 16-byte aligned at entry (no return address pushed),
// so push a zero frame pointer to restore the ABI's call alignment.
asm(R"(
    .section .text._start, "ax"
    .global _start
    .type _start, @function
_start:
    xor %ebp, %ebp
    push %rbp
    call rt_start
    ud2
    .size _start, . - _start
    .text
)");
