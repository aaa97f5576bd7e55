#include "rt/service.h"

#include "protocol/message.h"
#include "rt/log.h"
#include "rt/sys.h"

namespace rt {

u32 open_service_instances(ServiceInstance* out, u32 max) {
    const abi::StartupBlock& s = startup();
    u32 n = 0;
    for (u32 i = 0; i < s.handle_count && n < max; i++) {
        const char* slot = s.handles[i].name;
        if (slot[0] != 's' || slot[1] != 'v' || slot[2] != 'c' || slot[3] != '.') continue;
        // Stale: the device manager died holding the call; the directory
        // outlives it (init keeps it) and its successor answers.
        constexpr u32 kStaleRetries = 8;
        for (u32 instance = 0, stale = 0; n < max; instance++) {
            abi::Message m{};
            abi::put_body(m, abi::ServiceOpenRequest{abi::ServiceOp::Open, instance});
            auto r = endpoint_call(s.handles[i].handle, m);
            if (!r.ok() && r.status() == Status::Stale && ++stale <= kStaleRetries) {
                instance--;
                continue;
            }
            auto reply = abi::body_of<abi::ServiceOpenReply>(m);
            Status status = reply.status;
            if (!r.ok() || m.length < sizeof reply) status = r.ok() ? Status::Truncated : r.status();
            if (status != Status::Ok || m.handle_count != 1) {
                if (r.ok())
                    for (u32 h = 0; h < m.handle_count; h++) (void)close(m.handles[h]);
                if (status != Status::NotFound) log("service %s, instance %u: %s", slot, instance, status_name(status));
                break;
            }
            ServiceInstance& e = out[n++];
            __builtin_memcpy(e.name, reply.name, abi::kServiceNameBytes);
            e.name[abi::kServiceNameBytes - 1] = 0;
            e.endpoint = Handle(m.handles[0]);
        }
    }
    return n;
}

bool receive_call(u32 endpoint, abi::Message& m) {
    m = abi::Message{};
    auto got = endpoint_receive(endpoint, m, 0);
    if (got.ok()) return true;
    if (got.status() == Status::Timeout) return false;
    for (u32 i = 0; i < m.handle_count && i < abi::kMessageHandles; i++)
        if (m.handles[i]) (void)close(m.handles[i]);
    abi::Message reply{};
    abi::put_body(reply, got.status());  // every reply of these protocols starts with its Status
    (void)endpoint_reply(reply);
    return false;
}

void refuse_call(abi::Message& call, Status status) {
    abi::Message reply{};
    abi::put_body(reply, status);
    (void)endpoint_reply(reply);
    for (u32 i = 0; i < call.handle_count && i < abi::kMessageHandles; i++)
        if (call.handles[i]) (void)close(call.handles[i]);
    call.handle_count = 0;
}

}  // namespace rt
