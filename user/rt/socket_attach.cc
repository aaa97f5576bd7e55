#include "rt/socket_attach.h"

#include "protocol/message.h"
#include "rt/rights.h"
#include "rt/sys.h"

namespace rt {

Result<void> SocketAttach::attach() {
    forget();  // the netstack replaces the channel: our old view goes first
    auto note = TRY(notification_create());
    auto note_copy = TRY(duplicate(note.get(), cap_rights::kSignal | cap_rights::kTransfer));
    abi::Message m{};
    abi::put_body(m, abi::SocketOpRequest{abi::SocketOp::Attach, 0});
    m.handle_count = 1;
    m.handles[0] = note_copy.release();
    TRY(endpoint_call(m_service, m));
    Status s = abi::reply_status(m);
    if (s == Status::Ok && (m.length < sizeof(abi::SocketAttachReply) || m.handle_count != 3)) s = Status::Malformed;
    auto reply = abi::body_of<abi::SocketAttachReply>(m);
    if (s == Status::Ok &&
        (reply.data_bytes == 0 || reply.max_sockets == 0 || reply.max_sockets > abi::kSocketMaxSockets))
        s = Status::Malformed;
    if (s != Status::Ok) {
        for (u32 k = 0; k < m.handle_count; k++) (void)close(m.handles[k]);
        return s;
    }
    Handle rings(m.handles[0]), data(m.handles[1]), kick(m.handles[2]);
    // Sizes checked, not taken from the reply: the client library writes
    // wherever data_bytes says.
    // A channel this side cannot use is given back at once (the netstack
    // would count it attached until the next Attach).
    m_channel = reply.channel;
    m_generation = reply.generation;
    auto give_back = [this](Status why) -> Result<void> {
        (void)channel_call(abi::SocketOp::Detach);
        return why;
    };
    auto rings_at = memory_map_checked(rings.get(), sizeof(abi::SocketRings), abi::kMapWrite);
    if (!rings_at.ok()) return give_back(rings_at.status());
    auto data_at = memory_map_checked(data.get(), reply.data_bytes, abi::kMapWrite);
    if (!data_at.ok()) {
        (void)memory_unmap(rings.get(), rings_at.value());
        return give_back(data_at.status());
    }
    m_note = static_cast<Handle&&>(note);
    m_ring_memory = static_cast<Handle&&>(rings);
    m_data_memory = static_cast<Handle&&>(data);
    m_kick = static_cast<Handle&&>(kick);
    m_rings = reinterpret_cast<abi::SocketRings*>(rings_at.value());
    m_data = reinterpret_cast<u8*>(data_at.value());
    m_data_bytes = reply.data_bytes;
    m_max_sockets = reply.max_sockets;
    return {};
}

void SocketAttach::forget() {
    if (m_rings) (void)memory_unmap(m_ring_memory.get(), reinterpret_cast<u64>(m_rings));
    if (m_data) (void)memory_unmap(m_data_memory.get(), reinterpret_cast<u64>(m_data));
    m_rings = nullptr;
    m_data = nullptr;
    m_ring_memory.reset();
    m_data_memory.reset();
    m_kick.reset();
    m_note.reset();
}

Result<void> SocketAttach::channel_call(abi::SocketOp op) {
    abi::Message m{};
    abi::put_body(m, abi::SocketChannelRequest{op, m_channel, m_generation});
    TRY(endpoint_call(m_service, m));
    if (Status s = abi::reply_status(m); s != Status::Ok) return s;
    return {};
}

Result<void> SocketAttach::detach() {
    forget();  // unmapped before the netstack revokes what they map
    return channel_call(abi::SocketOp::Detach);
}

Result<void> SocketAttach::ping() { return channel_call(abi::SocketOp::Ping); }

Result<void> SocketAttach::info(abi::SocketInfo& out) {
    abi::Message m{};
    abi::put_body(m, abi::SocketOpRequest{abi::SocketOp::Info, 0});
    TRY(endpoint_call(m_service, m));
    Status s = abi::reply_status(m);
    if (s == Status::Ok && (m.length < sizeof(abi::SocketInfoReply) || m.handle_count != 1)) s = Status::Malformed;
    auto reply = abi::body_of<abi::SocketInfoReply>(m);
    // A later version only grows the snapshot: read what we know of it.
    if (s == Status::Ok && (reply.version < abi::kSocketInfoVersion || reply.bytes < sizeof out)) s = Status::Malformed;
    if (s != Status::Ok) {
        for (u32 k = 0; k < m.handle_count; k++) (void)close(m.handles[k]);
        return s;
    }
    Handle snapshot(m.handles[0]);
    // Its size checked, not the reply's word taken. (The netstack keeps the
    // root and could revoke the snapshot while it is read here, faulting
    // this process: no call reads memory without mapping it. Clients trust
    // the netstack that far; docs/netstack.md.)
    u64 at = TRY(memory_map_checked(snapshot.get(), sizeof out, 0));
    __builtin_memcpy(&out, reinterpret_cast<const void*>(at), sizeof out);
    (void)memory_unmap(snapshot.get(), at);
    // Strings end inside their fields, whatever the netstack wrote.
    out.name[sizeof out.name - 1] = '\0';
    out.provider[sizeof out.provider - 1] = '\0';
    return {};
}

Result<void> SocketAttach::kick() {
    if (!m_kick) return Status::Stale;
    return notification_signal(m_kick.get(), 1);
}

Result<u64> SocketAttach::wait(u64 timeout_ns, bool kick_first) {
    if (!m_note || (kick_first && !m_kick)) return Status::Stale;
    return notification_wait(m_note.get(), timeout_ns, kick_first ? m_kick.get() : 0, kick_first ? 1 : 0);
}

}  // namespace rt
