// A process's session with the netstack's Socket service: the attachment
// (rt::SocketAttach: the control calls and the mapped memory) and the
// client library over it (net::SocketClient: requests, completions, byte
// rings), with the loop every socket program needs — what the client
// published goes to the netstack with the wait for its signal (one system
// call), its events are taken, and a request can be asked and waited for.
// The library stays free of system calls; this is the piece that makes
// them, so needs_signal()/signalled() are kept right in one place.
//
// Liveness: a netstack that died leaves this side's rings mapped and
// silent. After kLivenessNs without an event while a request is waited
// for, or kLivenessNs since the last check in any case, a Ping asks;
// Stale (a restarted netstack, the channel replaced) is returned, and the
// caller attaches again.
#pragma once

#include "net/socket_client.h"
#include "rt/socket_attach.h"
#include "util/result.h"

namespace rt {

class SocketSession {
public:
    static constexpr u64 kRequestTimeoutNs = 10'000'000'000;
    static constexpr u64 kLivenessNs = 2'000'000'000;

    // `service`: the endpoint init granted, e.g. startup_handle("svc.netstack").
    explicit SocketSession(u32 service) : m_attach(service) {}
    SocketSession(const SocketSession&) = delete;
    SocketSession& operator=(const SocketSession&) = delete;

    // Attach (again) and start the client over the new memory.
    Result<void> attach();
    net::SocketClient& client() { return m_client; }
    SocketAttach& attachment() { return m_attach; }
    bool live() const { return m_client.live(); }

    // Tells the netstack what the client published (requests, Send
    // announcements, rx room given back), if anything.
    Result<void> flush();
    // One turn: what the client published goes with a wait of up to
    // timeout_ns for the netstack's signal (one system call; no wait at
    // all when 0), then every event it published is taken. Malformed once
    // the netstack broke the protocol; Stale when the channel is gone.
    Result<void> turn(u64 timeout_ns);

    // The next answer (ask()/answer() leave the others queued, in order).
    bool take_completion(net::SocketCompletion* out) { return m_client.take_completion(out); }
    // Submits (again while the request ring is Busy) and waits for the
    // answer, up to timeout_ns; answers to other requests that come
    // meanwhile stay queued for take_completion().
    template <typename Submit>
    Result<net::SocketCompletion> ask(Submit submit, u64 timeout_ns = kRequestTimeoutNs) {
        const u64 deadline = clock() + timeout_ns;
        for (;;) {
            Result<u64> tag = submit();
            if (tag.ok()) return answer(tag.value(), deadline);
            if (tag.status() != Status::Busy) return tag.status();
            if (clock() >= deadline) return Status::Timeout;
            TRY(turn(deadline - clock()));
        }
    }
    // The answer to `tag` once it comes; Timeout at deadline_ns (the
    // request stays outstanding: answer() again for the same tag later).
    Result<net::SocketCompletion> answer(u64 tag, u64 deadline_ns);

private:
    static u64 clock();
    Result<void> check_liveness(bool waiting);

    SocketAttach m_attach;
    net::SocketClient m_client;
    u64 m_last_heard = 0;  // an event taken, or a Ping answered
};

}  // namespace rt
