// Waiting for a device (a controller to become ready, a reset to be
// confirmed, an admin command's completion) without taking the CPU from
// everyone (issue 11, finding 5). The kernel is not preemptible: a wait
// that spins holds the only CPU for as long as the device takes — NVMe
// allows up to CAP.TO = 127.5 s — and every other process stops.
//
// Two ways to wait, chosen by the caller's context:
//   Spin   contexts that cannot block (teardown, destructors run from
//          capability release, interrupt-time work): busy-polls for at
//          most kMaxDeviceSpinNs, whatever the limit asked; beyond that the
//          caller must carry on asynchronously (kdma::Session's teardown
//          hands the rest of the wait to the timer tick) or fail safe.
//   Sleep  a system call's own thread: polls for kDeviceSpinFirstNs (QEMU's
//          devices answer in microseconds), then sleeps kDeviceSleepStepNs at a
//          time, so the scheduler runs other work, up to the limit.
//
// A sleeping wait is interrupted by its process's death: the wait returns
// Stale, the call unwinds (giving back what it took), and the process's
// teardown finishes when the thread leaves the kernel
// (object::Process::terminate defers it while a thread is in such a wait).
// Objects the caller uses across the wait must be kept alive by
// references it holds, not by the caller's capabilities (another thread
// may close them meanwhile), and re-checked after it (a grant may have
// been torn down).
#pragma once

#include "arch/x86_64/clock.h"
#include "object/process.h"
#include "sched/scheduler.h"
#include "util/result.h"

namespace sched {

enum class WaitHow : u8 { Spin, Sleep };

constexpr u64 kMaxDeviceSpinNs = 2'000'000;
constexpr u64 kDeviceSpinFirstNs = 50'000;
constexpr u64 kDeviceSleepStepNs = 1'000'000;

// Polls `done()` until it holds (returns the ns waited), `limit_ns` passes
// (Timeout; for Spin, min(limit_ns, kMaxDeviceSpinNs)), or — Sleep only — the
// calling process dies (Stale).
template <typename Done>
Result<u64> wait_until(u64 limit_ns, WaitHow how, Done done) {
    u64 start = clock::monotonic_ns();
    u64 spin = how == WaitHow::Spin ? (limit_ns < kMaxDeviceSpinNs ? limit_ns : kMaxDeviceSpinNs)
                                    : (limit_ns < kDeviceSpinFirstNs ? limit_ns : kDeviceSpinFirstNs);
    for (;;) {
        if (done()) return clock::monotonic_ns() - start;
        u64 waited = clock::monotonic_ns() - start;
        if (waited >= spin) break;
        clock::delay_ns(1000);
    }
    if (how == WaitHow::Spin) return Status::Timeout;
    object::Thread* self = sched::current();
    object::Process* process = self->process;
    for (;;) {
        u64 waited = clock::monotonic_ns() - start;
        if (waited >= limit_ns) return Status::Timeout;
        self->in_device_wait = true;
        (void)sched::block_current(clock::monotonic_ns() + kDeviceSleepStepNs);
        self->in_device_wait = false;
        if (process && !process->alive()) return Status::Stale;
        if (done()) return clock::monotonic_ns() - start;
    }
}

}  // namespace sched
