// A consumer's side of the BlockDevice service (lib/protocol/block.h): attach a
// channel to a provider's service endpoint, queue requests in the shared
// ring, collect completions. Used by the shell's `blk` commands and by
// blkbench. The rings and the data buffer are the provider's (this side
// holds copies); queue() and wait() are the only code here that touches
// the rings, through the ring library's views (lib/ring/spsc_ring.h).
//
// The caller keeps at most kBlockRingEntries requests outstanding (the
// provider answers each with exactly one completion, and the completion
// ring holds that many).
#pragma once

#include "abi/ipc.h"
#include "protocol/block.h"
#include "rt/handle.h"
#include "rt/service.h"
#include "util/result.h"

namespace rt {

// A block device by name: "<instance>n<unit>" (nvme0n1, nvme0.1n2; the
// unit is BlockInfo::unit, for NVMe the namespace id), looked
// up among service instances (rt/service.h: open_service_instances).
struct BlockDeviceRef {
    u32 instance;  // index into the instances given
    u32 index;     // the device's index at that provider instance
    abi::BlockInfo info;
};
Result<BlockDeviceRef> find_block_device(const ServiceInstance* instances, u32 count, const char* name, usize len);

class BlockClient {
public:
    // Attach calls answered Stale (the provider died holding the call) are
    // made again, up to this many in all.
    static constexpr u32 kAttachAttempts = 8;
    // `service`: a handle with `call` on a provider instance's endpoint.
    explicit BlockClient(u32 service) : m_service(service) {}
    ~BlockClient() { (void)detach(); }

    Result<abi::BlockInfo> info(u32 device);
    Result<abi::BlockIdentity> identity(u32 device);

    Result<void> attach(u64 data_bytes);
    Result<void> detach();
    // Whether the provider still has this channel: Ok, or Stale (it died;
    // the call waits until a restarted provider serves to say so).
    Result<void> ping();
    static constexpr u64 kLivenessCheckNs = 1'000'000'000;
    bool attached() const { return m_rings != nullptr; }
    u32 channel() const { return m_channel; }
    u64 generation() const { return m_generation; }
    u8* data() const { return m_data; }
    u64 data_bytes() const { return m_data_bytes; }
    // For adversary tests (user/tests/blk_hostile): the shared rings and
    // the handles this side holds (copies of the provider's, and its own
    // notification), to misuse them on purpose.
    abi::BlockRings* rings() const { return m_rings; }
    u32 ring_handle() const { return m_ring_memory.get(); }
    u32 data_handle() const { return m_data_buffer.get(); }
    u32 note_handle() const { return m_note.get(); }

    // Queues one request; false when the ring is full. kick() tells the
    // provider (one signal for any number queued).
    bool queue(const abi::BlockRequest& r);
    void kick();
    // Takes up to `max` completions; waits up to timeout_ns for the first
    // (0: do not wait). Timeout when none came. kick: tell the provider
    // first — when the wait blocks, in the same system call as the wait.
    // Every kLivenessCheckNs without a completion it pings the provider:
    // Stale means the channel died with its provider (attach again).
    // Malformed: the provider's completion tail broke the ring protocol.
    Result<u32> wait(abi::BlockCompletion* out, u32 max, u64 timeout_ns, bool kick = false);
    // One request, waited for: its completion status (Ok on success);
    // *detail (if given) = the device's own status when the device failed
    // it (BlockCompletion::detail, for logs), else 0.
    Status run(const abi::BlockRequest& r, u64 timeout_ns, u32* detail = nullptr);

private:
    // One Attach call and the mapping of what it returned.
    Status attach_once(u64 data_bytes);
    bool m_mapping_failed = false;  // the last attach_once failed mapping, not in the call
    Result<void> call(abi::Message& m);
    template <typename T>
    Result<T> describe(abi::BlockOp op, u32 device);

    u32 m_service;
    abi::Message channel_message(abi::BlockOp op) const;

    u32 m_channel = 0;
    u64 m_generation = 0;  // of the provider that made the channel
    Handle m_ring_memory, m_note, m_provider_note, m_data_buffer;
    abi::BlockRings* m_rings = nullptr;
    abi::BlockRequestProducer m_requests;
    abi::BlockCompletionConsumer m_completions;
    u8* m_data = nullptr;
    u64 m_data_bytes = 0;
};

}  // namespace rt
