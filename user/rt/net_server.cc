#include "rt/net_server.h"

#include "protocol/message.h"
#include "protocol/net.h"
#include "protocol/service.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/service.h"
#include "rt/sys.h"

namespace rt {
namespace {

constexpr u64 kKeyService = 1;
constexpr u64 kKeyKick = 2;
constexpr u64 kKeyIrq = 16;  // + the backend's interrupt index
// The loop also wakes this often: a lost interrupt costs at most this,
// and a link change on a device without a configuration vector is seen.
constexpr u64 kIdleWakeNs = 200'000'000;
constexpr u32 kClientMemoryRights = cap_rights::kRead | cap_rights::kWrite | cap_rights::kMap | cap_rights::kTransfer;
constexpr u32 kClientNoteRights = cap_rights::kSignal | cap_rights::kTransfer;

}  // namespace

Result<void> NetServer::init() {
    m_generation = u64{startup().pid} << 40 ^ clock_ns();
    m_link = m_backend.link();
    u32 max_frame = u32{m_link.mtu} + abi::kNetMinFrame;
    TRY(m_channel.init(abi::kNetBufferBytes, abi::kNetBufferCount, max_frame));
    m_packet = TRY(dma_buffer_create(m_config.pool, u64{abi::kNetBufferBytes} * abi::kNetBufferCount));
    TRY(m_backend.use_packet_buffer(m_packet.get(), abi::kNetBufferBytes, abi::kNetBufferCount));
    (void)m_channel.set_link(m_link.link_up);
    m_ws = TRY(waitset_create());
    if (m_config.endpoint) TRY(waitset_add(m_ws.get(), m_config.endpoint, abi::kSignalReadable, kKeyService));
    for (u32 i = 0; i < m_backend.irq_count(); i++)
        TRY(waitset_add(m_ws.get(), m_backend.irq(i), abi::kSignalReady | abi::kSignalDead, kKeyIrq + i));
    return {};
}

void NetServer::grant_gone() {
    rt::log("%s: the DMA grant was torn down; exiting", m_config.name);
    exit(3);
}

// The device is not to be trusted (NetBackend::fault): only a reset makes
// it so again, and the provider's exit is that reset (the kernel's
// teardown) and a restart (devmgr), with the client reattaching. Exit code
// 4: devmgr's on-failure restart.
void NetServer::fail_closed(const char* why) {
    rt::log(
        "%s: failing closed: %s; exiting so that the device is reset and the provider restarted (%llu frames "
        "received, %llu sent on channel %u)",
        m_config.name, why, static_cast<unsigned long long>(m_rx_frames), static_cast<unsigned long long>(m_tx_frames),
        m_channel_id);
    exit(4);
}

void NetServer::run() {
    u64 next_link_check = clock_ns() + kIdleWakeNs;
    for (;;) {
        abi::WaitEvent events[8];
        // The client told of what pump() published is signalled by the
        // wait itself (one kernel entry, not two).
        u32 signal = m_signal_client && m_client_note ? m_client_note.get() : 0;
        m_signal_client = false;
        if (signal) m_client_signals++;
        // Asleep only when the client published nothing since the last
        // pass (NetRings::provider_awake): else a look (timeout 0), which
        // still collects interrupts and calls and tells the client.
        bool idle = !m_channel.about_to_sleep();
        auto n = waitset_wait(m_ws.get(), events, 8, idle ? kIdleWakeNs : 0, signal, signal ? 1 : 0);
        m_channel.awake();
        if (!n.ok() && n.status() != Status::Timeout && signal) {
            // The wait failed before it signalled: tell the client now.
            if (auto s = notification_signal(signal, 1); !s.ok())
                close_channel("its notification cannot be signalled", s.status());
        }
        bool config = false, irq = false;
        for (u32 i = 0; n.ok() && i < n.value(); i++) {
            if (events[i].key == kKeyService) {
                serve_call();
            } else if (events[i].key == kKeyKick) {
                m_kicks++;
            } else if (events[i].key >= kKeyIrq) {
                if (events[i].signals & abi::kSignalDead) grant_gone();
                config |= m_backend.acknowledge(static_cast<u32>(events[i].key - kKeyIrq));
                irq = true;
            }
            // A kick needs nothing more: its entry takes the bits as it
            // reports them (kWaitTake), and pump() reads the rings.
        }
        // The link is asked on its interrupt, and at least every
        // kIdleWakeNs (a device without the configuration vector, or one
        // busy enough that the wait never times out).
        bool timed_wake = idle && (!n.ok() || n.value() == 0);
        // A busy client keeps the wait from ever timing out: the periodic
        // check runs on the clock, and reaps too (a lost interrupt must not
        // wait for the client to run out of slots).
        bool check_due = clock_ns() >= next_link_check;
        if (config || check_due) {
            link_check();
            next_link_check = clock_ns() + kIdleWakeNs;
        }
        // Completions are reaped after an interrupt or on the periodic
        // check (a lost interrupt), not on a client's kick or a call: that
        // cost two VirtQueueComplete calls per kick for nothing.
        pump(irq || timed_wake || check_due, timed_wake || check_due);
        if (const char* why = m_backend.fault()) fail_closed(why);
    }
}

void NetServer::link_check() {
    net::LinkInfo now = m_backend.link();
    if (now.link_up == m_link.link_up) return;
    m_link = now;
    rt::log("%s: link %s", m_config.name, now.link_up ? "up" : "down");
    if (m_channel.set_link(now.link_up)) m_signal_client = true;
}

void NetServer::pump(bool reap, bool every_queue) {
    NetBackend::Completion done[64];
    // Nothing more is taken from a device that has lost the driver's trust
    // (NetBackend::fault): the server fails closed right after this pass.
    for (bool more = reap; more && !m_backend.fault();) {
        auto got = m_backend.reap(done, 64, more, every_queue);
        if (!got.ok()) {
            if (got.status() == Status::TornDown) grant_gone();
            rt::log("%s: reaping the device's completions failed: %s", m_config.name, status_name(got.status()));
            break;
        }
        for (u32 i = 0; i < got.value(); i++) {
            const NetBackend::Completion& c = done[i];
            auto r = c.rx ? m_channel.rx_complete(c.slot, c.length) : m_channel.tx_complete(c.slot, c.status);
            if (r.ok()) {
                (c.rx ? m_rx_frames : m_tx_frames)++;
                continue;
            }
            if (r.status() == Status::Malformed) {
                close_channel(nullptr, r.status());
                // The slot is still the device's in the ledger: now nobody's.
                (void)(c.rx ? m_channel.rx_complete(c.slot, 0) : m_channel.tx_complete(c.slot, c.status));
            } else {
                rt::log("%s: completion of slot %u the device did not hold: %s", m_config.name, c.slot,
                        status_name(r.status()));
            }
        }
    }
    // A device that lied (or asked for a reset) gets no more buffers: the
    // provider is about to fail closed (fail_closed, after this pass).
    if (m_backend.fault()) return;
    if (m_channel.is_open()) {
        auto rx = m_channel.take_rx_free(m_rx_wait + m_rx_wait_count, abi::kNetBufferCount - m_rx_wait_count);
        if (!rx.ok()) return close_channel(nullptr, rx.status());
        m_rx_wait_count += rx.value();
        auto tx = m_channel.take_tx_ready(m_tx_wait + m_tx_wait_count, abi::kNetBufferCount - m_tx_wait_count);
        if (!tx.ok()) return close_channel(nullptr, tx.status());
        m_tx_wait_count += tx.value();
    }
    post_waiting();
    // Told only when it said it sleeps (NetRings::client_awake).
    if (m_channel.publish() && m_channel.client_sleeping()) m_signal_client = true;
}

// The broker refused slots the provider posted: they go back, and the
// first few refusals say why (one that keeps refusing is not logged for
// ever; the kernel attributes each refusal too).
void NetServer::refused_post(const char* queue, u32 count, Status why) {
    if (m_refused_posts++ < 8)
        rt::log("%s: the %s queue refused %u slots: %s; given back", m_config.name, queue, count, status_name(why));
}

// Hands the device what waits, as much as it has room for. A refusal
// other than Busy (no room after all) gives the rest back: to the client
// empty, or Free when no channel is open.
void NetServer::post_waiting() {
    u32 n = m_rx_wait_count < m_backend.rx_room() ? m_rx_wait_count : m_backend.rx_room();
    // Receive buffers go to the device kRxRefillBatch at a time while it
    // holds plenty (one VirtQueueSubmit per batch, not per frame), all at
    // once when it runs low.
    if (n < kRxRefillBatch && m_backend.rx_room() < kRxRefillAllAtRoom) n = 0;
    if (n) {
        Status why = Status::Ok;
        u32 posted = m_backend.post_rx(m_rx_wait, n, why);
        if (why == Status::TornDown) grant_gone();
        u32 done = why == Status::Ok || why == Status::Busy ? posted : n;
        if (done != posted) refused_post("receive", n - posted, why);
        for (u32 i = posted; i < done; i++) (void)m_channel.rx_complete(m_rx_wait[i], 0);
        for (u32 i = done; i < m_rx_wait_count; i++) m_rx_wait[i - done] = m_rx_wait[i];
        m_rx_wait_count -= done;
    }
    n = m_tx_wait_count < m_backend.tx_room() ? m_tx_wait_count : m_backend.tx_room();
    if (n) {
        Status why = Status::Ok;
        u32 posted = m_backend.post_tx(m_tx_wait, n, why);
        if (why == Status::TornDown) grant_gone();
        u32 done = why == Status::Ok || why == Status::Busy ? posted : n;
        if (done != posted) refused_post("transmit", n - posted, why);
        for (u32 i = posted; i < done; i++) (void)m_channel.tx_complete(m_tx_wait[i].slot, why);
        for (u32 i = done; i < m_tx_wait_count; i++) m_tx_wait[i - done] = m_tx_wait[i];
        m_tx_wait_count -= done;
    }
}

void NetServer::close_channel(const char* why, Status status, bool log) {
    if (!m_channel.is_open()) return;
    if (!log) {
    } else if (why) {
        rt::log("%s: channel %u (client %llu.%llu): %s: %s: closing the channel", m_config.name, m_channel_id,
                static_cast<unsigned long long>(abi::service_consumer(m_badge)),
                static_cast<unsigned long long>(m_badge & 0xffff'ffffull), why, status_name(status));
    } else {
        const net::Refusal& r = m_channel.refusal();
        rt::log("%s: channel %u (client %llu.%llu): %s %s (offset %u, length %u): %s: closing the channel",
                m_config.name, m_channel_id, static_cast<unsigned long long>(abi::service_consumer(m_badge)),
                static_cast<unsigned long long>(m_badge & 0xffff'ffffull), r.ring, r.why, r.offset, r.length,
                status_name(status));
    }
    m_channel.close();
    // What waited for room was never the device's: Free now.
    for (u32 i = 0; i < m_rx_wait_count; i++) (void)m_channel.rx_complete(m_rx_wait[i], 0);
    for (u32 i = 0; i < m_tx_wait_count; i++) (void)m_channel.tx_complete(m_tx_wait[i].slot, Status::Stale);
    m_rx_wait_count = m_tx_wait_count = 0;
    (void)waitset_remove(m_ws.get(), kKeyKick);
    // Every copy the client holds goes now, with its mappings; the
    // provider's own packet buffer stays (the device may hold slots).
    (void)revoke(m_ring_memory.get());
    (void)revoke(m_packet.get());
    (void)revoke(m_kick.get());
    m_ring_memory.reset();
    m_kick.reset();
    m_client_note.reset();
    m_badge = 0;
}

void NetServer::serve_call() {
    abi::Message m;
    if (!receive_call(m_config.endpoint, m)) return;  // nobody called, or already answered
    abi::NetOp op = abi::body_of<abi::NetOp>(m);
    if (op != abi::NetOp::Attach) {
        for (u32 i = 0; i < m.handle_count; i++) (void)close(m.handles[i]);
        m.handle_count = 0;
    }
    abi::Message reply{};
    if (op == abi::NetOp::Info) {
        abi::NetInfo info{};
        info.status = Status::Ok;
        __builtin_memcpy(info.mac, m_link.mac, sizeof info.mac);
        info.mtu = m_link.mtu;
        info.link_up = m_link.link_up ? 1 : 0;
        info.buffer_bytes = abi::kNetBufferBytes;
        info.buffer_count = abi::kNetBufferCount;
        info.generation = m_generation;
        abi::put_body(reply, info);
    } else if (op == abi::NetOp::Attach) {
        return attach(m);
    } else if (op == abi::NetOp::Detach) {
        bool live = live_channel(m);
        if (live) {
            // What the frames cost in notifications, said once per channel
            // (a line per N frames would spend the provider's log budget
            // under load, and drop the lines that matter: refusals, faults).
            rt::log(
                "%s: channel %u detached (%llu frames received, %llu sent, %llu signals to the client, %llu "
                "kicks from it)",
                m_config.name, m_channel_id, static_cast<unsigned long long>(m_rx_frames),
                static_cast<unsigned long long>(m_tx_frames), static_cast<unsigned long long>(m_client_signals),
                static_cast<unsigned long long>(m_kicks));
            close_channel(nullptr, Status::Ok, false);
        }
        abi::put_body(reply, abi::NetStatusReply{live ? Status::Ok : Status::Stale});
    } else if (op == abi::NetOp::Ping) {
        abi::put_body(reply, abi::NetStatusReply{live_channel(m) ? Status::Ok : Status::Stale});
    } else {
        abi::put_body(reply, abi::NetStatusReply{Status::InvalidArgument});
    }
    (void)endpoint_reply(reply);
}

bool NetServer::live_channel(const abi::Message& m) const {
    if (!m_channel.is_open() || m.length < sizeof(abi::NetChannelRequest)) return false;
    auto r = abi::body_of<abi::NetChannelRequest>(m);
    return r.generation == m_generation && r.channel == m_channel_id && m.badge == m_badge;
}

void NetServer::attach(abi::Message& m) {
    abi::Message reply{};
    auto refuse = [&](Status s, const char* why) {
        rt::log("%s: attach refused (client %llu.%llu): %s: %s", m_config.name,
                static_cast<unsigned long long>(abi::service_consumer(m.badge)),
                static_cast<unsigned long long>(m.badge & 0xffff'ffffull), why, status_name(s));
        refuse_call(m, s);
    };
    if (m.handle_count != 1) return refuse(Status::InvalidArgument, "expected one notification");
    // The one channel is its client's until it detaches; the same client
    // attaching again (restarted: nothing told the provider its
    // predecessor died) replaces it, as BlockServer replaces a consumer's
    // oldest. Anyone else waits.
    if (m_channel.is_open()) {
        if (abi::service_consumer(m_badge) != abi::service_consumer(m.badge))
            return refuse(Status::Busy, "another client's channel is live");
        close_channel("the client attaches again", Status::Ok);
    }
    Handle client_note(m.handles[0]);
    m.handle_count = 0;
    // A signal of no bits checks that it is a notification we may signal.
    if (auto s = notification_signal(client_note.get(), 0); !s.ok()) return refuse(s.status(), "the notification");
    auto ring = memory_create(abi::kNetRingBytes);
    if (!ring.ok()) return refuse(ring.status(), "ring memory");
    auto at = memory_map(ring.value().get(), 0, abi::kMapWrite);
    if (!at.ok()) return refuse(at.status(), "ring mapping");
    auto kick = notification_create();
    if (!kick.ok()) return refuse(kick.status(), "notification");
    auto ring_copy = duplicate(ring.value().get(), kClientMemoryRights);
    auto packet_copy = duplicate(m_packet.get(), kClientMemoryRights);
    auto kick_copy = duplicate(kick.value().get(), kClientNoteRights);
    if (!ring_copy.ok() || !packet_copy.ok() || !kick_copy.ok() ||
        !waitset_add(m_ws.get(), kick.value().get(), abi::kSignalReady | abi::kWaitTake, kKeyKick).ok())
        return refuse(Status::NoMemory, "copies for the client");
    if (auto r = m_channel.open(reinterpret_cast<abi::NetRings*>(at.value())); !r.ok()) {
        (void)waitset_remove(m_ws.get(), kKeyKick);
        return refuse(r.status(), "channel");
    }
    m_ring_memory = static_cast<Handle&&>(ring.value());
    m_kick = static_cast<Handle&&>(kick.value());
    m_client_note = static_cast<Handle&&>(client_note);
    m_badge = m.badge;
    m_channel_id = static_cast<u32>(++m_attaches);
    m_rx_frames = m_tx_frames = m_client_signals = m_kicks = 0;
    abi::put_body(
        reply, abi::NetAttachReply{Status::Ok, m_channel_id, abi::kNetBufferBytes, abi::kNetBufferCount, m_generation});
    reply.handle_count = 3;
    reply.handles[0] = ring_copy.value().release();
    reply.handles[1] = packet_copy.value().release();
    reply.handles[2] = kick_copy.value().release();
    rt::log("%s: channel %u attached (client %llu): %u slots of %u bytes, %u with the device", m_config.name,
            m_channel_id, static_cast<unsigned long long>(abi::service_consumer(m.badge)), abi::kNetBufferCount,
            abi::kNetBufferBytes, m_channel.held_by(net::Holder::Rx) + m_channel.held_by(net::Holder::Tx));
    (void)endpoint_reply(reply);
    // The free slots are in tx_done already: tell the client.
    if (m_channel.publish()) m_signal_client = true;
}

}  // namespace rt
