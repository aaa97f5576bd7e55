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

}  // namespace rt
