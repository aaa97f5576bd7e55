// The few C and C++ runtime pieces a freestanding kernel needs: memory
// primitives the compiler may call, and operator new/delete on the heap.
#include "debug/panic.h"
#include "mm/heap.h"
#include "util/types.h"

extern "C" {

void* memcpy(void* dst, const void* src, usize n) {
    auto* d = static_cast<u8*>(dst);
    auto* s = static_cast<const u8*>(src);
    for (usize i = 0; i < n; i++) d[i] = s[i];
    return dst;
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
    auto* d = static_cast<u8*>(dst);
    for (usize i = 0; i < n; i++) d[i] = static_cast<u8>(c);
    return dst;
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

void __cxa_pure_virtual() { panic("pure virtual call"); }

}  // extern "C"

// Kernel code allocates through heap:: and handles failure explicitly;
// operator new exists for the rare fixed boot-time object and treats
// exhaustion as fatal, since it cannot report it.
void* operator new(usize size) {
    void* p = heap::alloc(size);
    if (!p) panic("operator new: out of memory (%zu bytes)", size);
    return p;
}
void* operator new[](usize size) { return operator new(size); }
void operator delete(void* p) noexcept { heap::free(p); }
void operator delete[](void* p) noexcept { heap::free(p); }
void operator delete(void* p, usize) noexcept { heap::free(p); }
void operator delete[](void* p, usize) noexcept { heap::free(p); }
