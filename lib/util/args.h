// Program arguments: the manifest's `args = "..."`, space-separated
// `key=value` words, as every program in user/ reads them (rt/args.h gives
// the startup block's). One parser so that every program matches a key the
// same way: as a whole word — at the start or after a space, followed by
// '=' — so `timeout_ms` is not found in `xtimeout_ms=5` nor in
// `timeout_ms_max=5`, and a value never counts as a key (`a=b=1` has no
// key `b`). The first occurrence wins. Bounded by the buffer's size, so a
// startup block whose arguments fill it without a NUL is read no further.
// Pure; unit-tested in tests/unit/args_test.cc.
#pragma once

#include "util/types.h"

class Args {
public:
    // text: up to `size` bytes, ending at the first NUL if there is one.
    Args(const char* text, usize size) : m_text(text), m_size(size) {
        usize n = 0;
        while (n < size && text[n]) n++;
        m_size = n;
    }

    struct Value {
        const char* text;  // into the arguments; not NUL-terminated at len
        usize len;         // up to the next space or the end
        // Everything from the value to the end of the arguments, spaces and
        // all (the shell's `run=` takes the rest of the line).
        usize rest;
    };

    [[nodiscard]] bool find(const char* key, Value* out) const {
        usize klen = 0;
        while (key[klen]) klen++;
        if (klen == 0) return false;
        for (usize i = 0; i < m_size; i++) {
            if (i != 0 && m_text[i - 1] != ' ') continue;  // words only
            if (m_size - i <= klen || m_text[i + klen] != '=') continue;
            usize k = 0;
            while (k < klen && m_text[i + k] == key[k]) k++;
            if (k < klen) continue;
            usize start = i + klen + 1, end = start;
            while (end < m_size && m_text[end] != ' ') end++;
            *out = Value{m_text + start, end - start, m_size - start};
            return true;
        }
        return false;
    }

    [[nodiscard]] bool has(const char* key) const {
        Value v;
        return find(key, &v);
    }

    // A decimal number, all of the value; `fallback` when the key is
    // absent or the value is empty, not all digits, or does not fit 64 bits.
    [[nodiscard]] u64 number(const char* key, u64 fallback) const {
        Value v;
        if (!find(key, &v) || v.len == 0) return fallback;
        u64 n = 0;
        for (usize i = 0; i < v.len; i++) {
            char c = v.text[i];
            if (c < '0' || c > '9') return fallback;
            u64 digit = static_cast<u64>(c - '0');
            if (n > (~u64{0} - digit) / 10) return fallback;
            n = n * 10 + digit;
        }
        return n;
    }

    // The value into out (NUL-terminated, cut to cap - 1 bytes); out is
    // untouched and false returned when the key is absent.
    bool copy(const char* key, char* out, usize cap) const {
        Value v;
        if (cap == 0 || !find(key, &v)) return false;
        usize n = v.len < cap - 1 ? v.len : cap - 1;
        for (usize i = 0; i < n; i++) out[i] = v.text[i];
        out[n] = '\0';
        return true;
    }

    // Is the value exactly `want`?
    [[nodiscard]] bool equals(const char* key, const char* want) const {
        Value v;
        if (!find(key, &v)) return false;
        usize i = 0;
        for (; i < v.len; i++)
            if (want[i] != v.text[i]) return false;
        return want[i] == '\0';
    }

private:
    const char* m_text;
    usize m_size;
};
