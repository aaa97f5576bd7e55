// The block layer's data path (DESIGN §6): what every storage provider
// does between its consumers' shared rings and its device, whatever the
// device. Consumers queue BlockRequests in a channel's ring (lib/protocol/
// block.h); the engine copies each out once, validates it (device, op,
// flags, range against the device, range and alignment in the channel's
// own data buffer, read-only), splits it to the device's limits (transfer
// size, segments, Write Zeroes / Discard sizes), hands the commands to the
// Backend (lib/block/backend.h) in batches, retries what the device allows
// once, resets the device when a command outlives its timeout, maps the
// device's failures to Status codes and answers each request with exactly
// one completion.
//
// Pure: no system call. The host (user/rt/block_server.h in a provider; a
// fake in tests/unit/block_engine_test.cc) gives it the time, a log sink,
// and owns the channels' capabilities: the engine tells it when a channel
// must lose its consumer's copies (Host::closing) and when nothing of it is
// left on the device (Host::released).
//
// Never trusting a consumer: every index it writes is checked (lib/ring/
// spsc_ring.h) and a consumer breaking the ring protocol has its channel
// closed; a bad request costs it that request (an error completion),
// nothing else. Read/Write name only the channel's own data buffer (the
// offset is checked against its size; the buffer handle is the
// provider's), so no request reaches another channel's memory. No channel
// can take what the others need: each has its own request records (as many
// as its ring holds) and at most 3/4 of the device's tags, and tags are
// handed out round-robin, one per channel per turn.
//
// Threading: one thread calls everything.
#pragma once

#include <stdarg.h>

#include "block/backend.h"
#include "protocol/block.h"
#include "util/types.h"

namespace block {

class Host {
public:
    virtual u64 now_ns() = 0;
    virtual void log(const char* line) = 0;
    // Channel `ch` is closed (`why`: the consumer broke the protocol, null
    // for a Detach): its consumer's copies go now, and it is never
    // signalled again. Its capabilities stay until released().
    virtual void closing(u32 ch, const char* why) = 0;
    // Nothing of closed channel `ch` is on the device any more: its ring
    // memory and data buffer may go, and the slot may be attached again.
    virtual void released(u32 ch) = 0;

protected:
    ~Host() = default;
};

class Engine {
public:
    static constexpr u32 kMaxChannels = 4;
    static constexpr u32 kMaxTags = 256;
    static constexpr u32 kMaxBatch = 64;  // commands per Backend::submit (NVMe: kNvmeMaxBatch)
    // Request records: each channel has its own, as many as its ring holds.
    static constexpr u32 kMaxRequests = kMaxChannels * abi::kBlockRingEntries;

    // name: the provider's, prefixing every log line ("nvme").
    // timeout_ns: a command without an outcome this long resets the device.
    Engine(Backend& backend, Host& host, const char* name, u64 timeout_ns);

    // A free slot takes a new channel: its rings (mapped here, zeroed) and
    // its data buffer (the provider's handle and size).
    bool is_free(u32 ch) const { return m_channels[ch].state == State::Free; }
    bool is_live(u32 ch) const { return m_channels[ch].state == State::Live; }
    void open(u32 ch, abi::BlockRings* rings, u32 buffer, u64 data_bytes);
    // Closes a live channel for good (a Detach: why = null; a protocol
    // breach: printf-style, logged by the host with the consumer's name):
    // answers it has not taken are dropped, requests still on the device
    // abandoned; Host::released once none is left (at once if none is).
    void close(u32 ch, const char* why, ...) __attribute__((format(printf, 3, 4)));

    // The service loop, in this order after each wait: reap() when the
    // device's interrupt fired or on a periodic wake, take_requests(),
    // post_ready(), check_timeouts(); then signal the consumers
    // take_signals() names.
    // Ok, or the backend's poll error that ended it (TornDown: the DMA
    // grant is gone — BlockServer then ends the provider, for every backend).
    Status reap(bool ack_interrupt);
    void take_requests();
    void post_ready();
    void check_timeouts();
    // Bit c: channel c has new completions since the last call.
    u32 take_signals() {
        u32 s = m_pending_signal;
        m_pending_signal = 0;
        return s;
    }
    u32 in_flight() const { return m_in_flight; }

    // What a request is refused with before it reaches the device
    // (Status::Ok: it may go). For the tests and the log.
    Status validate(u64 data_bytes, const abi::BlockRequest& r) const;

private:
    static constexpr u16 kNone = 0xffff;
    enum class State : u8 {
        Free,
        Live,
        // Closed while some of its commands are still on the device:
        // nothing more is taken or answered; Free once the last finishes.
        Closing,
    };
    struct Channel {
        State state = State::Free;
        abi::BlockRequestConsumer requests;
        abi::BlockCompletionProducer completions;
        u32 buffer = 0;
        u64 data_bytes = 0;
        u32 commands = 0;  // in flight for it (<= m_channel_commands)
        u32 records = 0;   // request records held: taken, not yet answered (<= kBlockRingEntries)
        u64 free_records[abi::kBlockRingEntries / 64] = {};  // bit r: its record r is free
        u16 splitting = kNone;  // the request being split into commands (one at a time, in ring order)
        // Answered requests waiting for room in its completion ring, in order.
        u16 answered[abi::kBlockRingEntries];
        u32 answered_head = 0, answered_tail = 0;
    };
    static_assert(abi::kBlockRingEntries % 64 == 0);
    struct Request {
        abi::BlockRequestOp op{};
        bool fua = false;          // native FUA on every part
        bool flush_after = false;  // FUA emulated: a Flush once every part is done
        u32 device = 0;
        u64 id = 0;
        u64 lba = 0;     // of the next part
        u64 left = 0;    // blocks not yet in a command (Flush: 1 until its command is made)
        u64 offset = 0;  // in the data buffer, of the next part
        u32 parts_in_flight = 0;
        Status status = Status::Ok;
        u32 detail = 0;
    };
    struct Slot {  // one per tag
        bool busy = false;
        bool retried = false;  // submitted a second time (after a timeout or a retryable error)
        u16 request = 0;
        u64 submitted_ns = 0;
        Command command{};
    };

    void log(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    void close_v(u32 ch, const char* why, va_list ap);
    void release_if_idle(u32 ch);
    bool step(u32 ch);
    // The next part of request `record`; false when the device's limits
    // leave it no room (the request then fails InvalidArgument).
    void submit_part(u32 ch, u16 record);
    void queue_command(u16 tag);
    void flush_batch();
    void finish(const Outcome& o);
    void part_done(u16 tag);
    void request_done(u16 record);
    void free_record(u16 record);
    void issue_flushes();
    u16 take_tag();

    Backend& m_backend;
    Host& m_host;
    const char* m_name;
    u64 m_timeout_ns;
    static constexpr u64 kNever = ~0ull;
    // No command in flight can time out before this (check_timeouts
    // scans no sooner); lowered as commands are queued.
    u64 m_scan_at_ns = kNever;
    u32 m_tags;              // the backend's, at most kMaxTags
    u32 m_channel_commands;  // tags one channel may hold: the rest are left to the others
    Channel m_channels[kMaxChannels];
    u32 m_first_turn = 0;
    Request m_requests[kMaxRequests];  // channel c's are [c * kBlockRingEntries, (c + 1) * kBlockRingEntries)
    Slot m_slots[kMaxTags];
    u64 m_free_tags[kMaxTags / 64] = {};
    u32 m_in_flight = 0;
    Command m_batch[kMaxBatch];
    u16 m_batch_tags[kMaxBatch];
    u32 m_batch_count = 0;
    // Requests whose data is done and whose emulated FUA Flush waits for a tag.
    u16 m_flushes[kMaxRequests];
    u32 m_flush_head = 0, m_flush_tail = 0;
    u32 m_pending_signal = 0;
};

}  // namespace block
