// How long the idle loop polls before it halts (adaptive, like Linux's
// cpuidle-haltpoll governor in KVM guests, with a lower bound).
//
// Why: waking a halted vCPU costs the host a thread wake-up — measured
// 80-150 us under QEMU TCG on a 2-CPU host, paid on every QD1 I/O whose
// completion comes from another host thread (docs/benchmarks.md, "File
// backend, QD1"). Polling a little before halting avoids it, but a
// spinning vCPU also takes a host CPU from whatever must produce the
// wake-up. So the window only opens for idle periods in the band where
// polling pays: long enough that the wait is on I/O, not on a CPU the
// spinning would steal (>= kMinUsefulNs), and short enough that the spin
// is not wasted (<= kMaxNs). Outside the band it closes again, so a truly
// idle system (waiting for input, timer ticks 10 ms apart) never spins.
//
// Pure logic, no clock: the idle loop measures and reports each idle
// period; unit-tested in tests/unit/idle_poll_test.cc.
#pragma once

#include "util/types.h"

class IdlePoll {
public:
    static constexpr u64 kMinUsefulNs = 100'000;
    static constexpr u64 kMaxNs = 400'000;
    static constexpr u64 kStartNs = 50'000;

    // How long to poll before halting now (0: halt at once).
    u64 window_ns() const { return m_window; }

    // One idle period ended after idle_ns (poll + halt); woke_in_poll:
    // the wake-up came while polling.
    void record(u64 idle_ns, bool woke_in_poll) {
        if (idle_ns < kMinUsefulNs || idle_ns > kMaxNs) {
            m_window /= 2;
            if (m_window < kStartNs) m_window = 0;
        } else if (!woke_in_poll) {
            m_window = m_window ? (m_window * 2 > kMaxNs ? kMaxNs : m_window * 2) : kStartNs;
        }
    }

private:
    u64 m_window = 0;
};
