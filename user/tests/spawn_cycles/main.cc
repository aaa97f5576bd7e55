// spawn_cycles (init): spawns and kills a child 1,000 times, waiting for
// each death through a WaitSet, and compares the kernel's frame, heap,
// kernel-stack and capability-node counts after the first cycle (the
// baseline: first-use page tables and heap pages exist by then) with the
// counts after the last. Any leak in process teardown shows as a difference.
#include "rt/log.h"
#include "rt/spawn.h"
#include "rt/sys.h"

namespace {

constexpr u32 kCycles = 1000;

Result<abi::SystemMemory> memory(u32 resource) {
    abi::SystemMemory m{};
    TRY(rt::system_info(resource, abi::SystemInfoKind::Memory, 0, &m, sizeof m));
    return m;
}

}  // namespace

int main(u64) {
    u32 resource = rt::startup_handle("resource");
    abi::SystemMemory baseline{};
    for (u32 i = 0; i < kCycles; i++) {
        auto child = rt::spawn(resource, "sleeper", nullptr, 0);
        if (!child.ok()) {
            rt::log("cycles: FAILED spawn %u: %s", i, status_name(child.status()));
            return 1;
        }
        rt::yield();  // let it start running
        if (auto r = rt::process_kill(child.value().get()); !r.ok()) {
            rt::log("cycles: FAILED kill %u: %s", i, status_name(r.status()));
            return 1;
        }
        auto info = rt::wait_for_exit(child.value().get(), 1'000'000'000ull);
        if (!info.ok() || info.value().kind != abi::ExitKind::Killed) {
            rt::log("cycles: FAILED cycle %u: child not reported killed", i);
            return 1;
        }
        child.value().reset();
        if (i == 0) {
            auto m = memory(resource);
            if (!m.ok()) return 1;
            baseline = m.value();
        }
    }
    auto end = memory(resource);
    if (!end.ok()) return 1;
    const abi::SystemMemory& e = end.value();
    rt::log(
        "cycles: %u spawn/kill cycles; free frames %llu -> %llu, heap %llu -> %llu, kernel stacks %llu -> %llu, "
        "cap nodes %llu -> %llu",
        kCycles, static_cast<unsigned long long>(baseline.free_frames), static_cast<unsigned long long>(e.free_frames),
        static_cast<unsigned long long>(baseline.heap_bytes), static_cast<unsigned long long>(e.heap_bytes),
        static_cast<unsigned long long>(baseline.kernel_stacks), static_cast<unsigned long long>(e.kernel_stacks),
        static_cast<unsigned long long>(baseline.cap_nodes_used), static_cast<unsigned long long>(e.cap_nodes_used));
    bool same = baseline.free_frames == e.free_frames && baseline.heap_bytes == e.heap_bytes &&
                baseline.kernel_stacks == e.kernel_stacks && baseline.cap_nodes_used == e.cap_nodes_used;
    rt::log("cycles: %s", same ? "back at baseline" : "LEAK");
    return same ? 0 : 1;
}
