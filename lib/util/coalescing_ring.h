// A fixed ring of the most recent events in which a repeat of the newest
// event is merged into it instead of taking a slot (so a flood of the same
// refusal costs one entry, and distinct events push out only the oldest).
// T must have a `u32 count` field; `same(a, b)` says whether b repeats a,
// and `merge(into, from)` folds a repeat in (typically adds the count and
// takes the newer time). Pure, no allocation; the kernel's refusal events
// (kernel/events/refusals) and devmgr's recent-event list use it.
#pragma once

#include "util/types.h"

namespace util {

template <typename T, u32 kCapacity>
class CoalescingRing {
    static_assert(kCapacity > 0);

public:
    // Adds `e`, merging it into the newest entry when same(newest, e).
    // Returns false when it pushed out an unread entry (counted in dropped()).
    template <typename Same, typename Merge>
    bool push(const T& e, Same same, Merge merge) {
        if (m_count && same(m_items[newest()], e)) {
            merge(m_items[newest()], e);
            return true;
        }
        bool kept = true;
        if (m_count == kCapacity) {
            m_head = (m_head + 1) % kCapacity;
            m_count--;
            m_dropped++;
            kept = false;
        }
        m_items[(m_head + m_count) % kCapacity] = e;
        m_count++;
        return kept;
    }

    // Removes up to `max` of the oldest entries into `out`; returns how many.
    u32 pop(T* out, u32 max) {
        u32 n = 0;
        while (n < max && m_count) {
            out[n++] = m_items[m_head];
            m_head = (m_head + 1) % kCapacity;
            m_count--;
        }
        return n;
    }

    // The i-th entry from the newest (0 = newest), without removing it.
    const T* recent(u32 i) const { return i < m_count ? &m_items[(m_head + m_count - 1 - i) % kCapacity] : nullptr; }

    u32 size() const { return m_count; }
    bool empty() const { return m_count == 0; }
    u64 dropped() const { return m_dropped; }

private:
    u32 newest() const { return (m_head + m_count - 1) % kCapacity; }

    T m_items[kCapacity] = {};
    u32 m_head = 0;
    u32 m_count = 0;
    u64 m_dropped = 0;
};

}  // namespace util
