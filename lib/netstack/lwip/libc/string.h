// The part of <string.h> lwIP's core uses, for its freestanding build (the
// lwIP sources there see no C library: -nostdlibinc). The definitions are
// the user runtime's (lib/util/mem_freestanding.cc) and
// lib/netstack/lwip_libc.cc.
#pragma once

#include <stddef.h>

void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
int strncmp(const char* a, const char* b, size_t n);
