// Supervising child processes with a restart policy: wait for deaths
// through one WaitSet, report each with its reason, restart failures
// (a fault, a kill or a non-zero exit) after a backoff until a limit.
// init supervises its processes with it, devmgr its providers.
#pragma once

#include "rt/sys.h"

namespace rt {

struct RestartRule {
    bool on_failure;  // false: never restart
    u32 limit;        // restarts before giving up (kHealthyRunNs starts the count over)
    u32 backoff_ms;   // delay before each restart
};

// A child that ran this long before it ended has its restart count start
// over: restart_limit bounds a crash loop, not a lifetime. Without it,
// five unrelated faults over weeks (a NIC provider failing closed on a
// device glitch, say) would take a device away for good. As systemd's
// StartLimitIntervalSec, in spirit.
constexpr u64 kHealthyRunNs = 60'000'000'000;

struct Supervised {
    Handle process;  // empty while not running
    u32 pid = 0;
    u32 restarts = 0;
    bool gave_up = false;
    u64 restart_at = 0;     // monotonic ns; 0 = no restart pending
    u64 started_at = 0;     // monotonic ns the supervisor first saw this incarnation (0: not yet)
    bool retrying = false;  // the last start asked to be tried again (not logged again)
};

class Supervisor {
public:
    struct Client {
        const char* who;  // log prefix ("init", "devmgr")
        const char* (*name)(void* ctx, u32 i);
        RestartRule (*rule)(void* ctx, u32 i);
        // Starts child i again; on success fills children[i].process / pid.
        // A child that cannot start yet (its device's previous grant is
        // still being torn down) sets children[i].restart_at to when to try
        // again and returns true: that try does not count as a restart.
        bool (*restart)(void* ctx, u32 i);
        void* ctx;
        // Optional: child i just ended (any way, restarted or not), before
        // its restart is scheduled — devmgr takes back the grants it was
        // given, copies included.
        void (*on_exit)(void* ctx, u32 i) = nullptr;
        // Optional: child i will not run again (its rule restarts nothing,
        // it exited cleanly, its restart limit was reached, or a restart
        // failed) — devmgr answers its consumers from then on.
        void (*on_ended)(void* ctx, u32 i) = nullptr;
        // Optional: children[i]'s pid, restarts, gave_up, restart_at or
        // retrying may have changed (after a death is handled, after each
        // restart attempt) — devmgr saves them for its successor.
        void (*on_changed)(void* ctx, u32 i) = nullptr;
        // Optional: an endpoint the supervisor also waits on (Readable);
        // on_request runs when a caller is queued. With one (or any
        // directories), run() never returns (the service outlives its
        // children).
        u32 service = 0;
        void (*on_request)(void* ctx) = nullptr;
        // Optional: more endpoints waited on the same way (devmgr's service
        // directories); on_directory_request(ctx, i) runs when a caller is
        // queued on directories[i]. Zero entries are skipped.
        const u32* directories = nullptr;
        u32 directory_count = 0;
        void (*on_directory_request)(void* ctx, u32 i) = nullptr;
        // Optional: one more object waited on for kSignalReady (devmgr's
        // device root: refusal events); on_ready runs when it signals.
        u32 ready_source = 0;
        void (*on_ready)(void* ctx) = nullptr;
    };

    Supervisor(Supervised* children, u32 count, const Client& client)
        : m_children(children), m_count(count), m_client(client) {}

    // Returns when nothing is running and no restart is pending.
    void run();

private:
    void on_death(u32 i);
    void handle_death(u32 i);
    void ended(u32 i);
    void changed(u32 i) {
        if (m_client.on_changed) m_client.on_changed(m_client.ctx, i);
    }
    Supervised* m_children;
    u32 m_count;
    Client m_client;
};

}  // namespace rt
