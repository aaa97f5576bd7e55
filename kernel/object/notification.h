// Notification: a word of signal bits. signal() ORs bits in; wait/take
// returns and clears them. Raises kSignalReady while any bit is set.
#pragma once

#include "object/object.h"
#include "util/result.h"

namespace object {

class Thread;

class Notification : public Object {
public:
    static constexpr Type kType = Type::Notification;
    static constexpr cap::Rights kDefaultRights =
        cap::kRightSignal | cap::kRightWait | cap::kRightInspect | cap::kRightRevoke | kPassRights;

    Notification() : Object(kType) {}
    void signal(u64 bits);
    // Returns and clears the pending bits, blocking until some are pending
    // or deadline_ns (0 = forever, ~0 = poll) passes (Timeout).
    Result<u64> wait(u64 deadline_ns);
    u64 signals() const override { return m_bits ? kSignalReady : 0; }
    // Returns and clears the pending bits without blocking (a WaitSet entry
    // added with abi::kWaitTake).
    u64 take();
    u64 pending() const { return m_bits; }

    void clear_waiter() { m_waiter = nullptr; }

private:
    u64 m_bits = 0;
    Thread* m_waiter = nullptr;
};

}  // namespace object
