// xorshift64 (Marsaglia 2003): a small, fast, deterministic generator for
// test programs that need reproducible "random" choices (a seed in, the
// same sequence out). Not for anything that must be unpredictable.
#pragma once

#include "util/types.h"

namespace util {

class XorShift64 {
public:
    // A zero seed would stay zero forever: it is replaced.
    explicit constexpr XorShift64(u64 seed) : m_state(seed ? seed : 0x9e3779b97f4a7c15ull) {}
    u64 next() {
        m_state ^= m_state << 13;
        m_state ^= m_state >> 7;
        m_state ^= m_state << 17;
        return m_state;
    }

private:
    u64 m_state;
};

}  // namespace util
