// A split virtqueue seen from the driver's side (virtio 1.1 §2.6), pure:
// no allocation, no MMIO, no kernel objects. The kernel's virtqueue broker
// (kernel/broker/virtqueue.h) gives it the ring memory and notifies the
// device; unit tests and a fuzzer drive it against a fake device in host
// memory (tests/support/fake_virtio_device.h).
//
// Who writes what. The descriptor table, the available ring and (with
// EVENT_IDX) used_event are written only by this class; the device reads
// them. The used ring, its flags and (with EVENT_IDX) avail_event are
// written by the device: every value read from there is an input, checked
// before anything acts on it (take_used()):
//   - the used index may have advanced by at most a ring's worth;
//   - an element's id must head a chain this ring published and has not
//     had back (one added but not yet published is not the device's);
//     anything else is reported (UsedVerdict) and ignored — the chain it
//     might name stays where it is, its buffers held;
//   - an element's len may not exceed the bytes the chain let the device
//     write (§2.6.8.1); a longer one is reported (len 0: what it wrote is
//     not believed) and the chain is *not* given back: a device caught
//     lying about it is not believed to be done with it either, so its
//     buffers stay held until a confirmed reset (release_all), and a later
//     element naming it is NotGiven. A lie never makes the owner release
//     memory the device may still write.
// A chain is freed by this class's own shadow of its links, never by the
// descriptor table (the device cannot rewrite it, but a stale head must
// not reach the buffers it named: freed descriptors are zeroed).
//
// Chains. A chain is 1..n segments, the device-readable ones first
// (§2.6.4.2). Written directly it takes n descriptors of the table. With
// indirect tables configured (VIRTIO_F_INDIRECT_DESC, §2.6.5.3) a chain of
// two or more segments takes one table descriptor that points at the
// indirect table kept for that descriptor (up to `indirect_per_head`
// segments): a ring of 256 entries carries 256 requests of any length
// that fits.
//
// Tokens. Each segment carries a token (the kernel's ledger entry, held
// while the device may use the buffer; never 0). The ring returns every
// token of a chain to its host (unhold) when the chain comes back, or all
// of them at once after a confirmed device reset (release_all).
//
// Notifications (§2.6.7, §2.6.10). Without EVENT_IDX the device's
// VIRTQ_USED_F_NO_NOTIFY flag decides whether publish() asks for a
// notification. With it, the device's avail_event does (need_event), and
// take_used() moves used_event along so the device interrupts only when
// an entry past what the driver has already seen arrives.
//
// Threading: none. The owner serializes every call on one ring.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace virtio {

// §2.6.5 The descriptor table's entries.
struct Descriptor {
    u64 addr;
    u32 len;
    u16 flags;
    u16 next;
};
static_assert(sizeof(Descriptor) == 16);
constexpr u16 kDescNext = 1, kDescWrite = 2, kDescIndirect = 4;

// §2.6.8 The used ring's elements.
struct UsedElement {
    u32 id;
    u32 len;
};
static_assert(sizeof(UsedElement) == 8);

// §2.6.6 / §2.6.8 flags.
constexpr u16 kAvailNoInterrupt = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT (ignored by the device with EVENT_IDX)
constexpr u16 kUsedNoNotify = 1;      // VIRTQ_USED_F_NO_NOTIFY

// The three parts' sizes for a queue of `size` entries (§2.6: alignment 16,
// 2 and 4), each including the event field EVENT_IDX adds at its end.
constexpr u64 descriptor_table_bytes(u16 size) { return u64{size} * sizeof(Descriptor); }
constexpr u64 available_ring_bytes(u16 size) { return 4 + 2 * u64{size} + 2; }  // flags, idx, ring[size], used_event
constexpr u64 used_ring_bytes(u16 size) {
    return 4 + u64{size} * sizeof(UsedElement) + 2;  // flags, idx, ring[size], avail_event
}
// Byte offsets of the event fields.
constexpr u64 used_event_offset(u16 size) { return 4 + 2 * u64{size}; }
constexpr u64 avail_event_offset(u16 size) { return 4 + u64{size} * sizeof(UsedElement); }

// §2.6.7.2: with EVENT_IDX, the other side asked to hear of index
// `event_idx`; moving the index from `old_idx` to `new_idx` crossed it.
// Modulo 2^16 throughout.
constexpr bool need_event(u16 event_idx, u16 new_idx, u16 old_idx) {
    return static_cast<u16>(new_idx - event_idx - 1) < static_cast<u16>(new_idx - old_idx);
}

// One segment of a chain, resolved by the owner: where the device sees it.
struct Segment {
    u64 device_address;
    u32 len;  // 1..2^32-1
    bool device_writes;
    u32 token;  // never 0: handed back to the host when the chain returns
};

enum class UsedVerdict : u8 {
    Ok,          // a chain of ours; len believable
    LenTooLong,  // a chain of ours, but len > its writable bytes: reported with len 0, kept held until a reset
    OutOfRange,  // id >= queue size: ignored
    NotGiven,    // not the head of a chain the device holds: ignored
};

struct UsedEntry {
    u32 id;   // the chain's head (the device's raw id when ignored)
    u32 len;  // bytes the device wrote (0 unless Ok)
    UsedVerdict verdict;
};

// What the ring asks of its owner, passed to the calls that need it:
//   void unhold(u32 token)          the device is done with that segment
//   void bad_used(const UsedEntry&) the device reported something false
//                                   (verdict != Ok); the owner logs it
template <class H>
concept RingHost = requires(H& h, u32 token, const UsedEntry& e) {
    h.unhold(token);
    h.bad_used(e);
};

class SplitRing {
public:
    static constexpr u16 kMaxSize = 256;
    // Segments per indirect table: a 1 MiB request in 4 KiB pieces (256)
    // with a header and a status byte fits, with room to spare.
    static constexpr u16 kMaxIndirect = 512;

    struct Memory {
        Descriptor* table;        // size entries
        volatile u16* avail;      // flags, idx, ring[size], used_event
        const volatile u8* used;  // flags, idx, ring[size], avail_event: the device writes it
        // Indirect tables (optional): indirect_per_head descriptors for
        // each table descriptor, at indirect + head * indirect_per_head,
        // seen by the device at indirect_device_address onwards; their
        // tokens in indirect_tokens (same shape).
        Descriptor* indirect = nullptr;
        u32* indirect_tokens = nullptr;
        u64 indirect_device_address = 0;
        u16 indirect_per_head = 0;  // 0: chains are written directly
    };

    // Before any other call. InvalidArgument for a size that is not a power
    // of two in 2..kMaxSize, missing memory, or indirect_per_head above
    // kMaxIndirect (or set without its memory).
    Result<void> init(u16 size, const Memory& memory, bool event_idx);

    u16 size() const { return m_size; }
    u16 free_descriptors() const { return m_free_count; }
    u16 chains_outstanding() const { return m_outstanding; }
    bool event_idx() const { return m_event_idx; }
    u16 max_segments() const;  // the longest chain add_chain() takes when the ring is empty

    // Writes one chain's descriptors and puts its head in the available
    // ring; the device sees it only after publish(). Returns the head.
    //   InvalidArgument  no segments, a zero length, a token 0, or a
    //                    device-readable segment after a writable one
    //   Busy             not enough free descriptors (or longer than an
    //                    indirect table)
    Result<u16> add_chain(const Segment* segments, u32 count);

    // Takes back every chain added since the last publish() (the device
    // never saw them), their tokens to the host: a batch refused part-way
    // leaves the ring as it was.
    template <RingHost Host>
    void abandon(Host& host);

    // Makes every chain added since the last call visible to the device.
    // Returns whether the device wants a notification (false when nothing
    // was added).
    bool publish();

    // Takes up to `max` entries the device put in the used ring, each into
    // `out` (ignored ones too, with their verdict; bad_used() is told of
    // every entry that is not Ok). Malformed, and nothing taken, when the
    // device's index is not believable. With EVENT_IDX, used_event is
    // moved past what was taken and the index looked at once more, so an
    // entry that arrived meanwhile (and may not have interrupted) is taken
    // too while `max` allows.
    template <RingHost Host>
    Result<u32> take_used(UsedEntry* out, u32 max, Host& host);

    // Has the device put entries in the used ring that take_used() has not
    // taken? (Whatever they are; the index's plausibility is checked there.)
    bool used_pending() const;

    // The device was stopped (a confirmed reset): every chain comes back,
    // every token to the host, and the ring starts over (indexes 0).
    template <RingHost Host>
    void release_all(Host& host);

    // For the kernel's test.virtio_lie (a device lie simulated in the used
    // ring, kernel/broker/virtqueue.cc): the used index take_used() reads
    // next (its slot is this modulo the size), whether `head` heads a chain
    // the device holds, and how many bytes that chain lets it write.
    u16 next_used() const { return m_last_used; }
    bool device_holds(u32 head) const { return head < m_size && m_head[head] && m_given[head]; }
    u64 writable_bytes(u32 head) const { return head < m_size ? m_writable[head] : 0; }

    // Checks the shadow's invariants (free list and chains partition the
    // table, counts agree, tokens present exactly on outstanding
    // segments); for tests and fuzzers. Ok, or Malformed with `why`.
    Result<void> check_invariants(const char** why = nullptr) const;

private:
    static constexpr u16 kNone = 0xffff;

    u16 used_index() const;
    UsedElement used_element(u16 slot) const;
    // Frees the chain headed by `head` by the shadow; each token it held
    // goes to `each_token`.
    template <class F>
    void free_chain(u16 head, F&& each_token);

    Memory m_mem{};
    u16 m_size = 0;
    bool m_event_idx = false;
    u16 m_avail_idx = 0;  // the next slot this ring fills
    u16 m_published = 0;  // the index the device last saw
    u16 m_last_used = 0;  // the next used slot to take
    u16 m_free_head = kNone;
    u16 m_free_count = 0;
    u16 m_outstanding = 0;
    // Shadow of the table: next in chain or free list; the token a
    // descriptor holds (0: none, or an indirect head); whether it heads an
    // outstanding chain; how many bytes that chain lets the device write;
    // how many indirect segments it carries (0: direct).
    u16 m_next[kMaxSize] = {};
    u32 m_token[kMaxSize] = {};
    bool m_head[kMaxSize] = {};
    u64 m_writable[kMaxSize] = {};
    u16 m_indirect_count[kMaxSize] = {};
    u16 m_avail_shadow[kMaxSize] = {};  // the heads of the available ring's slots, as written
    bool m_given[kMaxSize] = {};        // heads an outstanding chain the device has been shown (published)
};

// ---- templates ----

template <RingHost Host>
Result<u32> SplitRing::take_used(UsedEntry* out, u32 max, Host& host) {
    u32 taken = 0;
    for (;;) {
        u16 device_idx = used_index();
        if (static_cast<u16>(device_idx - m_last_used) > m_size) {
            if (taken) return taken;  // what was taken stands; the next call reports the jump
            return Status::Malformed;
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);  // the index before the elements it covers (§2.6.8)
        while (m_last_used != device_idx && taken < max) {
            UsedElement e = used_element(m_last_used);  // read once: the device may change it under us
            m_last_used++;
            UsedEntry entry{e.id, 0, UsedVerdict::Ok};
            if (e.id >= m_size) {
                entry.verdict = UsedVerdict::OutOfRange;
            } else if (!m_head[e.id] || !m_given[e.id]) {
                entry.verdict = UsedVerdict::NotGiven;
            } else if (e.len > m_writable[e.id]) {
                // Caught lying about this chain: not believed to be done
                // with it. It stays a chain (its descriptors and tokens)
                // until release_all(), no longer the device's to return.
                entry.verdict = UsedVerdict::LenTooLong;
                m_given[e.id] = false;
            } else {
                entry.len = e.len;
                free_chain(static_cast<u16>(e.id), [&](u32 token) { host.unhold(token); });
            }
            if (entry.verdict != UsedVerdict::Ok) host.bad_used(entry);
            out[taken++] = entry;
        }
        if (!m_event_idx) return taken;
        // Interrupt me when the entry after the ones I have taken arrives
        // (§2.6.10); then look again: one that came before the device saw
        // this used_event may not have interrupted.
        m_mem.avail[used_event_offset(m_size) / 2] = m_last_used;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);  // used_event before the index is read again
        if (taken == max || used_index() == m_last_used) return taken;
    }
}

template <RingHost Host>
void SplitRing::abandon(Host& host) {
    while (m_avail_idx != m_published) {
        m_avail_idx--;
        // The head from our shadow: the available ring is device-visible
        // memory, and what is read back from there is not ours to trust.
        u16 head = m_avail_shadow[m_avail_idx % m_size];
        m_mem.avail[2 + m_avail_idx % m_size] = 0;
        free_chain(head, [&](u32 token) { host.unhold(token); });
    }
}

template <class F>
void SplitRing::free_chain(u16 head, F&& each_token) {
    m_head[head] = false;
    m_given[head] = false;
    m_writable[head] = 0;
    m_outstanding--;
    if (u16 n = m_indirect_count[head]) {
        u64 base = u64{head} * m_mem.indirect_per_head;
        for (u16 s = 0; s < n; s++) {
            each_token(m_mem.indirect_tokens[base + s]);
            m_mem.indirect_tokens[base + s] = 0;
            m_mem.indirect[base + s] = Descriptor{};
        }
        m_indirect_count[head] = 0;
    }
    for (u16 d = head; d != kNone;) {
        u16 next = m_next[d];
        m_mem.table[d] = Descriptor{};  // a stale head can no longer reach the buffer it named
        if (m_token[d]) each_token(m_token[d]);
        m_token[d] = 0;
        m_next[d] = m_free_head;
        m_free_head = d;
        m_free_count++;
        d = next;
    }
}

template <RingHost Host>
void SplitRing::release_all(Host& host) {
    for (u16 d = 0; d < m_size; d++) {
        if (!m_head[d]) continue;
        free_chain(d, [&](u32 token) { host.unhold(token); });
    }
    m_avail_idx = m_published = m_last_used = 0;
    for (u64 i = 0; i < available_ring_bytes(m_size) / 2; i++) m_mem.avail[i] = 0;
}

}  // namespace virtio
