// Single-producer single-consumer rings in memory shared with a process
// that may be hostile: the BlockDevice request and completion rings
// (lib/protocol/block.h) and, next, the NetDevice free/used pairs (sDDF's
// queue shape: one ring per direction per pair, each with these rules).
//
// A ring is N fixed-size entries (N a power of two) and two free-running
// u32 indices: `tail`, written only by the producer, counts entries ever
// published; `head`, written only by the consumer, counts entries ever
// taken. The slot of index i is i % N (the power of two keeps that right
// across the u32 wrap). The producer writes entries, then moves its tail
// with a release store; the consumer reads the tail with an acquire load,
// then the entries. Likewise for the head in the other direction, which
// frees slots for reuse.
//
// Each side holds a view (Producer, Consumer) and trusts nothing the other
// side writes:
//  - its own index lives in the view. The shared copy is written for the
//    peer to see and never read back (a peer that rewrites it changes
//    nothing here; the next publish overwrites it);
//  - the peer's index is read once per refresh() and checked before
//    anything depends on it: it may only move forward, and never further
//    than the entries that exist (a consumer's head never passes the tail
//    we published; a producer's tail never runs more than N ahead of the
//    head we published). Anything else — an index jumped ahead, moved back,
//    or far out — cannot come from a peer that follows the protocol:
//    refresh() answers Malformed, remembers the index for the caller's log
//    line, and the view keeps its last good state (the caller closes the
//    channel);
//  - an entry is copied out of its slot once (take()); the caller
//    validates and uses only that copy, since the peer may be rewriting
//    the slot at the same moment.
// A view touches nothing outside the indices and the N slots it was given,
// whatever the peer writes.
//
// Cost: one acquire load per refresh() and one release store per
// publish() / release(), whatever the batch size — callers refresh when
// the entries (or the room) they last saw run out and publish once per
// batch. On x86 both are plain moves.
//
// Threading: one thread owns a view (each side of a ring is single-
// threaded by definition); the peer is another process.
#pragma once

#include <type_traits>

#include "util/result.h"
#include "util/types.h"

namespace ring {

// The two indices of one ring as they sit in shared memory. A layout puts
// them where it likes (the BlockDevice rings keep each pair on its own
// cache line, away from the slots).
struct Indices {
    u32 head;  // the consumer's: entries taken
    u32 tail;  // the producer's: entries published
};
static_assert(sizeof(Indices) == 8);

namespace detail {

inline u32 load_acquire(const u32* at) { return __atomic_load_n(at, __ATOMIC_ACQUIRE); }
inline void store_release(u32* at, u32 v) { __atomic_store_n(at, v, __ATOMIC_RELEASE); }

template <typename T, u32 N>
constexpr bool valid_ring() {
    return N > 0 && (N & (N - 1)) == 0 && N <= (1u << 31) && std::is_trivially_copyable_v<T>;
}

// The producer's indices, shared by the entry rings below and the byte
// rings (byte_ring.h): our tail (the shared copy is for the consumer, never
// read back), the tail last stored there, and the consumer's head as last
// checked.
class ProducerIndices {
public:
    ProducerIndices() = default;
    ProducerIndices(Indices& indices, u32 start)
        : m_indices(&indices), m_tail(start), m_published(start), m_head_seen(start) {}

    bool attached() const { return m_indices != nullptr; }
    // Reads the consumer's head (acquire). In flight (put, not yet taken)
    // before and now, against our tail: a head moving forward can only
    // shrink it (we never put into a slot not known free). False, nothing
    // changed, when the head moved back or passed our tail.
    bool refresh() {
        u32 head = load_acquire(&m_indices->head);
        if (m_tail - head > m_tail - m_head_seen) {
            m_bad_index = head;
            return false;
        }
        m_head_seen = head;
        return true;
    }
    u32 in_flight() const { return m_tail - m_head_seen; }
    void advance(u32 n) { m_tail += n; }
    // Stores our tail (release); no store when nothing is new.
    void publish() {
        if (m_published == m_tail) return;
        m_published = m_tail;
        store_release(&m_indices->tail, m_tail);
    }

    u32 tail() const { return m_tail; }
    u32 head_seen() const { return m_head_seen; }
    u32 bad_index() const { return m_bad_index; }

private:
    Indices* m_indices = nullptr;
    u32 m_tail = 0;
    u32 m_published = 0;
    u32 m_head_seen = 0;
    u32 m_bad_index = 0;
};

// The consumer's indices, likewise: our head, the head last stored, the
// producer's tail as last checked.
class ConsumerIndices {
public:
    ConsumerIndices() = default;
    ConsumerIndices(Indices& indices, u32 start)
        : m_indices(&indices), m_head(start), m_released(start), m_tail_seen(start) {}

    bool attached() const { return m_indices != nullptr; }
    // Reads the producer's tail (acquire). Ready (published, not yet
    // taken), against our head: it may only grow, and never past
    // `capacity`. False, nothing changed, otherwise.
    bool refresh(u32 capacity) {
        u32 tail = load_acquire(&m_indices->tail);
        if (tail - m_head > capacity || tail - m_head < m_tail_seen - m_head) {
            m_bad_index = tail;
            return false;
        }
        m_tail_seen = tail;
        return true;
    }
    u32 ready() const { return m_tail_seen - m_head; }
    void advance(u32 n) { m_head += n; }
    // Stores our head (release); no store when nothing is new.
    void release() {
        if (m_released == m_head) return;
        m_released = m_head;
        store_release(&m_indices->head, m_head);
    }

    u32 head() const { return m_head; }
    u32 tail_seen() const { return m_tail_seen; }
    u32 bad_index() const { return m_bad_index; }

private:
    Indices* m_indices = nullptr;
    u32 m_head = 0;
    u32 m_released = 0;
    u32 m_tail_seen = 0;
    u32 m_bad_index = 0;
};

}  // namespace detail

// The producer's side: puts entries, publishes its tail, reads the
// consumer's head to learn which slots are free again.
template <typename T, u32 N>
class Producer {
    static_assert(detail::valid_ring<T, N>(), "N a power of two, T trivially copyable");

public:
    Producer() = default;
    // `start`: the index both sides begin at (0 for a fresh ring).
    Producer(Indices& indices, T (&slots)[N], u32 start = 0) : m_index(indices, start), m_slots(slots) {}

    bool attached() const { return m_index.attached(); }

    // Reads the consumer's head (acquire) and returns the free slots.
    // Malformed when the head moved back or passed our tail: nothing
    // changes then, and bad_index() says what the consumer wrote.
    Result<u32> refresh() {
        if (!m_index.refresh()) return Status::Malformed;
        return room();
    }
    // Free slots as of the last refresh(), less what was put since.
    u32 room() const { return N - m_index.in_flight(); }

    // Copies one entry into the next free slot; false (nothing written)
    // when room() is 0. The consumer sees it after publish().
    bool put(const T& entry) {
        if (!room()) return false;
        m_slots[m_index.tail() % N] = entry;
        m_index.advance(1);
        return true;
    }
    // Makes everything put so far visible (release); no store when nothing
    // is new.
    void publish() { m_index.publish(); }

    u32 tail() const { return m_index.tail(); }
    u32 head_seen() const { return m_index.head_seen(); }
    // The consumer's head as read by the refresh() that said Malformed.
    u32 bad_index() const { return m_index.bad_index(); }

private:
    detail::ProducerIndices m_index;
    T* m_slots = nullptr;
};

// The consumer's side: reads the producer's tail, copies entries out,
// publishes its head to give the slots back.
template <typename T, u32 N>
class Consumer {
    static_assert(detail::valid_ring<T, N>(), "N a power of two, T trivially copyable");

public:
    Consumer() = default;
    Consumer(Indices& indices, const T (&slots)[N], u32 start = 0) : m_index(indices, start), m_slots(slots) {}

    bool attached() const { return m_index.attached(); }

    // Reads the producer's tail (acquire) and returns the entries ready to
    // take. Malformed when the tail moved back or ran more than N ahead of
    // our head: nothing changes then, and bad_index() says what the
    // producer wrote.
    Result<u32> refresh() {
        if (!m_index.refresh(N)) return Status::Malformed;
        return ready();
    }
    // Entries ready as of the last refresh(), less what was taken since.
    u32 ready() const { return m_index.ready(); }

    // Copies the next entry out of its slot, once; false (nothing taken)
    // when ready() is 0. Use only the copy: the producer may be rewriting
    // the slot. The slot goes back to the producer at release().
    bool take(T* out) {
        if (!ready()) return false;
        __builtin_memcpy(out, &m_slots[m_index.head() % N], sizeof(T));
        // The copy is made here, once: the compiler may not go back to the
        // slot for a field of it later (the slot may differ by then).
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        m_index.advance(1);
        return true;
    }
    // Gives every slot taken so far back to the producer (release); no
    // store when nothing is new.
    void release() { m_index.release(); }

    u32 head() const { return m_index.head(); }
    u32 tail_seen() const { return m_index.tail_seen(); }
    // The producer's tail as read by the refresh() that said Malformed.
    u32 bad_index() const { return m_index.bad_index(); }

private:
    detail::ConsumerIndices m_index;
    const T* m_slots = nullptr;
};

// A ring laid out on its own: the indices on a cache line of their own,
// then the slots. For rings that need no other layout (the NetDevice
// rings); the BlockDevice rings keep the layout they were specified with.
template <typename T, u32 N>
struct Ring {
    alignas(64) Indices indices;
    alignas(64) T slots[N];

    Producer<T, N> producer() { return Producer<T, N>(indices, slots); }
    Consumer<T, N> consumer() { return Consumer<T, N>(indices, slots); }
};

}  // namespace ring
