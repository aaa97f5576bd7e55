// How long the idle loop polls before it halts (adaptive, like Linux's
// cpuidle-haltpoll governor in KVM guests, with a lower bound).
//
// Why: waking a halted vCPU costs the host a thread wake-up, paid on every
// QD1 I/O whose completion comes from another host thread: 80-150 us under
// QEMU TCG on a 2-CPU host with a file backend, ~20-30 us with null-co
// (docs/benchmarks.md, "File backend, QD1" and "Halt polling for every
// I/O wait"). Polling a little before halting catches the wake-up awake.
// The window opens while idle periods are short enough to be I/O waits
// (<= kMaxNs) and closes again, halving, for longer ones, so a truly idle
// system (waiting for input, timer ticks 10 ms apart) never spins.
//
// An earlier version opened the window only for idle periods of at least
// 100 us, for fear that a spinning vCPU takes the host CPU QEMU needs to
// complete a fast command; measured again on a quiet host that fear did
// not hold: null-co QD1 p50 went from 94-98 us to 65-79 us when short
// waits were polled too.
//
// Pure logic, no clock: the idle loop measures and reports each idle
// period; unit-tested in tests/unit/idle_poll_test.cc.
#pragma once

#include "util/types.h"

class IdlePoll {
public:
    static constexpr u64 kMaxNs = 400'000;
    static constexpr u64 kStartNs = 50'000;

    // How long to poll before halting now (0: halt at once).
    u64 window_ns() const { return m_window; }

    // One idle period ended after idle_ns (poll + halt); woke_in_poll:
    // the wake-up came while polling.
    void record(u64 idle_ns, bool woke_in_poll) {
        if (idle_ns > kMaxNs) {
            m_window /= 2;
            if (m_window < kStartNs) m_window = 0;
        } else if (!woke_in_poll) {
            m_window = m_window ? (m_window * 2 > kMaxNs ? kMaxNs : m_window * 2) : kStartNs;
        }
    }

private:
    u64 m_window = 0;
};
