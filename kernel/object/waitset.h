// WaitSet — the cap waiter: one thread blocks on many objects at once, with
// a timeout, and learns which fired (key and signals). Each entry holds a
// reference to its object and an Observer on it; the object pokes the
// WaitSet when its signals change.
#pragma once

#include "object/object.h"
#include "util/result.h"

namespace object {

class Thread;

class WaitSet : public Object {
public:
    static constexpr Type kType = Type::WaitSet;
    static constexpr cap::Rights kDefaultRights = cap::kRightWrite | cap::kRightWait | cap::kRightRevoke | kPassRights;

    static constexpr u32 kMaxEntries = 32;

    struct Event {
        u64 key;
        u64 signals;
    };

    WaitSet() : Object(kType) {}
    ~WaitSet() override;

    // Watches `object` for any of `mask`; `key` identifies it in events.
    // `take` (Notifications only): once the wait that reports the entry
    // has delivered its events (take_reported), the notification's bits
    // are cleared. Busy when the key is already used, NoMemory when full,
    // WrongType for `take` on anything else.
    Result<void> add(Object* object, u64 mask, u64 key, bool take = false);
    Result<void> remove(u64 key);
    // Fills up to `max` events for entries whose signals match now; when
    // none does, blocks until one does or deadline_ns passes (0 = forever;
    // ~0 = do not block). Returns the number of events, or Timeout. Busy if
    // another thread is already waiting on this set.
    Result<u32> wait(Event* out, u32 max, u64 deadline_ns);
    // After the events wait() returned reached the caller: clears the bits
    // of the `take` entries among them (never before — a copy-out that
    // fails must not lose a signal).
    void take_reported(const Event* events, u32 n);
    // Called by an observed object whose signals now match.
    void poke();
    u32 size() const { return m_count; }

    void clear_waiter() { m_waiter = nullptr; }

private:
    u32 collect(Event* out, u32 max) const;
    Observer m_entries[kMaxEntries];
    bool m_take[kMaxEntries] = {};  // per entry: take the Notification's bits when reported
    u32 m_count = 0;
    Thread* m_waiter = nullptr;
};

}  // namespace object
