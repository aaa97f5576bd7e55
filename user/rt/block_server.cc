#include "rt/block_server.h"

#include <stdarg.h>

#include "protocol/message.h"
#include "protocol/service.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/service.h"
#include "rt/sys.h"

namespace rt {
namespace {

constexpr u64 kKeyService = 1;
constexpr u64 kKeyIrq = 2;
constexpr u64 kKeyChannel = 16;  // + channel index
// While commands are in flight the loop wakes at least this often: to
// check timeouts and to let the device's broker look for a lost doorbell.
constexpr u64 kBusyWakeNs = 10'000'000;

// Consumers' copies: what they need, nothing to revoke with (a revoke on
// a copy reaches only copies made from it, never the provider's).
constexpr u32 kConsumerMemoryRights = cap_rights::kRead | cap_rights::kWrite | cap_rights::kMap | cap_rights::kTransfer;
constexpr u32 kConsumerNoteRights = cap_rights::kSignal | cap_rights::kTransfer;

}  // namespace

u64 BlockServer::now_ns() { return clock_ns(); }
void BlockServer::log(const char* line) { rt::log("%s", line); }

Result<void> BlockServer::init() {
    // Unique per provider process: pids are not reused within a boot, and
    // the clock tells boots apart for anything that outlives one.
    m_generation = u64{startup().pid} << 40 ^ clock_ns();
    m_ws = TRY(waitset_create());
    if (m_config.endpoint) TRY(waitset_add(m_ws.get(), m_config.endpoint, abi::kSignalReadable, kKeyService));
    TRY(waitset_add(m_ws.get(), m_config.irq, abi::kSignalReady | abi::kSignalDead, kKeyIrq));
    return {};
}

void BlockServer::run() {
    for (;;) {
        abi::WaitEvent events[8];
        u64 timeout = m_engine.in_flight() ? kBusyWakeNs : abi::kForever;
        // The consumer told of new completions is signalled by the wait
        // itself (one kernel entry, not two); any others just before.
        u32 signal_ch = signal_all_but_one(m_engine.take_signals());
        u32 signal = signal_ch < kMaxChannels ? m_channels[signal_ch].consumer_note.get() : 0;
        auto n = waitset_wait(m_ws.get(), events, 8, timeout, signal, signal ? 1 : 0);
        if (!n.ok() && n.status() != Status::Timeout && signal) {
            // The wait failed before it signalled: tell that consumer now.
            // If even that fails, its notification was revoked underneath.
            if (auto s = notification_signal(signal, 1); !s.ok())
                m_engine.close(signal_ch, "its notification cannot be signalled: %s", status_name(s.status()));
        }
        bool irq = false;
        for (u32 i = 0; n.ok() && i < n.value(); i++) {
            if (events[i].key == kKeyService) {
                serve_call();
            } else if (events[i].key == kKeyIrq) {
                if (events[i].signals & abi::kSignalDead) grant_gone();
                irq = true;
            }
            // A channel's kick needs nothing here: its entry takes the
            // notification's bits as it reports it (kWaitTake), and
            // take_requests() below reads every channel's ring.
        }
        // Completions are reaped when the interrupt fired, or on the
        // periodic wake while commands are in flight (which is also when the
        // broker looks for a lost doorbell) — not on a consumer's kick: that
        // would cost a system call per submission for nothing. After an
        // interrupt the reap's first poll acknowledges it (re-arms it)
        // before reading the queue: a completion posted after the reap
        // raises the interrupt again instead of being missed.
        bool timed_wake = !n.ok() || n.value() == 0;
        // The device's queues answer TornDown once the grant is gone,
        // whichever backend: the provider ends with its grant.
        if ((irq || timed_wake) && m_engine.reap(irq) == Status::TornDown) grant_gone();
        m_engine.take_requests();
        m_engine.post_ready();
        m_engine.check_timeouts();
    }
}

void BlockServer::grant_gone() {
    rt::log("%s: the DMA grant was torn down; exiting", m_config.name);
    exit(3);
}

void BlockServer::serve_call() {
    abi::Message m{};
    // A call whose handles could not all be taken is answered there with
    // the error (left unanswered it would hold the endpoint Busy).
    if (!receive_call(m_config.endpoint, m)) return;
    abi::BlockOp op = abi::body_of<abi::BlockOp>(m);  // 0 (no op) when too short
    // Only an Attach carries a handle. Any others are closed at once: kept,
    // they would fill this process's capability space a call at a time.
    if (op != abi::BlockOp::Attach) {
        for (u32 i = 0; i < m.handle_count; i++) (void)close(m.handles[i]);
        m.handle_count = 0;
    }
    abi::Message reply{};
    u32 index = abi::body_of<abi::BlockDescribeRequest>(m).device;
    bool known = index < m_backend.device_count();
    if (op == abi::BlockOp::Info) {
        if (known) {
            const block::DeviceInfo& d = m_backend.device(index);
            abi::BlockInfo info{};
            info.blocks = d.blocks;
            info.block_size = 1u << d.block_shift;
            info.max_transfer = d.max_transfer;
            info.unit = d.unit;
            info.ops = block::offered_ops(d);
            info.flags = (d.read_only ? abi::kBlockReadOnly : 0) | (d.volatile_cache ? abi::kBlockVolatileCache : 0) |
                         (d.native_fua ? abi::kBlockNativeFua : 0);
            info.device_count = m_backend.device_count();
            info.alignment = d.alignment ? d.alignment : 1;
            info.max_write_zeroes_blocks =
                d.ops & abi::block_op_bit(abi::BlockRequestOp::WriteZeroes) ? d.max_write_zeroes_blocks : 0;
            info.max_discard_blocks =
                d.ops & abi::block_op_bit(abi::BlockRequestOp::Discard) ? d.max_discard_blocks : 0;
            abi::put_body(reply, info);
        }
    } else if (op == abi::BlockOp::Identity) {
        if (known) {
            const block::DeviceInfo& d = m_backend.device(index);
            abi::BlockIdentity id{};
            __builtin_memcpy(id.model, d.model, sizeof id.model);
            __builtin_memcpy(id.serial, d.serial, sizeof id.serial);
            id.model[sizeof id.model - 1] = 0;
            id.serial[sizeof id.serial - 1] = 0;
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
    (void)endpoint_reply(reply);
}

void BlockServer::attach(abi::Message& m) {
    abi::Message reply{};
    auto refuse = [&](Status s, const char* why) {
        rt::log("%s: attach refused (consumer %llu.%llu): %s: %s", m_config.name,
                static_cast<unsigned long long>(abi::service_consumer(m.badge)),
                static_cast<unsigned long long>(m.badge & 0xffff'ffffull), why, status_name(s));
        refuse_call(m, s);
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
        if (!m_engine.is_live(i) || abi::service_consumer(c.badge) != consumer) continue;
        held++;
        if (oldest == kMaxChannels || c.attached_seq < m_channels[oldest].attached_seq) oldest = i;
    }
    if (held >= kChannelsPerConsumer)
        m_engine.close(oldest, "consumer %llu attaches again with %u channels open: its oldest goes",
                       static_cast<unsigned long long>(consumer), held);
    u32 ch = kMaxChannels;
    for (u32 i = 0; i < kMaxChannels && ch == kMaxChannels; i++)
        if (m_engine.is_free(i)) ch = i;
    if (ch == kMaxChannels) return refuse(Status::QuotaExceeded, "no free channel");
    u64 bytes = abi::body_of<abi::BlockAttachRequest>(m).data_bytes;
    if (bytes == 0) bytes = kDefaultDataBytes;
    bytes = (bytes + 4095) & ~u64{4095};
    if (bytes > abi::kBlockMaxDataBytes) return refuse(Status::InvalidArgument, "data buffer too large");
    Channel c;
    c.consumer_note = Handle(m.handles[0]);
    m.handle_count = 0;
    // The consumer's notification rides on this loop's wait (signal-then-
    // wait): one that is not a notification with `signal` would fail that
    // wait for everyone. A signal of no bits checks it and wakes no one.
    if (auto s = notification_signal(c.consumer_note.get(), 0); !s.ok())
        return refuse(s.status(), "the consumer's notification");
    // The rings, the data buffer and the kick notification are created
    // here and stay this provider's; the consumer gets copies derived from
    // them, which it can neither shrink nor revoke from under us.
    auto ring = memory_create(abi::kBlockRingBytes);
    if (!ring.ok()) return refuse(ring.status(), "ring memory");
    c.ring_memory = static_cast<Handle&&>(ring.value());
    // (Its mapping here goes when the handle is closed: on a refusal below
    // as `c` goes out of scope, or when the channel is released.)
    auto at = memory_map(c.ring_memory.get(), 0, abi::kMapWrite);
    if (!at.ok()) return refuse(at.status(), "ring mapping");
    auto data = dma_buffer_create(m_config.pool, bytes);
    auto note = notification_create();
    if (!data.ok() || !note.ok())
        return refuse(!data.ok() ? data.status() : note.status(), "data buffer or notification");
    c.data = static_cast<Handle&&>(data.value());
    c.request_note = static_cast<Handle&&>(note.value());
    c.badge = m.badge;
    c.attached_seq = ++m_attach_seq;
    auto ring_copy = duplicate(c.ring_memory.get(), kConsumerMemoryRights);
    auto data_copy = duplicate(c.data.get(), kConsumerMemoryRights);
    auto note_copy = duplicate(c.request_note.get(), kConsumerNoteRights);
    if (!ring_copy.ok() || !data_copy.ok() || !note_copy.ok() ||
        !waitset_add(m_ws.get(), c.request_note.get(), abi::kSignalReady | abi::kWaitTake, kKeyChannel + ch).ok())
        return refuse(Status::NoMemory, "copies for the consumer");
    m_engine.open(ch, reinterpret_cast<abi::BlockRings*>(at.value()), c.data.get(), bytes);
    m_channels[ch] = static_cast<Channel&&>(c);
    abi::put_body(reply, abi::BlockAttachReply{Status::Ok, channel_id(ch), bytes, m_generation});
    reply.handle_count = 3;
    reply.handles[0] = ring_copy.value().release();
    reply.handles[1] = data_copy.value().release();
    reply.handles[2] = note_copy.value().release();
    rt::log("%s: channel %u attached: %llu KiB shared data buffer", m_config.name, ch,
            static_cast<unsigned long long>(bytes >> 10));
    (void)endpoint_reply(reply);
}

// The live channel a Detach or Ping names (channel id and this provider's
// generation), asked by the consumer that attached it (same badge), or
// kMaxChannels.
u32 BlockServer::channel_of(const abi::Message& m) const {
    if (m.length < sizeof(abi::BlockChannelRequest)) return kMaxChannels;
    auto request = abi::body_of<abi::BlockChannelRequest>(m);
    u32 id = request.channel;
    u32 ch = id & kChannelIndexMask;
    if (request.generation != m_generation || ch >= kMaxChannels || !m_engine.is_live(ch)) return kMaxChannels;
    if (m_channels[ch].badge != m.badge) return kMaxChannels;  // another consumer's channel
    if (channel_id(ch) != id) return kMaxChannels;             // an earlier channel in the same slot
    return ch;
}

void BlockServer::detach(abi::Message& m) {
    abi::Message reply{};
    u32 ch = channel_of(m);
    if (ch < kMaxChannels) m_engine.close(ch, nullptr);
    abi::put_body(reply, abi::BlockStatusReply{ch < kMaxChannels ? Status::Ok : Status::Stale});
    (void)endpoint_reply(reply);
}

void BlockServer::closing(u32 ch, const char* why) {
    Channel& c = m_channels[ch];
    if (why)
        rt::log("%s: channel %u (consumer %llu.%llu): %s: closing the channel", m_config.name, ch,
                static_cast<unsigned long long>(abi::service_consumer(c.badge)),
                static_cast<unsigned long long>(c.badge & 0xffff'ffffull), why);
    (void)waitset_remove(m_ws.get(), kKeyChannel + ch);
    // Every copy the consumer holds goes now, with its mappings: it cannot
    // keep the pool's memory (or a view of the rings) past its channel.
    // The provider's own handles stay until released(): the device may
    // still be writing the data buffer.
    (void)revoke(c.ring_memory.get());
    (void)revoke(c.data.get());
    (void)revoke(c.request_note.get());
    c.consumer_note.reset();
}

void BlockServer::released(u32 ch) {
    m_channels[ch] = Channel{};  // closing its handles unmaps the rings here
}

u32 BlockServer::signal_all_but_one(u32 mask) {
    u32 last = kMaxChannels;
    for (u32 ch = 0; ch < kMaxChannels; ch++) {
        if (!(mask >> ch & 1) || !m_engine.is_live(ch)) continue;
        if (last < kMaxChannels) {
            if (auto s = notification_signal(m_channels[last].consumer_note.get(), 1); !s.ok())
                m_engine.close(last, "its notification cannot be signalled: %s", status_name(s.status()));
        }
        last = ch;
    }
    return last;
}

}  // namespace rt
