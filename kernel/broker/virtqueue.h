// The kernel's virtqueue broker (DESIGN §4, brokered lane): a split
// virtqueue (virtio 1.1 §2.6) whose descriptor table, indirect tables and
// available ring live in kernel-written memory from the device's pool.
// Creating it learns what the provider negotiated (INDIRECT_DESC,
// EVENT_IDX: driver_feature read through the common configuration, after
// FEATURES_OK) and programs the queue (size, MSI-X entry, the three ring
// addresses from the ledger, queue_enable). The ring itself is a
// virtio::SplitRing (lib/virtio/split_ring.h): submit() validates chains
// of (buffer, offset, length, direction) — buffers of the same pool, in
// bounds — holds each buffer in the ledger while the device owns it, adds
// the chains (one indirect descriptor per chain when the provider
// negotiated INDIRECT_DESC), publishes them and notifies the device when
// it asks for it. complete() takes the used ring's entries, each checked
// (id a chain the device holds, len within the chain's writable bytes) and
// copied out with its verdict; every lie is recorded against the caller,
// and no lie releases a hold: the entry is dropped, and a chain the device
// lied about stays held until a confirmed reset (docs/device-authority.md,
// "What the broker does with a lie"). The used ring is mapped read-only
// into the provider. test.virtio_lie (tests only) makes the broker write
// such lies into the used ring itself (virtqueue.cc).
//
// Virtio 1.1 cannot stop one queue, so destroying a virtqueue of a live
// grant resets the device (device_status 0) — which stops every queue of
// the device. Each queue remembers the reset generation it was enabled
// in (Session::virtio_resets): one whose device was reset since is dead
// (Stale), and its destruction resets nothing, so a later close never
// kills a newer queue.
#pragma once

#include "abi/virtio.h"
#include "dma/session.h"
#include "object/mapping_list.h"
#include "object/object.h"
#include "util/result.h"
#include "virtio/split_ring.h"

namespace object {

class Process;

class VirtQueue : public Object {
public:
    static constexpr Type kType = Type::VirtQueue;
    static constexpr cap::Rights kDefaultRights =
        cap::kRightWrite | cap::kRightMap | cap::kRightRead | cap::kRightRevoke | kPassRights;

    // The kernel memory a queue of `size` entries and chains of up to
    // `max_segments` may take beyond the object (the indirect tables'
    // shadow), for the creator's charge.
    static u64 extra_kernel_bytes(u16 size, u32 max_segments);
    static Result<RefPtr<VirtQueue>> create(kdma::Session* session, u16 index, u16 size, u16 msix_entry,
                                            u32 max_segments);
    ~VirtQueue() override;

    // Chains validated and added as a batch (one refused chain refuses the
    // batch, and nothing of it reaches the device); chain c takes the next
    // chains[c].segments entries of `segments` (which add up to
    // segment_count). Each chain's head is written back. Returns the
    // number submitted.
    Result<u32> submit(Process* caller, abi::VirtioChain* chains, u32 count, const abi::VirtioSegment* segments,
                       u32 segment_count);
    // Takes up to `max` used entries into `out`, checked. A device that
    // lies in the used ring is recorded as misbehaving, attributed to
    // `caller` (the provider reaping it).
    Result<u32> complete(Process* caller, abi::VirtioCompletion* out, u32 max);
    Result<u64> map_used(Process* process, u32 space_id, u32 handle);
    kdma::Session* session() const { return m_session.get(); }
    void cap_released(u32 space_id, u32 handle) override { m_mappings.unmap_by_cap(space_id, handle); }

private:
    VirtQueue() : Object(kType) {}
    // Still the device's: the grant is live and no reset since this queue
    // was enabled. TornDown or Stale otherwise.
    Result<void> usable() const;
    // test.virtio_lie (tests only, virtqueue.cc): writes the lie due at the
    // next used entry, if any, into the used ring. An index lie is
    // returned: index_lie_over() puts the true index back after the take
    // (unless the device has stored a newer one) and counts the lie told
    // if the take `met` it.
    struct IndexLie {
        bool written = false;
        u16 true_idx = 0, jumped = 0;
    };
    IndexLie tell_lie();
    void index_lie_over(const IndexLie& lie, bool met);

    util::RefPtr<kdma::Session> m_session;
    volatile u16* m_notify = nullptr;
    volatile u8* m_common = nullptr;  // the common configuration (test.virtio_lie tx-break reads device_status)
    u16 m_index = 0, m_size = 0;
    bool m_enabled = false;       // queue_enable written: the device may use the rings
    u32 m_generation = 0;         // m_session->virtio_resets when enabled
    u32 m_min_readable = 0;       // bytes every chain must give the device to read (virtio-net transmit: its header)
    u32 m_min_writable = 0;       // bytes every chain must give the device to write (virtio-net receive: its header)
    bool m_net_transmit = false;  // a virtio-net transmit queue (test.virtio_lie tx-stall, tx-break)
    bool m_stalled = false;       // test.virtio_lie tx-stall: nothing more is taken from the used ring
    u32 m_max_segments = 1;       // the longest chain
    u32 m_ring_entries[4] = {};   // ledger ids: descriptors, available, used, indirect tables (0: none)
    u64 m_phys[4] = {};
    u32* m_indirect_tokens = nullptr;  // the indirect tables' tokens (kernel memory: the device cannot reach it)
    virtio::SplitRing m_ring;
    MappingList m_mappings;
};

}  // namespace object
