/* Multiboot2 entry: 32-bit protected mode -> long mode -> higher half.
 *
 * GRUB (BIOS or UEFI) enters _start in 32-bit protected mode, paging off,
 * EAX = 0x36d76289, EBX = physical address of the boot information
 * (Multiboot2 spec §3.3). We build throwaway page tables that map the first
 * memory three times — identity (to survive enabling paging), at the direct-map
 * base 0xffff800000000000 and at the kernel base 0xffffffff80000000 — enter
 * long mode and call kernel_main(magic, info_phys) on the kernel stack.
 * (The first 4 GiB in fact: boot information, modules and ACPI tables may
 * sit anywhere below 4 GiB, above all under UEFI.)
 * mm/paging.cc replaces these tables as soon as the memory map is known. */

#define MB2_MAGIC          0xe85250d6
#define MB2_ARCH_I386      0
#define KERNEL_VIRT_BASE   0xffffffff80000000

#define PTE_PRESENT  0x1
#define PTE_WRITE    0x2
#define PTE_HUGE     0x80

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    /* end tag */
    .word 0
    .word 0
    .long 8
mb2_header_end:

    .section .boot.bss, "aw", @nobits
    .balign 4096
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4      /* four page directories: 4 GiB */
boot_tables_end:

    .section .boot.data, "aw"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff   /* 0x08: 64-bit code, DPL0 */
    .quad 0x00cf92000000ffff   /* 0x10: data, DPL0 */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt
boot_magic: .long 0
boot_info:  .long 0

    .section .boot.text, "ax"
    .code32
    .global _start
_start:
    cli
    cld
    mov %eax, boot_magic
    mov %ebx, boot_info

    /* Zero the bootstrap tables (do not rely on the loader for .bss). */
    mov $boot_pml4, %edi
    xor %eax, %eax
    mov $((boot_tables_end - boot_pml4) / 4), %ecx
    rep stosl

    /* 2048 x 2 MiB pages covering physical [0, 4 GiB). */
    mov $boot_pd, %edi
    mov $(PTE_PRESENT | PTE_WRITE | PTE_HUGE), %eax
    xor %ecx, %ecx
1:  mov %eax, (%edi, %ecx, 8)
    movl $0, 4(%edi, %ecx, 8)
    add $0x200000, %eax
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    /* pdpt_low[0..3] -> the four PDs; pdpt_high[510] -> PD 0 so that
     * 0xffffffff80000000 maps physical 0 (the kernel links there + 2 MiB). */
    movl $(boot_pd + PTE_PRESENT + PTE_WRITE), boot_pdpt_low
    movl $(boot_pd + 4096 + PTE_PRESENT + PTE_WRITE), boot_pdpt_low + 8
    movl $(boot_pd + 8192 + PTE_PRESENT + PTE_WRITE), boot_pdpt_low + 16
    movl $(boot_pd + 12288 + PTE_PRESENT + PTE_WRITE), boot_pdpt_low + 24
    movl $(boot_pd + PTE_PRESENT + PTE_WRITE), boot_pdpt_high + 510 * 8
    /* pml4[0] and pml4[256] (direct map) -> pdpt_low; pml4[511] -> pdpt_high */
    movl $(boot_pdpt_low + PTE_PRESENT + PTE_WRITE), boot_pml4
    movl $(boot_pdpt_low + PTE_PRESENT + PTE_WRITE), boot_pml4 + 256 * 8
    movl $(boot_pdpt_high + PTE_PRESENT + PTE_WRITE), boot_pml4 + 511 * 8

    /* CR4.PAE | CR4.PGE */
    mov %cr4, %eax
    or $((1 << 5) | (1 << 7)), %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3

    /* EFER.LME, and EFER.NXE when the CPU has NX (CPUID 0x80000001 EDX bit 20). */
    mov $0x80000001, %eax
    cpuid
    mov $0x100, %esi           /* LME */
    test $(1 << 20), %edx
    jz 2f
    or $0x800, %esi            /* NXE */
2:  mov $0xc0000080, %ecx
    rdmsr
    or %esi, %eax
    wrmsr

    /* CR0.PG | CR0.WP | CR0.PE */
    mov %cr0, %eax
    or $0x80010001, %eax
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $long_mode_low

    .code64
long_mode_low:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    movabs $long_mode_high, %rax
    jmp *%rax

    .text
    .type long_mode_high, @function
long_mode_high:
    movabs $kernel_boot_stack_top, %rsp
    xor %rbp, %rbp            /* terminates panic backtraces */
    mov boot_magic, %edi
    mov boot_info, %esi
    call kernel_main
3:  cli
    hlt
    jmp 3b
    .size long_mode_high, . - long_mode_high

    .bss
    .balign 16
    .global kernel_boot_stack_bottom
kernel_boot_stack_bottom:
    .skip 32768
    .global kernel_boot_stack_top
kernel_boot_stack_top:
