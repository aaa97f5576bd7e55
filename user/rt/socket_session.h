// A process's session with the netstack's Socket service: the attachment
// (rt::SocketAttach: the control calls and the mapped memory) and the
// client library over it (net::SocketClient: requests, completions, byte
// rings), with the one loop every socket program needs — signal the
// netstack when the client published something, wait for its signal,
// take its events. The library stays free of system calls; this is the
// piece that makes them, so needs_signal()/signalled() are kept right in
// one place.
#pragma once

#include "net/socket_client.h"
#include "rt/socket_attach.h"
#include "util/result.h"

namespace rt {

class SocketSession {
public:
    // `service`: the endpoint init granted, e.g. startup_handle("svc.netstack").
    explicit SocketSession(u32 service) : m_attach(service) {}
    SocketSession(const SocketSession&) = delete;
    SocketSession& operator=(const SocketSession&) = delete;

    // Attach (again) and start the client over the new memory.
    Result<void> attach();
    net::SocketClient& client() { return m_client; }
    const SocketAttach& attachment() const { return m_attach; }

    // Tells the netstack what the client published (requests, rx room given
    // back), if anything.
    Result<void> flush();
    // One turn: flush(), wait up to timeout_ns for the netstack's signal
    // (no wait at all when 0), take every event it published. Malformed
    // once the netstack broke the protocol; Stale when the channel is gone.
    Result<void> turn(u64 timeout_ns);

private:
    SocketAttach m_attach;
    net::SocketClient m_client;
};

}  // namespace rt
