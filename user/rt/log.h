// printf-style logging to the kernel log (prefixed with program name and
// pid), through the Log handle the process was given as "log".
#pragma once

#include "util/token_bucket.h"
#include "util/types.h"

namespace rt {

__attribute__((format(printf, 1, 2))) void log(const char* fmt, ...);

// Lines within a budget (a token bucket: `burst` at once, `per_second`
// after): what one party — a client, a peer — can make a process log is
// bounded, and the kernel's per-process log budget stays for the lines
// that matter. What was dropped is counted and said with the next line.
class LogBudget {
public:
    constexpr LogBudget(u32 burst, u32 per_second) : m_bucket(burst, per_second) {}
    __attribute__((format(printf, 2, 3))) void log(const char* fmt, ...);

private:
    util::TokenBucket m_bucket;
    u64 m_unlogged = 0;
};

}  // namespace rt
