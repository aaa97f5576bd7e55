#include "block_service.h"

#include "nvme/command.h"
#include "protocol/message.h"
#include "protocol/service.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/sys.h"
#include "util/format.h"

namespace nvme_driver {
namespace {

constexpr u64 kKeyService = 1;
constexpr u64 kKeyIrq = 2;
constexpr u64 kKeyChannel = 16;  // + channel index
// While commands are in flight the loop wakes at least this often: to
// check timeouts and to let the broker look for a lost shadow doorbell.
constexpr u64 kBusyWakeNs = 10'000'000;

// Consumers' copies: what they need, nothing to revoke with (a revoke on
// a copy reaches only copies made from it, never the provider's).
constexpr u32 kConsumerMemoryRights = cap_rights::kRead | cap_rights::kWrite | cap_rights::kMap | cap_rights::kTransfer;
constexpr u32 kConsumerNoteRights = cap_rights::kSignal | cap_rights::kTransfer;

u32 take_bit(u64* words, u32 count) {
    for (u32 w = 0; w < count; w++) {
        if (!words[w]) continue;
        u32 b = static_cast<u32>(__builtin_ctzll(words[w]));
        words[w] &= ~(1ull << b);
        return w * 64 + b;
    }
    return ~0u;
}
void give_bit(u64* words, u32 bit) { words[bit / 64] |= 1ull << (bit % 64); }

}  // namespace

Result<void> BlockService::init() {
    // Unique per provider process: pids are not reused within a boot, and
    // the clock tells boots apart for anything that outlives one.
    m_generation = u64{rt::startup().pid} << 40 ^ rt::clock_ns();
    m_ws = TRY(rt::waitset_create());
    if (m_endpoint) TRY(rt::waitset_add(m_ws.get(), m_endpoint, abi::kSignalReadable, kKeyService));
    TRY(rt::waitset_add(m_ws.get(), m_ctrl.io_irq(), abi::kSignalReady | abi::kSignalDead, kKeyIrq));
    m_ranges = TRY(rt::dma_buffer_create(m_ctrl.pool(), Controller::kIoEntries * 16));
    m_ranges_at = reinterpret_cast<volatile u8*>(TRY(rt::memory_map(m_ranges.get(), 0, abi::kMapWrite)));
    for (u32 cid = 0; cid < Controller::kIoEntries; cid++) give_bit(m_free_cids, cid);
    return {};
}

void BlockService::run() {
    for (;;) {
        abi::WaitEvent events[8];
        u64 timeout = m_in_flight_commands ? kBusyWakeNs : abi::kForever;
        // The consumer told of new completions is signalled by the wait
        // itself (one kernel entry, not two); any others just before.
        u32 signal_ch = signal_all_but_one();
        u32 signal = signal_ch < kMaxChannels ? m_channels[signal_ch].consumer_note.get() : 0;
        auto n = rt::waitset_wait(m_ws.get(), events, 8, timeout, signal, signal ? 1 : 0);
        if (!n.ok() && n.status() != Status::Timeout && signal) {
            // The wait failed before it signalled: tell that consumer now.
            // If even that fails, its notification was revoked underneath.
            if (auto s = rt::notification_signal(signal, 1); !s.ok())
                close_channel(signal_ch, "its notification cannot be signalled: %s", status_name(s.status()));
        }
        bool irq = false;
        for (u32 i = 0; n.ok() && i < n.value(); i++) {
            if (events[i].key == kKeyService) {
                serve_call();
            } else if (events[i].key == kKeyIrq) {
                if (events[i].signals & abi::kSignalDead) {
                    rt::log("nvme: the DMA grant was torn down; exiting");
                    rt::exit(3);
                }
                irq = true;
            }
            // A channel's kick needs nothing here: its entry takes the
            // notification's bits as it reports it (kWaitTake), and
            // take_requests() below reads every channel's ring.
        }
        // Completions are reaped when the I/O interrupt fired, or on the
        // periodic wake while commands are in flight (which is also when the
        // broker looks for a lost shadow doorbell) — not on a consumer's
        // kick: that would cost a system call per submission for nothing.
        // After an interrupt the reap's first NvmeComplete acknowledges it
        // (re-arms it) before reading the queue: a completion posted after
        // the reap raises the interrupt again instead of being missed.
        bool timed_wake = !n.ok() || n.value() == 0;
        if (irq || timed_wake) reap(irq);
        take_requests();
        post_ready();
        check_timeouts();
    }
}

void BlockService::serve_call() {
    abi::Message m{};
    if (auto got = rt::endpoint_receive(m_endpoint, m, 0); !got.ok()) {
        if (got.status() == Status::Timeout) return;  // nobody called after all
        // The call came but not all of its handles could be taken (the
        // kernel reports that, and the caller still waits for an answer):
        // answer it with the error, or it waits for ever and this endpoint
        // stays Busy for everyone. (If no call came, the reply finds no
        // caller and does nothing.)
        for (u32 i = 0; i < m.handle_count; i++)
            if (m.handles[i]) (void)rt::close(m.handles[i]);
        rt::log("nvme: a call from consumer %llu arrived without its handles: %s",
                static_cast<unsigned long long>(m.badge), status_name(got.status()));
        abi::Message reply{};
        abi::put_body(reply, abi::BlockStatusReply{got.status()});
        (void)rt::endpoint_reply(reply);
        return;
    }
    abi::BlockOp op = abi::body_of<abi::BlockOp>(m);  // 0 (no op) when too short
    // Only an Attach carries a handle. Any others are closed at once: kept,
    // they would fill this process's capability space a call at a time.
    if (op != abi::BlockOp::Attach) {
        for (u32 i = 0; i < m.handle_count; i++) (void)rt::close(m.handles[i]);
        m.handle_count = 0;
    }
    abi::Message reply{};
    u32 index = abi::body_of<abi::BlockDescribeRequest>(m).device;
    if (op == abi::BlockOp::Info) {
        if (index < m_ctrl.namespace_count()) {
            const Namespace& ns = m_ctrl.ns(index);
            abi::BlockInfo info{};
            info.blocks = ns.blocks;
            info.block_size = 1u << ns.lba_shift;
            info.max_transfer = static_cast<u32>(m_ctrl.max_transfer());
            info.nsid = ns.nsid;
            info.flags = (m_ctrl.volatile_cache() ? abi::kBlockFlush : 0) |
                         (m_ctrl.info().oncs & nvme::kOncsWriteZeroes ? abi::kBlockWriteZeroes : 0) |
                         (m_ctrl.info().oncs & nvme::kOncsDsm ? abi::kBlockDiscard : 0);
            info.device_count = m_ctrl.namespace_count();
            abi::put_body(reply, info);
        }
    } else if (op == abi::BlockOp::Identity) {
        if (index < m_ctrl.namespace_count()) {
            abi::BlockIdentity id{};
            __builtin_memcpy(id.model, m_ctrl.info().model, sizeof id.model);
            __builtin_memcpy(id.serial, m_ctrl.info().serial, sizeof id.serial);
            abi::put_body(reply, id);
        }
    } else if (op == abi::BlockOp::Attach) {
        return attach(m);
    } else if (op == abi::BlockOp::Detach) {
        return detach(m);
    } else if (op == abi::BlockOp::Ping) {
        abi::put_body(reply, abi::BlockStatusReply{channel_of(m) < kMaxChannels ? Status::Ok : Status::Stale});
    } else {
        abi::put_body(reply, abi::BlockStatusReply{Status::InvalidArgument});
    }
    (void)rt::endpoint_reply(reply);
}

void BlockService::attach(abi::Message& m) {
    abi::Message reply{};
    auto refuse = [&](Status s, const char* why) {
        rt::log("nvme: attach refused (consumer %llu.%llu): %s: %s",
                static_cast<unsigned long long>(abi::service_consumer(m.badge)),
                static_cast<unsigned long long>(m.badge & 0xffff'ffffull), why, status_name(s));
        abi::put_body(reply, abi::BlockStatusReply{s});
        (void)rt::endpoint_reply(reply);
        for (u32 i = 0; i < m.handle_count; i++) (void)rt::close(m.handles[i]);
    };
    // One handle, the consumer's notification. Memory is never taken from
    // a consumer: the provider would depend on what the consumer can shrink
    // or revoke (an earlier ABI did; a consumer crashed the provider so).
    if (m.handle_count != 1 || m.length < sizeof(abi::BlockAttachRequest))
        return refuse(Status::InvalidArgument, "expected a notification and a size");
    // One consumer holds at most kChannelsPerConsumer channels: at its
    // limit, attaching again replaces its oldest (a restarted consumer so
    // reclaims what its previous incarnation left behind, and one consumer
    // can never take every channel from the others). Consumers init did not
    // identify (identity 0) share one budget.
    u64 consumer = abi::service_consumer(m.badge);
    u32 held = 0, oldest = kMaxChannels;
    for (u32 i = 0; i < kMaxChannels; i++) {
        const Channel& c = m_channels[i];
        if (c.state != ChannelState::Live || abi::service_consumer(c.badge) != consumer) continue;
        held++;
        if (oldest == kMaxChannels || c.attached_seq < m_channels[oldest].attached_seq) oldest = i;
    }
    if (held >= kChannelsPerConsumer)
        close_channel(oldest, "consumer %llu attaches again with %u channels open: its oldest goes",
                      static_cast<unsigned long long>(consumer), held);
    u32 ch = kMaxChannels;
    for (u32 i = 0; i < kMaxChannels && ch == kMaxChannels; i++)
        if (m_channels[i].state == ChannelState::Free) ch = i;
    if (ch == kMaxChannels) return refuse(Status::QuotaExceeded, "no free channel");
    u64 bytes = abi::body_of<abi::BlockAttachRequest>(m).data_bytes;
    if (bytes == 0) bytes = kDefaultDataBytes;
    bytes = (bytes + 4095) & ~u64{4095};
    if (bytes > abi::kBlockMaxDataBytes) return refuse(Status::InvalidArgument, "data buffer too large");
    Channel c;
    c.consumer_note = rt::Handle(m.handles[0]);
    m.handle_count = 0;
    // The consumer's notification rides on this loop's wait (signal-then-
    // wait): one that is not a notification with `signal` would fail that
    // wait for everyone. A signal of no bits checks it and wakes no one.
    if (auto s = rt::notification_signal(c.consumer_note.get(), 0); !s.ok())
        return refuse(s.status(), "the consumer's notification");
    // The rings, the data buffer and the kick notification are created
    // here and stay this provider's; the consumer gets copies derived from
    // them, which it can neither shrink nor revoke from under us.
    auto ring = rt::memory_create(abi::kBlockRingBytes);
    if (!ring.ok()) return refuse(ring.status(), "ring memory");
    c.ring_memory = static_cast<rt::Handle&&>(ring.value());
    // (Its mapping here goes when the handle is closed: on a refusal below
    // as the channel goes out of scope, or when the channel is released.)
    auto at = rt::memory_map(c.ring_memory.get(), 0, abi::kMapWrite);
    if (!at.ok()) return refuse(at.status(), "ring mapping");
    auto* rings = reinterpret_cast<abi::BlockRings*>(at.value());
    c.requests = abi::BlockRequestConsumer(rings->request, rings->requests);
    c.completions = abi::BlockCompletionProducer(rings->completion, rings->completions);
    auto data = rt::dma_buffer_create(m_ctrl.pool(), bytes);
    auto note = rt::notification_create();
    if (!data.ok() || !note.ok())
        return refuse(!data.ok() ? data.status() : note.status(), "data buffer or notification");
    c.data = static_cast<rt::Handle&&>(data.value());
    c.request_note = static_cast<rt::Handle&&>(note.value());
    c.badge = m.badge;
    c.attached_seq = ++m_attach_seq;
    c.data_bytes = bytes;
    for (u32 r = 0; r < abi::kBlockRingEntries; r++) give_bit(c.free_records, r);
    auto ring_copy = rt::duplicate(c.ring_memory.get(), kConsumerMemoryRights);
    auto data_copy = rt::duplicate(c.data.get(), kConsumerMemoryRights);
    auto note_copy = rt::duplicate(c.request_note.get(), kConsumerNoteRights);
    if (!ring_copy.ok() || !data_copy.ok() || !note_copy.ok() ||
        !rt::waitset_add(m_ws.get(), c.request_note.get(), abi::kSignalReady | abi::kWaitTake, kKeyChannel + ch).ok())
        return refuse(Status::NoMemory, "copies for the consumer");
    c.state = ChannelState::Live;
    m_channels[ch] = static_cast<Channel&&>(c);
    abi::put_body(reply, abi::BlockAttachReply{Status::Ok, channel_id(ch), bytes, m_generation});
    reply.handle_count = 3;
    reply.handles[0] = ring_copy.value().release();
    reply.handles[1] = data_copy.value().release();
    reply.handles[2] = note_copy.value().release();
    rt::log("nvme: channel %u attached: %llu KiB shared data buffer", ch, static_cast<unsigned long long>(bytes >> 10));
    (void)rt::endpoint_reply(reply);
}

// The live channel a Detach or Ping names (channel id and this provider's
// generation), asked by the consumer that attached it (same badge), or
// kMaxChannels.
u32 BlockService::channel_of(const abi::Message& m) const {
    if (m.length < sizeof(abi::BlockChannelRequest)) return kMaxChannels;
    auto request = abi::body_of<abi::BlockChannelRequest>(m);
    u32 id = request.channel;
    u32 ch = id & kChannelIndexMask;
    if (request.generation != m_generation || ch >= kMaxChannels || m_channels[ch].state != ChannelState::Live)
        return kMaxChannels;
    if (m_channels[ch].badge != m.badge) return kMaxChannels;  // another consumer's channel
    if (channel_id(ch) != id) return kMaxChannels;             // an earlier channel in the same slot
    return ch;
}

void BlockService::detach(abi::Message& m) {
    abi::Message reply{};
    u32 ch = channel_of(m);
    if (ch < kMaxChannels) close_channel(ch, nullptr);
    abi::put_body(reply, abi::BlockStatusReply{ch < kMaxChannels ? Status::Ok : Status::Stale});
    (void)rt::endpoint_reply(reply);
}

void BlockService::close_channel(u32 ch, const char* why, ...) {
    Channel& c = m_channels[ch];
    if (c.state != ChannelState::Live) return;
    if (why) {
        char text[160];
        va_list ap;
        va_start(ap, why);
        format_v(text, sizeof text, why, ap);
        va_end(ap);
        rt::log("nvme: channel %u (consumer %llu.%llu): %s: closing the channel", ch,
                static_cast<unsigned long long>(abi::service_consumer(c.badge)),
                static_cast<unsigned long long>(c.badge & 0xffff'ffffull), text);
    }
    c.state = ChannelState::Closing;
    (void)rt::waitset_remove(m_ws.get(), kKeyChannel + ch);
    // Every copy the consumer holds goes now, with its mappings: it cannot
    // keep the pool's memory (or a view of the rings) past its channel.
    (void)rt::revoke(c.ring_memory.get());
    (void)rt::revoke(c.data.get());
    (void)rt::revoke(c.request_note.get());
    c.consumer_note.reset();
    m_pending_signal &= ~(1u << ch);
    // Answers it will never take, and the rest of a request being split.
    while (c.answered_head != c.answered_tail) free_record(c.answered[c.answered_head++ % abi::kBlockRingEntries]);
    if (c.splitting != kNoRequest) {
        u16 record = c.splitting;
        c.splitting = kNoRequest;
        m_requests[record].left = 0;
        if (!m_requests[record].parts_in_flight) free_record(record);
    }
    release_if_idle(ch);
}

// A Closing channel with nothing left on the device becomes Free; until
// then its data buffer handle stays (commands name it, and go again after
// a controller reset).
void BlockService::release_if_idle(u32 ch) {
    Channel& c = m_channels[ch];
    if (c.state != ChannelState::Closing || c.records) return;
    c = Channel{};  // closing its handles unmaps the rings here
}

i32 BlockService::validate(const Channel& c, const abi::BlockRequest& r) const {
    if (r.device >= m_ctrl.namespace_count()) return static_cast<i32>(Status::NotFound);
    const Namespace& ns = m_ctrl.ns(r.device);
    u32 oncs = m_ctrl.info().oncs;
    switch (r.op) {
        case abi::BlockRequestOp::Flush: return 0;
        case abi::BlockRequestOp::Read:
        case abi::BlockRequestOp::Write: {
            u64 bytes = u64{r.blocks} << ns.lba_shift;
            if (r.offset > c.data_bytes || bytes > c.data_bytes - r.offset)
                return static_cast<i32>(Status::OutOfBounds);
            if (r.offset % 4) return static_cast<i32>(Status::InvalidArgument);  // PRP entries are dword aligned
            break;
        }
        case abi::BlockRequestOp::WriteZeroes:
            if (!(oncs & nvme::kOncsWriteZeroes)) return static_cast<i32>(Status::Unsupported);
            break;
        case abi::BlockRequestOp::Discard:
            if (!(oncs & nvme::kOncsDsm)) return static_cast<i32>(Status::Unsupported);
            break;
        default: return static_cast<i32>(Status::InvalidArgument);
    }
    if (r.blocks == 0) return static_cast<i32>(Status::InvalidArgument);
    if (r.lba > ns.blocks || r.blocks > ns.blocks - r.lba) return static_cast<i32>(Status::OutOfBounds);
    return 0;
}

// Blocks one command of a (validated) request may cover.
u64 BlockService::max_blocks(abi::BlockRequestOp op, u32 device) const {
    if (op == abi::BlockRequestOp::Discard) return 0xffffffffu;  // one range: a 32-bit length
    u64 n = m_ctrl.max_transfer() >> m_ctrl.ns(device).lba_shift;
    return n > 65536 ? 65536 : n;  // NLB is 16 bits
}

void BlockService::take_requests() {
    // One command per channel per turn, the first turn rotating: free
    // command ids go to every channel that has work, in turn, however much
    // one of them queues.
    for (bool moved = true; moved;) {
        moved = false;
        for (u32 k = 0; k < kMaxChannels; k++) {
            u32 ch = (m_first_turn + k) % kMaxChannels;
            if (m_channels[ch].state == ChannelState::Live && step(ch)) moved = true;
        }
    }
    m_first_turn = (m_first_turn + 1) % kMaxChannels;
    // The slots taken go back to their consumers: one store per ring per
    // pass, not one per request.
    for (Channel& c : m_channels)
        if (c.state == ChannelState::Live) c.requests.release();
    flush_batch();
}

bool BlockService::step(u32 ch) {
    Channel& c = m_channels[ch];
    bool took = false;
    if (c.splitting == kNoRequest) {
        // Its records are its ring's length: a consumer that does not take
        // its answers stops only itself.
        if (c.records == abi::kBlockRingEntries) return false;
        // The consumer's tail is read again only when what it last said
        // has all been taken.
        if (!c.requests.ready()) {
            auto waiting = c.requests.refresh();
            if (!waiting.ok()) {
                u32 tail = c.requests.bad_index();
                if (tail - c.requests.head() <= abi::kBlockRingEntries)
                    close_channel(ch, "request tail %u moved back from %u", tail, c.requests.tail_seen());
                else
                    close_channel(ch, "request tail %u is not within %u of head %u", tail, abi::kBlockRingEntries,
                                  c.requests.head());
                return false;
            }
            if (!waiting.value()) return false;
        }
        abi::BlockRequest r;
        (void)c.requests.take(&r);  // the one copy: the consumer may be rewriting the slot
        u16 record =
            static_cast<u16>(ch * abi::kBlockRingEntries + take_bit(c.free_records, abi::kBlockRingEntries / 64));
        c.records++;
        Request& q = m_requests[record];
        q = Request{};
        q.id = r.id;
        q.status = validate(c, r);
        if (q.status) {
            request_done(record);
            return true;
        }
        q.op = r.op;
        q.device = r.device;
        q.lba = r.lba;
        q.left = r.op == abi::BlockRequestOp::Flush ? 1 : r.blocks;
        q.offset = r.offset;
        c.splitting = record;
        took = true;
    }
    // The broker keeps one SQ slot empty: kIoEntries - 1 commands fit.
    if (m_in_flight_commands == Controller::kIoEntries - 1 || c.commands == kChannelCommands) return took;
    submit_part(ch, c.splitting);
    return true;
}

// The next command of the request `record` of channel `ch`.
void BlockService::submit_part(u32 ch, u16 record) {
    Channel& c = m_channels[ch];
    Request& q = m_requests[record];
    const Namespace& ns = m_ctrl.ns(q.device);
    u64 most = max_blocks(q.op, q.device);
    u64 n = q.op == abi::BlockRequestOp::Flush ? 1 : q.left < most ? q.left : most;
    u16 cid = static_cast<u16>(take_bit(m_free_cids, Controller::kIoEntries / 64));
    abi::NvmeCommand cmd{};
    cmd.cid = cid;
    cmd.nsid = ns.nsid;
    switch (q.op) {
        case abi::BlockRequestOp::Flush: cmd.opcode = nvme::kIoFlush; break;
        case abi::BlockRequestOp::Read:
        case abi::BlockRequestOp::Write:
            cmd.opcode = q.op == abi::BlockRequestOp::Read ? nvme::kIoRead : nvme::kIoWrite;
            cmd.buffer = c.data.get();
            cmd.offset = q.offset;
            cmd.length = n << ns.lba_shift;
            break;
        case abi::BlockRequestOp::WriteZeroes: cmd.opcode = nvme::kIoWriteZeroes; break;
        case abi::BlockRequestOp::Discard: {
            // One range (NVMe 1.4 §6.7): context attributes, length in
            // blocks, starting LBA; NR = 0 (one range), AD = deallocate.
            cmd.opcode = nvme::kIoDsm;
            volatile u8* range = m_ranges_at + u64{cid} * 16;
            for (u32 k = 0; k < 16; k++) range[k] = 0;
            for (u32 k = 0; k < 4; k++) range[4 + k] = static_cast<u8>(n >> (8 * k));
            for (u32 k = 0; k < 8; k++) range[8 + k] = static_cast<u8>(q.lba >> (8 * k));
            cmd.cdw11 = 1u << 2;
            cmd.buffer = m_ranges.get();
            cmd.offset = u64{cid} * 16;
            cmd.length = 16;
            break;
        }
    }
    if (q.op != abi::BlockRequestOp::Flush && q.op != abi::BlockRequestOp::Discard) {
        cmd.cdw10 = static_cast<u32>(q.lba);
        cmd.cdw11 = static_cast<u32>(q.lba >> 32);
        cmd.cdw12 = static_cast<u32>(n - 1);
    }
    m_commands[cid] = Command{true, false, record, rt::clock_ns(), cmd};
    m_in_flight_commands++;
    c.commands++;
    q.parts_in_flight++;
    q.lba += n;
    q.left -= n;
    q.offset += n << ns.lba_shift;
    if (!q.left) c.splitting = kNoRequest;
    m_batch[m_batch_count++] = cmd;
    if (m_batch_count == abi::kNvmeMaxBatch) flush_batch();
}

void BlockService::flush_batch() {
    if (!m_batch_count) return;
    auto sent = m_ctrl.submit(m_batch, m_batch_count);
    u32 count = m_batch_count;
    m_batch_count = 0;
    if (sent.ok()) return;
    // The broker refused the batch (nothing of it was submitted): answer
    // each command's request with the refusal.
    rt::log("nvme: the broker refused a batch of %u: %s", count, status_name(sent.status()));
    for (u32 i = 0; i < count; i++) {
        u16 cid = m_batch[i].cid;
        Request& q = m_requests[m_commands[cid].request];
        if (!q.status) q.status = static_cast<i32>(sent.status());
        part_done(cid);
    }
}

void BlockService::part_done(u16 cid) {
    Command& cmd = m_commands[cid];
    u16 record = cmd.request;
    u32 ch = record / abi::kBlockRingEntries;
    Channel& c = m_channels[ch];
    Request& q = m_requests[record];
    cmd.busy = false;
    give_bit(m_free_cids, cid);
    m_in_flight_commands--;
    c.commands--;
    q.parts_in_flight--;
    // A failed part fails the request: the parts not yet made are not.
    if (q.status && c.splitting == record) {
        q.left = 0;
        c.splitting = kNoRequest;
    }
    if (!q.parts_in_flight && !q.left) request_done(record);
}

void BlockService::request_done(u16 record) {
    u32 ch = record / abi::kBlockRingEntries;
    Channel& c = m_channels[ch];
    if (c.state != ChannelState::Live) {
        free_record(record);
        return release_if_idle(ch);
    }
    c.answered[c.answered_tail++ % abi::kBlockRingEntries] = record;
}

void BlockService::free_record(u16 record) {
    Channel& c = m_channels[record / abi::kBlockRingEntries];
    give_bit(c.free_records, record % abi::kBlockRingEntries);
    c.records--;
}

void BlockService::finish_part(u16 cid, u16 nvme_status) {
    Command& cmd = m_commands[cid];
    if (!cmd.busy) return;
    Request& req = m_requests[cmd.request];
    if (nvme_status) {
        // Once, when the controller allows it (DNR clear): a transient
        // failure should not cost the consumer its request. The same
        // command id goes again, so nothing else changes.
        bool again = nvme::may_retry(nvme_status) && !cmd.retried;
        Status s = nvme::io_status(nvme_status);
        if (s == Status::Ok) s = Status::DeviceError;  // a failure by its bits, whatever they name
        rt::log("nvme: opcode 0x%02x nsid %u lba %llu: %s (0x%x): %s", cmd.nvme.opcode, cmd.nvme.nsid,
                static_cast<unsigned long long>(u64{cmd.nvme.cdw11} << 32 | cmd.nvme.cdw10),
                status_name_of(nvme_status), nvme_status, again ? "submitting it again" : status_name(s));
        if (again) {
            cmd.retried = true;
            cmd.submitted_ns = rt::clock_ns();
            m_batch[m_batch_count++] = cmd.nvme;
            if (m_batch_count == abi::kNvmeMaxBatch) flush_batch();
            return;
        }
        if (!req.status) {
            req.status = static_cast<i32>(s);
            req.nvme_status = nvme_status;
        }
    }
    part_done(cid);
}

void BlockService::reap(bool ack_interrupt) {
    for (;;) {
        abi::NvmeCompletion done[64];
        auto n = m_ctrl.complete(done, 64, ack_interrupt);
        ack_interrupt = false;
        if (!n.ok()) {
            if (n.status() == Status::TornDown) {
                rt::log("nvme: the DMA grant was torn down; exiting");
                rt::exit(3);
            }
            break;
        }
        for (u32 i = 0; i < n.value(); i++) {
            if (++m_completions_seen == m_drop_completion) {
                rt::log("nvme: test: ignoring the completion of cid %u", done[i].cid);
                continue;
            }
            if (done[i].cid < Controller::kIoEntries) finish_part(done[i].cid, done[i].status);
        }
        if (n.value() < 64) break;
    }
    flush_batch();  // commands finish_part submits again
}

void BlockService::post_ready() {
    for (u32 ch = 0; ch < kMaxChannels; ch++) {
        Channel& c = m_channels[ch];
        if (c.state != ChannelState::Live || c.answered_head == c.answered_tail) continue;
        auto room = c.completions.refresh();
        if (!room.ok()) {
            u32 head = c.completions.bad_index();
            if (c.completions.tail() - head <= abi::kBlockRingEntries)
                close_channel(ch, "completion head %u moved back from %u", head, c.completions.head_seen());
            else
                close_channel(ch, "completion head %u is not within %u behind tail %u", head, abi::kBlockRingEntries,
                              c.completions.tail());
            continue;
        }
        u32 posted = 0;
        for (; posted < room.value() && c.answered_head != c.answered_tail; posted++) {
            u16 record = c.answered[c.answered_head++ % abi::kBlockRingEntries];
            const Request& q = m_requests[record];
            (void)c.completions.put(abi::BlockCompletion{q.id, q.status, q.nvme_status, 0});
            free_record(record);
        }
        if (!posted) continue;  // full: its consumer has yet to take what it has
        c.completions.publish();
        m_pending_signal |= 1u << ch;
    }
}

u32 BlockService::signal_all_but_one() {
    u32 last = kMaxChannels;
    for (u32 ch = 0; ch < kMaxChannels; ch++) {
        if (!(m_pending_signal >> ch & 1) || m_channels[ch].state != ChannelState::Live) continue;
        if (last < kMaxChannels) {
            if (auto s = rt::notification_signal(m_channels[last].consumer_note.get(), 1); !s.ok())
                close_channel(last, "its notification cannot be signalled: %s", status_name(s.status()));
        }
        last = ch;
    }
    m_pending_signal = 0;
    return last;
}

void BlockService::check_timeouts() {
    if (!m_in_flight_commands) return;
    u64 now = rt::clock_ns();
    u32 late = Controller::kIoEntries;
    for (u32 cid = 0; cid < Controller::kIoEntries && late == Controller::kIoEntries; cid++)
        if (m_commands[cid].busy && now - m_commands[cid].submitted_ns > m_timeout_ns) late = cid;
    if (late == Controller::kIoEntries) return;
    rt::log("nvme: command cid %u (opcode 0x%02x) got no completion within %llu ms: resetting the controller", late,
            m_commands[late].nvme.opcode, static_cast<unsigned long long>(m_timeout_ns / 1'000'000));
    auto r = m_ctrl.reset();
    // Every command still in flight goes again on the new queues, once; a
    // second timeout fails its request.
    u32 again = 0;
    for (u32 cid = 0; cid < Controller::kIoEntries; cid++) {
        Command& cmd = m_commands[cid];
        if (!cmd.busy) continue;
        if (!r.ok() || cmd.retried) {
            Request& req = m_requests[cmd.request];
            if (!req.status) req.status = static_cast<i32>(r.ok() ? Status::Timeout : r.status());
            part_done(static_cast<u16>(cid));
            continue;
        }
        cmd.retried = true;
        cmd.submitted_ns = rt::clock_ns();
        m_batch[m_batch_count++] = cmd.nvme;
        again++;
        if (m_batch_count == abi::kNvmeMaxBatch) flush_batch();
    }
    flush_batch();
    rt::log("nvme: controller reset %s; %u commands submitted again", r.ok() ? "done" : status_name(r.status()), again);
}

}  // namespace nvme_driver
