#include "block_service.h"

#include "nvme/command.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/sys.h"
#include "util/le_bytes.h"

namespace nvme_driver {
namespace {

using le::get_u32;
using le::get_u64;
using le::put_u32;
using le::put_u64;

constexpr u64 kKeyService = 1;
constexpr u64 kKeyIrq = 2;
constexpr u64 kKeyChannel = 16;  // + channel index
// While commands are in flight the loop wakes at least this often: to
// check timeouts and to let the broker look for a lost shadow doorbell.
constexpr u64 kBusyWakeNs = 10'000'000;

template <typename T>
T load_acquire(const T* p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
template <typename T>
void store_release(T* p, T v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}


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
    return {};
}

void BlockService::run() {
    for (;;) {
        abi::WaitEvent events[8];
        u64 timeout = m_in_flight_commands ? kBusyWakeNs : abi::kForever;
        // The consumer told of new completions is signalled by the wait
        // itself (one kernel entry, not two); any others just before.
        u32 signal = signal_all_but_one();
        auto n = rt::waitset_wait(m_ws.get(), events, 8, timeout, signal, signal ? 1 : 0);
        if (!n.ok() && n.status() != Status::Timeout && signal) (void)rt::notification_signal(signal, 1);
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
    if (!rt::endpoint_receive(m_endpoint, m, 0).ok()) return;
    u32 op = m.length >= 4 ? get_u32(m.data) : 0;
    u32 index = m.length >= 8 ? get_u32(m.data + 4) : 0;
    abi::Message reply{};
    if (op == static_cast<u32>(abi::BlockOp::Info)) {
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
            __builtin_memcpy(reply.data, &info, sizeof info);
            reply.length = sizeof info;
        }
    } else if (op == static_cast<u32>(abi::BlockOp::Identity)) {
        if (index < m_ctrl.namespace_count()) {
            abi::BlockIdentity id{};
            __builtin_memcpy(id.model, m_ctrl.info().model, sizeof id.model);
            __builtin_memcpy(id.serial, m_ctrl.info().serial, sizeof id.serial);
            __builtin_memcpy(reply.data, &id, sizeof id);
            reply.length = sizeof id;
        }
    } else if (op == static_cast<u32>(abi::BlockOp::Attach)) {
        return attach(m);
    } else if (op == static_cast<u32>(abi::BlockOp::Detach)) {
        return detach(m);
    } else if (op == static_cast<u32>(abi::BlockOp::Ping)) {
        put_u32(reply.data, static_cast<u32>(channel_of(m) < kMaxChannels ? Status::Ok : Status::Stale));
        reply.length = 4;
    } else {
        put_u32(reply.data, static_cast<u32>(Status::InvalidArgument));
        reply.length = 4;
    }
    (void)rt::endpoint_reply(reply);
}

void BlockService::attach(abi::Message& m) {
    abi::Message reply{};
    reply.length = 16;
    auto refuse = [&](Status s) {
        put_u32(reply.data, static_cast<u32>(s));
        (void)rt::endpoint_reply(reply);
        for (u32 i = 0; i < m.handle_count; i++) (void)rt::close(m.handles[i]);
    };
    if (m.handle_count != 2 || m.length < 8) return refuse(Status::InvalidArgument);
    u32 ch = kMaxChannels;
    for (u32 i = 0; i < kMaxChannels && ch == kMaxChannels; i++)
        if (!m_channels[i].live) ch = i;
    if (ch == kMaxChannels) return refuse(Status::QuotaExceeded);
    u64 bytes = get_u32(m.data + 4);
    if (bytes == 0) bytes = kDefaultDataBytes;
    bytes = (bytes + 4095) & ~u64{4095};
    if (bytes > abi::kBlockMaxDataBytes) return refuse(Status::InvalidArgument);
    Channel c;
    c.ring_memory = rt::Handle(m.handles[0]);
    c.consumer_note = rt::Handle(m.handles[1]);
    m.handle_count = 0;
    // The consumer's notification rides on this loop's wait (signal-then-
    // wait): one that is not a notification with `signal` would fail that
    // wait for everyone. A signal of no bits checks it and wakes no one.
    if (auto s = rt::notification_signal(c.consumer_note.get(), 0); !s.ok()) {
        rt::log("nvme: attach refused: the consumer's notification: %s", status_name(s.status()));
        put_u32(reply.data, static_cast<u32>(s.status()));
        (void)rt::endpoint_reply(reply);
        return;
    }
    auto rings = rt::memory_map(c.ring_memory.get(), 0, abi::kMapWrite);
    auto data = rt::dma_buffer_create(m_ctrl.pool(), bytes);
    auto note = rt::notification_create();
    if (!rings.ok() || !data.ok() || !note.ok()) {
        Status why = !rings.ok() ? rings.status() : !data.ok() ? data.status() : note.status();
        rt::log("nvme: attach refused: %s", status_name(why));
        return refuse(why);
    }
    c.badge = m.badge;
    c.rings = reinterpret_cast<abi::BlockRings*>(rings.value());
    c.data = static_cast<rt::Handle&&>(data.value());
    c.request_note = static_cast<rt::Handle&&>(note.value());
    c.data_bytes = bytes;
    auto data_copy =
        rt::duplicate(c.data.get(), cap_rights::kRead | cap_rights::kWrite | cap_rights::kMap | cap_rights::kTransfer);
    auto note_copy = rt::duplicate(c.request_note.get(), cap_rights::kSignal | cap_rights::kTransfer);
    if (!data_copy.ok() || !note_copy.ok() ||
        !rt::waitset_add(m_ws.get(), c.request_note.get(), abi::kSignalReady | abi::kWaitTake, kKeyChannel + ch).ok())
        return refuse(Status::NoMemory);
    c.live = true;
    m_channels[ch] = static_cast<Channel&&>(c);
    put_u32(reply.data, 0);
    put_u32(reply.data + 4, ch);
    put_u64(reply.data + 8, bytes);
    put_u64(reply.data + 16, m_generation);
    reply.length = 24;
    reply.handle_count = 2;
    reply.handles[0] = data_copy.value().release();
    reply.handles[1] = note_copy.value().release();
    rt::log("nvme: channel %u attached: %llu KiB shared data buffer", ch, static_cast<unsigned long long>(bytes >> 10));
    (void)rt::endpoint_reply(reply);
}

// The live channel a Detach or Ping names (channel id and this provider's
// generation), asked by the consumer that attached it (same badge), or
// kMaxChannels.
u32 BlockService::channel_of(const abi::Message& m) const {
    if (m.length < 16) return kMaxChannels;
    u32 ch = get_u32(m.data + 4);
    if (get_u64(m.data + 8) != m_generation || ch >= kMaxChannels || !m_channels[ch].live) return kMaxChannels;
    if (m_channels[ch].badge != m.badge) return kMaxChannels;  // another consumer's channel
    return ch;
}

void BlockService::detach(abi::Message& m) {
    abi::Message reply{};
    reply.length = 4;
    u32 ch = channel_of(m);
    Status s = Status::Ok;
    if (ch == kMaxChannels) s = Status::Stale;
    else if (m_channels[ch].in_flight) s = Status::Busy;
    if (s == Status::Ok) {
        (void)rt::waitset_remove(m_ws.get(), kKeyChannel + ch);
        m_channels[ch] = Channel{};
    }
    put_u32(reply.data, static_cast<u32>(s));
    (void)rt::endpoint_reply(reply);
}

i32 BlockService::validate(const Channel& c, const abi::BlockRequest& r, u32* parts) const {
    if (r.device >= m_ctrl.namespace_count()) return static_cast<i32>(Status::NotFound);
    const Namespace& ns = m_ctrl.ns(r.device);
    u64 max_blocks = m_ctrl.max_transfer() >> ns.lba_shift;
    if (max_blocks > 65536) max_blocks = 65536;  // NLB is 16 bits
    u32 oncs = m_ctrl.info().oncs;
    switch (r.op) {
        case abi::BlockRequestOp::Flush: *parts = 1; return 0;
        case abi::BlockRequestOp::Read:
        case abi::BlockRequestOp::Write: {
            u64 bytes = u64{r.blocks} << ns.lba_shift;
            if (r.offset > c.data_bytes || bytes > c.data_bytes - r.offset) return static_cast<i32>(Status::OutOfBounds);
            if (r.offset % 4) return static_cast<i32>(Status::InvalidArgument);  // PRP entries are dword aligned
            break;
        }
        case abi::BlockRequestOp::WriteZeroes:
            if (!(oncs & nvme::kOncsWriteZeroes)) return static_cast<i32>(Status::Unsupported);
            break;
        case abi::BlockRequestOp::Discard:
            if (!(oncs & nvme::kOncsDsm)) return static_cast<i32>(Status::Unsupported);
            max_blocks = 0xffffffffu;  // one range: a 32-bit length
            break;
        default: return static_cast<i32>(Status::InvalidArgument);
    }
    if (r.blocks == 0) return static_cast<i32>(Status::InvalidArgument);
    if (r.lba > ns.blocks || r.blocks > ns.blocks - r.lba) return static_cast<i32>(Status::OutOfBounds);
    *parts = static_cast<u32>((r.blocks + max_blocks - 1) / max_blocks);
    return 0;
}

bool BlockService::start_request(u32 ch, const abi::BlockRequest& r) {
    Channel& c = m_channels[ch];
    u32 parts = 0;
    i32 bad = validate(c, r, &parts);
    u32 record = kMaxRequests;
    for (u32 i = 0; i < kMaxRequests && record == kMaxRequests; i++)
        if (!m_requests[i].live) record = i;
    if (record == kMaxRequests) return false;
    if (bad) {
        m_requests[record] = Request{true, true, static_cast<u8>(ch), 0, r.id, bad, 0};
        c.in_flight++;
        return true;
    }
    // The broker keeps one SQ slot empty: kIoEntries - 1 commands fit.
    if (m_in_flight_commands + parts > Controller::kIoEntries - 1) return false;
    m_requests[record] = Request{true, false, static_cast<u8>(ch), static_cast<u16>(parts), r.id, 0, 0};
    c.in_flight++;
    const Namespace& ns = m_ctrl.ns(r.device);
    u64 max_blocks = m_ctrl.max_transfer() >> ns.lba_shift;
    if (max_blocks > 65536) max_blocks = 65536;
    u64 lba = r.lba, left = r.blocks, offset = r.offset;
    for (u32 p = 0; p < parts; p++) {
        u16 cid = 0;
        while (m_commands[cid].busy) cid++;
        abi::NvmeCommand cmd{};
        cmd.cid = cid;
        cmd.nsid = ns.nsid;
        u64 n = left < max_blocks ? left : max_blocks;
        switch (r.op) {
            case abi::BlockRequestOp::Flush: cmd.opcode = nvme::kIoFlush; break;
            case abi::BlockRequestOp::Read:
            case abi::BlockRequestOp::Write:
                cmd.opcode = r.op == abi::BlockRequestOp::Read ? nvme::kIoRead : nvme::kIoWrite;
                cmd.buffer = c.data.get();
                cmd.offset = offset;
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
                for (u32 k = 0; k < 8; k++) range[8 + k] = static_cast<u8>(lba >> (8 * k));
                cmd.cdw11 = 1u << 2;
                cmd.buffer = m_ranges.get();
                cmd.offset = u64{cid} * 16;
                cmd.length = 16;
                break;
            }
        }
        if (r.op != abi::BlockRequestOp::Flush && r.op != abi::BlockRequestOp::Discard) {
            cmd.cdw10 = static_cast<u32>(lba);
            cmd.cdw11 = static_cast<u32>(lba >> 32);
            cmd.cdw12 = static_cast<u32>(n - 1);
        }
        m_commands[cid] = Command{true, false, static_cast<u16>(record), rt::clock_ns(), cmd};
        m_in_flight_commands++;
        m_batch[m_batch_count++] = cmd;
        if (m_batch_count == abi::kNvmeMaxBatch) flush_batch();
        lba += n;
        left -= n;
        offset += n << ns.lba_shift;
    }
    return true;
}

void BlockService::flush_batch() {
    if (!m_batch_count) return;
    auto sent = m_ctrl.submit(m_batch, m_batch_count);
    if (!sent.ok()) {
        // The broker refused the batch (nothing of it was submitted): answer
        // each command's request with the refusal.
        rt::log("nvme: the broker refused a batch of %u: %s", m_batch_count, status_name(sent.status()));
        for (u32 i = 0; i < m_batch_count; i++) {
            Command& cmd = m_commands[m_batch[i].cid];
            Request& req = m_requests[cmd.request];
            if (!req.status) req.status = static_cast<i32>(sent.status());
            cmd.busy = false;
            m_in_flight_commands--;
            if (--req.parts_left == 0) req.done = true;
        }
    }
    m_batch_count = 0;
}

void BlockService::take_requests() {
    for (u32 ch = 0; ch < kMaxChannels; ch++) {
        Channel& c = m_channels[ch];
        if (!c.live) continue;
        abi::BlockRings* rings = c.rings;
        u32 tail = load_acquire(&rings->request_tail);
        u32 head = rings->request_head;
        while (head != tail) {
            abi::BlockRequest r;
            __builtin_memcpy(&r, &rings->requests[head % abi::kBlockRingEntries], sizeof r);  // one copy: the consumer may rewrite it
            if (!start_request(ch, r)) break;
            head++;
        }
        store_release(&rings->request_head, head);
    }
    flush_batch();
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
    cmd.busy = false;
    m_in_flight_commands--;
    if (--req.parts_left == 0) req.done = true;
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
    for (u32 i = 0; i < kMaxRequests; i++) {
        Request& req = m_requests[i];
        if (!req.live || !req.done) continue;
        Channel& c = m_channels[req.channel];
        if (!c.live) {
            req = Request{};
            continue;
        }
        abi::BlockRings* rings = c.rings;
        u32 tail = rings->completion_tail;
        if (tail - load_acquire(&rings->completion_head) >= abi::kBlockRingEntries) continue;  // full: later
        rings->completions[tail % abi::kBlockRingEntries] = abi::BlockCompletion{req.id, req.status, req.nvme_status, 0};
        store_release(&rings->completion_tail, tail + 1);
        c.in_flight--;
        m_pending_signal |= 1u << req.channel;
        req = Request{};
    }
}

u32 BlockService::signal_all_but_one() {
    u32 last = 0;
    for (u32 ch = 0; ch < kMaxChannels; ch++) {
        if (!(m_pending_signal >> ch & 1) || !m_channels[ch].live) continue;
        if (last) (void)rt::notification_signal(last, 1);
        last = m_channels[ch].consumer_note.get();
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
            finish_part(static_cast<u16>(cid), 0);
            Request& req = m_requests[cmd.request];
            if (!req.status) req.status = static_cast<i32>(r.ok() ? Status::Timeout : r.status());
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
