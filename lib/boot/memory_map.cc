#include "boot/memory_map.h"

namespace boot {

namespace {

constexpr RegionType sanitize(RegionType type) {
    switch (type) {
        case RegionType::Usable:
        case RegionType::Reserved:
        case RegionType::AcpiReclaimable:
        case RegionType::AcpiNvs:
        case RegionType::Bad: return type;
    }
    return RegionType::Reserved;
}

constexpr RegionType stricter(RegionType a, RegionType b) { return restrictiveness(a) >= restrictiveness(b) ? a : b; }

// Appends ranges to an output array in address order, merging a range into
// its predecessor when they touch and share a type (invariant I2).
class RangeWriter {
public:
    RangeWriter(MemoryRange* out, u32 capacity) : m_out(out), m_capacity(capacity) {}

    // [base, end) with base < end, and base >= the end of the last range.
    bool emit(u64 base, u64 end, RegionType type) {
        if (base >= end) return true;
        if (m_count > 0) {
            MemoryRange& last = m_out[m_count - 1];
            if (last.end() == base && last.type == type) {
                last.length += end - base;
                return true;
            }
        }
        if (m_count == m_capacity) return false;
        m_out[m_count++] = MemoryRange{base, end - base, type};
        return true;
    }

    u32 count() const { return m_count; }

private:
    MemoryRange* m_out;
    u32 m_capacity;
    u32 m_count = 0;
};

}  // namespace

const char* region_type_name(RegionType type) {
    switch (type) {
        case RegionType::Usable: return "usable";
        case RegionType::Reserved: return "reserved";
        case RegionType::AcpiReclaimable: return "acpi-reclaimable";
        case RegionType::AcpiNvs: return "acpi-nvs";
        case RegionType::Bad: return "bad";
    }
    return "unknown";
}

Result<void> MemoryMap::add(u64 base, u64 length, RegionType type) {
    if (length == 0) return {};
    type = sanitize(type);
    u64 end;
    if (length > kMaxEnd - base) {
        if (type == RegionType::Usable) return Status::Malformed;
        end = kMaxEnd;
        if (base >= end) return {};  // nothing representable left
    } else {
        end = base + length;
    }
    return paint(base, end, type);
}

Result<void> MemoryMap::reserve(u64 base, u64 length) { return add(base, length, RegionType::Reserved); }

// One merge pass over the sorted old ranges. The new range [base, end) is
// consumed left to right: `cursor` is the first byte of it not yet emitted.
// Where it overlaps an old range the stricter type wins; where it covers a
// gap it takes its own type. Old ranges keep their parts outside it.
Result<void> MemoryMap::paint(u64 base, u64 end, RegionType type) {
    const MemoryRange* old = current();
    MemoryRange* spare = m_buffers[1 - m_current];
    RangeWriter out(spare, kCapacity);
    u64 cursor = base;
    bool ok = true;

    for (u32 i = 0; i < m_count && ok; i++) {
        const MemoryRange& r = old[i];
        if (r.end() <= base || r.base >= end) {
            // Disjoint; but first flush any part of the new range before r.
            if (r.base >= end && cursor < end) {
                ok = out.emit(cursor, end, type);
                cursor = end;
            }
            ok = ok && out.emit(r.base, r.end(), r.type);
            continue;
        }
        // r overlaps [base, end).
        ok = ok && out.emit(r.base, base, r.type);  // r's part left of the new range
        ok = ok && out.emit(cursor, r.base, type);  // gap before r (no-op when cursor >= r.base)
        const u64 overlap_base = r.base > base ? r.base : base;
        const u64 overlap_end = r.end() < end ? r.end() : end;
        ok = ok && out.emit(overlap_base, overlap_end, stricter(r.type, type));
        cursor = overlap_end;
        ok = ok && out.emit(end, r.end(), r.type);  // r's part right of the new range
    }
    ok = ok && out.emit(cursor, end, type);

    if (!ok) return Status::NoMemory;  // spare buffer discarded, map unchanged (I5)
    m_current = 1 - m_current;
    m_count = out.count();
    return {};
}

void MemoryMap::normalize() {
    MemoryRange* ranges = m_buffers[m_current];
    u32 kept = 0;
    for (u32 i = 0; i < m_count; i++) {
        MemoryRange r = ranges[i];
        if (r.type == RegionType::Usable) {
            // Round the base up without overflowing: a base in the last
            // partial page has no whole page above it.
            if (r.base > kMaxEnd - (kPage - 1)) continue;
            const u64 first = (r.base + kPage - 1) & ~(kPage - 1);
            const u64 last = r.end() & ~(kPage - 1);
            if (last <= first) continue;
            r.base = first;
            r.length = last - first;
        }
        ranges[kept++] = r;
    }
    m_count = kept;
}

MemoryRange MemoryMap::range(u32 i) const {
    if (i >= m_count) return MemoryRange{0, 0, RegionType::Reserved};
    return current()[i];
}

u64 MemoryMap::usable_bytes() const {
    u64 total = 0;
    for (u32 i = 0; i < m_count; i++) {
        if (current()[i].type == RegionType::Usable) total += current()[i].length;
    }
    return total;
}

u64 MemoryMap::highest_address() const { return m_count == 0 ? 0 : current()[m_count - 1].end(); }

}  // namespace boot
