// printf-style formatting into a caller buffer, with no allocation and no
// libc: used by the kernel log, the userspace runtime and tests.
// Supported: %d %i %u %x %X %p %s %c %%, flags '-' '0', width, precision for
// %s (including %.*s), length modifiers hh h l ll z.
// Output is always NUL-terminated when cap > 0; the return value is the
// length the full output would have had (like snprintf).
#pragma once

#include <stdarg.h>

#include "util/types.h"

usize format_v(char* buf, usize cap, const char* fmt, va_list ap);
// The same output, however long, handed to emit(ctx, text, len) in pieces
// of at most cap - 1 bytes formatted through buf (cap >= 2): for writers
// that take any length in several writes (the shell's console output).
// Returns the whole output's length.
using FormatEmit = void (*)(void* ctx, const char* text, usize len);
usize format_chunks(char* buf, usize cap, FormatEmit emit, void* ctx, const char* fmt, va_list ap);
__attribute__((format(printf, 3, 4))) usize format(char* buf, usize cap, const char* fmt, ...);
