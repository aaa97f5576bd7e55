#include "rt/socket_session.h"

namespace rt {

Result<void> SocketSession::attach() {
    m_client.close();  // its memory goes with the old channel
    TRY(m_attach.attach());
    return m_client.open(m_attach.rings(), m_attach.data(), m_attach.data_bytes(), m_attach.max_sockets());
}

Result<void> SocketSession::flush() {
    if (!m_client.needs_signal()) return {};
    TRY(m_attach.kick());
    m_client.signalled();
    return {};
}

Result<void> SocketSession::turn(u64 timeout_ns) {
    TRY(flush());
    if (timeout_ns) {
        // Timeout is an answer too: events may still be there to take.
        if (auto r = m_attach.wait(timeout_ns); !r.ok() && r.status() != Status::Timeout) return r.status();
    }
    TRY(m_client.poll_events());
    // Taking events may have queued requests (announcements retried).
    return flush();
}

}  // namespace rt
