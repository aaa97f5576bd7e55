// The part of <stdlib.h> lwIP's core uses, for its freestanding build (see
// string.h here): atoi, for netif_find's "en0"-style names. mem.c includes
// stdlib.h for malloc, which MEM_LIBC_MALLOC 0 (lwipopts.h) never calls.
#pragma once

int atoi(const char* s);
