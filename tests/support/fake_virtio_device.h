// A fake virtio device in host memory for virtio::SplitRing (lib/virtio/
// split_ring.h): the ring memory the kernel would give it, a device side
// that fetches published chains (direct or through indirect tables) the
// way §2.6 tells a device to, and posts used entries — honest ones, or
// lies on request — and a host (virtio::RingHost) that keeps count of every
// token handed back. Shared by tests/unit/virtio_split_ring_test.cc and
// tests/fuzz/fuzz_virtio_ring.cc.
#pragma once

#include <cstring>
#include <map>
#include <vector>

#include "virtio/split_ring.h"

namespace fake_virtio {

// Device addresses of the fake: the table at kTableAddress, indirect
// tables at kIndirectAddress; buffers anywhere else.
constexpr u64 kIndirectAddress = 0x7000'0000;

class Host {
public:
    std::map<u32, int> released;  // token -> times handed back
    std::vector<virtio::UsedEntry> bad;
    void unhold(u32 token) { released[token]++; }
    void bad_used(const virtio::UsedEntry& e) { bad.push_back(e); }
};

struct FetchedSegment {
    u64 address;
    u32 len;
    bool device_writes;
};
struct FetchedChain {
    u16 head;
    std::vector<FetchedSegment> segments;
    u64 writable() const {
        u64 n = 0;
        for (auto& s : segments)
            if (s.device_writes) n += s.len;
        return n;
    }
};

class Device {
public:
    static constexpr u16 kIndirect = 8;

    explicit Device(u16 size, bool event_idx = false, u16 indirect_per_head = 0)
        : m_size(size),
          m_table(size),
          m_avail(virtio::available_ring_bytes(size) / 2),
          m_used(virtio::used_ring_bytes(size) + 8),
          m_indirect(u64{size} * (indirect_per_head ? indirect_per_head : 1)),
          m_indirect_tokens(m_indirect.size()) {
        memory.table = m_table.data();
        memory.avail = m_avail.data();
        memory.used = m_used.data();
        if (indirect_per_head) {
            memory.indirect = m_indirect.data();
            memory.indirect_tokens = m_indirect_tokens.data();
            memory.indirect_device_address = kIndirectAddress;
            memory.indirect_per_head = indirect_per_head;
        }
        m_event_idx = event_idx;
    }

    virtio::SplitRing::Memory memory{};

    // --- the device side ---

    // Fetches every chain published since the last call (§2.6.6 avail idx),
    // following descriptors the way a device does. A chain the device cannot
    // follow (a loop, an index out of range) is recorded in `broken`.
    std::vector<FetchedChain> fetch() {
        std::vector<FetchedChain> out;
        u16 idx = m_avail[1];
        while (m_seen_avail != idx) {
            u16 head = m_avail[2 + m_seen_avail % m_size];
            m_seen_avail++;
            FetchedChain c{head, {}};
            if (!walk(head, c)) broken++;
            out.push_back(c);
        }
        if (m_event_idx) set_avail_event(m_seen_avail);  // notify me for the next one
        return out;
    }

    // Posts one used element and moves the used index past it.
    void post(u32 id, u32 len) {
        auto* ring = reinterpret_cast<virtio::UsedElement*>(m_used.data() + 4);
        ring[m_used_idx % m_size] = virtio::UsedElement{id, len};
        m_used_idx++;
        set_used_idx(m_used_idx);
    }
    // Lies: move the index without writing elements (a jump).
    void set_used_idx(u16 idx) {
        m_used_idx = idx;
        std::memcpy(m_used.data() + 2, &idx, 2);
    }
    void set_used_flags(u16 flags) { std::memcpy(m_used.data(), &flags, 2); }
    void set_avail_event(u16 v) { std::memcpy(m_used.data() + virtio::avail_event_offset(m_size), &v, 2); }
    u16 used_event() const { return m_avail[virtio::used_event_offset(m_size) / 2]; }
    u16 used_idx() const { return m_used_idx; }
    // Would the device interrupt having moved its used index old -> new?
    bool would_interrupt(u16 old_idx, u16 new_idx) const {
        if (m_event_idx) return virtio::need_event(used_event(), new_idx, old_idx);
        return !(m_avail[0] & virtio::kAvailNoInterrupt);
    }
    const std::vector<virtio::Descriptor>& table() const { return m_table; }

    int broken = 0;

private:
    bool walk(u16 head, FetchedChain& c) {
        if (head >= m_size) return false;
        const virtio::Descriptor* table = m_table.data();
        u32 limit = m_size;
        u16 d = head;
        if (m_table[head].flags & virtio::kDescIndirect) {
            const virtio::Descriptor& h = m_table[head];
            if (h.addr < kIndirectAddress || h.len % 16 || h.len == 0) return false;
            u64 first = (h.addr - kIndirectAddress) / 16;
            if (first + h.len / 16 > m_indirect.size()) return false;
            table = m_indirect.data() + first;
            limit = h.len / 16;
            d = 0;
        }
        for (u32 steps = 0;; steps++) {
            if (steps >= limit || d >= limit) return false;
            const virtio::Descriptor& desc = table[d];
            if (desc.flags & virtio::kDescIndirect) return false;  // §2.6.5.3.1: not inside a table
            c.segments.push_back({desc.addr, desc.len, (desc.flags & virtio::kDescWrite) != 0});
            if (!(desc.flags & virtio::kDescNext)) return true;
            d = desc.next;
        }
    }

    u16 m_size;
    bool m_event_idx = false;
    std::vector<virtio::Descriptor> m_table;
    std::vector<u16> m_avail;
    std::vector<u8> m_used;
    std::vector<virtio::Descriptor> m_indirect;
    std::vector<u32> m_indirect_tokens;
    u16 m_seen_avail = 0;
    u16 m_used_idx = 0;
};

}  // namespace fake_virtio
