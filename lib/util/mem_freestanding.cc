// The memory primitives a freestanding C++ compiler may emit calls to
// (memcpy, memmove, memset, memcmp, strlen), for the kernel and user
// programs. Hosted builds (tests, fuzzers) use the C library's instead.
//
// memcpy and memset move eight bytes per rep step, then the tail: under
// QEMU's TCG (where every benchmark and scenario here runs) each iteration
// of a rep string instruction is one trip through the translated-block
// loop, so rep movsb/stosb cost that per byte — a 2 KiB zeroed array was
// thousands of trips. Fast-string hardware runs rep movsq/stosq as well as
// the byte forms.
#if defined(SLUICE_KERNEL) || defined(SLUICE_USER)

#include "util/types.h"

extern "C" {

void* memcpy(void* dst, const void* src, usize n) {
    void* ret = dst;
    usize words = n / 8, tail = n % 8;
    asm volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(words)::"memory");
    asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(tail)::"memory");
    return ret;
}

void* memmove(void* dst, const void* src, usize n) {
    auto* d = static_cast<u8*>(dst);
    auto* s = static_cast<const u8*>(src);
    if (d < s) {
        for (usize i = 0; i < n; i++) d[i] = s[i];
    } else {
        for (usize i = n; i > 0; i--) d[i - 1] = s[i - 1];
    }
    return dst;
}

void* memset(void* dst, int c, usize n) {
    void* ret = dst;
    u64 pattern = 0x0101010101010101ull * static_cast<u8>(c);
    usize words = n / 8, tail = n % 8;
    asm volatile("rep stosq" : "+D"(dst), "+c"(words) : "a"(pattern) : "memory");
    asm volatile("rep stosb" : "+D"(dst), "+c"(tail) : "a"(pattern) : "memory");
    return ret;
}

int memcmp(const void* a, const void* b, usize n) {
    auto* x = static_cast<const u8*>(a);
    auto* y = static_cast<const u8*>(b);
    for (usize i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

usize strlen(const char* s) {
    usize n = 0;
    while (s[n]) n++;
    return n;
}

}  // extern "C"

#endif
