// A NIC provider's NetDevice service (lib/protocol/net.h, DESIGN §6): the
// part of the network path that needs the kernel, mirroring
// rt::BlockServer. It answers the service endpoint (Info, Attach, Detach,
// Ping), creates the packet buffer once (slots live across channels: the
// device may hold some when a client goes) and each channel's ring memory
// and kick notification, hands the client derived copies, and runs the
// service loop: the device's completions to the client, the client's
// slots to the device, in batches, one notification each way per pass.
// Who holds each slot and every check of what the client writes is
// lib/net/provider_channel.h. A driver writes the NetBackend:
//
//     static MyBackend backend(...);
//     static rt::NetServer server(backend, {"name", endpoint, pool});
//     TRY(server.init());
//     server.run();
//
// One client at a time: a second Attach while a channel is live is Busy.
// A client breaking the protocol has its channel closed (its copies
// revoked), logged against it; the provider keeps serving.
//
// Threading: run() is the provider's one service thread.
#pragma once

#include "abi/ipc.h"
#include "net/frame_io.h"
#include "net/provider_channel.h"
#include "protocol/net.h"
#include "rt/handle.h"
#include "util/result.h"

namespace rt {

// The device side of a NIC provider.
class NetBackend {
public:
    struct Completion {
        bool rx;        // a receive slot (else a transmit one)
        u32 slot;       // as posted
        u32 length;     // rx: the frame's bytes (0: nothing usable; the reason was logged)
        Status status;  // tx: Ok, or why it was not sent
    };
    virtual ~NetBackend() = default;

    // MAC, MTU and link as the device says now.
    virtual net::LinkInfo link() = 0;
    // The packet buffer the server created (slot i at i * slot_bytes), to
    // post from. Called once, before anything is posted.
    virtual Result<void> use_packet_buffer(u32 buffer, u32 slot_bytes, u32 slot_count) = 0;
    // How many slots the device can take now, and handing them over: the
    // number posted (the first ones; `why` says what stopped the rest,
    // which the server gives back to the client). Each call costs the
    // driver as few broker calls as it can (virtio: one per 64 slots).
    virtual u32 rx_room() const = 0;
    virtual u32 post_rx(const u32* slots, u32 count, Status& why) = 0;
    virtual u32 tx_room() const = 0;
    virtual u32 post_tx(const net::TxFrame* frames, u32 count, Status& why) = 0;
    // What the device has finished since the last call, up to `max`;
    // `more`: a queue may hold more (it gave as many entries as asked,
    // counting those it refused). TornDown: the grant is gone (the server
    // ends the provider). every_queue: the periodic check or a timed wake,
    // when a backend must look at every queue (it may leave one for later
    // on an interrupt's wake).
    virtual Result<u32> reap(Completion* out, u32 max, bool& more, bool every_queue) = 0;
    // The interrupts the server waits on (Ready | Dead) and acknowledges
    // (reap() reads the queues after the acknowledgement).
    virtual u32 irq_count() const = 0;
    virtual u32 irq(u32 i) const = 0;
    // An interrupt of irq(i) fired: re-arm it. Returns true when it was the
    // configuration's (the server then asks link() again).
    virtual bool acknowledge(u32 i) = 0;
    // Why the device cannot be trusted any more — it lied about a
    // completion (the chain stays held), said it needs a reset, or left a
    // transmit uncompleted past the driver's deadline — or nullptr. Asked
    // after every reap and link check: the server then exits (fails
    // closed), the kernel resets the device as the grant goes, and devmgr
    // starts a new provider the client reattaches to. Nothing is lost but
    // frames in flight, which the stack sends again.
    virtual const char* fault() const = 0;
};

class NetServer {
public:
    struct Config {
        const char* name;  // log prefix ("virtio-net")
        u32 endpoint;      // the service endpoint (0: serve no one)
        u32 pool;          // the DMA pool the packet buffer comes from
    };
    // Receive refill: waiting buffers go to the device this many at a
    // time, or all at once while it has room for kRxRefillAllAtRoom.
    static constexpr u32 kRxRefillBatch = 16, kRxRefillAllAtRoom = 64;

    NetServer(NetBackend& backend, const Config& config) : m_backend(backend), m_config(config) {}
    Result<void> init();
    [[noreturn]] void run();

private:
    void serve_call();
    void attach(abi::Message& m);
    bool live_channel(const abi::Message& m) const;
    // Closes the live channel; logs why (`why`, else the channel's refusal).
    void close_channel(const char* why, Status status, bool log = true);
    // Takes what the client published and posts it; reap: read the
    // device's completions first (after an interrupt or a timed wake).
    void pump(bool reap, bool every_queue = false);
    void refused_post(const char* queue, u32 count, Status why);
    void post_waiting();
    void link_check();
    [[noreturn]] void grant_gone();
    [[noreturn]] void fail_closed(const char* why);

    NetBackend& m_backend;
    Config m_config;
    net::ProviderChannel m_channel;
    Handle m_ws, m_packet;
    net::LinkInfo m_link{};
    // The live channel's.
    Handle m_ring_memory, m_client_note, m_kick;
    bool m_signal_client = false;  // published since the client was last told
    u32 m_refused_posts = 0;
    u64 m_badge = 0;
    u32 m_channel_id = 0;
    u64 m_attaches = 0;
    u64 m_generation = 0;
    // Slots taken from the client's rings (checked, the device's in the
    // ledger) and not yet posted: the device had no room. Taking them at
    // once means every descriptor the client writes is checked at the next
    // pass, whatever the device's queues hold.
    u32 m_rx_wait[abi::kNetBufferCount] = {};
    u32 m_rx_wait_count = 0;
    net::TxFrame m_tx_wait[abi::kNetBufferCount] = {};
    u32 m_tx_wait_count = 0;
    // Counters, for the log line at a close.
    u64 m_rx_frames = 0, m_tx_frames = 0;
    u64 m_client_signals = 0, m_kicks = 0;  // notifications each way
};

}  // namespace rt
