// The netstack's side of the Socket service's control calls
// (lib/protocol/socket.h: Attach, Detach, Ping, Info) on the endpoint init made
// for it (lib/protocol/service.h "A plain process's service"), and the
// per-client channels (netstack::SocketChannel) those calls set up.
//
// Who may attach, and with what policy (ports, socket quota), comes from
// the client table init hands over at startup, built from the manifest's
// `serve` lines: the caller's badge (minted by init; the caller cannot
// choose it) names its row. A badge not in the table is refused NoRights
// and logged. One channel per client: attaching again replaces it (the old
// one closed, its sockets aborted, its copies revoked) — a restarted
// client has no other way to reclaim what its predecessor held.
//
// Memory: for each attach the netstack creates the ring object, the data
// area and the client's kick notification, keeps them and hands the client
// derived copies; closing a channel revokes those copies, so a detached
// client's mappings go dead and it can touch nothing the next one gets.
//
// Threading: the netstack's one thread (it also runs lwIP).
#pragma once

#include "abi/ipc.h"
#include "netstack/socket_server.h"
#include "protocol/service.h"
#include "protocol/socket.h"
#include "rt/handle.h"
#include "rt/log.h"
#include "util/result.h"
#include "util/token_bucket.h"

namespace netstack_service {

class SocketService {
public:
    // Waitset keys: the endpoint, and kKeyKick + client row for each
    // live channel's kick notification.
    static constexpr u64 kKeyEndpoint = 0x5300;
    static constexpr u64 kKeyKick = 0x5310;

    // endpoint: serve|wait; table: the client table (read|map), copied
    // and checked here; waitset: the loop's, to which the endpoint and
    // every channel's kick are added.
    [[nodiscard]] Result<void> init(u32 endpoint, u32 table, u32 waitset);
    // Info: fills what the program knows of the stack and the NIC
    // (netstack::fill_info and the provider's part); this service adds its
    // own (clients, channels, sockets).
    using InfoFn = void (*)(void* ctx, abi::SocketInfo& out);
    void set_info_source(InfoFn fn, void* ctx) {
        m_info = fn;
        m_info_ctx = ctx;
    }
    bool serving() const { return m_endpoint != 0; }

    // Answers the calls queued on the endpoint (at most a few per turn).
    void serve_calls();
    // One turn of every live channel; signals each client that got
    // events. True when any channel published (lwIP may have output to
    // flush: the caller polls the stack again).
    bool poll();
    // A channel left work for the next turn (its UDP budget spent, or
    // lwIP or the NIC short of buffers): poll again soon, without waiting
    // for a signal (SocketChannel::more_work).
    bool more_work() const { return m_more; }

private:
    bool m_more = false;
    u32 m_first = 0;  // the client poll() starts with (rotates)
    struct Client {
        abi::ServeClient policy{};
        netstack::SocketChannel channel;
        rt::Handle rings, data, kick, note;  // the netstack's own; note: the client's (signal)
        // The last Info snapshot handed to this client (the netstack's
        // handle; the client's copy derives from it). Revoked at the next
        // Info: its frames are charged to the netstack, so a client that
        // kept every snapshot could otherwise spend the netstack's kernel
        // memory. At most one per client lives.
        rt::Handle info;
        u64 rings_at = 0, data_at = 0;
        u32 channel_id = 0;
        // What a client's calls can make the netstack do: log lines (its
        // refused calls, its channels' comings and goings) and Attaches,
        // each of which builds 2 MiB of fresh memory and closes the old
        // channel. Past them, calls are still answered (an Attach Busy),
        // but nothing more is logged or built.
        rt::LogBudget log{16, 4};
        util::TokenBucket attaches{kAttachBurst, kAttachesPerSecond};
    };
    static constexpr u32 kAttachBurst = 4, kAttachesPerSecond = 2;

    Client* find(u64 badge);
    void attach(abi::Message& m);
    void info(Client& c, abi::Message& m);
    bool live(const Client& c, const abi::Message& m) const;
    void close(Client& c, const char* why);

    InfoFn m_info = nullptr;
    void* m_info_ctx = nullptr;
    u32 m_endpoint = 0;
    u32 m_waitset = 0;
    u64 m_generation = 0;
    u32 m_attaches = 0;
    u32 m_count = 0;
    Client m_clients[abi::kServeMaxClients];
};

}  // namespace netstack_service
