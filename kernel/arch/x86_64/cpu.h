// Thin, typed wrappers over x86_64 instructions the kernel needs.
#pragma once

#include "util/types.h"

namespace cpu {

inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline void outw(u16 port, u16 v) { asm volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
inline void outl(u16 port, u32 v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
inline u8 inb(u16 port) {
    u8 v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline u16 inw(u16 port) {
    u16 v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline u32 inl(u16 port) {
    u32 v;
    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

inline u64 rdmsr(u32 msr) {
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (u64(hi) << 32) | lo;
}
inline void wrmsr(u32 msr, u64 v) { asm volatile("wrmsr" ::"c"(msr), "a"(u32(v)), "d"(u32(v >> 32))); }

inline u64 rdtsc() {
    u32 lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (u64(hi) << 32) | lo;
}

struct CpuidResult {
    u32 eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(u32 leaf, u32 subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline u64 read_cr0() {
    u64 v;
    asm volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
inline u64 read_cr2() {
    u64 v;
    asm volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
inline u64 read_cr3() {
    u64 v;
    asm volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
inline u64 read_cr4() {
    u64 v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
inline void write_cr3(u64 v) { asm volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
inline void write_cr4(u64 v) { asm volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }

inline void invlpg(u64 virt) { asm volatile("invlpg (%0)" ::"r"(virt) : "memory"); }
inline void cli() { asm volatile("cli" ::: "memory"); }
inline void sti() { asm volatile("sti" ::: "memory"); }
inline void hlt() { asm volatile("hlt" ::: "memory"); }
inline void pause() { asm volatile("pause"); }
inline u64 read_flags() {
    u64 f;
    asm volatile("pushfq; popq %0" : "=r"(f));
    return f;
}
inline bool interrupts_enabled() { return read_flags() & (1 << 9); }

[[noreturn]] inline void halt_forever() {
    for (;;) {
        cli();
        hlt();
    }
}

// Writes the cache lines of [p, p + bytes) back to memory, for readers
// that do not snoop the caches (a VT-d unit with ECAP.C = 0 walking its
// tables); the fence orders them before what tells the reader to look.
inline void flush_to_memory(const void* p, u64 bytes) {
    constexpr u64 kLine = 64;
    u64 at = reinterpret_cast<u64>(p) & ~(kLine - 1);
    const u64 end = reinterpret_cast<u64>(p) + bytes;
    for (; at < end; at += kLine) asm volatile("clflush (%0)" ::"r"(at) : "memory");
    asm volatile("mfence" ::: "memory");
}

constexpr u32 kMsrEfer = 0xc0000080;
constexpr u32 kMsrApicBase = 0x1b;

}  // namespace cpu
