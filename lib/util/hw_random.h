// The CPU's random number generator: RDRAND [Intel SDM Vol. 1 §7.3.17,
// "Random Number Generator Instructions"; AMD APM Vol. 3 "RDRAND"], an
// AES-CTR DRBG reseeded from an entropy source in hardware, usable from
// user mode. Every cloud x86_64 VM we target (and QEMU's `-cpu max`)
// advertises it; a CPU without it has no source here, and callers must say
// so rather than pretend (see user/system/netstack).
#pragma once

#include "util/types.h"

namespace util {

// CPUID.01H:ECX.RDRAND[bit 30].
inline bool hw_random_available() {
    u32 eax = 1, ebx, ecx = 0, edx;
    asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
    return (ecx >> 30) & 1;
}

// One 64-bit value; false when the DRBG had none ready 10 times in a row
// (Intel's guidance: retry up to 10 times, then treat it as a failure).
inline bool hw_random64(u64& out) {
    for (int i = 0; i < 10; i++) {
        u8 ok;
        asm volatile("rdrand %0; setc %1" : "=r"(out), "=qm"(ok) : : "cc");
        if (ok) return true;
    }
    return false;
}

}  // namespace util
