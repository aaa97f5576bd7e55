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

// Inputs made of records [kind][length u16 little-endian][bytes] (the
// netstack fuzzers'): next() hands out one at a time, a length past the
// input's end cut to what is left; false once fewer than 3 bytes remain.
class Records {
public:
    Records(const uint8_t* data, size_t size) : m_data(data), m_size(size) {}
    bool next(u8& kind, const u8*& body, usize& n) {
        if (m_at + 3 > m_size) return false;
        kind = m_data[m_at];
        n = static_cast<usize>(m_data[m_at + 1] | m_data[m_at + 2] << 8);
        m_at += 3;
        if (n > m_size - m_at) n = m_size - m_at;
        body = m_data + m_at;
        m_at += n;
        return true;
    }

private:
    const uint8_t* m_data;
    size_t m_size;
    usize m_at = 0;
};

}  // namespace fuzz_support
