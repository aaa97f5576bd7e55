// lwIP's port functions (NO_SYS: only the time, plus arch/cc.h's hooks),
// all forwarded to the process's netstack::Host.
#include <stdarg.h>

#include "arch/hooks.h"
#include "host.h"
#include "lwip/sys.h"
#include "tcp_isn.h"
#include "util/format.h"

namespace netstack {
namespace {
Host* g_host = nullptr;
}

void set_host(Host& h) { g_host = &h; }

Host& host() {
    // Nothing of lib/netstack runs before set_host(); a missing host is a
    // programming error in the process, caught on its first use.
    if (g_host == nullptr) __builtin_trap();
    return *g_host;
}

}  // namespace netstack

extern "C" {

// lwIP's timers (sys_check_timeouts) run on milliseconds that wrap at 2^32
// (about 49 days); lwIP compares them by difference, so the wrap is safe.
u32_t sys_now(void) { return static_cast<u32_t>(netstack::host().now_ns() / 1000000); }

void sluice_lwip_diag(const char* fmt, ...) {
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    usize n = format_v(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n >= sizeof line) n = sizeof line - 1;
    // lwIP ends its messages with a newline; the log adds its own.
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    netstack::host().log(line);
}

void sluice_lwip_assert(const char* what, int line, const char* file) {
    char text[200];
    format(text, sizeof text, "lwip: assertion \"%s\" failed at %s:%d", what, file, line);
    netstack::host().log(text);
    netstack::host().fatal(text);
}

unsigned int sluice_lwip_rand(void) { return netstack::host().random(); }

u32_t sluice_lwip_tcp_isn(const ip_addr_t* local_ip, u16_t local_port, const ip_addr_t* remote_ip, u16_t remote_port) {
    return netstack::tcp_isn(ip4_addr_get_u32(ip_2_ip4(local_ip)), local_port, ip4_addr_get_u32(ip_2_ip4(remote_ip)),
                             remote_port);
}

}  // extern "C"
