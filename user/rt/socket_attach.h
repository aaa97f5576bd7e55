// A client's attachment to the netstack's Socket service
// (lib/protocol/socket.h): the control calls — Attach, Detach, Ping, Info — on
// the endpoint init granted it under "svc.<server>" (a plain process's
// service, lib/protocol/service.h), the shared memory mapped, and the two
// notifications kept. It moves no data: the request/event rings and the
// byte rings are driven through rings() and data() by a protocol library
// (or, in tests, by hand).
//
// Attaching again replaces the channel: the netstack closes the old one
// (its sockets aborted, its memory revoked), and this side drops its old
// mappings first.
#pragma once

#include "protocol/socket.h"
#include "rt/handle.h"
#include "util/result.h"

namespace rt {

class SocketAttach {
public:
    // `service`: the endpoint (call), e.g. startup_handle("svc.netstack").
    explicit SocketAttach(u32 service) : m_service(service) {}
    ~SocketAttach() { forget(); }
    SocketAttach(const SocketAttach&) = delete;
    SocketAttach& operator=(const SocketAttach&) = delete;

    // Attach (again): Ok with rings() and data() mapped; the netstack's
    // Status otherwise (NoRights: the manifest names no such client).
    Result<void> attach();
    // Detach: the channel and its sockets end (our mappings go first);
    // Stale when it was not live.
    Result<void> detach();
    // Ok while the channel is live; Stale when not (detached, replaced,
    // or a restarted netstack: attach again).
    Result<void> ping();
    bool attached() const { return m_rings != nullptr; }
    // Info: the netstack's snapshot (interface, addresses, counters),
    // copied into `out`; needs no channel. NoRights when the manifest names
    // no such client; Malformed for a reply that is not a snapshot.
    Result<void> info(abi::SocketInfo& out);

    // Tells the netstack requests were published.
    Result<void> kick();
    // Waits up to timeout_ns for the netstack's signal (events published):
    // the bits, or Timeout. kick_first: kick() in the same system call
    // (a client that publishes and then waits pays one call, not two).
    Result<u64> wait(u64 timeout_ns, bool kick_first = false);

    abi::SocketRings* rings() const { return m_rings; }
    u8* data() const { return m_data; }
    u32 data_bytes() const { return m_data_bytes; }
    u32 max_sockets() const { return m_max_sockets; }
    u32 channel() const { return m_channel; }
    u64 generation() const { return m_generation; }

private:
    void forget();
    Result<void> channel_call(abi::SocketOp op);

    u32 m_service;
    Handle m_note, m_ring_memory, m_data_memory, m_kick;
    abi::SocketRings* m_rings = nullptr;
    u8* m_data = nullptr;
    u32 m_data_bytes = 0, m_max_sockets = 0, m_channel = 0;
    u64 m_generation = 0;
};

}  // namespace rt
