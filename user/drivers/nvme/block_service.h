// The NVMe provider's BlockDevice service (lib/abi/block.h, DESIGN §6):
// consumers attach over the service endpoint, then queue requests in
// shared rings; this turns them into NVMe commands (split to the
// controller's transfer limit), submits them in batches through the broker
// and answers each request with one completion.
//
// Never trusting a consumer: every request is checked against the device's
// size and the channel's data buffer before anything is submitted, and a
// bad one gets its own error completion — it costs the consumer that
// request, nothing else. Commands that outlive their timeout make the
// controller reset (the broker releases what was in flight) and are
// submitted again on the new queues, once. A command the device fails
// goes again once when its status allows a retry (DNR clear); the
// request's completion then carries the Status the NVMe status maps to
// (nvme::io_status: MediaError, OutOfBounds, ReadOnly, ...) and the raw
// status field.
#pragma once

#include "abi/block.h"
#include "abi/ipc.h"
#include "abi/nvme.h"
#include "controller.h"
#include "rt/handle.h"

namespace nvme_driver {

class BlockService {
public:
    static constexpr u32 kMaxChannels = 4;
    static constexpr u32 kMaxRequests = 256;
    static constexpr u64 kDefaultDataBytes = 1ull << 20;

    // drop_completion: tests only — the Nth I/O completion (1-based) is
    // ignored, as if never posted; 0: none.
    BlockService(Controller& ctrl, u32 endpoint, u64 command_timeout_ns, u64 drop_completion = 0)
        : m_ctrl(ctrl), m_endpoint(endpoint), m_timeout_ns(command_timeout_ns), m_drop_completion(drop_completion) {}
    Result<void> init();
    [[noreturn]] void run();

private:
    struct Channel {
        bool live = false;
        rt::Handle ring_memory, consumer_note, request_note, data;
        abi::BlockRings* rings = nullptr;
        u64 data_bytes = 0;
        u64 badge = 0;      // of the consumer's endpoint capability: only it may ping or detach
        u32 in_flight = 0;  // requests taken and not yet answered
    };
    struct Request {
        bool live = false;
        bool done = false;  // every part answered; waiting for room in the completion ring
        u8 channel = 0;
        u16 parts_left = 0;
        u64 id = 0;
        i32 status = 0;
        u16 nvme_status = 0;
    };
    struct Command {  // one in flight per command id
        bool busy = false;
        bool retried = false;  // submitted a second time (after a timeout or a retryable error)
        u16 request = 0;
        u64 submitted_ns = 0;
        abi::NvmeCommand nvme{};
    };

    void serve_call();
    void attach(abi::Message& m);
    void detach(abi::Message& m);
    u32 channel_of(const abi::Message& m) const;
    void take_requests();
    // Validates and splits one request into commands; false when it must
    // wait (no command ids or request records free).
    bool start_request(u32 ch, const abi::BlockRequest& r);
    void finish_part(u16 cid, u16 nvme_status);
    // Moves finished requests into their channels' completion rings and
    // marks those channels to be signalled (m_pending_signal).
    void post_ready();
    // Signals every marked channel's consumer but one, whose notification
    // it returns (0: none) for the next wait to signal.
    u32 signal_all_but_one();
    // ack_interrupt: the I/O interrupt fired; the first NvmeComplete
    // acknowledges it.
    void reap(bool ack_interrupt);
    void flush_batch();
    void check_timeouts();
    i32 validate(const Channel& c, const abi::BlockRequest& r, u32* parts) const;

    Controller& m_ctrl;
    u32 m_endpoint;
    u64 m_timeout_ns;
    u64 m_drop_completion;
    u64 m_completions_seen = 0;
    u64 m_generation = 0;  // this provider process's; echoed by consumers (BlockOp::Ping, Detach)
    rt::Handle m_ws;
    rt::Handle m_ranges;  // Dataset Management range lists, 16 bytes per command id
    volatile u8* m_ranges_at = nullptr;
    Channel m_channels[kMaxChannels];
    Request m_requests[kMaxRequests];
    Command m_commands[Controller::kIoEntries];
    u32 m_in_flight_commands = 0;
    abi::NvmeCommand m_batch[abi::kNvmeMaxBatch];
    u32 m_batch_count = 0;
    u32 m_pending_signal = 0;  // bit c: channel c has new completions, its consumer not yet signalled
};

}  // namespace nvme_driver
