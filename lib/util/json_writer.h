// Writes JSON (RFC 8259) into a fixed buffer: objects, arrays, strings
// (escaped: quotation mark, reverse solidus and every control character,
// §7; UTF-8 checked, §8.1: a string that is not valid UTF-8 fails the
// writer), unsigned and signed integers, booleans. Commas and nesting are the
// writer's business, so a caller cannot produce malformed text by
// forgetting one; a value written where a key is due, or an end that does
// not match its begin, or running out of room, marks the writer failed
// (ok() false) and nothing more is written. For the `httpd` /status
// document and anything else that reports state as JSON.
//
// Freestanding and hosted: no allocation.
#pragma once

#include "util/types.h"

namespace util {

class JsonWriter {
public:
    static constexpr u32 kMaxDepth = 16;

    JsonWriter(char* buf, usize cap) : m_buf(buf), m_cap(cap) {
        if (cap == 0)
            m_failed = true;
        else
            m_buf[0] = '\0';
    }

    void begin_object() { open('{', true); }
    void end_object() { close('}', true); }
    void begin_array() { open('[', false); }
    void end_array() { close(']', false); }
    // In an object: the next member's name; the value follows.
    void key(const char* name) {
        if (m_failed || m_depth == 0 || !m_object[m_depth - 1] || m_key_written) return fail();
        comma();
        quoted(name);
        put(':');
        m_key_written = true;
    }
    void string(const char* s) {
        if (!value_allowed()) return fail();
        quoted(s);
        done_value();
    }
    void number(u64 v) {
        if (!value_allowed()) return fail();
        digits(v);
        done_value();
    }
    void number_signed(i64 v) {
        if (!value_allowed()) return fail();
        if (v < 0) put('-');
        digits(v < 0 ? 0 - static_cast<u64>(v) : static_cast<u64>(v));
        done_value();
    }
    void boolean(bool b) {
        if (!value_allowed()) return fail();
        for (const char* p = b ? "true" : "false"; *p; p++) put(*p);
        done_value();
    }
    void null() {
        if (!value_allowed()) return fail();
        for (const char* p = "null"; *p; p++) put(*p);
        done_value();
    }

    // Whole and well formed: every begin ended, nothing failed.
    bool ok() const { return !m_failed && m_depth == 0 && m_top_done; }
    usize size() const { return m_len; }
    const char* text() const { return m_buf; }

private:
    void digits(u64 v) {
        char d[20];
        u32 n = 0;
        do {
            d[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v);
        while (n) put(d[--n]);
    }
    bool value_allowed() {
        if (m_failed) return false;
        if (m_depth == 0) return !m_top_done;
        if (m_object[m_depth - 1]) return m_key_written;
        comma();
        return true;
    }
    void done_value() {
        m_key_written = false;
        if (m_depth == 0)
            m_top_done = true;
        else
            m_count[m_depth - 1]++;
    }
    void open(char c, bool object) {
        if (!value_allowed() || m_depth == kMaxDepth) return fail();
        put(c);
        m_object[m_depth] = object;
        m_count[m_depth] = 0;
        m_depth++;
        m_key_written = false;
    }
    void close(char c, bool object) {
        if (m_failed || m_depth == 0 || m_object[m_depth - 1] != object || m_key_written) return fail();
        put(c);
        m_depth--;
        done_value();
    }
    void comma() {
        if (m_depth > 0 && m_count[m_depth - 1] > 0) put(',');
    }
    // The length of the UTF-8 sequence starting at s (RFC 3629 §4: no
    // overlong forms, no surrogates, nothing past U+10FFFF), 0 when invalid.
    static u32 utf8_length(const unsigned char* s) {
        unsigned char c = s[0];
        if (c < 0x80) return 1;
        u32 n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (n == 0) return 0;
        for (u32 i = 1; i < n; i++)
            if ((s[i] & 0xc0) != 0x80) return 0;  // also stops at the terminating NUL
        if (c == 0xe0 && s[1] < 0xa0) return 0;   // overlong
        if (c == 0xed && s[1] > 0x9f) return 0;   // a surrogate
        if (c == 0xf0 && s[1] < 0x90) return 0;   // overlong
        if (c == 0xf4 && s[1] > 0x8f) return 0;   // past U+10FFFF
        return n;
    }
    void quoted(const char* s) {
        put('"');
        for (; s != nullptr && *s; s++) {
            auto c = static_cast<unsigned char>(*s);
            if (c >= 0x80) {
                u32 n = utf8_length(reinterpret_cast<const unsigned char*>(s));
                if (n == 0) return fail();
                for (u32 i = 0; i < n; i++) put(s[i]);
                s += n - 1;
                continue;
            }
            if (c == '"' || c == '\\') {
                put('\\');
                put(static_cast<char>(c));
            } else if (c < 0x20) {
                static constexpr char kHex[] = "0123456789abcdef";
                for (const char* p = "\\u00"; *p; p++) put(*p);
                put(kHex[c >> 4]);
                put(kHex[c & 15]);
            } else {
                put(static_cast<char>(c));
            }
        }
        put('"');
    }
    void put(char c) {
        if (m_failed) return;
        if (m_len + 1 >= m_cap) return fail();
        m_buf[m_len++] = c;
        m_buf[m_len] = '\0';
    }
    void fail() { m_failed = true; }

    char* m_buf;
    usize m_cap;
    usize m_len = 0;
    bool m_failed = false;
    bool m_top_done = false;
    bool m_key_written = false;
    u32 m_depth = 0;
    bool m_object[kMaxDepth] = {};
    u32 m_count[kMaxDepth] = {};
};

}  // namespace util
