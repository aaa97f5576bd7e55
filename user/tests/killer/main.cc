// killer: kills a provider again and again, at random moments, for soak
// tests of restart and teardown (`make soak`). Arguments:
//   target=nvme    the process name to kill (the newest live one)
//   count=200      how many kills
//   min_ms=50 max_ms=400   the pause before each kill
//   seed=1
// Needs the root resource (`resource`): SystemInfo to find the target,
// ProcessKillPid to kill it. Logs each kill and "killer: done: N kills".
#include "abi/startup.h"
#include "rt/args.h"
#include "rt/log.h"
#include "rt/sys.h"
#include "util/xorshift.h"

int main(u64) {
    u32 resource = rt::startup_handle("resource");
    if (!resource) {
        rt::log("killer: needs the root resource");
        return 1;
    }
    const Args args = rt::args();
    u64 count = args.number("count", 200), lo = args.number("min_ms", 50), hi = args.number("max_ms", 400);
    util::XorShift64 rng(args.number("seed", 1) * 0x9e3779b97f4a7c15ull | 1);
    if (hi < lo) hi = lo;
    u64 kills = 0, misses = 0;
    static abi::SystemProcess list[64];
    while (kills < count) {
        rt::sleep_ns((lo + rng.next() % (hi - lo + 1)) * 1'000'000);
        auto n = rt::system_info(resource, abi::SystemInfoKind::Processes, 0, list, sizeof list);
        u32 newest = 0;
        for (u64 i = 0; n.ok() && i < n.value(); i++)
            if (list[i].state == static_cast<u32>(abi::ExitKind::Running) && args.equals("target", list[i].name) &&
                list[i].pid > newest)
                newest = list[i].pid;
        if (!newest || !rt::process_kill_pid(resource, newest).ok()) {
            misses++;  // not (yet) restarted: try again after the next pause
            if (misses > 20 * count) break;
            continue;
        }
        kills++;
        if (kills % 25 == 0 || kills == count) rt::log("killer: %llu kills", static_cast<unsigned long long>(kills));
    }
    rt::log("killer: done: %llu kills (%llu times no target was running)", static_cast<unsigned long long>(kills),
            static_cast<unsigned long long>(misses));
    return kills == count ? 0 : 1;
}
