/* 256 interrupt entry stubs. Each pushes a dummy error code where the CPU
 * does not (SDM Vol. 3A §6.13), then its vector, saves the general
 * registers and calls interrupt_dispatch(InterruptFrame*). */

.macro SAVE_AND_DISPATCH
    /* From user mode (CS.RPL = 3, at 24(%rsp) after vector and error code):
     * switch GS to the kernel's per-CPU block. */
    testb $3, 24(%rsp)
    jz 1f
    swapgs
1:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld
    mov %rsp, %rdi
    call interrupt_dispatch
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
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
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
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
