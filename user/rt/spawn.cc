#include "rt/spawn.h"

namespace rt {

Result<Handle> spawn(u32 resource, const char* module, const Grant* grants, u32 count, u32 priority, const char* args,
                     u64 kernel_memory) {
    if (count > abi::kStartupHandles) return Status::InvalidArgument;
    abi::SpawnRequest req{};
    u32 len = 0;
    while (module[len] && len < sizeof req.module) {
        req.module[len] = module[len];
        len++;
    }
    req.module_len = len;
    req.priority = priority;
    req.handle_count = count;
    for (u32 i = 0; i < count; i++) {
        for (u32 k = 0; grants[i].name[k] && k + 1 < abi::kHandleNameBytes; k++)
            req.handles[i].name[k] = grants[i].name[k];
        req.handles[i].handle = grants[i].handle;
        req.handles[i].rights = grants[i].rights;
        if (grants[i].copy) req.copy_mask |= 1u << i;
    }
    for (u32 i = 0; args[i] && i + 1 < abi::kArgsBytes; i++) req.args[i] = args[i];
    req.kernel_memory = kernel_memory;
    return process_spawn(resource, req);
}

Result<abi::ProcessInfo> wait_for_exit(u32 process, u64 timeout_ns) {
    Handle ws = TRY(waitset_create());
    TRY(waitset_add(ws.get(), process, abi::kSignalDead, 1));
    abi::WaitEvent ev;
    TRY(waitset_wait(ws.get(), &ev, 1, timeout_ns));
    return process_info(process);
}

}  // namespace rt
