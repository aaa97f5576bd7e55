// A byte budget: a limit, what is charged against it, the high-water mark
// and how many charges it refused. Pure arithmetic: the kernel's
// per-process memory accounts (kernel/mm/account.h) wrap it with a
// reference count and the refusal log. Unit-tested on the host
// (tests/unit/byte_quota_test.cc).
//
// Invariant: used() <= limit() between any two calls. A charge that would
// pass the limit — or wrap around — changes nothing but the refusal count.
#pragma once

#include "util/result.h"
#include "util/types.h"

class ByteQuota {
public:
    explicit constexpr ByteQuota(u64 limit) : m_limit(limit) {}

    // Adds `bytes`; false (nothing charged, refused() counts it) when that
    // would pass the limit. A charge of 0 always succeeds.
    [[nodiscard]] bool charge(u64 bytes) {
        if (bytes > m_limit - m_used) {
            m_refused++;
            return false;
        }
        m_used += bytes;
        if (m_used > m_peak) m_peak = m_used;
        return true;
    }

    // Gives back `bytes` charged earlier. False, and nothing changes, when
    // that is more than is charged: the caller's bookkeeping is wrong.
    [[nodiscard]] bool release(u64 bytes) {
        if (bytes > m_used) return false;
        m_used -= bytes;
        return true;
    }

    u64 limit() const { return m_limit; }
    u64 used() const { return m_used; }
    u64 available() const { return m_limit - m_used; }
    u64 peak() const { return m_peak; }
    u64 refused() const { return m_refused; }

private:
    u64 m_limit;
    u64 m_used = 0;
    u64 m_peak = 0;
    u64 m_refused = 0;
};

// The limit a new process gets when its spawner asks for `requested` bytes
// (0: `fallback`, the default) and itself has `spawner_limit`: a spawner
// cannot hand out more than it was given. The default is cut to the
// spawner's limit; an explicit request above it is QuotaExceeded.
[[nodiscard]] inline Result<u64> child_quota_limit(u64 requested, u64 fallback, u64 spawner_limit) {
    if (requested == 0) return fallback < spawner_limit ? fallback : spawner_limit;
    if (requested > spawner_limit) return Status::QuotaExceeded;
    return requested;
}
