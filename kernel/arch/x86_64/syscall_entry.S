/* syscall/sysret entry (SDM Vol. 2B SYSCALL, SYSRET).
 * On entry: RCX = user RIP, R11 = user RFLAGS, RSP = user stack, IF
 * cleared by FMASK. We switch to the thread's kernel stack and build the
 * same InterruptFrame an interrupt would, so a thread blocked in a syscall
 * and one preempted by an interrupt look alike to the scheduler.
 * The kernel is not preemptible: interrupts stay off until we return to
 * user mode or a thread blocks (see proc/scheduler.h). */

#include "arch/x86_64/frame_macros.inc"

#define USER_DS (0x18 | 3)
#define USER_CS (0x20 | 3)
#define SYSCALL_MARK 0x100

    .text
    .global syscall_entry
    .type syscall_entry, @function
syscall_entry:
    swapgs
    mov %rsp, %gs:16
    mov %gs:8, %rsp
    push $USER_DS
    push %gs:16
    push %r11
    push $USER_CS
    push %rcx
    push $0
    push $SYSCALL_MARK
    PUSH_GPRS
    cld
    xor %ebp, %ebp          /* backtraces stop at the user boundary */
    mov %rsp, %rdi
    call syscall_dispatch
    POP_GPRS
    add $16, %rsp
    /* The frame's RIP is the user's own return address (canonical: it
     * was just executed), so sysret cannot fault in ring 0. */
    mov (%rsp), %rcx
    mov 16(%rsp), %r11
    mov 24(%rsp), %rsp
    swapgs
    sysretq
    .size syscall_entry, . - syscall_entry

/* switch_context(u64* save_rsp, u64 new_rsp): saves the callee-saved
 * registers on the current stack, stores RSP, loads the new one, and
 * returns on the other thread's stack. */
    .global switch_context
    .type switch_context, @function
switch_context:
    push %rbp
    mov %rsp, %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
    .size switch_context, . - switch_context

/* user_copy(void* dst, const void* src, size_t len) -> 0, or -1 when a page
 * fault hit inside the copy: the #PF handler sees RIP inside
 * [user_copy_begin, user_copy_end) and resumes at user_copy_fault.
 * Callers validate that the user side lies in the user half first.
 * Eight bytes per step, then the tail: under TCG a rep string instruction
 * costs one trip through QEMU's translated-block loop per iteration, so
 * rep movsb was a per-byte cost on every system call that copies. */
    .global user_copy
    .global user_copy_begin
    .global user_copy_end
    .global user_copy_fault
    .type user_copy, @function
user_copy:
    mov %rdx, %rcx
    shr $3, %rcx
    and $7, %edx
user_copy_begin:
    rep movsq
    mov %rdx, %rcx
    rep movsb
user_copy_end:
    xor %eax, %eax
    ret
user_copy_fault:
    mov $-1, %rax
    ret
    .size user_copy, . - user_copy
