// A token bucket: at most `burst` events at once, refilled at `per_second`
// events per second. Used to rate-limit what a process can make the kernel
// do on its behalf at no cost to itself (refusal log lines: the serial port
// is polled by a non-preemptible kernel, so an unlimited log is a CPU
// starvation attack — issue 11 finding 5).
//
// Pure arithmetic on a caller-supplied monotonic clock (ns); no allocation.
// Credit is kept in nanoseconds of refill time: one event costs
// 1e9 / per_second ns, and the credit never exceeds burst events' worth.
#pragma once

#include "util/types.h"

namespace util {

class TokenBucket {
public:
    // per_second >= 1 (0 is treated as 1). The bucket starts full.
    constexpr TokenBucket(u32 burst, u32 per_second)
        : m_cost_ns(1'000'000'000ull / (per_second ? per_second : 1)),
          m_cap_ns(u64{burst} * m_cost_ns),
          m_credit_ns(m_cap_ns) {}

    // Takes one token at time `now_ns` if there is one.
    bool take(u64 now_ns) {
        // Time only counts forwards: a clock that steps back grants nothing.
        if (now_ns > m_last_ns) {
            u64 elapsed = now_ns - m_last_ns;
            m_credit_ns = elapsed >= m_cap_ns - m_credit_ns ? m_cap_ns : m_credit_ns + elapsed;
            m_last_ns = now_ns;
        }
        if (m_credit_ns < m_cost_ns) return false;
        m_credit_ns -= m_cost_ns;
        return true;
    }

private:
    u64 m_cost_ns;
    u64 m_cap_ns;
    u64 m_credit_ns;
    u64 m_last_ns = 0;
};

}  // namespace util
