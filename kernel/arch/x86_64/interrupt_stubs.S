/* 256 interrupt entry stubs. Each pushes a dummy error code where the CPU
 * does not (SDM Vol. 3A §6.13), then its vector, saves the general
 * registers and calls interrupt_dispatch(InterruptFrame*). */

#include "arch/x86_64/frame_macros.inc"

.macro SAVE_AND_DISPATCH
    /* From user mode (CS.RPL = 3, at 24(%rsp) after vector and error code):
     * switch GS to the kernel's per-CPU block. */
    testb $3, 24(%rsp)
    jz 1f
    swapgs
1:
    PUSH_GPRS
    cld
    mov %rsp, %rdi
    call interrupt_dispatch
    POP_GPRS
    add $16, %rsp
    testb $3, 8(%rsp)
    jz 2f
    swapgs
2:
    iretq
.endm

    .text
interrupt_common:
    SAVE_AND_DISPATCH

/* A new user thread's first switch_context "returns" here with its
 * kernel stack holding an InterruptFrame built by the thread's creator. */
    .global return_to_user
return_to_user:
    POP_GPRS
    add $16, %rsp
    swapgs
    iretq

/* Stub v lives at interrupt_stubs + 16 * v (each is at most 12 bytes). */
    .balign 16
    .global interrupt_stubs
interrupt_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    push $0
    .endif
    push $vec
    jmp interrupt_common
    .set vec, vec + 1
    .endr
