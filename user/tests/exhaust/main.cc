// exhaust: a process takes all the memory it can (64 MiB MemoryObjects
// until the kernel says NoMemory), then keeps asking for kernel objects and
// a child process while memory is gone: every request must fail with an
// error — no kernel panic — and after it lets go, the frame count must be
// back where it started.
//
// With the argument `quota` it attacks its own kernel memory quota instead
// (started with a small kernel_memory limit; scenario kernel_memory_quota):
//   (a) MemoryObjects, 64 MiB halving down to 4 KiB, until refused; let go;
//   (c) endpoints, notifications and wait sets, in turn, until refused; let go;
//   (b) one 4 KiB MemoryObject mapped again and again 2 MiB apart — every
//       mapping needs a page table of its own — until refused; held.
// Each ends in no-memory for this process alone. It then holds what (b)
// took for `hold_ms=N` (default 10000) so that the harness can check that
// everyone else keeps working meanwhile, and exits.
#include "rt/args.h"
#include "rt/log.h"
#include "rt/spawn.h"
#include "rt/sys.h"

namespace {

// MemoryObjects of 64 MiB, halving on each refusal down to 4 KiB, until
// nothing more fits (or 64 are held): they end up in g_hogs. Returns how
// many; *bytes says how much, *last the last refusal.
rt::Handle g_hogs[64];
u32 take_memory(u64* bytes, Status* last) {
    u32 count = 0;
    for (u64 size = 64ull << 20; size >= 4096 && count < 64;) {
        auto m = rt::memory_create(size);
        if (m.ok()) {
            g_hogs[count++] = static_cast<rt::Handle&&>(m.value());
            *bytes += size;
        } else {
            *last = m.status();
            size /= 2;  // take what is left in smaller pieces
        }
    }
    return count;
}

int quota_attack() {
    // (a) MemoryObjects until refused.
    u64 hog_bytes = 0;
    Status last_a = Status::Ok;
    u32 hog_count = take_memory(&hog_bytes, &last_a);
    rt::log("exhaust: quota: (a) %llu KiB in %u memory objects, then %s",
            static_cast<unsigned long long>(hog_bytes >> 10), hog_count, status_name(last_a));
    for (u32 i = 0; i < hog_count; i++) g_hogs[i].reset();

    // (c) Kernel objects until refused (the capability space holds 1024:
    // a refusal before that is the quota's).
    static rt::Handle objects[1024];
    u32 made = 0;
    Status last_c = Status::Ok;
    while (made < 1024) {
        auto r = (made % 3 == 0)   ? rt::endpoint_create()
                 : (made % 3 == 1) ? rt::notification_create()
                                   : rt::waitset_create();
        if (!r.ok()) {
            last_c = r.status();
            break;
        }
        objects[made++] = static_cast<rt::Handle&&>(r.value());
    }
    rt::log("exhaust: quota: (c) %u endpoints, notifications and wait sets, then %s", made, status_name(last_c));
    for (u32 i = 0; i < made; i++) objects[i].reset();

    // (b) One page mapped 2 MiB apart until refused, far above the map
    // area the kernel picks from.
    constexpr u64 kBase = 0x0000200000000000ull;
    constexpr u64 kStride = 2ull << 20;
    constexpr u32 kMaxMaps = 1u << 20;  // 2 TiB of address space: more than any memory this machine has
    u32 maps = 0;
    Status last_b = Status::Ok;
    auto page = rt::memory_create(4096);
    if (!page.ok()) {
        last_b = page.status();
    } else {
        while (maps < kMaxMaps) {
            auto at = rt::memory_map(page.value().get(), kBase + maps * kStride, abi::kMapWrite);
            if (!at.ok()) {
                last_b = at.status();
                break;
            }
            maps++;
        }
    }
    rt::log("exhaust: quota: (b) %u mappings of one page 2 MiB apart, then %s", maps, status_name(last_b));
    u64 hold_ms = rt::args().number("hold_ms", 10000);
    rt::log("exhaust: quota: holding for %llu ms", static_cast<unsigned long long>(hold_ms));
    rt::sleep_ns(hold_ms * 1'000'000);
    rt::log("exhaust: quota: letting go");
    return 0;
}

u64 free_frames(u32 resource) {
    abi::SystemMemory m{};
    (void)rt::system_info(resource, abi::SystemInfoKind::Memory, 0, &m, sizeof m);
    return m.free_frames;
}

}  // namespace

int main(u64) {
    if (rt::startup_args_contains("quota")) return quota_attack();
    u32 resource = rt::startup_handle("resource");
    // Warm up: the kernel heap keeps the slab pages it grows (by design),
    // so create each kind of object once before taking the baseline.
    {
        auto e = rt::endpoint_create();
        auto n = rt::notification_create();
        auto w = rt::waitset_create();
        auto c = rt::spawn(resource, "sleeper", nullptr, 0);
        if (c.ok()) {
            (void)rt::process_kill(c.value().get());
            (void)rt::wait_for_exit(c.value().get(), 1'000'000'000ull);
        }
    }
    u64 before = free_frames(resource);
    u64 taken = 0;
    Status last = Status::Ok;
    u32 hog_count = take_memory(&taken, &last);
    u64 starved = free_frames(resource);
    // With (almost) nothing left, everything must fail cleanly.
    static rt::Handle extra[256];
    u32 made = 0, refused = 0;
    for (u32 i = 0; i < 256; i++) {
        auto r = (i % 3 == 0) ? rt::endpoint_create() : (i % 3 == 1) ? rt::notification_create() : rt::waitset_create();
        if (r.ok())
            extra[made++] = static_cast<rt::Handle&&>(r.value());
        else
            refused++;
    }
    auto child = rt::spawn(resource, "sleeper", nullptr, 0);
    rt::log("exhaust: %u memory objects, last refusal %s; %llu frames left; %u objects made, %u refused; spawn: %s",
            hog_count, status_name(last), static_cast<unsigned long long>(starved), made, refused,
            child.ok() ? "ok" : status_name(child.status()));
    if (child.ok()) {
        (void)rt::process_kill(child.value().get());
        (void)rt::wait_for_exit(child.value().get(), 1'000'000'000ull);
        child.value().reset();
    }
    for (u32 i = 0; i < made; i++) extra[i].reset();
    for (u32 i = 0; i < hog_count; i++) g_hogs[i].reset();
    u64 after = free_frames(resource);
    rt::log("exhaust: free frames %llu before, %llu after letting go", static_cast<unsigned long long>(before),
            static_cast<unsigned long long>(after));
    return 0;
}
