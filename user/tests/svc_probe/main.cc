// svc_probe: a consumer of a device service directory (lib/protocol/service.h),
// as the manifest grants it ("svc.<provider>", call). It reports what it
// may and may not do, one line each, for the service_directory scenario:
//  1. open every instance; each answers Identity with its controller's
//     serial (the scenario compares it with QEMU's command line);
//  2. the directory refuses what is not an Open (a device request, a
//     short message) and answers an index past the last with NotFound and
//     the instance count;
//  3. the consumer holds call on the directory and call|transfer on the
//     instances: it can neither serve them (impersonate devmgr or a
//     provider) nor widen its rights by duplicating;
//  4. every Open is badged: a channel attached through one opening
//     answers Ping only to it — through another opening (another
//     consumer, as far as the provider can tell) the same channel id and
//     generation are Stale for Ping and Detach, and the channel lives on;
//  5. an Attach whose notification is not one is refused (wrong-type).
#include "protocol/block.h"
#include "protocol/message.h"
#include "protocol/service.h"
#include "rt/block_client.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/service.h"
#include "rt/sys.h"

namespace {

// One directory request (`length` bytes of it: fewer for a short one);
// returns the Status in the reply (or the call's).
Status ask(u32 directory, u32 op, u32 index, u32 length, u32* count) {
    abi::Message m{};
    abi::put_body(m, abi::ServiceOpenRequest{static_cast<abi::ServiceOp>(op), index});
    m.length = length;
    auto r = rt::endpoint_call(directory, m);
    if (!r.ok()) return r.status();
    for (u32 h = 0; h < m.handle_count; h++) (void)rt::close(m.handles[h]);
    auto reply = abi::body_of<abi::ServiceOpenReply>(m);
    *count = reply.count;
    return reply.status;
}

}  // namespace

int main(u64) {
    u32 directory = rt::startup_handle("svc.nvme0");
    if (!directory) return rt::log("svc_probe: FAILED: no svc.nvme0 slot"), 1;

    static rt::ServiceInstance instances[4];
    u32 n = rt::open_service_instances(instances, 4);
    rt::log("svc_probe: %u instance(s)", n);
    for (u32 i = 0; i < n; i++) {
        rt::BlockClient c(instances[i].endpoint.get());
        auto info = c.info(0);
        auto id = c.identity(0);
        rt::log("svc_probe: instance '%s': serial '%s', %u-byte blocks", instances[i].name,
                id.ok() ? id.value().serial : status_name(id.status()), info.ok() ? info.value().block_size : 0);
    }

    u32 count = 0;
    Status s = ask(directory, static_cast<u32>(abi::BlockOp::Info), 0, 8, &count);
    rt::log("svc_probe: device request to the directory: %s", status_name(s));
    s = ask(directory, static_cast<u32>(abi::ServiceOp::Open), 0, 4, &count);
    rt::log("svc_probe: short open: %s", status_name(s));
    s = ask(directory, static_cast<u32>(abi::ServiceOp::Open), n, 8, &count);
    rt::log("svc_probe: open instance %u: %s, %u instance(s)", n, status_name(s), count);

    abi::Message m{};
    rt::log("svc_probe: receive on the directory: %s", status_name(rt::endpoint_receive(directory, m, 0).status()));
    if (n) {
        u32 ep = instances[0].endpoint.get();
        rt::log("svc_probe: receive on an instance: %s", status_name(rt::endpoint_receive(ep, m, 0).status()));
        rt::log("svc_probe: duplicate an instance with serve: %s",
                status_name(rt::duplicate(ep, cap_rights::kCall | cap_rights::kServe).status()));
    }
    if (n) {
        static rt::ServiceInstance other[4];
        u32 m2 = rt::open_service_instances(other, 4);
        rt::BlockClient mine(instances[0].endpoint.get());
        Status attached = mine.attach(65536).status();
        rt::log("svc_probe: attach: %s; ping: %s", status_name(attached), status_name(mine.ping().status()));
        for (abi::BlockOp op : {abi::BlockOp::Ping, abi::BlockOp::Detach}) {
            abi::Message forged{};
            abi::put_body(forged, abi::BlockChannelRequest{op, mine.channel(), mine.generation()});
            Status s2 = m2 ? rt::endpoint_call(other[0].endpoint.get(), forged).status() : Status::NotFound;
            rt::log("svc_probe: %s of my channel through another opening: %s",
                    op == abi::BlockOp::Ping ? "ping" : "detach",
                    status_name(s2 == Status::Ok ? abi::body_of<abi::BlockStatusReply>(forged).status : s2));
        }
        rt::log("svc_probe: my channel afterwards: %s", status_name(mine.ping().status()));
        // An Attach whose "notification" is a memory object: refused, not
        // left to fail the provider's loop later.
        auto not_a_note = rt::memory_create(4096);
        if (not_a_note.ok()) {
            abi::Message a{};
            abi::put_body(a, abi::BlockAttachRequest{abi::BlockOp::Attach, 0});
            a.handle_count = 1;
            a.handles[0] = not_a_note.value().release();
            Status s3 = rt::endpoint_call(instances[0].endpoint.get(), a).status();
            rt::log("svc_probe: attach with a memory object for the notification: %s",
                    status_name(s3 == Status::Ok ? abi::body_of<abi::BlockStatusReply>(a).status : s3));
        }
    }
    rt::log("svc_probe: done");
    return 0;
}
