// signaler: sleeps 30 ms, then raises bits 0x24 on the notification it
// was given as "note".
#include "rt/log.h"
#include "rt/sys.h"

int main(u64) {
    rt::sleep_ns(30'000'000);
    auto r = rt::notification_signal(rt::startup_handle("note"), 0x24);
    rt::log("signaler: signalled 0x24: %s", r.ok() ? "ok" : status_name(r.status()));
    return r.ok() ? 0 : 1;
}
