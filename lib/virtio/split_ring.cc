#include "virtio/split_ring.h"

namespace virtio {

Result<void> SplitRing::init(u16 size, const Memory& memory, bool event_idx) {
    if (size < 2 || size > kMaxSize || (size & (size - 1))) return Status::InvalidArgument;
    if (!memory.table || !memory.avail || !memory.used) return Status::InvalidArgument;
    if (memory.indirect_per_head > kMaxIndirect) return Status::InvalidArgument;
    if (memory.indirect_per_head && (!memory.indirect || !memory.indirect_tokens || !memory.indirect_device_address))
        return Status::InvalidArgument;
    m_mem = memory;
    m_size = size;
    m_event_idx = event_idx;
    m_avail_idx = m_published = m_last_used = 0;
    m_outstanding = 0;
    for (u16 i = 0; i < size; i++) {
        m_next[i] = i + 1 < size ? static_cast<u16>(i + 1) : kNone;
        m_token[i] = 0;
        m_head[i] = false;
        m_writable[i] = 0;
        m_indirect_count[i] = 0;
        m_given[i] = false;
        m_mem.table[i] = Descriptor{};
    }
    m_free_head = 0;
    m_free_count = size;
    for (u64 i = 0; i < available_ring_bytes(size) / 2; i++) m_mem.avail[i] = 0;
    return {};
}

u16 SplitRing::max_segments() const { return m_mem.indirect_per_head ? m_mem.indirect_per_head : m_size; }

Result<u16> SplitRing::add_chain(const Segment* segments, u32 count) {
    if (count == 0) return Status::InvalidArgument;
    bool writes_seen = false;
    u64 writable = 0;
    for (u32 s = 0; s < count; s++) {
        const Segment& seg = segments[s];
        if (seg.len == 0 || seg.token == 0) return Status::InvalidArgument;
        if (writes_seen && !seg.device_writes) return Status::InvalidArgument;  // §2.6.4.2
        writes_seen |= seg.device_writes;
        if (seg.device_writes) writable += seg.len;
    }
    bool indirect = m_mem.indirect_per_head && count > 1;
    if (indirect ? (count > m_mem.indirect_per_head || m_free_count < 1) : count > m_free_count) return Status::Busy;

    u16 head = m_free_head;
    if (indirect) {
        m_free_head = m_next[head];
        m_free_count--;
        u64 base = u64{head} * m_mem.indirect_per_head;
        Descriptor* table = m_mem.indirect + base;
        for (u32 s = 0; s < count; s++) {
            const Segment& seg = segments[s];
            bool last = s + 1 == count;
            table[s] = Descriptor{seg.device_address, seg.len,
                                  static_cast<u16>((seg.device_writes ? kDescWrite : 0) | (last ? 0 : kDescNext)),
                                  static_cast<u16>(last ? 0 : s + 1)};
            m_mem.indirect_tokens[base + s] = seg.token;
        }
        m_mem.table[head] = Descriptor{m_mem.indirect_device_address + base * sizeof(Descriptor),
                                       static_cast<u32>(count * sizeof(Descriptor)), kDescIndirect, 0};
        m_next[head] = kNone;
        m_token[head] = 0;
        m_indirect_count[head] = static_cast<u16>(count);
    } else {
        u16 prev = kNone;
        for (u32 s = 0; s < count; s++) {
            const Segment& seg = segments[s];
            u16 d = m_free_head;
            m_free_head = m_next[d];
            m_free_count--;
            m_mem.table[d] =
                Descriptor{seg.device_address, seg.len, static_cast<u16>(seg.device_writes ? kDescWrite : 0), 0};
            if (prev != kNone) {
                m_mem.table[prev].flags |= kDescNext;
                m_mem.table[prev].next = d;
                m_next[prev] = d;
            }
            m_next[d] = kNone;
            m_token[d] = seg.token;
            m_indirect_count[d] = 0;
            prev = d;
        }
    }
    m_head[head] = true;
    m_writable[head] = writable;
    m_outstanding++;
    m_mem.avail[2 + m_avail_idx % m_size] = head;
    m_avail_shadow[m_avail_idx % m_size] = head;
    m_avail_idx++;
    return head;
}

bool SplitRing::publish() {
    if (m_avail_idx == m_published) return false;
    u16 old = m_published;
    for (u16 i = old; i != m_avail_idx; i++) m_given[m_avail_shadow[i % m_size]] = true;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // descriptors and ring entries before the index (§2.6.13)
    m_mem.avail[1] = m_avail_idx;
    m_published = m_avail_idx;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // the index before reading what the device asked for (§2.6.13.4)
    if (m_event_idx) {
        u16 avail_event = *reinterpret_cast<const volatile u16*>(m_mem.used + avail_event_offset(m_size));
        return need_event(avail_event, m_published, old);
    }
    u16 flags = *reinterpret_cast<const volatile u16*>(m_mem.used);
    return !(flags & kUsedNoNotify);
}

u16 SplitRing::used_index() const { return *reinterpret_cast<const volatile u16*>(m_mem.used + 2); }

UsedElement SplitRing::used_element(u16 slot) const {
    auto* e = reinterpret_cast<const volatile UsedElement*>(m_mem.used + 4) + slot % m_size;
    return UsedElement{e->id, e->len};
}

bool SplitRing::used_pending() const { return used_index() != m_last_used; }

Result<void> SplitRing::check_invariants(const char** why) const {
    auto fail = [&](const char* what) -> Result<void> {
        if (why) *why = what;
        return Status::Malformed;
    };
    if (m_size == 0) return fail("not initialised");
    u8 seen[kMaxSize] = {};  // 1 free, 2 in a chain
    u16 free = 0;
    for (u16 d = m_free_head; d != kNone; d = m_next[d]) {
        if (d >= m_size) return fail("free list leaves the table");
        if (seen[d]) return fail("free list loops");
        seen[d] = 1;
        if (m_token[d] || m_head[d] || m_given[d] || m_indirect_count[d])
            return fail("a free descriptor holds a token or heads a chain");
        free++;
    }
    if (free != m_free_count) return fail("free count disagrees with the free list");
    u16 heads = 0;
    for (u16 h = 0; h < m_size; h++) {
        if (m_given[h] && !m_head[h]) return fail("a published head that is no chain's");
        if (!m_head[h]) continue;
        heads++;
        for (u16 d = h; d != kNone; d = m_next[d]) {
            if (d >= m_size) return fail("a chain leaves the table");
            if (seen[d]) return fail("a descriptor is in two places");
            seen[d] = 2;
            bool token_expected = m_indirect_count[h] == 0;
            if (token_expected != (m_token[d] != 0)) return fail("a chain's token is missing or misplaced");
        }
        if (m_indirect_count[h]) {
            if (m_next[h] != kNone) return fail("an indirect head links to more table descriptors");
            u64 base = u64{h} * m_mem.indirect_per_head;
            for (u16 s = 0; s < m_mem.indirect_per_head; s++)
                if ((s < m_indirect_count[h]) != (m_mem.indirect_tokens[base + s] != 0))
                    return fail("an indirect table's tokens disagree with its length");
        }
    }
    if (heads != m_outstanding) return fail("outstanding count disagrees with the heads");
    for (u16 d = 0; d < m_size; d++)
        if (!seen[d]) return fail("a descriptor is neither free nor in a chain");
    return {};
}

}  // namespace virtio
