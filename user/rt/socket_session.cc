#include "rt/socket_session.h"

#include "rt/log.h"
#include "rt/sys.h"

namespace rt {

u64 SocketSession::clock() { return clock_ns(); }

Result<void> SocketSession::attach() {
    m_client.close();  // its memory goes with the old channel
    m_stashed = 0;
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

bool SocketSession::take_completion(net::SocketCompletion* out) {
    if (m_stashed) {
        *out = m_stash[0];
        for (u32 i = 1; i < m_stashed; i++) m_stash[i - 1] = m_stash[i];
        m_stashed--;
        return true;
    }
    return m_client.take_completion(out);
}

Result<net::SocketCompletion> SocketSession::answer(u64 tag, u64 deadline_ns) {
    for (;;) {
        for (u32 i = 0; i < m_stashed; i++) {
            if (m_stash[i].tag != tag) continue;
            net::SocketCompletion c = m_stash[i];
            for (u32 k = i + 1; k < m_stashed; k++) m_stash[k - 1] = m_stash[k];
            m_stashed--;
            return c;
        }
        net::SocketCompletion c;
        while (m_client.take_completion(&c)) {
            if (c.tag == tag) return c;
            if (m_stashed == kStash) {
                // More unclaimed answers than a caller waiting on one
                // request can have: a caller's bug, said rather than hidden.
                log("socket session: an answer (op %u, %s) dropped while waiting for another", static_cast<u32>(c.op),
                    status_name(c.status));
                continue;
            }
            m_stash[m_stashed++] = c;
        }
        if (!live()) return Status::Stale;
        const u64 now = clock();
        if (now >= deadline_ns) return Status::Timeout;
        TRY(check_liveness(true));
        TRY(turn(deadline_ns - now));
    }
}

}  // namespace rt
