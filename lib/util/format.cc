#include "util/format.h"

namespace {

class Sink {
public:
    // emit == nullptr: output past cap - 1 bytes is counted, not kept.
    // Otherwise the buffer is handed to emit whenever it is full (cap - 1
    // bytes) and at the end, so nothing is lost.
    Sink(char* buf, usize cap, FormatEmit emit = nullptr, void* ctx = nullptr)
        : m_buf(buf), m_cap(cap), m_emit(emit), m_ctx(ctx) {}
    void put(char c) {
        if (m_emit && m_used + 1 >= m_cap) drain();
        if (m_used + 1 < m_cap) m_buf[m_used++] = c;
        m_total++;
    }
    void repeat(char c, int n) {
        for (int i = 0; i < n; i++) put(c);
    }
    usize finish() {
        if (m_emit) drain();
        if (m_cap > 0) m_buf[m_used] = '\0';
        return m_total;
    }

private:
    void drain() {
        if (m_used) m_emit(m_ctx, m_buf, m_used);
        m_used = 0;
    }

    char* m_buf;
    usize m_cap;
    FormatEmit m_emit;
    void* m_ctx;
    usize m_used = 0;   // bytes in m_buf now
    usize m_total = 0;  // bytes of the whole output
};

struct Spec {
    bool left = false;
    bool zero = false;
    int width = 0;
    int precision = -1;
};

void emit_padded(Sink& out, const Spec& spec, const char* text, int len, bool numeric_zero_ok) {
    int pad = spec.width > len ? spec.width - len : 0;
    if (!spec.left) out.repeat(spec.zero && numeric_zero_ok ? '0' : ' ', pad);
    for (int i = 0; i < len; i++) out.put(text[i]);
    if (spec.left) out.repeat(' ', pad);
}

void emit_number(Sink& out, const Spec& spec, u64 magnitude, bool negative, unsigned base, bool upper) {
    char digits[24];
    int n = 0;
    const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[n++] = set[magnitude % base];
        magnitude /= base;
    } while (magnitude != 0);
    char text[25];
    int len = 0;
    int total = n + (negative ? 1 : 0);
    if (negative) text[len++] = '-';
    // Zero padding goes between the sign and the digits.
    if (spec.zero && !spec.left && spec.width > total) {
        for (int i = 0; i < spec.width - total && len < 24 - n; i++) text[len++] = '0';
    }
    while (n > 0) text[len++] = digits[--n];
    emit_padded(out, spec, text, len, false);
}

}  // namespace

namespace {

usize format_into(Sink& out, const char* fmt, va_list ap) {
    for (const char* p = fmt; *p; p++) {
        if (*p != '%') {
            out.put(*p);
            continue;
        }
        p++;
        Spec spec;
        for (;; p++) {
            if (*p == '-')
                spec.left = true;
            else if (*p == '0')
                spec.zero = true;
            else
                break;
        }
        if (*p == '*') {
            spec.width = va_arg(ap, int);
            p++;
        } else {
            while (*p >= '0' && *p <= '9') spec.width = spec.width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            spec.precision = 0;
            if (*p == '*') {
                spec.precision = va_arg(ap, int);
                p++;
            } else {
                while (*p >= '0' && *p <= '9') spec.precision = spec.precision * 10 + (*p++ - '0');
            }
        }
        int length = 0;  // 0 int, 1 long, 2 long long, -1 short, -2 char, 3 size_t
        for (;; p++) {
            if (*p == 'l')
                length = length == 1 ? 2 : 1;
            else if (*p == 'h')
                length = length == -1 ? -2 : -1;
            else if (*p == 'z')
                length = 3;
            else
                break;
        }
        auto take_signed = [&]() -> i64 {
            switch (length) {
                case 1: return va_arg(ap, long);
                case 2: return va_arg(ap, long long);
                case 3: return static_cast<i64>(va_arg(ap, usize));
                case -1: return static_cast<short>(va_arg(ap, int));
                case -2: return static_cast<signed char>(va_arg(ap, int));
                default: return va_arg(ap, int);
            }
        };
        auto take_unsigned = [&]() -> u64 {
            switch (length) {
                case 1: return va_arg(ap, unsigned long);
                case 2: return va_arg(ap, unsigned long long);
                case 3: return va_arg(ap, usize);
                case -1: return static_cast<unsigned short>(va_arg(ap, unsigned));
                case -2: return static_cast<unsigned char>(va_arg(ap, unsigned));
                default: return va_arg(ap, unsigned);
            }
        };
        switch (*p) {
            case 'd':
            case 'i': {
                i64 v = take_signed();
                u64 mag = v < 0 ? u64(0) - static_cast<u64>(v) : static_cast<u64>(v);
                emit_number(out, spec, mag, v < 0, 10, false);
                break;
            }
            case 'u': emit_number(out, spec, take_unsigned(), false, 10, false); break;
            case 'x': emit_number(out, spec, take_unsigned(), false, 16, false); break;
            case 'X': emit_number(out, spec, take_unsigned(), false, 16, true); break;
            case 'p': {
                out.put('0');
                out.put('x');
                Spec hex;
                hex.zero = true;
                hex.width = 16;
                emit_number(out, hex, reinterpret_cast<uptr>(va_arg(ap, void*)), false, 16, false);
                break;
            }
            case 'c': {
                char c = static_cast<char>(va_arg(ap, int));
                emit_padded(out, spec, &c, 1, false);
                break;
            }
            case 's': {
                const char* s = va_arg(ap, const char*);
                if (!s) s = "(null)";
                int len = 0;
                while ((spec.precision < 0 || len < spec.precision) && s[len]) len++;
                emit_padded(out, spec, s, len, false);
                break;
            }
            case '%': out.put('%'); break;
            case '\0': p--; break;  // a lone '%' at the end
            default:
                out.put('%');
                out.put(*p);
                break;
        }
    }
    return out.finish();
}

}  // namespace

usize format_v(char* buf, usize cap, const char* fmt, va_list ap) {
    Sink out(buf, cap);
    return format_into(out, fmt, ap);
}

usize format_chunks(char* buf, usize cap, FormatEmit emit, void* ctx, const char* fmt, va_list ap) {
    if (cap < 2) return 0;  // no room for a byte and the NUL: nothing could ever be emitted
    Sink out(buf, cap, emit, ctx);
    return format_into(out, fmt, ap);
}

usize format(char* buf, usize cap, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    usize n = format_v(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}
