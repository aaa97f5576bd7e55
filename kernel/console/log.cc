#include "console/log.h"

#include <stdarg.h>

#include "arch/x86_64/clock.h"
#include "console/serial.h"
#include "util/format.h"

namespace log {
namespace {

Level g_level = Level::Info;
constexpr char kLetters[] = {'E', 'W', 'I', 'D'};

// The last kRingSize bytes of console output, for the shell's `log`.
constexpr usize kRingSize = 16384;
char g_ring[kRingSize];
u64 g_ring_written;

void emit(const char* text, usize len) {
    serial::write(text, len);
    for (usize i = 0; i < len; i++) g_ring[(g_ring_written + i) % kRingSize] = text[i];
    g_ring_written += len;
}

bool equals(const char* s, usize len, const char* word) {
    usize i = 0;
    for (; i < len && word[i]; i++)
        if (s[i] != word[i]) return false;
    return i == len && word[i] == '\0';
}

}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }

bool parse_level(const char* name, usize len, Level* out) {
    const char* names[] = {"error", "warn", "info", "debug"};
    for (u8 i = 0; i < 4; i++) {
        if (equals(name, len, names[i])) {
            *out = static_cast<Level>(i);
            return true;
        }
    }
    return false;
}

void log_v(Level level, const char* fmt, va_list ap) {
    if (level > g_level) return;
    char line[512];
    u64 ns = clock::monotonic_ns();
    usize n = format(line, sizeof line, "[%5llu.%06llu] %c ", static_cast<unsigned long long>(ns / 1000000000),
                     static_cast<unsigned long long>((ns / 1000) % 1000000), kLetters[static_cast<u8>(level)]);
    if (n < sizeof line) n += format_v(line + n, sizeof line - n, fmt, ap);
    if (n >= sizeof line - 1) n = sizeof line - 2;
    line[n++] = '\n';
    emit(line, n);
}

void log(Level level, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_v(level, fmt, ap);
    va_end(ap);
}

void raw(const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    usize n = format_v(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(buf, n < sizeof buf ? n : sizeof buf - 1);
}

usize copy_recent(char* out, usize max) {
    u64 available = g_ring_written < kRingSize ? g_ring_written : kRingSize;
    usize n = available < max ? available : max;
    u64 start = g_ring_written - n;
    for (usize i = 0; i < n; i++) out[i] = g_ring[(start + i) % kRingSize];
    return n;
}

}  // namespace log
