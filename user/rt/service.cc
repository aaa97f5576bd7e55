#include "rt/service.h"

#include "rt/log.h"
#include "rt/sys.h"

namespace rt {

u32 open_service_instances(ServiceInstance* out, u32 max) {
    const abi::StartupBlock& s = startup();
    u32 n = 0;
    for (u32 i = 0; i < s.handle_count && n < max; i++) {
        const char* slot = s.handles[i].name;
        if (slot[0] != 's' || slot[1] != 'v' || slot[2] != 'c' || slot[3] != '.') continue;
        for (u32 instance = 0; n < max; instance++) {
            abi::Message m{};
            u32 op = static_cast<u32>(abi::ServiceOp::Open);
            __builtin_memcpy(m.data, &op, 4);
            __builtin_memcpy(m.data + 4, &instance, 4);
            m.length = 8;
            auto r = endpoint_call(s.handles[i].handle, m);
            i32 status = 0;
            if (r.ok() && m.length >= 8 + abi::kServiceNameBytes) __builtin_memcpy(&status, m.data, 4);
            else status = static_cast<i32>(r.ok() ? Status::Truncated : r.status());
            if (status != 0 || m.handle_count != 1) {
                if (r.ok())
                    for (u32 h = 0; h < m.handle_count; h++) (void)close(m.handles[h]);
                if (status != static_cast<i32>(Status::NotFound))
                    log("service %s, instance %u: %s", slot, instance, status_name(static_cast<Status>(status)));
                break;
            }
            ServiceInstance& e = out[n++];
            __builtin_memcpy(e.name, m.data + 8, abi::kServiceNameBytes);
            e.name[abi::kServiceNameBytes - 1] = 0;
            e.endpoint = Handle(m.handles[0]);
        }
    }
    return n;
}

}  // namespace rt
