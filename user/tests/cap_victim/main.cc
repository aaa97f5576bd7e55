// cap_victim: holds a copy of its parent's MemoryObject capability, derives
// its own duplicate, maps through the duplicate and reads the parent's
// value. After the parent revokes, both handles must report Revoked and the
// mapping must be gone: touching it faults this process.
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/sys.h"

int main(u64) {
    u32 mem = rt::startup_handle("mem");
    auto dup = rt::duplicate(mem, cap_rights::kRead | cap_rights::kMap);
    if (!dup.ok()) {
        rt::log("victim: FAILED duplicate: %s", status_name(dup.status()));
        return 1;
    }
    auto at = rt::memory_map(dup.value().get(), 0, 0);
    if (!at.ok()) {
        rt::log("victim: FAILED map: %s", status_name(at.status()));
        return 1;
    }
    auto* value = reinterpret_cast<volatile u64*>(at.value());
    rt::log("victim: mapped at 0x%llx, reads 0x%llx", static_cast<unsigned long long>(at.value()),
            static_cast<unsigned long long>(*value));
    (void)rt::notification_signal(rt::startup_handle("ready"), 1);
    (void)rt::notification_wait(rt::startup_handle("go"), abi::kForever);
    Status copy_state = rt::memory_map(mem, 0, 0).status();
    Status dup_state = rt::memory_map(dup.value().get(), 0, 0).status();
    rt::log("victim: after revoke: copy %s, duplicate %s; touching the old mapping", status_name(copy_state),
            status_name(dup_state));
    u64 v = *value;  // must fault: the mapping went with the revoked capability
    rt::log("victim: FAILED still reads 0x%llx", static_cast<unsigned long long>(v));
    return 1;
}
