// Kernel log: leveled, timestamped lines on the serial console.
// Line format (parsed by the test harness): "[ssss.uuuuuu] L message"
// where L is E, W, I or D.
#pragma once

#include <stdarg.h>

#include "util/types.h"

namespace log {

enum class Level : u8 { Error = 0, Warn = 1, Info = 2, Debug = 3 };

void set_level(Level level);
Level level();
// Parses "error", "warn", "info", "debug"; false when unknown.
bool parse_level(const char* name, usize len, Level* out);

__attribute__((format(printf, 2, 3))) void log(Level level, const char* fmt, ...);
void log_v(Level level, const char* fmt, va_list ap);
// Raw output without prefix, for multi-line reports (panic) and banners.
__attribute__((format(printf, 1, 2))) void raw(const char* fmt, ...);

// Copies the newest `max` bytes of everything logged into out (oldest
// first); returns how many.
usize copy_recent(char* out, usize max);

}  // namespace log

#define LOG_ERROR(...) ::log::log(::log::Level::Error, __VA_ARGS__)
#define LOG_WARN(...) ::log::log(::log::Level::Warn, __VA_ARGS__)
#define LOG_INFO(...) ::log::log(::log::Level::Info, __VA_ARGS__)
#define LOG_DEBUG(...) ::log::log(::log::Level::Debug, __VA_ARGS__)
