// heartbeat: shows whether the CPU is still shared while the kernel waits
// for a device (issue 11, finding 5). It wakes every 5 ms and records the
// longest gap between wake-ups; a kernel that spins in a system call or a
// teardown for seconds shows up as a gap that long. Every second it logs
// the longest gap of that second; after `seconds=N` (default 10) it logs
// the longest gap of the whole run and exits.
#include "rt/args.h"
#include "rt/log.h"
#include "rt/sys.h"

int main(u64) {
    constexpr u64 kStepNs = 5'000'000;
    const u64 run_ns = rt::args().number("seconds", 10) * 1'000'000'000ull;
    u64 start = rt::clock_ns(), last = start, second_start = start;
    u64 longest = 0, longest_this_second = 0, ticks = 0;
    rt::log("heartbeat: beating every %llu ms for %llu s", static_cast<unsigned long long>(kStepNs / 1'000'000),
            static_cast<unsigned long long>(run_ns / 1'000'000'000ull));
    while (last - start < run_ns) {
        rt::sleep_ns(kStepNs);
        u64 now = rt::clock_ns();
        u64 gap = now - last;
        last = now;
        ticks++;
        if (gap > longest) longest = gap;
        if (gap > longest_this_second) longest_this_second = gap;
        if (now - second_start >= 1'000'000'000ull) {
            rt::log("heartbeat: longest gap %llu ms in the last second",
                    static_cast<unsigned long long>(longest_this_second / 1'000'000));
            longest_this_second = 0;
            second_start = now;
        }
    }
    rt::log("heartbeat: done: %llu beats in %llu ms, longest gap %llu ms", static_cast<unsigned long long>(ticks),
            static_cast<unsigned long long>((last - start) / 1'000'000),
            static_cast<unsigned long long>(longest / 1'000'000));
    return 0;
}
