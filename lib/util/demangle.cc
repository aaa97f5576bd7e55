#include "util/demangle.h"

namespace {

class Writer {
public:
    Writer(char* out, usize cap) : m_out(out), m_cap(cap) {}
    void put(char c) {
        if (m_len + 1 < m_cap) m_out[m_len++] = c;
    }
    void put(const char* s, usize n) {
        for (usize i = 0; i < n; i++) put(s[i]);
    }
    void finish() {
        if (m_cap) m_out[m_len] = '\0';
    }
    void reset() { m_len = 0; }

private:
    char* m_out;
    usize m_cap;
    usize m_len = 0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Skips a balanced template-args block "I...E" starting at s[i] == 'I'.
bool skip_template_args(const char* s, usize len, usize& i) {
    int depth = 0;
    for (; i < len; i++) {
        if (s[i] == 'I')
            depth++;
        else if (s[i] == 'E' && --depth == 0) {
            i++;
            return true;
        }
    }
    return false;
}

}  // namespace

bool demangle(const char* s, usize len, char* out, usize cap) {
    Writer w(out, cap);
    auto passthrough = [&]() {
        w.reset();
        w.put(s, len);
        w.finish();
        return false;
    };
    if (len < 3 || s[0] != '_' || s[1] != 'Z') return passthrough();
    usize i = 2;
    bool nested = false;
    if (s[i] == 'L') i++;  // internal linkage
    if (i < len && s[i] == 'N') {
        nested = true;
        i++;
        while (i < len && (s[i] == 'K' || s[i] == 'V' || s[i] == 'r')) i++;  // cv-qualifiers of member fns
    }
    usize last_start = 0, last_len = 0;
    bool first = true;
    while (i < len) {
        if (is_digit(s[i])) {
            usize n = 0;
            while (i < len && is_digit(s[i])) n = n * 10 + static_cast<usize>(s[i++] - '0');
            if (n > len - i) return passthrough();
            if (!first) w.put("::", 2);
            constexpr char kAnon[] = "_GLOBAL__N_1";
            bool anonymous = n == sizeof kAnon - 1;
            for (usize k = 0; anonymous && k < n; k++) anonymous = s[i + k] == kAnon[k];
            if (anonymous)
                w.put("(anonymous)", 11);
            else
                w.put(s + i, n);
            last_start = i;
            last_len = n;
            i += n;
            first = false;
        } else if (s[i] == 'C' && i + 1 < len && is_digit(s[i + 1]) && last_len) {
            w.put("::", 2);
            w.put(s + last_start, last_len);
            i += 2;
        } else if (s[i] == 'D' && i + 1 < len && is_digit(s[i + 1]) && last_len) {
            w.put("::~", 3);
            w.put(s + last_start, last_len);
            i += 2;
        } else if (s[i] == 'I') {
            if (!skip_template_args(s, len, i)) return passthrough();
            w.put("<>", 2);
        } else if (s[i] == 'S' && i + 1 < len && s[i + 1] == 't') {
            w.put("std", 3);
            first = false;
            i += 2;
        } else {
            break;
        }
        if (!nested) break;
    }
    if (first) return passthrough();
    if (nested) {
        if (i >= len || s[i] != 'E') return passthrough();
        i++;
    }
    if (i < len && s[i] == 'v' && i + 1 == len)
        w.put("()", 2);
    else if (i < len)
        w.put("(...)", 5);
    w.finish();
    return true;
}
