#include "object/notification.h"

#include "sched/scheduler.h"

namespace object {
namespace {
// The waiting thread died: the object no longer has a waiter.
// The waiting thread died: forget it and drop the reference it held.
void forget_waiter(Thread*, void* self) {
    auto* n = static_cast<Notification*>(self);
    n->clear_waiter();
    n->unref_deferred();
}
}  // namespace

void Notification::signal(u64 bits) {
    if (!bits) return;
    m_bits |= bits;
    if (m_waiter) sched::wake(m_waiter, Status::Ok);
    signals_changed();
}

u64 Notification::take() {
    u64 bits = m_bits;
    if (!bits) return 0;
    m_bits = 0;
    signals_changed();
    return bits;
}

Result<u64> Notification::wait(u64 deadline_ns) {
    for (;;) {
        if (m_bits) return take();
        if (deadline_ns == ~u64{0}) return Status::Timeout;
        if (m_waiter) return Status::Busy;
        m_waiter = sched::current();
        ref();  // a blocked waiter keeps the notification alive
        Status why = sched::block_current(deadline_ns, forget_waiter, this);
        m_waiter = nullptr;
        unref_deferred();
        if (why == Status::Timeout && !m_bits) return Status::Timeout;
    }
}

}  // namespace object
