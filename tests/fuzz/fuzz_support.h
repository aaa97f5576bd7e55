// Helpers the model-based fuzzers share: a check that stops the run (a
// libFuzzer crash) and a trace printed only with SLUICE_FUZZ_TRACE set, for
// replaying a crashing input step by step.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "util/types.h"

namespace fuzz_support {

inline void check(bool ok) {
    if (!ok) __builtin_trap();
}

inline bool tracing() {
    static const bool on = getenv("SLUICE_FUZZ_TRACE") != nullptr;
    return on;
}

__attribute__((format(printf, 1, 2))) inline void trace(const char* fmt, ...) {
    if (!tracing()) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

// The fuzzer's input, consumed from the front; past its end every byte
// reads as 0, so a model runs to its end on any input.
struct Input {
    const uint8_t* data;
    size_t size;
    uint8_t byte() {
        if (!size) return 0;
        size--;
        return *data++;
    }
    u16 u16_() { return static_cast<u16>(byte() | byte() << 8); }  // little-endian
    u32 u32_() { return u32{u16_()} | u32{u16_()} << 16; }
};

}  // namespace fuzz_support
