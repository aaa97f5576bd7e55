// The NVMe provider's BlockDevice service (lib/protocol/block.h, DESIGN §6):
// consumers attach over the service endpoint, then queue requests in
// shared rings; this turns them into NVMe commands (split to the
// controller's transfer limit), submits them in batches through the broker
// and answers each request with one completion.
//
// Never trusting a consumer (DESIGN §6): the provider creates each
// channel's rings and data buffer and hands the consumer derived copies,
// so nothing the consumer revokes or closes reaches its own view. Every
// index the consumer writes is checked (lib/ring/spsc_ring.h) and every
// request is copied once, then checked against the device's size and the channel's
// data buffer before anything is submitted; a bad request gets its own
// error completion — it costs the consumer that request, nothing else. A
// consumer breaking the ring protocol (indices no honest consumer
// writes, a notification revoked underneath) has its channel closed, with
// a log line naming the channel and the consumer's badge. No channel can
// take what the others need: each has its own request records (as many as
// its ring holds) and at most kChannelCommands commands in flight, and
// commands are handed out round-robin, one per channel per turn, so a
// consumer flooding its ring, or never taking its completions, waits for
// itself alone.
//
// Commands that outlive their timeout make the controller reset (the
// broker releases what was in flight) and are submitted again on the new
// queues, once. A command the device fails
// goes again once when its status allows a retry (DNR clear); the
// request's completion then carries the Status the NVMe status maps to
// (nvme::io_status: MediaError, OutOfBounds, ReadOnly, ...) and the raw
// status field.
#pragma once

#include "abi/ipc.h"
#include "abi/nvme.h"
#include "controller.h"
#include "protocol/block.h"
#include "rt/handle.h"

namespace nvme_driver {

class BlockService {
public:
    static constexpr u32 kMaxChannels = 4;
    // Channels one consumer may hold (lib/protocol/service.h: the badge's high
    // half says which consumer): the others always find one free.
    static constexpr u32 kChannelsPerConsumer = 2;
    // The channel id a consumer is given names the slot (low bits) and the
    // attach (the rest): a consumer whose channel was closed and its slot
    // given to another attach — even its own, under the same badge — finds
    // its old id Stale, never the new channel.
    static constexpr u32 kChannelIndexMask = 0xff;
    u32 channel_id(u32 ch) const { return static_cast<u32>(m_channels[ch].attached_seq << 8) | ch; }
    // Request records: each channel has its own, as many as its ring holds.
    static constexpr u32 kMaxRequests = kMaxChannels * abi::kBlockRingEntries;
    // Commands one channel may have in flight: the rest of the queue is
    // left to the others.
    static constexpr u32 kChannelCommands = Controller::kIoEntries * 3 / 4;
    static constexpr u64 kDefaultDataBytes = 1ull << 20;

    // drop_completion: tests only — the Nth I/O completion (1-based) is
    // ignored, as if never posted; 0: none.
    BlockService(Controller& ctrl, u32 endpoint, u64 command_timeout_ns, u64 drop_completion = 0)
        : m_ctrl(ctrl), m_endpoint(endpoint), m_timeout_ns(command_timeout_ns), m_drop_completion(drop_completion) {}
    Result<void> init();
    [[noreturn]] void run();

private:
    static constexpr u16 kNoRequest = 0xffff;
    enum class ChannelState : u8 {
        Free,
        Live,
        // Closed (detached, or its consumer broke the protocol) while some
        // of its commands are still on the device: nothing more is taken or
        // answered; the handles stay until the last command finishes, then
        // the slot is Free again.
        Closing,
    };
    struct Channel {
        ChannelState state = ChannelState::Free;
        u64 attached_seq = 0;  // attach order, for replacing a consumer's oldest
        rt::Handle ring_memory, consumer_note, request_note, data;
        // Its rings (in ring_memory): requests taken, completions posted.
        abi::BlockRequestConsumer requests;
        abi::BlockCompletionProducer completions;
        u64 data_bytes = 0;
        u64 badge = 0;     // of the consumer's endpoint capability: only it may ping or detach
        u32 commands = 0;  // commands in flight for it (<= kChannelCommands)
        u32 records = 0;   // request records it holds: taken, not yet answered (<= kBlockRingEntries)
        u64 free_records[abi::kBlockRingEntries / 64] = {};  // bit r: its record r is free (set at attach)
        u16 splitting = kNoRequest;  // the request being split into commands (one at a time, in ring order)
        // Answered requests waiting for room in its completion ring, in order.
        u16 answered[abi::kBlockRingEntries];
        u32 answered_head = 0, answered_tail = 0;
    };
    static_assert(abi::kBlockRingEntries % 64 == 0);
    struct Request {
        abi::BlockRequestOp op{};
        u32 device = 0;
        u64 id = 0;
        u64 lba = 0;     // of the next part
        u64 left = 0;    // blocks not yet in a command (Flush: 1 until its command is made)
        u64 offset = 0;  // in the data buffer, of the next part
        u32 parts_in_flight = 0;
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
    // Closes a channel for good: the consumer's copies revoked, answers it
    // has not taken dropped; `why` (printf-style) is logged against it
    // unless null (a Detach).
    void close_channel(u32 ch, const char* why, ...) __attribute__((format(printf, 3, 4)));
    void release_if_idle(u32 ch);
    // Takes requests from every channel's ring and splits them into
    // commands, one command per channel per turn, as long as any channel
    // can go on.
    void take_requests();
    // One turn for one channel: the next command of the request it is
    // splitting, taking the next request from its ring first if needed.
    // False when it can go no further now.
    bool step(u32 ch);
    void submit_part(u32 ch, u16 record);
    // A command of a request finished (failed or not); the request is
    // answered once it has no parts left.
    void part_done(u16 cid);
    void request_done(u16 record);
    void free_record(u16 record);
    void finish_part(u16 cid, u16 nvme_status);
    // Moves answered requests into their channels' completion rings and
    // marks those channels to be signalled (m_pending_signal).
    void post_ready();
    // Signals every marked channel's consumer but one, whose channel it
    // returns (kMaxChannels: none) for the next wait to signal.
    u32 signal_all_but_one();
    // ack_interrupt: the I/O interrupt fired; the first NvmeComplete
    // acknowledges it.
    void reap(bool ack_interrupt);
    void flush_batch();
    void check_timeouts();
    i32 validate(const Channel& c, const abi::BlockRequest& r) const;
    u64 max_blocks(abi::BlockRequestOp op, u32 device) const;

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
    u32 m_first_turn = 0;  // the channel that goes first in the next take_requests
    u64 m_attach_seq = 0;
    Request m_requests[kMaxRequests];  // channel c's are [c * kBlockRingEntries, (c + 1) * kBlockRingEntries)
    Command m_commands[Controller::kIoEntries];
    u64 m_free_cids[Controller::kIoEntries / 64] = {};  // bit c: command id c is free (set by init)
    static_assert(Controller::kIoEntries % 64 == 0);
    u32 m_in_flight_commands = 0;
    abi::NvmeCommand m_batch[abi::kNvmeMaxBatch];
    u32 m_batch_count = 0;
    u32 m_pending_signal = 0;  // bit c: channel c has new completions, its consumer not yet signalled
};

}  // namespace nvme_driver
