// A storage provider's BlockDevice service (lib/protocol/block.h, DESIGN
// §6): the part of the block layer that needs the kernel. It answers the
// service endpoint (Info, Identity, Attach, Detach, Ping), creates each
// channel's rings, data buffer and kick notification, hands consumers
// derived copies, and runs the service loop; the data path — taking
// requests, validating, splitting, submitting, retrying, timeouts,
// completions — is the engine's (lib/block/engine.h), over the driver's
// block::Backend. A driver writes the backend and this does the rest:
//
//     static MyBackend backend(...);
//     static rt::BlockServer server(backend, {"name", endpoint, pool, irq, timeout_ns});
//     TRY(server.init());
//     server.run();
//
// Never trusting a consumer: the provider creates each channel's memory
// and keeps the capabilities; the consumer's copies can be neither shrunk
// nor revoked from under it (a revoke on a copy reaches only copies made
// from it). A consumer's calls are answered only for its own channels (the
// badge of the endpoint capability it called with; lib/protocol/
// service.h), a consumer holds at most kChannelsPerConsumer channels, and
// a channel id names the attach as well as the slot, so an id that outlived
// its channel is Stale, never another's.
//
// Threading: run() is the provider's one service thread.
#pragma once

#include "abi/ipc.h"
#include "block/engine.h"
#include "rt/handle.h"
#include "util/result.h"

namespace rt {

class BlockServer final : block::Host {
public:
    struct Config {
        const char* name;  // log prefix ("nvme")
        u32 endpoint;      // the service endpoint (0: serve no one)
        u32 pool;          // the DMA pool data buffers come from
        u32 irq;           // the device's completion interrupt (kSignalDead: the grant went)
        u64 timeout_ns;    // a command without an outcome this long resets the device
    };
    static constexpr u32 kMaxChannels = block::Engine::kMaxChannels;
    // Channels one consumer may hold: the others always find one free.
    static constexpr u32 kChannelsPerConsumer = 2;
    static constexpr u64 kDefaultDataBytes = 1ull << 20;

    BlockServer(block::Backend& backend, const Config& config)
        : m_backend(backend), m_config(config), m_engine(backend, *this, config.name, config.timeout_ns) {}
    Result<void> init();
    [[noreturn]] void run();

private:
    // The channel id a consumer is given names the slot (low bits) and the
    // attach (the rest).
    static constexpr u32 kChannelIndexMask = 0xff;
    struct Channel {
        u64 attached_seq = 0;  // attach order, for replacing a consumer's oldest
        u64 badge = 0;         // of the consumer's endpoint capability: only it may ping or detach
        Handle ring_memory, consumer_note, request_note, data;
    };
    u32 channel_id(u32 ch) const { return static_cast<u32>(m_channels[ch].attached_seq << 8) | ch; }

    // block::Host
    u64 now_ns() override;
    void log(const char* line) override;
    void closing(u32 ch, const char* why) override;
    void released(u32 ch) override;

    void serve_call();

    [[noreturn]] void grant_gone();  // logs and ends the provider
    void attach(abi::Message& m);
    void detach(abi::Message& m);
    u32 channel_of(const abi::Message& m) const;
    // Signals every channel in `mask` but one, whose index it returns
    // (kMaxChannels: none) for the next wait to signal.
    u32 signal_all_but_one(u32 mask);

    block::Backend& m_backend;
    Config m_config;
    block::Engine m_engine;
    Channel m_channels[kMaxChannels];
    u64 m_attach_seq = 0;
    u64 m_generation = 0;  // this provider process's; echoed by consumers (Ping, Detach)
    Handle m_ws;
};

}  // namespace rt
