// exhaust: a process takes all the memory it can (64 MiB MemoryObjects
// until the kernel says NoMemory), then keeps asking for kernel objects and
// a child process while memory is gone: every request must fail with an
// error — no kernel panic — and after it lets go, the frame count must be
// back where it started.
#include "rt/log.h"
#include "rt/spawn.h"
#include "rt/sys.h"

namespace {

u64 free_frames(u32 resource) {
    abi::SystemMemory m{};
    (void)rt::system_info(resource, abi::SystemInfoKind::Memory, 0, &m, sizeof m);
    return m.free_frames;
}

}  // namespace

int main(u64) {
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
    static rt::Handle hogs[64];
    u32 hog_count = 0;
    Status last = Status::Ok;
    for (u64 size = 64ull << 20; size >= 4096 && hog_count < 64;) {
        auto m = rt::memory_create(size);
        if (m.ok()) {
            hogs[hog_count++] = static_cast<rt::Handle&&>(m.value());
        } else {
            last = m.status();
            size /= 2;  // take what is left in smaller pieces
        }
    }
    u64 starved = free_frames(resource);
    // With (almost) nothing left, everything must fail cleanly.
    static rt::Handle extra[256];
    u32 made = 0, refused = 0;
    for (u32 i = 0; i < 256; i++) {
        auto r = (i % 3 == 0) ? rt::endpoint_create() : (i % 3 == 1) ? rt::notification_create() : rt::waitset_create();
        if (r.ok()) extra[made++] = static_cast<rt::Handle&&>(r.value());
        else refused++;
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
    for (u32 i = 0; i < hog_count; i++) hogs[i].reset();
    u64 after = free_frames(resource);
    rt::log("exhaust: free frames %llu before, %llu after letting go", static_cast<unsigned long long>(before),
            static_cast<unsigned long long>(after));
    return 0;
}
