// The C library functions lwIP's core calls beyond the memory primitives
// (lib/util/mem_freestanding.cc), for its freestanding build; declared in
// lwip/libc/. Hosted builds use the C library's.
#if defined(SLUICE_USER)

#include "util/types.h"

extern "C" {

int strncmp(const char* a, const char* b, usize n) {
    for (usize i = 0; i < n; i++) {
        auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x != y) return x < y ? -1 : 1;
        if (x == 0) return 0;
    }
    return 0;
}

// Decimal digits after optional spaces and sign; stops at the first other
// character. netif_find() parses interface numbers with it (0..255).
int atoi(const char* s) {
    while (*s == ' ' || *s == '\t') s++;
    bool negative = *s == '-';
    if (*s == '-' || *s == '+') s++;
    int value = 0;
    // Saturates instead of overflowing (undefined behaviour in C's atoi).
    while (*s >= '0' && *s <= '9') {
        int digit = *s++ - '0';
        value = value > (2147483647 - digit) / 10 ? 2147483647 : value * 10 + digit;
    }
    return negative ? -value : value;
}

}  // extern "C"

#endif
