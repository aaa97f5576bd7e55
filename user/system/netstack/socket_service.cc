#include "socket_service.h"

#include "protocol/message.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/service.h"
#include "rt/sys.h"

namespace netstack_service {
namespace {

using ull = unsigned long long;

constexpr u32 kClientMemoryRights = cap_rights::kRead | cap_rights::kWrite | cap_rights::kMap | cap_rights::kTransfer;
constexpr u32 kClientNoteRights = cap_rights::kSignal | cap_rights::kTransfer;
constexpr u32 kCallsPerTurn = 8;  // the endpoint cannot starve the stack
// Every client the table may hold gets shares that fit lwIP's pools
// (socket_shares; resolves and Echoes never wait on another client).
static_assert(abi::kServeMaxClients <= netstack::kSocketMaxClients);

}  // namespace

Result<void> SocketService::init(u32 endpoint, u32 table, u32 waitset) {
    // The table is init's (from the manifest), read once and checked: a
    // row out of range is a bug in init, and serving it anyway could give
    // a client more than the manifest says.
    u64 at = TRY(rt::memory_map_checked(table, sizeof(abi::ServeClientTable), 0));
    abi::ServeClientTable t;
    __builtin_memcpy(&t, reinterpret_cast<const void*>(at), sizeof t);
    (void)rt::memory_unmap(table, at);
    if (t.magic != abi::kServeTableMagic || t.count > abi::kServeMaxClients) return Status::Malformed;
    for (u32 i = 0; i < t.count; i++) {
        abi::ServeClient& row = t.clients[i];
        row.name[sizeof row.name - 1] = '\0';
        if (row.badge == 0 || row.port_count > abi::kServeMaxPorts || row.sockets == 0 ||
            row.sockets > abi::kSocketMaxSockets)
            return Status::Malformed;
        m_clients[i].policy = row;
    }
    m_count = t.count;
    m_generation = u64{rt::startup().pid} << 40 ^ rt::clock_ns();
    TRY(rt::waitset_add(waitset, endpoint, abi::kSignalReadable, kKeyEndpoint));
    m_endpoint = endpoint;
    m_waitset = waitset;
    for (u32 i = 0; i < m_count; i++) {
        const abi::ServeClient& c = m_clients[i].policy;
        rt::log("netstack: serving sockets to %s (badge %llu): %u ports, %u sockets", c.name, static_cast<ull>(c.badge),
                c.port_count, c.sockets);
    }
    return {};
}

SocketService::Client* SocketService::find(u64 badge) {
    for (u32 i = 0; i < m_count; i++)
        if (m_clients[i].policy.badge == badge) return &m_clients[i];
    return nullptr;
}

void SocketService::serve_calls() {
    for (u32 n = 0; n < kCallsPerTurn; n++) {
        abi::Message m;
        if (!rt::receive_call(m_endpoint, m)) return;  // nobody called, or already answered
        if (m.length < sizeof(abi::SocketOp)) {
            rt::log("netstack: call refused (badge %llu): %u bytes", static_cast<ull>(m.badge), m.length);
            rt::refuse_call(m, Status::Truncated);
            continue;
        }
        auto op = abi::body_of<abi::SocketOp>(m);
        // A directory walker (rt::open_service_instances) asks for
        // instances: there are none, the endpoint is the service itself.
        if (static_cast<abi::ServiceOp>(op) == abi::ServiceOp::Open) {
            for (u32 i = 0; i < m.handle_count; i++) (void)rt::close(m.handles[i]);
            abi::Message reply{};
            abi::put_body(reply, abi::ServiceOpenReply{Status::NotFound, 0, {}});
            (void)rt::endpoint_reply(reply);
            continue;
        }
        Client* c = find(m.badge);
        if (c == nullptr) {
            rt::log("netstack: call refused: badge %llu is no client the manifest names: %s", static_cast<ull>(m.badge),
                    status_name(Status::NoRights));
            rt::refuse_call(m, Status::NoRights);
            continue;
        }
        if (op == abi::SocketOp::Attach) {
            attach(m);
            continue;
        }
        if (op == abi::SocketOp::Info) {
            info(*c, m);
            continue;
        }
        Status st = Status::InvalidArgument;
        if (op == abi::SocketOp::Detach) {
            st = live(*c, m) ? Status::Ok : Status::Stale;
            if (st == Status::Ok) close(*c, "detached");
        } else if (op == abi::SocketOp::Ping) {
            st = live(*c, m) ? Status::Ok : Status::Stale;
        }
        if (st != Status::Ok)
            c->log.log("netstack: %s: %s refused: %s", c->policy.name,
                       op == abi::SocketOp::Detach ? "detach"
                       : op == abi::SocketOp::Ping ? "ping"
                                                   : "call",
                       status_name(st));
        rt::refuse_call(m, st);  // the bare status: the whole reply of Detach and Ping
    }
}

bool SocketService::live(const Client& c, const abi::Message& m) const {
    if (!c.channel.live() || m.length < sizeof(abi::SocketChannelRequest)) return false;
    auto r = abi::body_of<abi::SocketChannelRequest>(m);
    return r.generation == m_generation && r.channel == c.channel_id;
}

void SocketService::close(Client& c, const char* why) {
    if (c.channel_id != 0)
        c.log.log("netstack: %s: channel %u closed (%s): %llu requests, %llu refused", c.policy.name, c.channel_id, why,
                  static_cast<ull>(c.channel.counters().requests), static_cast<ull>(c.channel.counters().refused));
    c.channel.close();
    (void)rt::waitset_remove(m_waitset, kKeyKick + static_cast<u64>(&c - m_clients));
    // Revoking what the copies derive from kills the client's mappings:
    // the next channel's memory is fresh, nothing of this one reaches it.
    if (c.rings) {
        (void)rt::memory_unmap(c.rings.get(), c.rings_at);
        (void)rt::revoke(c.rings.get());
    }
    if (c.data) {
        (void)rt::memory_unmap(c.data.get(), c.data_at);
        (void)rt::revoke(c.data.get());
    }
    if (c.kick) (void)rt::revoke(c.kick.get());
    c.rings.reset();
    c.data.reset();
    c.kick.reset();
    c.note.reset();
    c.rings_at = c.data_at = 0;
    c.channel_id = 0;
}

void SocketService::attach(abi::Message& m) {
    Client& c = *find(m.badge);
    auto refuse = [&](Status s, const char* why) {
        c.log.log("netstack: %s: attach refused: %s: %s", c.policy.name, why, status_name(s));
        rt::refuse_call(m, s);
    };
    if (!c.attaches.take(rt::clock_ns()))  // the old channel stays as it was
        return refuse(Status::Busy, "attaching too often (kAttachBurst at once, kAttachesPerSecond after)");
    if (m.handle_count != 1) return refuse(Status::InvalidArgument, "expected one notification");
    // The same client attaching again (restarted, or starting over):
    // its old channel goes, sockets and all.
    if (c.channel.live() || c.rings) close(c, "the client attaches again");
    rt::Handle note(m.handles[0]);
    m.handle_count = 0;
    // A signal of no bits checks that it is a notification we may signal.
    if (auto s = rt::notification_signal(note.get(), 0); !s.ok()) return refuse(s.status(), "the notification");
    auto rings = rt::memory_create(abi::kSocketRingBytes);
    if (!rings.ok()) return refuse(rings.status(), "ring memory");
    auto rings_at = rt::memory_map(rings.value().get(), 0, abi::kMapWrite);
    if (!rings_at.ok()) return refuse(rings_at.status(), "ring mapping");
    auto data = rt::memory_create(abi::kSocketDataBytes);
    if (!data.ok()) {
        (void)rt::memory_unmap(rings.value().get(), rings_at.value());
        return refuse(data.status(), "data area");
    }
    auto data_at = rt::memory_map(data.value().get(), 0, abi::kMapWrite);
    c.rings = static_cast<rt::Handle&&>(rings.value());
    c.rings_at = rings_at.value();
    if (!data_at.ok()) {
        close(c, "no data mapping");
        return refuse(data_at.status(), "data mapping");
    }
    c.data = static_cast<rt::Handle&&>(data.value());
    c.data_at = data_at.value();
    auto kick = rt::notification_create();
    if (!kick.ok()) {
        close(c, "no notification");
        return refuse(kick.status(), "notification");
    }
    c.kick = static_cast<rt::Handle&&>(kick.value());
    auto rings_copy = rt::duplicate(c.rings.get(), kClientMemoryRights);
    auto data_copy = rt::duplicate(c.data.get(), kClientMemoryRights);
    auto kick_copy = rt::duplicate(c.kick.get(), kClientNoteRights);
    const u64 key = kKeyKick + static_cast<u64>(&c - m_clients);
    if (!rings_copy.ok() || !data_copy.ok() || !kick_copy.ok() ||
        !rt::waitset_add(m_waitset, c.kick.get(), abi::kSignalReady | abi::kWaitTake, key).ok()) {
        close(c, "no copies");
        return refuse(Status::NoMemory, "copies for the client");
    }
    // Every client named may be attached at once: each gets its share of
    // lwIP's pools for that many (socket_server.h, socket_shares).
    netstack::SocketClientConfig config = netstack::socket_shares(m_count);
    config.badge = c.policy.badge;
    config.ports = c.policy.ports;
    config.port_count = c.policy.port_count;
    config.max_sockets = c.policy.sockets;
    if (auto r = c.channel.open(reinterpret_cast<abi::SocketRings*>(c.rings_at), reinterpret_cast<u8*>(c.data_at),
                                abi::kSocketDataBytes, config);
        !r.ok()) {
        close(c, "the channel did not open");
        return refuse(r.status(), "channel");
    }
    c.note = static_cast<rt::Handle&&>(note);
    c.channel_id = ++m_attaches;
    abi::Message reply{};
    abi::put_body(
        reply, abi::SocketAttachReply{Status::Ok, c.channel_id, abi::kSocketDataBytes, c.policy.sockets, m_generation});
    reply.handle_count = 3;
    reply.handles[0] = rings_copy.value().release();
    reply.handles[1] = data_copy.value().release();
    reply.handles[2] = kick_copy.value().release();
    c.log.log("netstack: %s: channel %u attached: %u sockets, ports granted %u", c.policy.name, c.channel_id,
              c.policy.sockets, c.policy.port_count);
    if (!rt::endpoint_reply(reply).ok()) {
        // The copies did not reach it (its table full): they are ours
        // still, and closed with the channel.
        for (u32 i = 0; i < reply.handle_count; i++) (void)rt::close(reply.handles[i]);
        close(c, "the reply did not reach the client");
    }
}

// A fresh object per call, written once and handed over read-only: the
// client can neither change what another client reads nor watch later
// snapshots through an old handle. The netstack keeps the root of each
// client's last one and revokes it at the client's next Info (Client::info).
void SocketService::info(Client& c, abi::Message& m) {
    auto refuse = [&](Status s, const char* why) {
        c.log.log("netstack: %s: info refused: %s: %s", c.policy.name, why, status_name(s));
        rt::refuse_call(m, s);
    };
    if (m.handle_count != 0) return refuse(Status::InvalidArgument, "Info carries no handle");
    if (c.info) {
        (void)rt::revoke(c.info.get());
        c.info.reset();
    }
    abi::SocketInfo snap{};
    if (m_info) m_info(m_info_ctx, snap);
    snap.clients = m_count;
    for (u32 i = 0; i < m_count; i++) {
        if (!m_clients[i].channel.live()) continue;
        snap.attached++;
        snap.sockets_open += m_clients[i].channel.open_sockets();
    }
    auto memory = rt::memory_create(abi::kSocketInfoBytes);
    if (!memory.ok()) return refuse(memory.status(), "memory");
    auto at = rt::memory_map(memory.value().get(), 0, abi::kMapWrite);
    if (!at.ok()) return refuse(at.status(), "mapping");
    __builtin_memcpy(reinterpret_cast<void*>(at.value()), &snap, sizeof snap);
    (void)rt::memory_unmap(memory.value().get(), at.value());
    auto copy = rt::duplicate(memory.value().get(), cap_rights::kRead | cap_rights::kMap | cap_rights::kTransfer);
    if (!copy.ok()) return refuse(Status::NoMemory, "a copy for the client");
    abi::Message reply{};
    abi::put_body(reply, abi::SocketInfoReply{Status::Ok, abi::kSocketInfoVersion, sizeof snap});
    reply.handle_count = 1;
    reply.handles[0] = copy.value().release();
    if (!rt::endpoint_reply(reply).ok()) {
        (void)rt::close(reply.handles[0]);
        return;
    }
    c.info = static_cast<rt::Handle&&>(memory.value());
}

bool SocketService::poll() {
    bool any = false;
    m_more = false;
    // Each turn starts with the next client: when the NIC or lwIP's heap
    // is the bottleneck, the first polled takes what came free, and a fixed
    // order would let the first row starve the others.
    m_first = m_count ? (m_first + 1) % m_count : 0;
    for (u32 k = 0; k < m_count; k++) {
        Client& c = m_clients[(m_first + k) % m_count];
        if (!c.channel.live()) {
            if (c.rings) close(c, c.channel.broken() ? "the client broke the ring protocol" : "closed");
            continue;
        }
        bool published = c.channel.poll();
        m_more |= c.channel.more_work();
        if (!published) continue;
        any = true;
        if (auto s = rt::notification_signal(c.note.get(), 1); !s.ok()) close(c, "its notification is gone");
    }
    return any;
}

}  // namespace netstack_service
