#include "broker/virtqueue.h"

#include "arch/x86_64/mmio.h"
#include "console/log.h"
#include "devices/virtio_class.h"
#include "dma/class_reset.h"
#include "events/refusals.h"
#include "mm/direct_map.h"
#include "object/dma_pool.h"
#include "object/handles.h"
#include "object/pci_function.h"
#include "util/page.h"
#include "virtio/used_ring.h"

namespace object {
namespace {

// virtio 1.1 §4.1.4.3 common configuration offsets.
constexpr u32 kNumQueues = 0x12, kQueueSelect = 0x16, kQueueSize = 0x18, kQueueMsixVector = 0x1a, kQueueEnable = 0x1c,
              kQueueNotifyOff = 0x1e, kQueueDesc = 0x20, kQueueDriver = 0x28, kQueueDevice = 0x30;
constexpr u16 kNoVector = 0xffff;

// §2.6.5 descriptor, §2.6.6 available ring, §2.6.8 used ring.
struct Descriptor {
    u64 addr;
    u32 len;
    u16 flags;
    u16 next;
};
constexpr u16 kDescNext = 1, kDescWrite = 2;

}  // namespace

Result<RefPtr<VirtQueue>> VirtQueue::create(kdma::Session* session, u16 index, u16 size, u16 msix_entry) {
    if (!session->active()) return Status::TornDown;
    const pci_enum::Function& f = pci_enum::function(session->function());
    if (f.registers.kind != devices::RegisterMap::Kind::Virtio || !f.has_virtio_notify) return Status::WrongType;
    // Default deny by class (devices/virtio_class.h): a class whose payloads
    // carry guest-physical addresses gets no queue. Session::create refuses
    // such a function its DMA grant already; this is the broker's own check.
    if (!devices::virtio_class_brokered(f.header.vendor, f.header.device)) return Status::Forbidden;
    if (size < 2 || size > abi::kVirtioMaxQueueSize || (size & (size - 1))) return Status::InvalidArgument;
    volatile u8* common = TRY(PciFunction::kernel_view(session->function(), f.registers.bar)) + f.registers.offset;
    volatile u8* notify_bar = TRY(PciFunction::kernel_view(session->function(), f.virtio_notify.bar));

    // Every per-queue register is reached through queue_select, so checking
    // a queue means selecting it. Whatever the outcome, queue_select is
    // left on index num_queues — a queue that does not exist: its
    // queue_size reads 0 and it holds no ring address (§4.1.4.3) — never
    // on a queue whose rings the kernel wrote. Filtered windows refuse the
    // ring addresses to readers anyway (devices::filtered_read_allowed);
    // this is depth, so that a selected live queue is never one read away.
    u16 queues = mmio::read<u16>(common, kNumQueues);
    struct ParkSelect {
        volatile u8* common;
        u16 at;
        ~ParkSelect() { mmio::write<u16>(common, kQueueSelect, at); }
    } park{common, queues};

    // A device ignores a select past its queues (QEMU: >= 1024) and would
    // leave the previous queue selected: check both ways.
    if (index >= queues) return Status::NotFound;
    mmio::write<u16>(common, kQueueSelect, index);
    if (mmio::read<u16>(common, kQueueSelect) != index) return Status::NotFound;
    u16 max = mmio::read<u16>(common, kQueueSize);  // reset value = the device's maximum (providers cannot write it)
    if (max == 0) return Status::NotFound;          // no such queue
    if (size > max) return Status::InvalidArgument;
    if (mmio::read<u16>(common, kQueueEnable)) return Status::Busy;
    u64 notify_at = u64{f.virtio_notify.offset} +
                    u64{mmio::read<u16>(common, kQueueNotifyOff)} * f.virtio_notify.notify_off_multiplier;
    if (notify_at + 2 > f.virtio_notify.offset + u64{f.virtio_notify.length} ||
        notify_at + 2 > f.bars[f.virtio_notify.bar].size)
        return Status::Malformed;

    auto q = RefPtr<VirtQueue>::adopt(new (std::nothrow) VirtQueue());
    if (!q) return Status::NoMemory;
    u64 bytes[3] = {u64{size} * sizeof(Descriptor), 6 + 2 * u64{size}, 6 + u64{size} * sizeof(abi::VirtioUsedElement)};
    u64* phys[3] = {&q->m_desc_phys, &q->m_avail_phys, &q->m_used_phys};
    // Each ring is held while the queue lives (the device may read or write
    // it). A failure part-way gives back what was taken, holds first: a
    // held entry that is only released stays deferred — its frames and
    // quota gone until the grant ends.
    auto give_back = [&](u32 rings) {
        for (u32 k = 0; k < rings; k++) {
            session->unhold(q->m_ring_entries[k]);
            session->release(q->m_ring_entries[k]);
        }
        // q goes when the caller returns: without a session, its destructor
        // has nothing more to give back.
    };
    for (u32 r = 0; r < 3; r++) {
        auto id = session->allocate(bytes[r], session->id(), dma::Use::Queue, phys[r]);
        if (!id.ok()) {
            give_back(r);
            return id.status();
        }
        if (auto h = session->hold(id.value()); !h.ok()) {
            session->release(id.value());
            give_back(r);
            return h.status();
        }
        q->m_ring_entries[r] = id.value();
    }
    q->m_session = util::RefPtr<kdma::Session>::share(session);
    q->m_common = common;
    q->m_notify = reinterpret_cast<volatile u16*>(notify_bar + notify_at);
    q->m_index = index;
    q->m_size = size;
    // virtio-net transmit queues (odd indexes, §5.1.2) start every chain with
    // the 12-byte virtio_net_hdr; QEMU 7.2 aborts the whole VM (an assertion
    // in iov_copy) on a shorter one, so the broker refuses it.
    bool net = f.header.vendor == 0x1af4 && (f.header.device == 0x1000 || f.header.device == 0x1041);
    q->m_min_readable = net && (index & 1) ? 12 : 0;
    for (u16 i = 0; i < size; i++) q->m_next[i] = i + 1 < size ? i + 1 : kNone;
    q->m_free_head = 0;
    q->m_free_count = size;

    mmio::write<u16>(common, kQueueMsixVector, msix_entry);
    if (msix_entry != kNoVector && mmio::read<u16>(common, kQueueMsixVector) != msix_entry) {
        refusals::note(refusals::current_process(), log::Level::Warn,
                       "virtqueue broker: session %u queue %u: the device refused MSI-X entry %u", session->id(), index,
                       msix_entry);
        mmio::write<u16>(common, kQueueMsixVector, kNoVector);
        return Status::Unsupported;  // never enabled: its rings go back (with q) without touching the device
    }
    mmio::write<u16>(common, kQueueSize, size);
    mmio::write64_halves(common, kQueueDesc, q->m_desc_phys);
    mmio::write64_halves(common, kQueueDriver, q->m_avail_phys);
    mmio::write64_halves(common, kQueueDevice, q->m_used_phys);
    mmio::write<u16>(common, kQueueEnable, 1);
    q->m_enabled = true;
    session->live_virtqueues++;
    refusals::note(refusals::current_process(), log::Level::Info,
                   "virtqueue broker: session %u: queue %u of %u entries enabled (MSI-X entry %u)", session->id(),
                   index, size, msix_entry);
    return q;
}

VirtQueue::~VirtQueue() {
    if (!m_session) return;
    if (m_session->active()) {
        // Virtio 1.1 has no per-queue stop: an enabled queue goes with a
        // device reset, after which nothing of it is in the device's hands.
        // A queue never enabled was never seen by the device.
        bool stopped = !m_enabled;
        if (m_enabled) {
            m_session->live_virtqueues--;
            auto r = kdma::reset_function(m_session->function(), sched::WaitHow::Spin);
            stopped = r.ok();
            if (!r.ok())
                LOG_ERROR("virtqueue broker: session %u: device reset failed (%s); the queue waits for teardown",
                          m_session->id(), status_name(r.status()));
        }
        if (stopped) {
            for (u16 i = 0; i < m_size; i++)
                if (m_held[i]) m_session->unhold(m_held[i]);
            for (u32 id : m_ring_entries)
                if (id) m_session->unhold(id);
        }
    }
    for (u32 id : m_ring_entries)
        if (id) m_session->release(id);
}

Result<u32> VirtQueue::submit(Process* caller, abi::VirtioChain* chains, u32 count) {
    if (!m_session->active()) return Status::TornDown;
    if (count == 0 || count > abi::kVirtioMaxBatch) return Status::InvalidArgument;
    struct Checked {
        u64 addr;
        u32 len;
        u32 held;
        bool device_writes;
    };
    Checked checked[abi::kVirtioMaxBatch][abi::kVirtioMaxSegments];
    u32 needed = 0;
    for (u32 c = 0; c < count; c++) {
        const abi::VirtioChain& chain = chains[c];
        if (chain.segments == 0 || chain.segments > abi::kVirtioMaxSegments) return Status::InvalidArgument;
        bool writes_seen = false;
        for (u32 s = 0; s < chain.segments; s++) {
            const abi::VirtioSegment& seg = chain.segment[s];
            if (seg.flags & ~abi::kVirtioSegmentDeviceWrites) return Status::InvalidArgument;
            // §2.6.4.2: device-readable segments come before device-writable ones.
            bool writes = seg.flags & abi::kVirtioSegmentDeviceWrites;
            if (writes_seen && !writes) return Status::InvalidArgument;
            writes_seen |= writes;
            if (seg.length == 0 || seg.length > 0xffffffffull) return Status::InvalidArgument;
            auto* buffer = TRY(kcap::lookup<DmaBuffer>(caller, seg.buffer, cap::kRightRead | cap::kRightWrite));
            if (buffer->session() != m_session.get()) return Status::NotOwner;
            if (seg.offset > buffer->size() || seg.length > buffer->size() - seg.offset) return Status::OutOfBounds;
            checked[c][s] = Checked{buffer->device_address(seg.offset), static_cast<u32>(seg.length),
                                    buffer->ledger_id(), (seg.flags & abi::kVirtioSegmentDeviceWrites) != 0};
        }
        u64 readable = 0;
        for (u32 s = 0; s < chain.segments; s++)
            if (!(chain.segment[s].flags & abi::kVirtioSegmentDeviceWrites)) readable += chain.segment[s].length;
        if (readable < m_min_readable) return Status::InvalidArgument;
        needed += chain.segments;
    }
    if (needed > m_free_count) return Status::Busy;
    // The holds, all or none, before anything is written.
    for (u32 c = 0; c < count; c++) {
        for (u32 s = 0; s < chains[c].segments; s++) {
            if (auto h = m_session->hold(checked[c][s].held); !h.ok()) {
                for (u32 k = 0; k <= c; k++)
                    for (u32 t = 0; t < (k < c ? chains[k].segments : s); t++) m_session->unhold(checked[k][t].held);
                return h.status();
            }
        }
    }

    auto* desc = direct_map::to_virt<Descriptor>(m_desc_phys);
    auto* avail = direct_map::to_virt<volatile u16>(m_avail_phys);  // flags, idx, ring[size]
    for (u32 c = 0; c < count; c++) {
        abi::VirtioChain& chain = chains[c];
        u16 head = m_free_head, prev = kNone;
        for (u32 s = 0; s < chain.segments; s++) {
            u16 d = m_free_head;
            m_free_head = m_next[d];
            m_free_count--;
            const Checked& k = checked[c][s];
            m_held[d] = k.held;
            desc[d] = Descriptor{k.addr, k.len, static_cast<u16>(k.device_writes ? kDescWrite : 0), 0};
            if (prev != kNone) {
                desc[prev].flags |= kDescNext;
                desc[prev].next = d;
                m_next[prev] = d;
            }
            m_next[d] = kNone;
            prev = d;
        }
        m_head[head] = true;
        avail[2 + (m_avail_idx % m_size)] = head;
        m_avail_idx++;
        chain.head = head;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // descriptors and ring entries before the index (§2.6.13)
    avail[1] = m_avail_idx;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // the index before the notification
    *m_notify = m_index;
    return count;
}

Result<u32> VirtQueue::complete(Process* caller, u32 max) {
    if (!m_session->active()) return Status::TornDown;
    auto* used = direct_map::to_virt<volatile u8>(m_used_phys);
    u16 device_idx = *reinterpret_cast<volatile u16*>(used + 2);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    // A device can have returned at most a ring's worth since we last looked.
    if (!virtio::used_index_plausible(device_idx, m_last_used, m_size)) {
        refusals::record(caller, abi::RefusalKind::DeviceMisbehaved, m_session->function(), Status::Malformed,
                         device_idx, log::Level::Warn,
                         "virtqueue broker: session %u queue %u: device used index %u is %u past ours; not trusted",
                         m_session->id(), m_index, device_idx, static_cast<u16>(device_idx - m_last_used));
        return Status::Malformed;
    }
    u32 done = 0;
    while (m_last_used != device_idx && done < max) {
        auto* elem = reinterpret_cast<volatile abi::VirtioUsedElement*>(used + 4) + (m_last_used % m_size);
        u32 id = elem->id;
        m_last_used++;
        done++;
        if (virtio::check_used_id(id, m_size, m_head) != virtio::UsedId::Chain) {
            refusals::record(caller, abi::RefusalKind::DeviceMisbehaved, m_session->function(), Status::Malformed, id,
                             log::Level::Warn,
                             "virtqueue broker: session %u queue %u: device reported id %u it was not given; ignored",
                             m_session->id(), m_index, id);
            continue;
        }
        m_head[id] = false;
        // Free the chain by our own shadow, never the device-writable table.
        auto* desc = direct_map::to_virt<Descriptor>(m_desc_phys);
        for (u16 d = static_cast<u16>(id); d != kNone;) {
            u16 next = m_next[d];
            desc[d] = Descriptor{};  // a stale head can no longer reach the buffer it named
            if (m_held[d]) m_session->unhold(m_held[d]);
            m_held[d] = 0;
            m_next[d] = m_free_head;
            m_free_head = d;
            m_free_count++;
            d = next;
        }
    }
    return done;
}

Result<u64> VirtQueue::map_used(Process* process, u32 space_id, u32 handle) {
    if (!m_session->active()) return Status::TornDown;
    auto frame_of = [](const void* self, u64 i) {
        return static_cast<const VirtQueue*>(self)->m_used_phys + i * kPage;
    };
    u64 pages = (6 + u64{m_size} * sizeof(abi::VirtioUsedElement) + kPage - 1) / kPage;
    return m_mappings.map(this, process, 0, pages, frame_of, this, mm::MapFlags{false, false, false}, space_id, handle);
}

}  // namespace object
