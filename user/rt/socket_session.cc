#include "rt/socket_session.h"

#include "rt/log.h"
#include "rt/sys.h"

namespace rt {

u64 SocketSession::clock() { return clock_ns(); }

Result<void> SocketSession::attach() {
    m_client.close();  // its memory goes with the old channel
    TRY(m_attach.attach());
    m_last_heard = clock();
    return m_client.open(m_attach.rings(), m_attach.data(), m_attach.data_bytes(), m_attach.max_sockets());
}

Result<void> SocketSession::flush() {
    if (!m_client.needs_signal()) return {};
    TRY(m_attach.kick());
    m_client.signalled();
    return {};
}

Result<void> SocketSession::turn(u64 timeout_ns) {
    const bool kick = m_client.needs_signal();
    if (kick) m_client.signalled();
    if (timeout_ns) {
        // Timeout is an answer too: events may still be there to take.
        if (auto r = m_attach.wait(timeout_ns, kick); !r.ok() && r.status() != Status::Timeout) return r.status();
    } else if (kick) {
        TRY(m_attach.kick());
    }
    const u32 taken = TRY(m_client.poll_events());
    if (taken) m_last_heard = clock();
    TRY(check_liveness(false));
    // Taking events may have queued requests (announcements retried).
    return flush();
}

Result<void> SocketSession::check_liveness(bool waiting) {
    const u64 now = clock();
    if (now - m_last_heard < kLivenessNs || (!waiting && now - m_last_heard < 2 * kLivenessNs)) return {};
    TRY(m_attach.ping());  // Stale: the netstack restarted, or replaced the channel
    m_last_heard = now;
    return {};
}

Result<net::SocketCompletion> SocketSession::answer(u64 tag, u64 deadline_ns) {
    for (;;) {
        // Answers to other requests stay in the client's queue, in order,
        // for take_completion(): none is ever dropped.
        net::SocketCompletion c;
        if (m_client.take_completion(tag, &c)) return c;
        if (!live()) return Status::Stale;
        const u64 now = clock();
        if (now >= deadline_ns) return Status::Timeout;
        TRY(check_liveness(true));
        TRY(turn(deadline_ns - now));
    }
}

}  // namespace rt
