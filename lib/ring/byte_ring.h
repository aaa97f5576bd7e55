// Byte rings in memory shared with a process that may be hostile: the
// Socket service's per-socket rx and tx streams (lib/protocol/socket.h).
// The same protocol as the entry rings (spsc_ring.h), with bytes for
// entries and a capacity chosen at run time:
//  - `capacity` bytes, a power of two, and the two free-running u32
//    indices of ring::Indices: `tail` (the producer's, bytes ever
//    published) and `head` (the consumer's, bytes ever consumed). Byte i
//    lives at i % capacity (the power of two keeps that right across the
//    u32 wrap);
//  - each side keeps its own index in its view and never reads the shared
//    copy back; the peer's index is read once per refresh() and checked
//    before anything depends on it (only forward; a head never past the
//    tail we published, a tail never more than `capacity` ahead of the
//    head we published). Anything else: refresh() answers Malformed,
//    remembers the index (bad_index()) and the view keeps its last good
//    state;
//  - the producer writes bytes then publishes (release); the consumer
//    refreshes (acquire) then copies bytes out — once, for anything it
//    will check (a record header), since the producer may rewrite them.
// A view touches nothing outside the indices and the `capacity` bytes it
// was given, whatever the peer writes.
//
// Threading: one thread owns a view; the peer is another process.
#pragma once

#include "ring/spsc_ring.h"
#include "util/result.h"
#include "util/types.h"

namespace ring {

// A byte ring's capacity is usable: a power of two the u32 indices can
// tell apart from an empty ring.
constexpr bool valid_byte_capacity(u32 capacity) {
    return capacity != 0 && (capacity & (capacity - 1)) == 0 && capacity <= (1u << 31);
}

// The producer's side: writes bytes, publishes its tail, reads the
// consumer's head to learn which bytes are free again.
class ByteProducer {
public:
    ByteProducer() = default;
    // `bytes`: `capacity` bytes (valid_byte_capacity); `start`: the index
    // both sides begin at (0 for a fresh ring).
    ByteProducer(Indices& indices, u8* bytes, u32 capacity, u32 start = 0)
        : m_index(indices, start), m_bytes(bytes), m_capacity(capacity) {}

    bool attached() const { return m_index.attached(); }
    u32 capacity() const { return m_capacity; }

    // Reads the consumer's head (acquire) and returns the free bytes.
    // Malformed when the head moved back or passed our tail.
    Result<u32> refresh() {
        if (!m_index.refresh()) return Status::Malformed;
        return room();
    }
    // Free bytes as of the last refresh(), less what was written since.
    u32 room() const { return m_capacity - m_index.in_flight(); }

    // Where the next bytes go, and how many fit there without wrapping
    // (0 when the ring is full). Fill them, then produce().
    u8* contiguous(u32* n) const {
        u32 at = m_index.tail() & (m_capacity - 1), run = m_capacity - at;
        *n = room() < run ? room() : run;
        return m_bytes + at;
    }
    // Counts `n` more bytes as written (at most room(); the rest is
    // ignored). Bytes produced unwritten (padding) keep what they held.
    void produce(u32 n) { m_index.advance(n < room() ? n : room()); }
    // Copies min(n, room()) bytes in, wrapping; returns how many.
    u32 write(const void* src, u32 n) {
        u32 done = 0;
        while (done < n) {
            u32 run = 0;
            u8* at = contiguous(&run);
            if (run == 0) break;
            if (run > n - done) run = n - done;
            __builtin_memcpy(at, static_cast<const u8*>(src) + done, run);
            produce(run);
            done += run;
        }
        return done;
    }
    // Makes everything produced so far visible (release); no store when
    // nothing is new.
    void publish() { m_index.publish(); }

    u32 tail() const { return m_index.tail(); }
    u32 head_seen() const { return m_index.head_seen(); }
    u32 bad_index() const { return m_index.bad_index(); }

private:
    detail::ProducerIndices m_index;
    u8* m_bytes = nullptr;
    u32 m_capacity = 0;
};

// The consumer's side: reads the producer's tail, copies bytes out,
// publishes its head to give the room back.
class ByteConsumer {
public:
    ByteConsumer() = default;
    ByteConsumer(Indices& indices, const u8* bytes, u32 capacity, u32 start = 0)
        : m_index(indices, start), m_bytes(bytes), m_capacity(capacity) {}

    bool attached() const { return m_index.attached(); }
    u32 capacity() const { return m_capacity; }

    // Reads the producer's tail (acquire) and returns the bytes ready.
    // Malformed when the tail moved back or ran more than the capacity
    // ahead of our head.
    Result<u32> refresh() {
        if (!m_index.refresh(m_capacity)) return Status::Malformed;
        return ready();
    }
    // Bytes ready as of the last refresh(), less what was consumed since.
    u32 ready() const { return m_index.ready(); }

    // The next ready bytes and how many of them lie there without
    // wrapping. The producer may rewrite them: check nothing in place.
    const u8* contiguous(u32* n) const {
        u32 at = m_index.head() & (m_capacity - 1), run = m_capacity - at;
        *n = ready() < run ? ready() : run;
        return m_bytes + at;
    }
    // Copies min(n, ready() - offset) bytes starting `offset` past our
    // head, wrapping, without consuming them; returns how many.
    u32 peek(u32 offset, void* dst, u32 n) const {
        if (offset >= ready()) return 0;
        if (n > ready() - offset) n = ready() - offset;
        u32 at = (m_index.head() + offset) & (m_capacity - 1), first = n < m_capacity - at ? n : m_capacity - at;
        __builtin_memcpy(dst, m_bytes + at, first);
        __builtin_memcpy(static_cast<u8*>(dst) + first, m_bytes, n - first);
        // The copy is made here, once (as Consumer::take).
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        return n;
    }
    // Counts `n` more bytes as consumed (at most ready()).
    void consume(u32 n) { m_index.advance(n < ready() ? n : ready()); }
    // Gives the consumed bytes' room back to the producer (release); no
    // store when nothing is new.
    void release() { m_index.release(); }

    u32 head() const { return m_index.head(); }
    u32 tail_seen() const { return m_index.tail_seen(); }
    u32 bad_index() const { return m_index.bad_index(); }

private:
    detail::ConsumerIndices m_index;
    const u8* m_bytes = nullptr;
    u32 m_capacity = 0;
};

}  // namespace ring
