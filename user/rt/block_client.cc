#include "rt/block_client.h"

#include "protocol/message.h"
#include "rt/rights.h"
#include "rt/sys.h"

namespace rt {

Result<BlockDeviceRef> find_block_device(const ServiceInstance* instances, u32 count, const char* name, usize len) {
    Status answer = Status::NotFound;
    for (u32 i = 0; i < count; i++) {
        const char* provider = instances[i].name;
        usize p = 0;
        while (provider[p] && p < len && name[p] == provider[p]) p++;
        if (provider[p] || p + 1 >= len || name[p] != 'n') continue;
        u32 nsid = 0;
        for (usize k = p + 1; k < len; k++) {
            if (name[k] < '0' || name[k] > '9' || nsid > 100000000) return Status::InvalidArgument;
            nsid = nsid * 10 + static_cast<u32>(name[k] - '0');
        }
        BlockClient probe(instances[i].endpoint.get());
        for (u32 index = 0;; index++) {
            auto info = probe.info(index);
            // Past the last device: NotFound. Anything else (TornDown: the
            // provider has ended for good) is this instance's answer — kept,
            // but the other instances are still asked: an ended or hostile
            // provider must not hide another provider's devices.
            if (!info.ok()) {
                if (info.status() != Status::NotFound && answer == Status::NotFound) answer = info.status();
                break;
            }
            if (info.value().unit == nsid) return BlockDeviceRef{i, index, info.value()};
        }
    }
    return answer;
}

Result<void> BlockClient::call(abi::Message& m) { return endpoint_call(m_service, m); }

// Info and Identity: (op, device index) in, one structure out (length 0
// past the last device).
template <typename T>
Result<T> BlockClient::describe(abi::BlockOp op, u32 device) {
    abi::Message m{};
    abi::put_body(m, abi::BlockDescribeRequest{op, device});
    TRY(call(m));
    // A refusal is a bare Status (devmgr's torn-down for a provider that
    // has ended; a provider's own for a bad request); nothing past the last
    // device.
    if (m.length == sizeof(Status) && abi::reply_status(m) != Status::Ok) return abi::reply_status(m);
    if (m.length < sizeof(T)) return Status::NotFound;
    return abi::body_of<T>(m);
}

Result<abi::BlockInfo> BlockClient::info(u32 device) { return describe<abi::BlockInfo>(abi::BlockOp::Info, device); }

Result<abi::BlockIdentity> BlockClient::identity(u32 device) {
    abi::BlockIdentity id = TRY(describe<abi::BlockIdentity>(abi::BlockOp::Identity, device));
    id.model[sizeof id.model - 1] = 0;
    id.serial[sizeof id.serial - 1] = 0;
    return id;
}

Result<void> BlockClient::attach(u64 data_bytes) {
    if (m_rings) return Status::Busy;
    // A provider that dies while it holds the call answers Stale, and one
    // that dies just after answering leaves a channel whose memory is torn
    // down before it can be mapped (TornDown). Either way the endpoint
    // outlives it and its successor answers the next call (it waits until
    // there is one). A few in a row is a provider dying as it starts: give
    // up then.
    Status last = Status::Stale;
    for (u32 attempt = 0; attempt < kAttachAttempts; attempt++) {
        last = attach_once(data_bytes);
        if (last != Status::Stale && last != Status::TornDown) break;
        // TornDown from devmgr itself is final: the binding has ended.
        if (last == Status::TornDown && !m_mapping_failed) break;
    }
    return last == Status::Ok ? Result<void>() : Result<void>(last);
}

Status BlockClient::attach_once(u64 data_bytes) {
    m_mapping_failed = false;
    // Only our notification goes; the rings, the data buffer and the
    // provider's notification come back, the provider's to keep.
    auto note = notification_create();
    if (!note.ok()) return note.status();
    auto note_copy = duplicate(note.value().get(), cap_rights::kSignal | cap_rights::kTransfer);
    if (!note_copy.ok()) return note_copy.status();
    abi::Message m{};
    abi::put_body(m, abi::BlockAttachRequest{abi::BlockOp::Attach, static_cast<u32>(data_bytes)});
    m.handle_count = 1;
    m.handles[0] = note_copy.value().release();
    if (auto answered = call(m); !answered.ok()) return answered.status();
    Status s = abi::reply_status(m);
    if (s == Status::Ok && (m.length < sizeof(abi::BlockAttachReply) || m.handle_count != 3)) s = Status::Malformed;
    if (s != Status::Ok) {
        for (u32 i = 0; i < m.handle_count; i++) (void)close(m.handles[i]);
        return s;
    }
    Handle ring(m.handles[0]);
    Handle data(m.handles[1]);
    Handle provider_note(m.handles[2]);
    auto reply = abi::body_of<abi::BlockAttachReply>(m);
    m_channel = reply.channel;
    m_data_bytes = reply.data_bytes;
    m_generation = reply.generation;
    // Sizes checked against what this side will touch, not trusted.
    auto rings_at = memory_map_checked(ring.get(), sizeof(abi::BlockRings), abi::kMapWrite);
    auto data_at =
        rings_at.ok() ? memory_map_checked(data.get(), m_data_bytes, abi::kMapWrite) : Result<u64>(rings_at.status());
    if (!data_at.ok()) {
        // Not usable here: give the channel back (closing the handles
        // unmaps whatever was mapped). TornDown: the provider died after
        // answering; its successor is asked again.
        abi::Message d = channel_message(abi::BlockOp::Detach);
        if (data_at.status() != Status::TornDown) (void)call(d);
        m_mapping_failed = true;
        return data_at.status();
    }
    m_ring_memory = static_cast<Handle&&>(ring);
    m_data_buffer = static_cast<Handle&&>(data);
    m_provider_note = static_cast<Handle&&>(provider_note);
    m_note = static_cast<Handle&&>(note.value());
    m_rings = reinterpret_cast<abi::BlockRings*>(rings_at.value());
    m_requests = abi::BlockRequestProducer(m_rings->request, m_rings->requests);
    m_completions = abi::BlockCompletionConsumer(m_rings->completion, m_rings->completions);
    m_data = reinterpret_cast<u8*>(data_at.value());
    return Status::Ok;
}

// Detach and Ping name the channel with the generation of the provider
// that made it.
abi::Message BlockClient::channel_message(abi::BlockOp op) const {
    abi::Message m{};
    abi::put_body(m, abi::BlockChannelRequest{op, m_channel, m_generation});
    return m;
}

Result<void> BlockClient::ping() {
    if (!m_rings) return Status::Stale;
    abi::Message m = channel_message(abi::BlockOp::Ping);
    TRY(call(m));
    if (Status s = abi::reply_status(m); s != Status::Ok) return s;
    return {};
}

Result<void> BlockClient::detach() {
    if (!m_rings) return {};
    abi::Message m = channel_message(abi::BlockOp::Detach);
    // The provider may be gone (restarted): the channel went with it, and
    // the successor answers Stale — it never drops a channel of its own.
    // A live provider revokes our copies as it forgets the channel.
    (void)call(m);
    // Closing the handles unmaps what was mapped through them (nothing is
    // left to unmap of a revoked one).
    m_rings = nullptr;
    m_requests = {};
    m_completions = {};
    m_data = nullptr;
    m_data_buffer.reset();
    m_provider_note.reset();
    m_ring_memory.reset();
    m_note.reset();
    return {};
}

bool BlockClient::queue(const abi::BlockRequest& r) {
    // The provider's head is read again only when the room last seen is
    // used up. A head it could not have written (the ring library's
    // checks) leaves the ring full: nothing is queued over slots it has not
    // taken.
    if (!m_requests.room() && !m_requests.refresh().ok()) return false;
    if (!m_requests.put(r)) return false;
    m_requests.publish();
    return true;
}

void BlockClient::kick() { (void)notification_signal(m_provider_note.get(), 1); }

Result<u32> BlockClient::wait(abi::BlockCompletion* out, u32 max, u64 timeout_ns, bool kick) {
    u64 started = clock_ns();
    u64 deadline = started + timeout_ns;
    u64 next_ping = started + kLivenessCheckNs;
    for (;;) {
        // A tail the provider could not have written is its breaking the
        // protocol: Malformed, as for any reply of its that makes no sense.
        if (!m_completions.ready()) TRY(m_completions.refresh());
        u32 n = 0;
        while (n < max && m_completions.take(&out[n])) n++;
        if (n) {
            m_completions.release();
            if (kick) this->kick();
            return n;
        }
        u64 now = clock_ns();
        if (timeout_ns == 0 || now >= deadline) {
            if (kick) this->kick();
            return Status::Timeout;
        }
        // Nothing for a while: ask whether the provider still has the
        // channel (it may have died; its successor answers Stale).
        if (now >= next_ping) {
            TRY(ping());
            next_ping = now + kLivenessCheckNs;
        }
        // Cleared here, then the ring read again: a signal after the read
        // above is not lost. The provider's kick, if any, goes in the same
        // system call, just before the wait.
        u64 until = deadline < next_ping ? deadline : next_ping;
        (void)notification_wait(m_note.get(), until - now, kick ? m_provider_note.get() : 0, kick ? 1 : 0);
        kick = false;
    }
}

Status BlockClient::run(const abi::BlockRequest& r, u64 timeout_ns, u32* detail) {
    if (detail) *detail = 0;
    if (!queue(r)) return Status::Busy;
    abi::BlockCompletion c;
    bool kick = true;
    for (;;) {
        auto n = wait(&c, 1, timeout_ns, kick);
        kick = false;
        if (!n.ok()) return n.status();
        if (c.id != r.id) continue;
        if (detail) *detail = c.detail;
        return static_cast<Status>(c.status);
    }
}

}  // namespace rt
