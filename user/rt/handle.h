// Handle: a move-only owner of one capability handle; closes it when it
// goes out of scope. release() hands the raw value over (e.g. when the
// handle is moved to another process in a message).
#pragma once

#include "util/types.h"

namespace rt {

void close_handle(u32 raw);

class Handle {
public:
    Handle() = default;
    explicit Handle(u32 raw) : m_raw(raw) {}
    Handle(Handle&& o) : m_raw(o.m_raw) { o.m_raw = 0; }
    Handle& operator=(Handle&& o) {
        if (this != &o) {
            reset();
            m_raw = o.m_raw;
            o.m_raw = 0;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }

    u32 get() const { return m_raw; }
    explicit operator bool() const { return m_raw != 0; }
    u32 release() {
        u32 r = m_raw;
        m_raw = 0;
        return r;
    }
    void reset() {
        if (m_raw) close_handle(m_raw);
        m_raw = 0;
    }

private:
    u32 m_raw = 0;
};

}  // namespace rt
