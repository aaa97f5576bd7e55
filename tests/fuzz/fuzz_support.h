// Helpers the model-based fuzzers share: a check that stops the run (a
// libFuzzer crash) and a trace printed only with SLUICE_FUZZ_TRACE set, for
// replaying a crashing input step by step.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

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

}  // namespace fuzz_support
