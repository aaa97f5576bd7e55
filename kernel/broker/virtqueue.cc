#include "broker/virtqueue.h"

#include <stddef.h>

#include "arch/x86_64/clock.h"
#include "arch/x86_64/mmio.h"
#include "boot/cmdline.h"
#include "console/log.h"
#include "devices/virtio_class.h"
#include "dma/class_reset.h"
#include "events/refusals.h"
#include "mm/direct_map.h"
#include "mm/heap.h"
#include "object/dma_pool.h"
#include "object/handles.h"
#include "object/pci_function.h"
#include "util/page.h"
#include "virtio/net_layout.h"
#include "virtio/pci_layout.h"

namespace object {
namespace {

using virtio::CommonConfig;
static_assert(static_cast<u8>(virtio::UsedVerdict::Ok) == static_cast<u32>(abi::VirtioVerdict::Ok) &&
              static_cast<u8>(virtio::UsedVerdict::LenTooLong) == static_cast<u32>(abi::VirtioVerdict::LenTooLong) &&
              static_cast<u8>(virtio::UsedVerdict::OutOfRange) == static_cast<u32>(abi::VirtioVerdict::OutOfRange) &&
              static_cast<u8>(virtio::UsedVerdict::NotGiven) == static_cast<u32>(abi::VirtioVerdict::NotGiven));

// The ring's host (virtio::RingHost): tokens are ledger entries, held
// while the device may use their buffers; lies are refusal events against
// the provider reaping them.
struct LedgerHost {
    kdma::Session* session;
    Process* caller;  // nullptr: no used entries are read (release_all, abandon)
    u16 index;
    void unhold(u32 token) { session->unhold(token); }
    void bad_used(const virtio::UsedEntry& e) {
        if (!caller) return;
        const char* why = e.verdict == virtio::UsedVerdict::LenTooLong   ? "a length past the chain's writable bytes"
                          : e.verdict == virtio::UsedVerdict::OutOfRange ? "an id past the queue"
                                                                         : "an id it was not given";
        refusals::record(caller, abi::RefusalKind::DeviceMisbehaved, session->function(),
                         e.verdict == virtio::UsedVerdict::LenTooLong ? Status::OutOfBounds : Status::Malformed, e.id,
                         log::Level::Warn, "virtqueue broker: session %u queue %u: device reported %s (id %u); %s",
                         session->id(), index, why, e.id,
                         e.verdict == virtio::UsedVerdict::LenTooLong
                             ? "reported with length 0; the chain stays held until the device is reset"
                             : "ignored");
    }
};

// The features the provider negotiated: driver_feature (what the driver
// accepted) masked by device_feature (what the device offers), both
// words, read from the common configuration; VirtQueueCreate asks only
// once FEATURES_OK is set (§3.1.1: the device has accepted that set).
// Both select registers are put back as the provider left them.
// The features cannot change under the broker afterwards: a write of
// driver_feature once FEATURES_OK is set is refused
// (object::DeviceMmio::write), so what a queue was created with is what
// the device goes on using.
u64 negotiated_features(volatile u8* common) {
    u32 device_select = mmio::read<u32>(common, offsetof(CommonConfig, device_feature_select));
    u32 driver_select = mmio::read<u32>(common, offsetof(CommonConfig, driver_feature_select));
    u64 features = 0;
    for (u32 word = 0; word < 2; word++) {
        mmio::write<u32>(common, offsetof(CommonConfig, device_feature_select), word);
        mmio::write<u32>(common, offsetof(CommonConfig, driver_feature_select), word);
        u64 offered = mmio::read<u32>(common, offsetof(CommonConfig, device_feature));
        u64 accepted = mmio::read<u32>(common, offsetof(CommonConfig, driver_feature));
        features |= (offered & accepted) << (32 * word);
    }
    mmio::write<u32>(common, offsetof(CommonConfig, device_feature_select), device_select);
    mmio::write<u32>(common, offsetof(CommonConfig, driver_feature_select), driver_select);
    return features;
}

// test.virtio_lie=KIND@N[,KIND@N...] (tests only; docs/boot.md): QEMU's
// device never lies, so the broker plays a lying device once per item: as
// the N-th used entry of the boot (counted over every virtqueue, from 1)
// is about to be taken, it writes the lie into the used ring itself —
// exactly where the device would have — and the ring's normal checks
// meet it. Kinds:
//   id-range  the entry's id becomes the queue size (past the queue)
//   id-twice  its id becomes one the device does not hold (done already,
//             or never given): a completion for a chain not in flight
//   len       its len becomes one byte more than the chain may write
//   idx-jump  the used index runs a ring's worth and one past what was
//             taken; put back right after the take (unless the device
//             has moved it meanwhile), so the entries it hid are there
//             for the next call
//   tx-stall  at that entry, or the first after it a virtio-net transmit
//             queue takes, the queue completes nothing more until the
//             device is reset: a device that stops completing transmits
//             (its chains stay held)
//   tx-break  at that entry, or the first after it a virtio-net transmit
//             queue takes, the broker publishes on that queue an available
//             entry naming a head past the queue and notifies: the device
//             must treat that as an error (QEMU: virtio_error, "Guest says
//             index N is available"), set DEVICE_NEEDS_RESET and signal a
//             configuration change — a device that needs a reset. (A
//             transmit queue, because the device reads it as soon as it is
//             notified; a receive queue it reads when a packet comes, by
//             which time the broker has published over the entry.)
// The real entry an id lie overwrites is lost, as with a real lying
// device: its chain stays held until the provider resets the device.
namespace lie {

enum class Kind : u8 { None, IdRange, IdTwice, Len, IdxJump, TxStall, Break };
constexpr u32 kMaxLies = 8;
struct Planned {
    Kind kind;
    u64 at;  // the used entry it replaces (1: the boot's first)
    bool told;
};
Planned g_plan[kMaxLies];
u32 g_planned = 0;
bool g_parsed = false;
u64 g_taken = 0;  // used entries taken by every virtqueue so far

const char* name(Kind k) {
    return k == Kind::IdRange   ? "id-range"
           : k == Kind::IdTwice ? "id-twice"
           : k == Kind::Len     ? "len"
           : k == Kind::IdxJump ? "idx-jump"
           : k == Kind::TxStall ? "tx-stall"
                                : "tx-break";
}

void parse() {
    g_parsed = true;
    usize len = 0;
    const char* v = cmdline::get("test.virtio_lie", &len);
    if (!v) return;
    for (usize i = 0; i < len && g_planned < kMaxLies;) {
        usize end = i;
        while (end < len && v[end] != ',') end++;
        usize at = i;
        while (at < end && v[at] != '@') at++;
        Planned p{Kind::None, 1, false};
        for (Kind k : {Kind::IdRange, Kind::IdTwice, Kind::Len, Kind::IdxJump, Kind::TxStall, Kind::Break}) {
            const char* n = name(k);
            usize nl = 0;
            while (n[nl]) nl++;
            if (at - i == nl && __builtin_memcmp(v + i, n, nl) == 0) p.kind = k;
        }
        if (at < end) {
            p.at = 0;
            for (usize d = at + 1; d < end && v[d] >= '0' && v[d] <= '9'; d++)
                p.at = p.at * 10 + static_cast<u64>(v[d] - '0');
        }
        if (p.kind == Kind::None || p.at == 0)
            LOG_WARN(
                "virtqueue broker: test.virtio_lie: '%.*s' is no lie (id-range, id-twice, len, idx-jump, tx-stall or "
                "tx-break, @N >= 1)",
                static_cast<int>(end - i), v + i);
        else
            g_plan[g_planned++] = p;
        i = end + 1;
    }
}

// The lie due at the next used entry, or nullptr (always, without the switch).
Planned* due() {
    if (!g_parsed) parse();
    if (g_planned == 0) [[likely]]
        return nullptr;  // no test.virtio_lie: every take passes by here
    for (u32 i = 0; i < g_planned; i++)
        if (!g_plan[i].told && g_plan[i].at <= g_taken + 1) return &g_plan[i];
    return nullptr;
}

}  // namespace lie

}  // namespace

u64 VirtQueue::extra_kernel_bytes(u16 size, u32 max_segments) {
    return max_segments > 1 ? heap::block_bytes(u64{size} * max_segments * sizeof(u32)) : 0;
}

Result<RefPtr<VirtQueue>> VirtQueue::create(kdma::Session* session, u16 index, u16 size, u16 msix_entry,
                                            u32 max_segments) {
    if (!session->active()) return Status::TornDown;
    const pci_enum::Function& f = pci_enum::function(session->function());
    if (f.registers.kind != devices::RegisterMap::Kind::Virtio || !f.has_virtio_notify) return Status::WrongType;
    // Default deny by class (devices/virtio_class.h): a class whose payloads
    // carry guest-physical addresses gets no queue. Session::create refuses
    // such a function its DMA grant already; this is the broker's own check.
    if (!devices::virtio_class_brokered(f.header.vendor, f.header.device)) return Status::Forbidden;
    if (size < 2 || size > abi::kVirtioMaxQueueSize || (size & (size - 1))) return Status::InvalidArgument;
    if (max_segments == 0 || max_segments > abi::kVirtioMaxChainSegments ||
        u64{size} * max_segments > abi::kVirtioMaxIndirectEntries)
        return Status::InvalidArgument;
    volatile u8* common = TRY(PciFunction::kernel_view(session->function(), f.registers.bar)) + f.registers.offset;
    volatile u8* notify_bar = TRY(PciFunction::kernel_view(session->function(), f.virtio_notify.bar));

    // Every per-queue register is reached through queue_select, so checking
    // a queue means selecting it. Whatever the outcome, queue_select is
    // left on index num_queues — a queue that does not exist: its
    // queue_size reads 0 and it holds no ring address (§4.1.4.3) — never
    // on a queue whose rings the kernel wrote. Filtered windows refuse the
    // ring addresses to readers anyway (devices::filtered_read_allowed);
    // this is depth, so that a selected live queue is never one read away.
    u16 queues = mmio::read<u16>(common, offsetof(CommonConfig, num_queues));
    struct ParkSelect {
        volatile u8* common;
        u16 at;
        ~ParkSelect() { mmio::write<u16>(common, offsetof(CommonConfig, queue_select), at); }
    } park{common, queues};

    // A device ignores a select past its queues (QEMU: >= 1024) and would
    // leave the previous queue selected: check both ways.
    if (index >= queues) return Status::NotFound;
    mmio::write<u16>(common, offsetof(CommonConfig, queue_select), index);
    if (mmio::read<u16>(common, offsetof(CommonConfig, queue_select)) != index) return Status::NotFound;
    // The reset value is the device's maximum (providers cannot write it).
    u16 max = mmio::read<u16>(common, offsetof(CommonConfig, queue_size));
    if (max == 0) return Status::NotFound;  // no such queue
    if (size > max) return Status::InvalidArgument;
    if (mmio::read<u16>(common, offsetof(CommonConfig, queue_enable))) return Status::Busy;
    u64 notify_at =
        u64{f.virtio_notify.offset} +
        u64{mmio::read<u16>(common, offsetof(CommonConfig, queue_notify_off))} * f.virtio_notify.notify_off_multiplier;
    if (notify_at + 2 > f.virtio_notify.offset + u64{f.virtio_notify.length} ||
        notify_at + 2 > f.bars[f.virtio_notify.bar].size)
        return Status::Malformed;

    // Queues are set up after FEATURES_OK (virtio 1.1 §3.1.1, step 7):
    // before it nothing is settled, and a queue created on features the
    // device then accepts (EVENT_IDX) would be driven one way by the
    // broker and another by the device.
    if (!(mmio::read<u8>(common, offsetof(CommonConfig, device_status)) & virtio::status::kFeaturesOk))
        return Status::InvalidArgument;
    u64 features = negotiated_features(common);
    bool event_idx = features & virtio::feature::bit(virtio::feature::kEventIdx);
    // Indirect tables only when they carry something: a queue of 1-segment
    // chains (virtio-net receive) needs none. Without them a chain takes
    // one descriptor per segment and can never be longer than the ring.
    bool indirect = (features & virtio::feature::bit(virtio::feature::kIndirectDesc)) && max_segments > 1;
    if (!indirect && max_segments > size) return Status::InvalidArgument;

    auto q = RefPtr<VirtQueue>::adopt(new (std::nothrow) VirtQueue());
    if (!q) return Status::NoMemory;
    u64 indirect_entries = indirect ? u64{size} * max_segments : 0;
    if (indirect) {
        q->m_indirect_tokens = static_cast<u32*>(heap::alloc(indirect_entries * sizeof(u32)));
        if (!q->m_indirect_tokens) return Status::NoMemory;
        for (u64 i = 0; i < indirect_entries; i++) q->m_indirect_tokens[i] = 0;
    }
    // The rings and the indirect tables, each held while the queue lives
    // (the device may read or write it). A failure part-way gives back
    // what was taken, holds first: a held entry that is only released
    // stays deferred — its frames and quota gone until the grant ends.
    u64 bytes[4] = {virtio::descriptor_table_bytes(size), virtio::available_ring_bytes(size),
                    virtio::used_ring_bytes(size), indirect_entries * sizeof(virtio::Descriptor)};
    auto give_back = [&](u32 parts) {
        for (u32 k = 0; k < parts; k++) {
            if (!q->m_ring_entries[k]) continue;
            session->unhold(q->m_ring_entries[k]);
            session->release(q->m_ring_entries[k]);
            q->m_ring_entries[k] = 0;
        }
        // q goes when the caller returns: without a session, its destructor
        // has nothing more to give back.
    };
    for (u32 r = 0; r < 4; r++) {
        if (bytes[r] == 0) continue;
        auto id = session->allocate(bytes[r], session->id(), dma::Use::Queue, &q->m_phys[r]);
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
    virtio::SplitRing::Memory memory{};
    memory.table = direct_map::to_virt<virtio::Descriptor>(q->m_phys[0]);
    memory.avail = direct_map::to_virt<volatile u16>(q->m_phys[1]);
    memory.used = direct_map::to_virt<const volatile u8>(q->m_phys[2]);
    if (indirect) {
        memory.indirect = direct_map::to_virt<virtio::Descriptor>(q->m_phys[3]);
        memory.indirect_tokens = q->m_indirect_tokens;
        memory.indirect_device_address = q->m_phys[3];
        memory.indirect_per_head = static_cast<u16>(max_segments);
    }
    if (auto r = q->m_ring.init(size, memory, event_idx); !r.ok()) {
        give_back(4);
        return r.status();
    }
    q->m_session = util::RefPtr<kdma::Session>::share(session);
    q->m_notify = reinterpret_cast<volatile u16*>(notify_bar + notify_at);
    q->m_common = common;
    q->m_index = index;
    q->m_size = size;
    q->m_max_segments = max_segments;
    // virtio-net (§5.1.2, §5.1.6): every chain on a transmit queue (odd
    // index) starts with the virtio_net_hdr the device reads, and every
    // chain on a receive queue (even) takes the one the device writes, the
    // packet after it. QEMU 7.2 aborts the whole VM on a shorter chain (an
    // assertion in iov_copy on transmit; in iov_from_buf_full on receive,
    // once a packet arrives), so the broker refuses one. The control queue
    // (the last of an odd count: QEMU always has it) carries commands, no
    // header.
    bool net =
        f.header.vendor == virtio::kPciVendor && (f.header.device == virtio::kTransitionalNet ||
                                                  f.header.device == virtio::modern_device_id(virtio::DeviceType::Net));
    bool control = (queues & 1) && index == queues - 1;
    u32 header = net && !control ? virtio::net::header_bytes(features) : 0;
    q->m_min_readable = index & 1 ? header : 0;
    q->m_min_writable = index & 1 ? 0 : header;
    q->m_net_transmit = net && !control && (index & 1);

    mmio::write<u16>(common, offsetof(CommonConfig, queue_msix_vector), msix_entry);
    if (msix_entry != virtio::kNoMsixVector &&
        mmio::read<u16>(common, offsetof(CommonConfig, queue_msix_vector)) != msix_entry) {
        refusals::note(refusals::current_process(), log::Level::Warn,
                       "virtqueue broker: session %u queue %u: the device refused MSI-X entry %u", session->id(), index,
                       msix_entry);
        mmio::write<u16>(common, offsetof(CommonConfig, queue_msix_vector), virtio::kNoMsixVector);
        return Status::Unsupported;  // never enabled: its rings go back (with q) without touching the device
    }
    mmio::write<u16>(common, offsetof(CommonConfig, queue_size), size);
    mmio::write64_halves(common, offsetof(CommonConfig, queue_desc), q->m_phys[0]);
    mmio::write64_halves(common, offsetof(CommonConfig, queue_driver), q->m_phys[1]);
    mmio::write64_halves(common, offsetof(CommonConfig, queue_device), q->m_phys[2]);
    mmio::write<u16>(common, offsetof(CommonConfig, queue_enable), 1);
    q->m_enabled = true;
    q->m_generation = session->virtio_resets;
    session->live_virtqueues++;
    refusals::note(refusals::current_process(), log::Level::Info,
                   "virtqueue broker: session %u: queue %u of %u entries enabled (MSI-X entry %u): chains of up to %u "
                   "segments, %s, event index %s",
                   session->id(), index, size, msix_entry, max_segments, indirect ? "indirect" : "direct",
                   event_idx ? "on" : "off");
    return q;
}

VirtQueue::~VirtQueue() {
    if (m_session) {
        if (m_session->active()) {
            // Virtio 1.1 has no per-queue stop: an enabled queue goes with a
            // device reset, after which nothing of it (nor of any other queue
            // of the device) is in the device's hands. A queue never enabled
            // was never seen by the device; one whose device was reset since
            // (an older generation) is stopped already — and resetting again
            // would kill the queues enabled after that reset.
            bool stopped = !m_enabled || m_generation != m_session->virtio_resets;
            if (!stopped) {
                m_session->live_virtqueues--;
                auto r = kdma::reset_function(m_session->function(), sched::WaitHow::Spin);
                stopped = r.ok();
                if (r.ok()) {
                    // Every queue of this generation is dead with this one.
                    m_session->virtio_resets++;
                    m_session->live_virtqueues = 0;
                } else {
                    LOG_ERROR("virtqueue broker: session %u: device reset failed (%s); the queue waits for teardown",
                              m_session->id(), status_name(r.status()));
                }
            }
            if (stopped) {
                LedgerHost host{m_session.get(), nullptr, m_index};
                m_ring.release_all(host);
                for (u32 id : m_ring_entries)
                    if (id) m_session->unhold(id);
            }
        }
        for (u32 id : m_ring_entries)
            if (id) m_session->release(id);
    }
    heap::free(m_indirect_tokens);
}

Result<void> VirtQueue::usable() const {
    if (!m_session->active()) return Status::TornDown;
    if (m_generation != m_session->virtio_resets) return Status::Stale;  // a reset stopped it
    return {};
}

Result<u32> VirtQueue::submit(Process* caller, abi::VirtioChain* chains, u32 count, const abi::VirtioSegment* segments,
                              u32 segment_count) {
    TRY(usable());
    if (count == 0 || count > abi::kVirtioMaxBatch || segment_count > abi::kVirtioMaxSubmitSegments)
        return Status::InvalidArgument;
    u64 total = 0;
    for (u32 c = 0; c < count; c++) {
        if (chains[c].segments == 0 || chains[c].segments > m_max_segments || chains[c].reserved)
            return Status::InvalidArgument;
        total += chains[c].segments;
    }
    if (total != segment_count) return Status::InvalidArgument;

    // One chain resolved at a time. Static: the kernel runs one CPU and is
    // not preemptible, and nothing below sleeps.
    static virtio::Segment resolved[abi::kVirtioMaxChainSegments];
    LedgerHost host{m_session.get(), nullptr, m_index};
    // A refusal part-way: the chains added so far come back (the device
    // never saw them) with their holds, and the batch is refused.
    auto refuse = [&](Status s) -> Result<u32> {
        m_ring.abandon(host);
        return s;
    };
    const abi::VirtioSegment* next = segments;
    for (u32 c = 0; c < count; c++) {
        abi::VirtioChain& chain = chains[c];
        u64 readable = 0, writable = 0;
        bool writes_seen = false;
        for (u32 s = 0; s < chain.segments; s++) {
            const abi::VirtioSegment& seg = next[s];
            if (seg.flags & ~abi::kVirtioSegmentDeviceWrites) return refuse(Status::InvalidArgument);
            // §2.6.4.2: device-readable segments come before device-writable ones.
            bool writes = seg.flags & abi::kVirtioSegmentDeviceWrites;
            if (writes_seen && !writes) return refuse(Status::InvalidArgument);
            writes_seen |= writes;
            if (seg.length == 0 || seg.length > 0xffffffffull) return refuse(Status::InvalidArgument);
            auto buffer = kcap::lookup<DmaBuffer>(caller, seg.buffer, cap::kRightRead | cap::kRightWrite);
            if (!buffer.ok()) return refuse(buffer.status());
            if (buffer.value()->session() != m_session.get()) return refuse(Status::NotOwner);
            if (seg.offset > buffer.value()->size() || seg.length > buffer.value()->size() - seg.offset)
                return refuse(Status::OutOfBounds);
            (writes ? writable : readable) += seg.length;
            resolved[s] = virtio::Segment{buffer.value()->device_address(seg.offset), static_cast<u32>(seg.length),
                                          writes, buffer.value()->ledger_id()};
        }
        if (readable < m_min_readable || writable < m_min_writable) return refuse(Status::InvalidArgument);
        // The holds, all or none for this chain, before it is written.
        for (u32 s = 0; s < chain.segments; s++) {
            if (auto h = m_session->hold(resolved[s].token); !h.ok()) {
                for (u32 t = 0; t < s; t++) m_session->unhold(resolved[t].token);
                return refuse(h.status());
            }
        }
        auto head = m_ring.add_chain(resolved, chain.segments);
        if (!head.ok()) {  // Busy: not enough free descriptors
            for (u32 s = 0; s < chain.segments; s++) m_session->unhold(resolved[s].token);
            return refuse(head.status());
        }
        chain.head = head.value();
        next += chain.segments;
    }
    // §2.6.13: the ring publishes (index after entries); it tells whether
    // the device asked to hear of it (VIRTQ_USED_F_NO_NOTIFY, or with
    // EVENT_IDX its avail_event).
    if (m_ring.publish()) {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);  // the index before the notification
        *m_notify = m_index;
    }
    return count;
}

VirtQueue::IndexLie VirtQueue::tell_lie() {
    lie::Planned* p = lie::due();
    if (!p || !m_ring.used_pending()) return {};
    // The used ring as the device writes it (the ring reads it through a
    // const view): flags, idx, then the elements.
    volatile u8* used = direct_map::to_virt<volatile u8>(m_phys[2]);
    u16 next = m_ring.next_used();
    u16 slot = next % m_size;
    auto* element = reinterpret_cast<volatile virtio::UsedElement*>(used + 4) + slot;
    u32 id = element->id;
    switch (p->kind) {
        case lie::Kind::IdRange: element->id = m_size; break;
        case lie::Kind::IdTwice: {
            u32 other = 0;
            while (other < m_size && m_ring.device_holds(other)) other++;
            if (other == m_size) return {};  // every id is the device's: told at a later entry
            element->id = other;
            break;
        }
        case lie::Kind::Len:
            if (!m_ring.device_holds(id)) return {};
            element->len = static_cast<u32>(m_ring.writable_bytes(id) + 1);
            break;
        case lie::Kind::IdxJump: {
            // Atomic against the device's own store of its index (a plain
            // store of the same aligned u16): never written over a newer one.
            u16* idx = const_cast<u16*>(reinterpret_cast<volatile u16*>(used + 2));
            u16 seen = __atomic_load_n(idx, __ATOMIC_SEQ_CST);
            u16 jumped = static_cast<u16>(next + m_size + 1);
            if (!__atomic_compare_exchange_n(idx, &seen, jumped, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return {};
            LOG_WARN(
                "virtqueue broker: test.virtio_lie: session %u queue %u: the used index now says %u (was %u, "
                "%u taken) (idx-jump)",
                m_session->id(), m_index, jumped, seen, next);
            return IndexLie{true, seen, jumped};  // told once the take has met it (index_lie_over)
        }
        case lie::Kind::TxStall:
            if (!m_net_transmit) return {};  // told at a transmit queue's take
            m_stalled = true;
            p->told = true;
            LOG_WARN(
                "virtqueue broker: test.virtio_lie: session %u queue %u: the device completes nothing more on "
                "this queue (tx-stall)",
                m_session->id(), m_index);
            return {};
        case lie::Kind::Break: {
            if (!m_net_transmit) return {};  // told at a transmit queue's take
            // An available entry past what the broker published, naming a
            // head the queue does not have, and a notification.
            volatile u16* avail = direct_map::to_virt<volatile u16>(m_phys[1]);
            u16 idx = avail[1];
            avail[2 + idx % m_size] = m_size;
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            avail[1] = static_cast<u16>(idx + 1);
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            *m_notify = m_index;
            p->told = true;
            // The device reads the entry a little later (QEMU: a bottom
            // half): until then the broker's next chain would overwrite
            // it, so the broker waits (bounded: 10 ms of the clock, however
            // slow each read is) for the device's verdict. Test-only.
            u8 status = 0;
            for (u64 until = clock::monotonic_ns() + 10'000'000;
                 clock::monotonic_ns() < until && !(status & virtio::status::kDeviceNeedsReset);)
                status = mmio::read<u8>(m_common, offsetof(CommonConfig, device_status));
            LOG_WARN(
                "virtqueue broker: test.virtio_lie: session %u queue %u: available entry %u names head %u, past "
                "the queue (tx-break); device_status now 0x%x",
                m_session->id(), m_index, idx, m_size, status);
            return {};
        }
        case lie::Kind::None: return {};
    }
    p->told = true;
    LOG_WARN(
        "virtqueue broker: test.virtio_lie: session %u queue %u: used entry %llu (slot %u, id %u) now says id %u "
        "len %u (%s)",
        m_session->id(), m_index, static_cast<unsigned long long>(lie::g_taken + 1), slot, id, element->id,
        element->len, lie::name(p->kind));
    return {};
}

void VirtQueue::index_lie_over(const IndexLie& lie, bool met) {
    volatile u8* used = direct_map::to_virt<volatile u8>(m_phys[2]);
    u16* idx = const_cast<u16*>(reinterpret_cast<volatile u16*>(used + 2));
    // Put back only if the device has not stored a newer index meanwhile.
    u16 expected = lie.jumped;
    __atomic_compare_exchange_n(idx, &expected, lie.true_idx, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    // Told only if the take met it; if the device stored a newer index
    // before the take read it, nobody saw the lie: it is told again.
    if (lie::Planned* p = lie::due(); p && met) p->told = true;
}

Result<u32> VirtQueue::complete(Process* caller, abi::VirtioCompletion* out, u32 max) {
    TRY(usable());
    LedgerHost host{m_session.get(), caller, m_index};
    u32 done = 0;
    while (done < max) {
        virtio::UsedEntry chunk[32];  // a stack-sized piece at a time
        u32 want = max - done < 32 ? max - done : 32;
        IndexLie index_lie = tell_lie();  // tests only (test.virtio_lie)
        if (m_stalled) break;             // tests only (tx-stall): the device completes nothing more
        auto n = m_ring.take_used(chunk, want, host);
        if (index_lie.written) index_lie_over(index_lie, !n.ok());
        if (n.ok()) lie::g_taken += n.value();
        if (!n.ok()) {
            refusals::record(caller, abi::RefusalKind::DeviceMisbehaved, m_session->function(), Status::Malformed, 0,
                             log::Level::Warn,
                             "virtqueue broker: session %u queue %u: the device's used index jumped more than a "
                             "ring's worth; not trusted",
                             m_session->id(), m_index);
            if (done) break;  // what was taken stands
            return n.status();
        }
        for (u32 i = 0; i < n.value(); i++)
            out[done + i] =
                abi::VirtioCompletion{chunk[i].id, chunk[i].len, static_cast<abi::VirtioVerdict>(chunk[i].verdict), 0};
        done += n.value();
        if (n.value() < want) break;
    }
    return done;
}

Result<u64> VirtQueue::map_used(Process* process, u32 space_id, u32 handle) {
    TRY(usable());
    auto frame_of = [](const void* self, u64 i) { return static_cast<const VirtQueue*>(self)->m_phys[2] + i * kPage; };
    u64 pages = (virtio::used_ring_bytes(m_size) + kPage - 1) / kPage;
    return m_mappings.map(this, process, 0, pages, frame_of, this, mm::MapFlags{false, false, false}, space_id, handle);
}

}  // namespace object
