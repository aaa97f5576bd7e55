// killer: kills a provider again and again, at random moments, for soak
// tests of restart and teardown (`make soak`). Arguments:
//   target=nvme    the process name to kill (the newest live one)
//   count=200      how many kills
//   min_ms=50 max_ms=400   the pause before each kill
//   seed=1
// Needs the root resource (`resource`): SystemInfo to find the target,
// ProcessKillPid to kill it. Logs each kill and "killer: done: N kills".
#include "abi/startup.h"
#include "rt/log.h"
#include "rt/sys.h"
#include "util/xorshift.h"

namespace {

u64 number(const char* key, u64 fallback) {
    const char* args = rt::startup().args;
    usize klen = 0;
    while (key[klen]) klen++;
    for (const char* p = args; *p; p++) {
        if (p != args && p[-1] != ' ') continue;
        usize k = 0;
        while (k < klen && p[k] == key[k]) k++;
        if (k < klen || p[k] != '=') continue;
        u64 v = 0;
        for (const char* d = p + k + 1; *d >= '0' && *d <= '9'; d++) v = v * 10 + static_cast<u64>(*d - '0');
        return v;
    }
    return fallback;
}

bool target_is(const char* name) {
    const char* args = rt::startup().args;
    for (const char* p = args; *p; p++) {
        if ((p != args && p[-1] != ' ') || p[0] != 't' || p[1] != 'a' || p[2] != 'r' || p[3] != 'g' || p[4] != 'e' ||
            p[5] != 't' || p[6] != '=')
            continue;
        const char* want = p + 7;
        usize i = 0;
        while (want[i] && want[i] != ' ' && name[i] == want[i]) i++;
        return (!want[i] || want[i] == ' ') && !name[i];
    }
    return false;
}


}  // namespace

int main(u64) {
    u32 resource = rt::startup_handle("resource");
    if (!resource) {
        rt::log("killer: needs the root resource");
        return 1;
    }
    u64 count = number("count", 200), lo = number("min_ms", 50), hi = number("max_ms", 400);
    util::XorShift64 rng(number("seed", 1) * 0x9e3779b97f4a7c15ull | 1);
    if (hi < lo) hi = lo;
    u64 kills = 0, misses = 0;
    static abi::SystemProcess list[64];
    while (kills < count) {
        rt::sleep_ns((lo + rng.next() % (hi - lo + 1)) * 1'000'000);
        auto n = rt::system_info(resource, abi::SystemInfoKind::Processes, 0, list, sizeof list);
        u32 newest = 0;
        for (u64 i = 0; n.ok() && i < n.value(); i++)
            if (list[i].state == static_cast<u32>(abi::ExitKind::Running) && target_is(list[i].name) &&
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
