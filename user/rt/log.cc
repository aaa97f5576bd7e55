#include "rt/log.h"

#include <stdarg.h>

#include "rt/sys.h"
#include "util/format.h"

namespace rt {

void log(const char* fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    usize n = format_v(buf, sizeof buf, fmt, ap);
    va_end(ap);
    static u32 log_handle = startup_handle("log");
    (void)log_write(log_handle, buf, n < sizeof buf ? n : sizeof buf - 1);
}

void LogBudget::log(const char* fmt, ...) {
    if (!m_bucket.take(clock_ns())) {
        m_unlogged++;
        return;
    }
    char line[224];
    va_list ap;
    va_start(ap, fmt);
    usize n = format_v(line, sizeof line, fmt, ap);
    va_end(ap);
    if (m_unlogged && n < sizeof line)
        format(line + n, sizeof line - n, " (%llu lines not logged)", static_cast<unsigned long long>(m_unlogged));
    m_unlogged = 0;
    rt::log("%s", line);
}

}  // namespace rt
