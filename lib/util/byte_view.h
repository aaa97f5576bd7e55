// ByteView: a bounds-checked, read-only window over untrusted bytes
// (firmware tables, config space snapshots, boot information).
// Every read states its offset and is refused when it would leave the window.
#pragma once

#include "util/le_bytes.h"
#include "util/result.h"
#include "util/types.h"

class ByteView {
public:
    constexpr ByteView() = default;
    constexpr ByteView(const u8* data, usize size) : m_data(data), m_size(size) {}

    constexpr const u8* data() const { return m_data; }
    constexpr usize size() const { return m_size; }

    // True when [offset, offset+len) lies inside the view (overflow-safe).
    constexpr bool contains(usize offset, usize len) const { return offset <= m_size && len <= m_size - offset; }

    // Little-endian read of an unsigned integer of width sizeof(T).
    template <typename T>
    Result<T> read_le(usize offset) const {
        if (!contains(offset, sizeof(T))) return Status::OutOfBounds;
        return le::load<T>(m_data + offset);
    }

    Result<ByteView> sub(usize offset, usize len) const {
        if (!contains(offset, len)) return Status::OutOfBounds;
        return ByteView(m_data + offset, len);
    }

    // Bytes from offset to the end (empty when offset == size).
    Result<ByteView> tail(usize offset) const {
        if (offset > m_size) return Status::OutOfBounds;
        return ByteView(m_data + offset, m_size - offset);
    }

private:
    const u8* m_data = nullptr;
    usize m_size = 0;
};
