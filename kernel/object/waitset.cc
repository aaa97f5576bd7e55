#include "object/waitset.h"

#include "object/notification.h"
#include "sched/scheduler.h"

namespace object {
namespace {
// The waiting thread died: the object no longer has a waiter.
// The waiting thread died: forget it and drop the reference it held.
void forget_waiter(Thread*, void* self) {
    auto* ws = static_cast<WaitSet*>(self);
    ws->clear_waiter();
    ws->unref_deferred();
}
}  // namespace

WaitSet::~WaitSet() {
    // The entries' references go (deferred) with the array.
    for (u32 i = 0; i < m_count; i++) m_entries[i].object->remove_observer(&m_entries[i]);
}

Result<void> WaitSet::add(Object* object, u64 mask, u64 key, bool take) {
    if (mask == 0) return Status::InvalidArgument;
    if (take && object->type() != Type::Notification) return Status::WrongType;
    for (u32 i = 0; i < m_count; i++)
        if (m_entries[i].key == key) return Status::Busy;
    if (m_count == kMaxEntries) return Status::NoMemory;
    m_take[m_count] = take;
    Observer& o = m_entries[m_count++];
    o = Observer{this, DeferredRef<Object>::share(object), mask, key, nullptr};
    object->add_observer(&o);
    if (object->signals() & mask) poke();
    return {};
}

Result<void> WaitSet::remove(u64 key) {
    for (u32 i = 0; i < m_count; i++) {
        if (m_entries[i].key != key) continue;
        DeferredRef<Object> object = std::move(m_entries[i].object);  // dropped on return
        object->remove_observer(&m_entries[i]);
        // Keep the array dense; observers point into it, so re-link the
        // moved entry.
        if (i != m_count - 1) {
            Observer& last = m_entries[m_count - 1];
            last.object->remove_observer(&last);
            m_entries[i] = std::move(last);
            m_entries[i].next = nullptr;
            m_entries[i].object->add_observer(&m_entries[i]);
            m_take[i] = m_take[m_count - 1];
        }
        m_take[m_count - 1] = false;
        m_count--;
        return {};
    }
    return Status::NotFound;
}

u32 WaitSet::collect(Event* out, u32 max) const {
    u32 n = 0;
    for (u32 i = 0; i < m_count && n < max; i++) {
        u64 fired = m_entries[i].object->signals() & m_entries[i].mask;
        if (fired) out[n++] = Event{m_entries[i].key, fired};
    }
    return n;
}

void WaitSet::take_reported(const Event* events, u32 n) {
    // Only reported entries (an entry left out past `max` stays set). The
    // kernel is not preemptible: nothing changed the entries since wait().
    for (u32 e = 0; e < n; e++)
        for (u32 i = 0; i < m_count; i++)
            if (m_entries[i].key == events[e].key && m_take[i])
                static_cast<Notification*>(m_entries[i].object.get())->take();
}

Result<u32> WaitSet::wait(Event* out, u32 max, u64 deadline_ns) {
    if (max == 0) return Status::InvalidArgument;
    if (m_waiter) return Status::Busy;
    for (;;) {
        u32 n = collect(out, max);
        if (n) return n;
        if (deadline_ns == ~u64{0}) return Status::Timeout;
        m_waiter = sched::current();
        ref();  // a blocked waiter keeps the set alive
        Status why = sched::block_current(deadline_ns, forget_waiter, this);
        m_waiter = nullptr;
        unref_deferred();
        if (why == Status::Timeout) {
            n = collect(out, max);
            return n ? Result<u32>(n) : Result<u32>(Status::Timeout);
        }
    }
}

void WaitSet::poke() {
    if (m_waiter) sched::wake(m_waiter, Status::Ok);
}

}  // namespace object
