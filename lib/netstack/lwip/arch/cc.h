// lwIP's port header (lwip/arch.h includes it first): the compiler and
// platform facts lwIP asks a port for. Shared by the freestanding build
// (user programs) and the hosted one (unit tests, fuzzer); the hooks it
// names are defined in lib/netstack/port.cc.
#pragma once

// x86_64 only (DESIGN §1): lwIP swaps bytes for network order. Hosted
// builds may have it from the C library's <endian.h> already (the same).
#ifndef BYTE_ORDER
#define BYTE_ORDER LITTLE_ENDIAN
#endif

// clang's freestanding headers give stddef.h, stdint.h and limits.h; not
// inttypes.h (it defers to the C library's). lwIP only wants the printf
// formats from it, for its diagnostics, which lib/util/format.h prints:
// u16_t/s16_t are (unsigned) short, u32_t/s32_t are (unsigned) int.
#define LWIP_NO_INTTYPES_H 1
#define X8_F "02x"
#define U16_F "hu"
#define S16_F "hd"
#define X16_F "hx"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"
// lwIP's own isdigit/isxdigit/... instead of the C library's.
#define LWIP_NO_CTYPE_H 1

#ifdef __cplusplus
extern "C" {
#endif
// lwIP's diagnostics and failed assertions, routed to netstack::Host::log
// (the process log); an assertion then ends the process through
// netstack::Host::fatal: lwIP's state is no longer to be trusted.
void sluice_lwip_diag(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void sluice_lwip_assert(const char* what, int line, const char* file) __attribute__((noreturn));
// Random numbers for DHCP transaction IDs, DNS query IDs, local ports and
// the secret of TCP's initial sequence numbers (arch/hooks.h).
unsigned int sluice_lwip_rand(void);
#ifdef __cplusplus
}
#endif

#define LWIP_PLATFORM_DIAG(x) \
    do {                      \
        sluice_lwip_diag x;   \
    } while (0)
#define LWIP_PLATFORM_ASSERT(x) sluice_lwip_assert((x), __LINE__, __FILE__)
#define LWIP_RAND() ((u32_t)sluice_lwip_rand())
