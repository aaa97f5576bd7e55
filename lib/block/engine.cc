#include "block/engine.h"

#include "util/format.h"

namespace block {
namespace {

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

bool moves_data(abi::BlockRequestOp op) { return op == abi::BlockRequestOp::Read || op == abi::BlockRequestOp::Write; }
bool writes(abi::BlockRequestOp op) {
    return op == abi::BlockRequestOp::Write || op == abi::BlockRequestOp::WriteZeroes ||
           op == abi::BlockRequestOp::Discard;
}

// Blocks the next command of a request may cover, from `lba`/`offset` on
// with `left` blocks to go: the device's limit for the operation and, for
// data, its transfer size and the segments the range spans. 0 when not
// even one block fits (a device declaring limits smaller than a block).
u64 part_blocks(abi::BlockRequestOp op, u64 left, u64 offset, const DeviceInfo& d) {
    u64 most = 0;
    switch (op) {
        case abi::BlockRequestOp::Flush: return 1;
        case abi::BlockRequestOp::WriteZeroes: most = d.max_write_zeroes_blocks; break;
        case abi::BlockRequestOp::Discard: most = d.max_discard_blocks; break;
        case abi::BlockRequestOp::Read:
        case abi::BlockRequestOp::Write: {
            u64 bytes = d.max_transfer;
            if (d.max_segments && d.segment_bytes) {
                // A range starting mid-segment spans one segment more.
                u64 reach = u64{d.max_segments} * d.segment_bytes - offset % d.segment_bytes;
                if (reach < bytes) bytes = reach;
            }
            most = bytes >> d.block_shift;
            break;
        }
    }
    if (most > 0xffffffffu) most = 0xffffffffu;  // Command::blocks
    return left < most ? left : most;
}

}  // namespace

Engine::Engine(Backend& backend, Host& host, const char* name, u64 timeout_ns)
    : m_backend(backend), m_host(host), m_name(name), m_timeout_ns(timeout_ns) {
    u32 tags = backend.max_in_flight();
    m_tags = tags < kMaxTags ? tags : kMaxTags;
    m_channel_commands = m_tags * 3 / 4 ? m_tags * 3 / 4 : 1;
    for (u32 t = 0; t < m_tags; t++) give_bit(m_free_tags, t);
}

void Engine::log(const char* fmt, ...) {
    char line[224];
    usize at = format(line, sizeof line, "%s: ", m_name);
    if (at >= sizeof line) at = sizeof line - 1;
    va_list ap;
    va_start(ap, fmt);
    format_v(line + at, sizeof line - at, fmt, ap);
    va_end(ap);
    m_host.log(line);
}

void Engine::open(u32 ch, abi::BlockRings* rings, u32 buffer, u64 data_bytes) {
    Channel& c = m_channels[ch];
    c = Channel{};
    c.requests = abi::BlockRequestConsumer(rings->request, rings->requests);
    c.completions = abi::BlockCompletionProducer(rings->completion, rings->completions);
    c.buffer = buffer;
    c.data_bytes = data_bytes;
    for (u32 r = 0; r < abi::kBlockRingEntries; r++) give_bit(c.free_records, r);
    c.state = State::Live;
}

void Engine::close(u32 ch, const char* why, ...) {
    va_list ap;
    va_start(ap, why);
    close_v(ch, why, ap);
    va_end(ap);
}

void Engine::close_v(u32 ch, const char* why, va_list ap) {
    Channel& c = m_channels[ch];
    if (c.state != State::Live) return;
    char text[160];
    if (why) format_v(text, sizeof text, why, ap);
    c.state = State::Closing;
    m_host.closing(ch, why ? text : nullptr);
    m_pending_signal &= ~(1u << ch);
    // Answers it will never take, and the rest of a request being split.
    while (c.answered_head != c.answered_tail) free_record(c.answered[c.answered_head++ % abi::kBlockRingEntries]);
    if (c.splitting != kNone) {
        u16 record = c.splitting;
        c.splitting = kNone;
        m_requests[record].left = 0;
        if (!m_requests[record].parts_in_flight) free_record(record);
    }
    release_if_idle(ch);
}

// A Closing channel with nothing left on the device becomes Free; until
// then its data buffer stays (its commands name it, and go again after a
// device reset).
void Engine::release_if_idle(u32 ch) {
    Channel& c = m_channels[ch];
    if (c.state != State::Closing || c.records) return;
    c = Channel{};
    m_host.released(ch);
}

Status Engine::validate(u64 data_bytes, const abi::BlockRequest& r) const {
    if (r.device >= m_backend.device_count()) return Status::NotFound;
    const DeviceInfo& d = m_backend.device(r.device);
    switch (r.op) {
        case abi::BlockRequestOp::Read:
        case abi::BlockRequestOp::Write:
        case abi::BlockRequestOp::Flush:
        case abi::BlockRequestOp::WriteZeroes:
        case abi::BlockRequestOp::Discard: break;
        default: return Status::InvalidArgument;
    }
    if (r.flags & ~abi::kBlockFua) return Status::InvalidArgument;
    // Reserved means zero: a later version may give them a meaning, and a
    // consumer written today must not be read as asking for it.
    if (r.reserved[0] || r.reserved[1] || r.reserved2) return Status::InvalidArgument;
    if ((r.flags & abi::kBlockFua) && r.op != abi::BlockRequestOp::Write && r.op != abi::BlockRequestOp::WriteZeroes)
        return Status::InvalidArgument;
    if (!(offered_ops(d) & abi::block_op_bit(r.op))) return Status::Unsupported;
    // FUA without the device's own is a Flush after the write: a device
    // with a cache and no Flush cannot honour it.
    if ((r.flags & abi::kBlockFua) && !d.native_fua && d.volatile_cache &&
        !(d.ops & abi::block_op_bit(abi::BlockRequestOp::Flush)))
        return Status::Unsupported;
    if (writes(r.op) && d.read_only) return Status::ReadOnly;
    if (r.op == abi::BlockRequestOp::Flush) return Status::Ok;
    if (r.blocks == 0) return Status::InvalidArgument;
    if (r.lba > d.blocks || r.blocks > d.blocks - r.lba) return Status::OutOfBounds;
    if (moves_data(r.op)) {
        // Only the channel's own buffer: an offset past it is refused here,
        // never wrapped or clamped into someone else's memory.
        u64 bytes = u64{r.blocks} << d.block_shift;
        if (r.offset > data_bytes || bytes > data_bytes - r.offset) return Status::OutOfBounds;
        if (d.alignment > 1 && r.offset % d.alignment) return Status::InvalidArgument;
    }
    return Status::Ok;
}

u16 Engine::take_tag() { return static_cast<u16>(take_bit(m_free_tags, kMaxTags / 64)); }

void Engine::take_requests() {
    issue_flushes();
    // One command per channel per turn, the first turn rotating: free tags
    // go to every channel that has work, in turn, however much one of them
    // queues.
    for (bool moved = true; moved;) {
        moved = false;
        for (u32 k = 0; k < kMaxChannels; k++) {
            u32 ch = (m_first_turn + k) % kMaxChannels;
            if (m_channels[ch].state == State::Live && step(ch)) moved = true;
        }
    }
    m_first_turn = (m_first_turn + 1) % kMaxChannels;
    // The slots taken go back to their consumers: one store per ring per
    // pass, not one per request.
    for (Channel& c : m_channels)
        if (c.state == State::Live) c.requests.release();
    flush_batch();
}

bool Engine::step(u32 ch) {
    Channel& c = m_channels[ch];
    bool took = false;
    if (c.splitting == kNone) {
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
                    close(ch, "request tail %u moved back from %u", tail, c.requests.tail_seen());
                else
                    close(ch, "request tail %u is not within %u of head %u", tail, abi::kBlockRingEntries,
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
        q.status = validate(c.data_bytes, r);
        if (q.status != Status::Ok) {
            request_done(record);
            return true;
        }
        const DeviceInfo& d = m_backend.device(r.device);
        if (r.op == abi::BlockRequestOp::Flush && !d.volatile_cache) {
            request_done(record);  // nothing to flush (offered_ops)
            return true;
        }
        bool fua = r.flags & abi::kBlockFua;
        q.op = r.op;
        q.device = r.device;
        q.lba = r.lba;
        q.left = r.op == abi::BlockRequestOp::Flush ? 1 : r.blocks;
        q.offset = r.offset;
        // FUA: the device's own where it has it; else a Flush once the data
        // is written, when a cache could hold it at all.
        q.fua = fua && d.native_fua;
        q.flush_after = fua && !d.native_fua && d.volatile_cache;
        c.splitting = record;
        took = true;
    }
    if (m_in_flight == m_tags || c.commands == m_channel_commands) return took;
    submit_part(ch, c.splitting);
    return true;
}

void Engine::submit_part(u32 ch, u16 record) {
    Channel& c = m_channels[ch];
    Request& q = m_requests[record];
    const DeviceInfo& d = m_backend.device(q.device);
    u64 n = part_blocks(q.op, q.left, q.offset, d);
    if (!n) {
        // The device's limits leave no room for even one block here (a
        // backend declaring a segment smaller than a block): the request
        // fails rather than waiting for ever.
        if (q.status == Status::Ok) q.status = Status::InvalidArgument;
        q.left = 0;
        c.splitting = kNone;
        if (!q.parts_in_flight) request_done(record);
        return;
    }
    u16 tag = take_tag();
    Command cmd{};
    cmd.op = q.op;
    cmd.fua = q.fua;
    cmd.device = q.device;
    if (q.op != abi::BlockRequestOp::Flush) {
        cmd.lba = q.lba;
        cmd.blocks = static_cast<u32>(n);
    }
    if (moves_data(q.op)) {
        cmd.buffer = c.buffer;
        cmd.offset = q.offset;
    }
    m_slots[tag] = Slot{true, false, record, m_host.now_ns(), cmd};
    m_in_flight++;
    c.commands++;
    q.parts_in_flight++;
    q.lba += n;
    q.left -= n;
    if (moves_data(q.op)) q.offset += n << d.block_shift;
    if (!q.left) c.splitting = kNone;
    queue_command(tag);
}

// Emulated FUA: each request whose data parts all succeeded gets its
// Flush, as tags allow (they are few and short: no per-channel turn).
void Engine::issue_flushes() {
    while (m_flush_head != m_flush_tail && m_in_flight < m_tags) {
        u16 record = m_flushes[m_flush_head++ % kMaxRequests];
        u32 ch = record / abi::kBlockRingEntries;
        Channel& c = m_channels[ch];
        Request& q = m_requests[record];
        if (c.state != State::Live) {
            request_done(record);
            continue;
        }
        q.op = abi::BlockRequestOp::Flush;
        q.fua = false;
        q.left = 1;
        u16 tag = take_tag();
        Command cmd{};
        cmd.op = abi::BlockRequestOp::Flush;
        cmd.device = q.device;
        m_slots[tag] = Slot{true, false, record, m_host.now_ns(), cmd};
        m_in_flight++;
        c.commands++;
        q.parts_in_flight++;
        q.left = 0;
        queue_command(tag);
    }
}

void Engine::queue_command(u16 tag) {
    // Every command reaches the device through here, just stamped: its
    // deadline may be the earliest.
    u64 due = m_slots[tag].submitted_ns + m_timeout_ns + 1;
    if (due < m_scan_at_ns) m_scan_at_ns = due;
    m_batch[m_batch_count] = m_slots[tag].command;
    m_batch_tags[m_batch_count++] = tag;
    if (m_batch_count == kMaxBatch) flush_batch();
}

void Engine::flush_batch() {
    if (!m_batch_count) return;
    u32 count = m_batch_count;
    m_batch_count = 0;
    Status sent = m_backend.submit(m_batch, m_batch_tags, count);
    if (sent == Status::Ok) return;
    // Refused whole (nothing of it reached the device): each command's
    // request fails with what the refusal means to a consumer.
    log("the device refused a batch of %u: %s", count, status_name(sent));
    for (u32 i = 0; i < count; i++) {
        u16 tag = m_batch_tags[i];
        Request& q = m_requests[m_slots[tag].request];
        if (q.status == Status::Ok) q.status = status_for_consumer(sent);
        part_done(tag);
    }
}

void Engine::part_done(u16 tag) {
    Slot& s = m_slots[tag];
    u16 record = s.request;
    u32 ch = record / abi::kBlockRingEntries;
    Channel& c = m_channels[ch];
    Request& q = m_requests[record];
    s.busy = false;
    give_bit(m_free_tags, tag);
    m_in_flight--;
    c.commands--;
    q.parts_in_flight--;
    // A failed part fails the request: the parts not yet made are not.
    if (q.status != Status::Ok && c.splitting == record) {
        q.left = 0;
        c.splitting = kNone;
    }
    if (q.parts_in_flight || q.left) return;
    if (q.flush_after && q.status == Status::Ok && c.state == State::Live) {
        q.flush_after = false;
        m_flushes[m_flush_tail++ % kMaxRequests] = record;
        return;
    }
    request_done(record);
}

void Engine::request_done(u16 record) {
    u32 ch = record / abi::kBlockRingEntries;
    Channel& c = m_channels[ch];
    if (c.state != State::Live) {
        free_record(record);
        return release_if_idle(ch);
    }
    c.answered[c.answered_tail++ % abi::kBlockRingEntries] = record;
}

void Engine::free_record(u16 record) {
    Channel& c = m_channels[record / abi::kBlockRingEntries];
    give_bit(c.free_records, record % abi::kBlockRingEntries);
    c.records--;
}

void Engine::finish(const Outcome& o) {
    if (o.tag >= m_tags || !m_slots[o.tag].busy) return;  // not ours (the backend checks; this is the backstop)
    Slot& s = m_slots[o.tag];
    Request& q = m_requests[s.request];
    if (o.status != Status::Ok || o.detail) {
        // Once, when the device allows it: a transient failure should not
        // cost the consumer its request. The same tag goes again, so
        // nothing else changes.
        bool again = o.retry && !s.retried;
        Status st = status_for_consumer(o.status);
        char what[96], detail[96];
        m_backend.describe(s.command, o.tag, what, sizeof what);
        m_backend.describe_detail(o.detail, detail, sizeof detail);
        log("%s: %s: %s", what, detail, again ? "submitting it again" : status_name(st));
        if (again) {
            s.retried = true;
            s.submitted_ns = m_host.now_ns();
            queue_command(o.tag);
            return;
        }
        if (q.status == Status::Ok) {
            q.status = st;
            q.detail = o.detail;
        }
    }
    part_done(o.tag);
}

Status Engine::reap(bool ack_interrupt) {
    Status result = Status::Ok;
    for (;;) {
        Outcome done[64];
        auto n = m_backend.poll(done, 64, ack_interrupt);
        ack_interrupt = false;
        if (!n.ok()) {
            result = n.status();
            break;
        }
        u32 count = n.value() < 64 ? n.value() : 64;
        for (u32 i = 0; i < count; i++) finish(done[i]);
        if (count < 64) break;
    }
    flush_batch();  // commands finish() submits again
    return result;
}

void Engine::post_ready() {
    for (u32 ch = 0; ch < kMaxChannels; ch++) {
        Channel& c = m_channels[ch];
        if (c.state != State::Live || c.answered_head == c.answered_tail) continue;
        auto room = c.completions.refresh();
        if (!room.ok()) {
            u32 head = c.completions.bad_index();
            if (c.completions.tail() - head <= abi::kBlockRingEntries)
                close(ch, "completion head %u moved back from %u", head, c.completions.head_seen());
            else
                close(ch, "completion head %u is not within %u behind tail %u", head, abi::kBlockRingEntries,
                      c.completions.tail());
            continue;
        }
        u32 posted = 0;
        for (; posted < room.value() && c.answered_head != c.answered_tail; posted++) {
            u16 record = c.answered[c.answered_head++ % abi::kBlockRingEntries];
            const Request& q = m_requests[record];
            (void)c.completions.put(abi::BlockCompletion{q.id, static_cast<i32>(q.status), q.detail});
            free_record(record);
        }
        if (!posted) continue;  // full: its consumer has yet to take what it has
        c.completions.publish();
        m_pending_signal |= 1u << ch;
    }
}

void Engine::check_timeouts() {
    if (!m_in_flight) return;
    u64 now = m_host.now_ns();
    // Nothing can be late before the earliest deadline in flight: the
    // loop calls this on every wake-up, and scanning every tag each time
    // was a fifth of a QD1 I/O's instructions in the provider.
    if (now < m_scan_at_ns) return;
    u32 late = m_tags;
    u64 next = kNever;
    for (u32 t = 0; t < m_tags && late == m_tags; t++) {
        const Slot& s = m_slots[t];
        if (!s.busy) continue;
        if (now - s.submitted_ns > m_timeout_ns)
            late = t;
        else if (s.submitted_ns + m_timeout_ns + 1 < next)
            next = s.submitted_ns + m_timeout_ns + 1;
    }
    // Late: what was in flight is stamped again below, and the next call
    // scans again (the scan above stopped at the first late one).
    m_scan_at_ns = late == m_tags ? next : 0;
    if (late == m_tags) return;
    char what[96];
    m_backend.describe(m_slots[late].command, static_cast<u16>(late), what, sizeof what);
    log("command %u (%s) got no completion within %llu ms: resetting the device", late, what,
        static_cast<unsigned long long>(m_timeout_ns / 1'000'000));
    // Whatever was queued for the old device goes with the reset: it is
    // submitted again below with everything else in flight.
    m_batch_count = 0;
    Status r = m_backend.reset();
    // Every command still in flight goes again, once; a second timeout
    // fails its request.
    u32 again = 0;
    for (u32 t = 0; t < m_tags; t++) {
        Slot& s = m_slots[t];
        if (!s.busy) continue;
        if (r != Status::Ok || s.retried) {
            Request& q = m_requests[s.request];
            if (q.status == Status::Ok) q.status = r == Status::Ok ? Status::Timeout : status_for_consumer(r);
            part_done(static_cast<u16>(t));
            continue;
        }
        s.retried = true;
        s.submitted_ns = m_host.now_ns();
        queue_command(static_cast<u16>(t));
        again++;
    }
    flush_batch();
    log("device reset %s; %u commands submitted again", r == Status::Ok ? "done" : status_name(r), again);
}

}  // namespace block
