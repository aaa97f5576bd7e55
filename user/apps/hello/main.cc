// hello: the smallest user program. Proves a process runs in user mode,
// makes system calls, sleeps on the kernel's clock and exits cleanly.
#include "rt/log.h"
#include "rt/sys.h"

int main(u64) {
    rt::log("hello from user space");
    u64 before = rt::clock_ns();
    rt::sleep_ns(20'000'000);
    u64 slept = rt::clock_ns() - before;
    rt::log("slept %llu us (asked 20000)", static_cast<unsigned long long>(slept / 1000));
    return slept >= 20'000'000 ? 0 : 1;
}
