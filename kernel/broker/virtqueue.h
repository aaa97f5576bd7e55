// The kernel's virtqueue broker (DESIGN §4, brokered lane): a split
// virtqueue (virtio 1.1 §2.6) whose descriptor table and available ring
// live in kernel memory from the device's pool. Creating it programs the
// queue through the common configuration (size, MSI-X entry, the three
// ring addresses from the ledger, queue_enable). submit() validates chains
// of (buffer, offset, length, direction) — buffers of the same pool, in
// bounds — writes the descriptors, holds each buffer in the ledger while
// the device owns it, publishes the heads and notifies once per batch.
// complete() reads the used ring itself, checks each id against the heads
// it published, frees the descriptors by its own shadow of the chains (the
// device could rewrite the table) and releases the holds. The used ring is
// mapped read-only into the provider.
//
// Virtio 1.1 cannot stop one queue, so destroying a virtqueue of a live
// grant resets the device (device_status 0).
#pragma once

#include "abi/virtio.h"
#include "dma/session.h"
#include "object/mapping_list.h"
#include "object/object.h"
#include "util/result.h"

namespace object {

class Process;

class VirtQueue : public Object {
public:
    static constexpr Type kType = Type::VirtQueue;
    static constexpr cap::Rights kDefaultRights =
        cap::kRightWrite | cap::kRightMap | cap::kRightRead | cap::kRightRevoke | kPassRights;

    static Result<RefPtr<VirtQueue>> create(kdma::Session* session, u16 index, u16 size, u16 msix_entry);
    ~VirtQueue() override;

    // Chains validated as a batch (one refused chain refuses the batch);
    // each chain's head is written back. Returns the number submitted.
    Result<u32> submit(Process* caller, abi::VirtioChain* chains, u32 count);
    // A device that lies in the used ring is recorded as misbehaving,
    // attributed to `caller` (the provider reaping it).
    Result<u32> complete(Process* caller, u32 max);
    Result<u64> map_used(Process* process, u32 space_id, u32 handle);
    kdma::Session* session() const { return m_session.get(); }
    void cap_released(u32 space_id, u32 handle) override { m_mappings.unmap_by_cap(space_id, handle); }

private:
    VirtQueue() : Object(kType) {}
    static constexpr u16 kNone = 0xffff;

    util::RefPtr<kdma::Session> m_session;
    volatile u8* m_common = nullptr;
    volatile u16* m_notify = nullptr;
    u16 m_index = 0, m_size = 0;
    u16 m_avail_idx = 0, m_last_used = 0;
    u16 m_free_head = kNone;
    u16 m_free_count = 0;
    bool m_enabled = false;      // queue_enable written: the device may use the rings
    u32 m_min_readable = 0;      // bytes every chain must give the device to read (virtio-net transmit: its header)
    u32 m_ring_entries[3] = {};  // ledger ids: descriptors, available, used
    u64 m_desc_phys = 0, m_avail_phys = 0, m_used_phys = 0;
    // Shadow of every descriptor: next in its chain (or in the free list),
    // the ledger entry it holds, and whether it heads a published chain.
    u16 m_next[abi::kVirtioMaxQueueSize] = {};
    u32 m_held[abi::kVirtioMaxQueueSize] = {};
    bool m_head[abi::kVirtioMaxQueueSize] = {};
    MappingList m_mappings;
};

}  // namespace object
