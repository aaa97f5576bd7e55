#include "broker/nvme_queue.h"

#include "arch/x86_64/clock.h"
#include "arch/x86_64/mmio.h"
#include "cap/dma_pool.h"
#include "cap/handles.h"
#include "cap/interrupt.h"
#include "cap/pci_function.h"
#include "console/log.h"
#include "dma/class_reset.h"
#include "mm/direct_map.h"
#include "nvme/completion.h"
#include "nvme/policy.h"
#include "nvme/prp.h"
#include "nvme/registers.h"
#include "pci/enumerate.h"

namespace kobj {
namespace {

constexpr u64 kPage = 4096;
// How long the broker waits for one of its own admin commands. QEMU answers
// in microseconds; a controller that takes seconds is broken, and the
// caller resets it.
constexpr u64 kInternalTimeoutNs = 2'000'000'000;
// PRP list pages per I/O queue: commands needing a list beyond this many in
// flight get Busy. 32 pages = 32 transfers of up to 2 MiB each.
constexpr u16 kMaxListPages = 32;
// How long an I/O queue may sit with work in flight, nothing completed and
// its tail unmoved before the broker checks for a lost shadow doorbell.
constexpr u64 kLostDoorbellNs = 10'000'000;

// Bytes an admin command moves, computed from the command itself: the
// device transfers what the command says, whatever the provider believes,
// so the bounds check must use this. Unsupported: a feature whose data
// size is not defined.
Result<u64> admin_transfer_bytes(const abi::NvmeCommand& c) {
    switch (c.opcode) {
        case nvme::kAdminIdentify: return kPage;  // NVMe 1.4 §5.15: always one 4 KiB structure
        case nvme::kAdminGetLogPage: {
            // §5.14: NUMD = NUMDU (CDW11 15:0) << 16 | NUMDL (CDW10 31:16), 0's based dwords.
            u64 numd = (u64{c.cdw11 & 0xffff} << 16 | (c.cdw10 >> 16)) + 1;
            return numd * 4;
        }
        case nvme::kAdminSetFeatures:
        case nvme::kAdminGetFeatures:
            // §5.21.1: some features carry a data structure (sized by the
            // feature and CDW11), most none.
            return u64{TRY(nvme::feature_data_bytes(static_cast<u8>(c.cdw10 & 0xff), c.cdw11))};
        default: return 0;
    }
}

// Is a BAR0 of `bar_size` big enough for queue `qid`'s doorbells?
bool doorbells_fit(u16 qid, u8 dstrd, u64 bar_size) { return nvme::cq_head_doorbell(qid, dstrd) + 4 <= bar_size; }

}  // namespace

Result<void> NvmeQueue::allocate_rings(kdma::Session* session, u16 sq_entries, u16 cq_entries, u16 list_pages) {
    m_entries = sq_entries;
    m_cq_entries = cq_entries;
    m_sq_entry =
        TRY(session->allocate(u64{sq_entries} * sizeof(nvme::Sqe), session->id(), dma::Use::Queue, &m_sq_phys));
    m_cq_entry =
        TRY(session->allocate(u64{cq_entries} * sizeof(nvme::Cqe), session->id(), dma::Use::Queue, &m_cq_phys));
    if (list_pages) {
        m_list_entry = TRY(session->allocate(u64{list_pages} * kPage, session->id(), dma::Use::Queue, &m_list_phys));
        m_list_pages = list_pages;
        m_list_free = list_pages == 64 ? ~u64{0} : (u64{1} << list_pages) - 1;
    }
    // Held for as long as the controller may fetch from or post to them.
    (void)session->hold(m_sq_entry);
    (void)session->hold(m_cq_entry);
    if (m_list_entry) (void)session->hold(m_list_entry);
    return {};
}

Result<NvmeQueue*> NvmeQueue::create_admin(kdma::Session* session, u16 entries) {
    if (entries < 2 || entries > abi::kNvmeMaxEntries) return Status::InvalidArgument;
    if (!session->active()) return Status::TornDown;
    const auto& registers = pci_enum::function(session->function()).registers;
    if (registers.kind != devices::RegisterMap::Kind::Nvme) return Status::WrongType;
    volatile u8* regs = TRY(PciFunction::kernel_view(session->function(), 0));
    u64 cap_value = u64{mmio::read<u32>(regs, nvme::kRegCap)} | u64{mmio::read<u32>(regs, nvme::kRegCap + 4)} << 32;
    nvme::Cap cap = nvme::decode_cap(cap_value);
    TRY(nvme::check_cap(cap));  // NVM command set and 4 KiB pages, as cc_enable_value() assumes
    if (entries > cap.mqes_plus_one || entries > nvme::kAdminQueueMax) return Status::InvalidArgument;
    if (!doorbells_fit(abi::kNvmeMaxIoQueues, cap.dstrd, registers.length)) return Status::Unsupported;
    u32 timeout_ms = cap.timeout_ms ? cap.timeout_ms : 500;

    // Stopped first (the class reset teardown uses): it must not fetch from
    // the old queues while the new addresses are written. A live earlier
    // generation is retired: this is the provider's controller reset.
    auto off = kdma::reset_function(session->function(), kwait::How::Spin);
    if (NvmeController* old = session->nvme_controller) {
        LOG_INFO("nvme broker: session %u: controller reset by a new admin queue (%s)", session->id(),
                 off.ok() ? "stopped" : status_name(off.status()));
        old->retire(off.ok());
    }
    if (!off.ok()) return off.status();

    auto* q = new (std::nothrow) NvmeQueue();
    if (!q) return Status::NoMemory;
    q->m_session = session;
    session->ref();
    if (auto r = q->allocate_rings(session, entries, entries, 0); !r.ok()) {
        q->unref();
        return r.status();
    }
    mmio::write<u32>(regs, nvme::kRegAqa, nvme::aqa_value(entries, entries));
    mmio::write64_halves(regs, nvme::kRegAsq, q->m_sq_phys);
    mmio::write64_halves(regs, nvme::kRegAcq, q->m_cq_phys);
    mmio::write<u32>(regs, nvme::kRegCc, nvme::cc_enable_value());
    bool fatal = false;
    auto ready = clock::spin_until(u64{timeout_ms} * 1'000'000, [&] {
        u32 csts = mmio::read<u32>(regs, nvme::kRegCsts);
        fatal = csts & nvme::kCstsFatal;
        return fatal || (csts & nvme::kCstsReady);
    });
    // From here the controller record owns the generation: the destructor
    // resets the controller and retires it.
    q->m_ctrl = NvmeController::create(session, regs, cap.dstrd, cap.mqes_plus_one);
    if (!q->m_ctrl) {
        // The controller may have started fetching: its queues are freed
        // only if it is confirmed stopped (else the grant's teardown keeps them).
        auto stop = kdma::reset_function(session->function(), kwait::How::Spin);
        q->drop_holds(stop.ok());
        q->unref();
        return Status::NoMemory;
    }
    q->m_ctrl->admin = q;
    q->m_ctrl->attach(q);
    session->nvme_controller = q->m_ctrl;
    if (!ready.ok() || fatal) {
        Status why = fatal ? Status::DeviceError : ready.status();  // CSTS.CFS: controller fatal status
        LOG_ERROR("nvme broker: session %u: controller did not become ready: %s", session->id(), status_name(why));
        q->unref();
        return why;
    }
    LOG_INFO("nvme broker: session %u: admin queue of %u entries, controller ready after %llu us", session->id(),
             entries, static_cast<unsigned long long>(ready.value() / 1000));
    if (auto up = q->m_ctrl->bring_up(); !up.ok()) {
        LOG_ERROR("nvme broker: session %u: bring-up failed: %s", session->id(), status_name(up.status()));
        q->unref();
        return up.status();
    }
    return q;
}

Result<NvmeQueue*> NvmeQueue::create_io(NvmeQueue* admin, u16 entries, Interrupt* irq) {
    if (!admin->is_admin()) return Status::WrongType;
    TRY(admin->usable());
    kdma::Session* session = admin->m_session;
    NvmeController* ctrl = admin->m_ctrl;
    u16 cap_entries = ctrl->max_entries();
    if (entries < 2 || entries > abi::kNvmeMaxEntries || entries > cap_entries) return Status::InvalidArgument;
    if (irq && irq->function() != session->function()) return Status::NotOwner;
    u16 qid = TRY(ctrl->allocate_qid());

    auto* q = new (std::nothrow) NvmeQueue();
    if (!q) {
        ctrl->free_qid(qid);
        return Status::NoMemory;
    }
    q->m_session = session;
    session->ref();
    q->m_ctrl = ctrl;
    ctrl->ref();
    ctrl->attach(q);
    q->m_qid = qid;
    if (irq) {
        irq->ref();
        q->m_irq = irq;
    }
    u16 lists = entries < kMaxListPages ? entries : kMaxListPages;
    // The CQ is twice the SQ: with shadow doorbells the controller may
    // judge fullness from a CQ head one update old, and a CQ it believes
    // full is never posted to again until an MMIO CQ doorbell write
    // (QEMU 7.2 nvme_post_cqes). At most entries - 1 commands are in
    // flight per update, so twice that can never look full.
    u16 cq_entries = static_cast<u16>(2 * entries);
    if (cq_entries > cap_entries) cq_entries = cap_entries;
    if (auto r = q->allocate_rings(session, entries, cq_entries, lists); !r.ok()) {
        q->unref();
        return r.status();
    }
    ctrl->reset_shadow(qid);
    // Create I/O CQ (§5.4): PRP1 = the queue, QSIZE 31:16 (0's based) and
    // QID in CDW10; IV 31:16, IEN bit 1, PC bit 0 in CDW11.
    nvme::Sqe create_cq{};
    create_cq.cdw0 = nvme::kAdminCreateCq;
    create_cq.prp1 = q->m_cq_phys;
    create_cq.cdw10 = u32{cq_entries - 1u} << 16 | qid;
    create_cq.cdw11 = (irq ? u32{irq->index()} << 16 | 2u : 0u) | 1u;
    // Create I/O SQ (§5.5): CQID 31:16, PC bit 0 in CDW11.
    nvme::Sqe create_sq{};
    create_sq.cdw0 = nvme::kAdminCreateSq;
    create_sq.prp1 = q->m_sq_phys;
    create_sq.cdw10 = u32{entries - 1u} << 16 | qid;
    create_sq.cdw11 = u32{qid} << 16 | 1u;
    auto cq = admin->run_internal(create_cq);
    auto sq = cq.ok() ? admin->run_internal(create_sq) : cq;
    if (!sq.ok()) {
        LOG_WARN("nvme broker: session %u: creating I/O queue %u failed: %s", session->id(), qid,
                 status_name(sq.status()));
        bool gone = false;  // is the device known to hold neither queue?
        if (sq.status() == Status::DeviceError) {
            if (!cq.ok()) {
                gone = true;  // the CQ was refused, so the SQ was never tried
            } else {
                nvme::Sqe delete_cq{};
                delete_cq.cdw0 = nvme::kAdminDeleteCq;
                delete_cq.cdw10 = qid;
                gone = admin->run_internal(delete_cq).ok();
            }
        }
        if (gone) {
            q->drop_holds(true);
        } else {
            // No answer: the controller cannot be trusted with the queue's
            // memory; stop it (the provider creates its admin queue again).
            auto off = kdma::reset_function(session->function(), kwait::How::Spin);
            ctrl->retire(off.ok());
        }
        q->unref();
        return sq.status();
    }
    q->m_device_created = true;
    return q;
}

NvmeQueue::~NvmeQueue() {
    if (m_ctrl && !m_ctrl->retired() && m_session->active()) {
        if (is_admin()) {
            // No admin queue means no I/O queues either: the controller stops.
            auto off = kdma::reset_function(m_session->function(), kwait::How::Spin);
            if (!off.ok())
                LOG_ERROR("nvme broker: session %u: controller did not disable (%s); its queues wait for teardown",
                          m_session->id(), status_name(off.status()));
            m_ctrl->retire(off.ok());
        } else if (m_device_created) {
            // Delete I/O SQ, then its CQ (§5.6, §5.7): after the SQ's
            // deletion completes the device uses neither.
            bool deleted = false;
            if (NvmeQueue* admin = m_ctrl->admin) {
                nvme::Sqe del{};
                del.cdw0 = nvme::kAdminDeleteSq;
                del.cdw10 = m_qid;
                if (admin->run_internal(del).ok()) {
                    del.cdw0 = nvme::kAdminDeleteCq;
                    deleted = admin->run_internal(del).ok();
                }
            }
            if (deleted) {
                drop_holds(true);
            } else {
                LOG_WARN("nvme broker: session %u: I/O queue %u could not be deleted; resetting the controller",
                         m_session->id(), m_qid);
                auto off = kdma::reset_function(m_session->function(), kwait::How::Spin);
                m_ctrl->retire(off.ok());
            }
        }
    }
    if (m_ctrl) {
        if (!is_admin() && !m_ctrl->retired()) m_ctrl->free_qid(m_qid);
        if (m_ctrl->admin == this) m_ctrl->admin = nullptr;
        m_ctrl->detach(this);
        m_ctrl->unref();
    }
    if (m_sq_entry) m_session->release(m_sq_entry);
    if (m_cq_entry) m_session->release(m_cq_entry);
    if (m_list_entry) m_session->release(m_list_entry);
    if (m_irq) m_irq->unref();
    m_session->unref();
}

void NvmeQueue::drop_holds(bool device_stopped) {
    if (m_retired) return;
    m_retired = true;
    if (!device_stopped) return;  // the holds wait for the grant's teardown
    for (u32 cid = 0; cid < m_entries; cid++)
        if (m_held[cid]) m_session->unhold(m_held[cid]);
    for (auto& h : m_held) h = 0;
    for (auto& w : m_outstanding) w = 0;
    m_in_flight = 0;
    if (m_sq_entry) m_session->unhold(m_sq_entry);
    if (m_cq_entry) m_session->unhold(m_cq_entry);
    if (m_list_entry) m_session->unhold(m_list_entry);
}

Result<void> NvmeQueue::usable() const {
    if (!m_session->active()) return Status::TornDown;
    if (m_retired || !m_ctrl || m_ctrl->retired()) return Status::Stale;  // reset since: create the queues again
    return {};
}

void NvmeQueue::set_outstanding(u16 cid, bool on) {
    if (on) {
        m_outstanding[cid / 64] |= u64{1} << (cid % 64);
        m_in_flight++;
    } else {
        m_outstanding[cid / 64] &= ~(u64{1} << (cid % 64));
        m_in_flight--;
    }
}

Result<u64> NvmeQueue::transfer_bytes(const abi::NvmeCommand& c) const {
    if (is_admin()) return admin_transfer_bytes(c);
    if (c.opcode == nvme::kIoFlush || c.opcode == nvme::kIoWriteZeroes) return u64{0};
    const NvmeNamespace* ns = m_ctrl->find_namespace(c.nsid);
    if (!ns) return Status::NotFound;
    if (!ns->usable) return Status::Unsupported;
    return nvme::io_transfer_bytes(c.opcode, c.cdw10, c.cdw12, ns->lba_shift);
}

Result<u16> NvmeQueue::take_list_page() {
    for (u16 p = 0; p < m_list_pages; p++) {
        if (m_list_free >> p & 1) {
            m_list_free &= ~(u64{1} << p);
            return p;
        }
    }
    return Status::Busy;
}

Result<u32> NvmeQueue::submit(Process* caller, const abi::NvmeCommand* commands, u32 count) {
    TRY(usable());
    if (count == 0 || count > abi::kNvmeMaxBatch) return Status::InvalidArgument;
    // What validation derives per command (the rest comes from the command).
    struct Data {
        u64 prp1, prp2;
        u32 hold;        // ledger entry the device is handed (0: none)
        u8 list;         // PRP list page + 1 (0: none)
    };
    Data data[abi::kNvmeMaxBatch];
    u64 batch_cids[abi::kNvmeMaxEntries / 64] = {};
    if (m_in_flight + count > capacity()) return Status::Busy;
    u32 validated = 0;
    auto give_back_lists = [&] {
        for (u32 k = 0; k < validated; k++)
            if (data[k].list) m_list_free |= u64{1} << (data[k].list - 1);
    };
    Status refused = Status::Ok;
    for (u32 i = 0; i < count && refused == Status::Ok; i++) {
        const abi::NvmeCommand& c = commands[i];
        auto check = [&]() -> Result<Data> {
            if (c.cid >= provider_cids() || outstanding(c.cid) || (batch_cids[c.cid / 64] >> (c.cid % 64) & 1))
                return Status::Busy;
            batch_cids[c.cid / 64] |= u64{1} << (c.cid % 64);
            TRY(nvme::command_allowed(is_admin() ? nvme::QueueKind::Admin : nvme::QueueKind::Io, c.opcode, c.cdw10));
            u64 bytes = TRY(transfer_bytes(c));
            if (bytes == 0) {
                if (c.buffer || c.length) return Status::InvalidArgument;
                return Data{0, 0, 0, 0};
            }
            if (!c.buffer) return Status::InvalidArgument;  // PRP1 = 0 would aim the device at physical 0
            if (c.length != bytes) return Status::InvalidArgument;
            auto* buffer = TRY(kcap::lookup<DmaBuffer>(caller, c.buffer, Type::DmaBuffer,
                                                       cap::kRightRead | cap::kRightWrite));
            if (buffer->session() != m_session) return Status::NotOwner;
            if (c.offset > buffer->size() || bytes > buffer->size() - c.offset) return Status::OutOfBounds;
            u64 address = buffer->device_address(c.offset);
            nvme::PrpPlan plan = TRY(nvme::plan_prps(address, bytes));
            Data d{plan.prp1, plan.prp2, buffer->ledger_id(), 0};
            if (plan.list_entries) {
                if (is_admin()) return Status::Unsupported;  // admin transfers fit two pages, or are refused
                u16 page = TRY(take_list_page());
                d.list = static_cast<u8>(page + 1);
                u64 list_phys = m_list_phys + u64{page} * kPage;
                auto filled = nvme::fill_prp_list(address, bytes, direct_map::to_virt<u64>(list_phys),
                                                  nvme::kPrpListMaxEntries);
                if (!filled.ok()) {
                    m_list_free |= u64{1} << page;
                    return filled.status();
                }
                d.prp2 = list_phys;
            }
            return d;
        };
        auto d = check();
        if (!d.ok()) {
            refused = d.status();
            break;
        }
        data[i] = d.value();
        validated++;
    }
    if (refused != Status::Ok) {
        give_back_lists();
        return refused;
    }
    // The holds, all or none (they cannot fail after validation on one CPU,
    // but nothing is written until they are taken).
    for (u32 i = 0; i < count; i++) {
        if (!data[i].hold) continue;
        if (auto h = m_session->hold(data[i].hold); !h.ok()) {
            for (u32 k = 0; k < i; k++)
                if (data[k].hold) m_session->unhold(data[k].hold);
            give_back_lists();
            return h.status();
        }
    }
    // The entries, built straight into the kernel's submission queue; one
    // doorbell write for the batch.
    auto* sq = direct_map::to_virt<nvme::Sqe>(m_sq_phys);
    for (u32 i = 0; i < count; i++) {
        const abi::NvmeCommand& c = commands[i];
        nvme::Sqe& e = sq[m_sq_tail];
        e = nvme::Sqe{};
        e.cdw0 = nvme::cdw0(c.opcode, c.cid);
        e.nsid = c.nsid;
        e.prp1 = data[i].prp1;
        e.prp2 = data[i].prp2;
        e.cdw10 = c.cdw10;
        e.cdw11 = c.cdw11;
        e.cdw12 = c.cdw12;
        e.cdw13 = c.cdw13;
        e.cdw14 = c.cdw14;
        e.cdw15 = c.cdw15;
        m_held[c.cid] = data[i].hold;
        m_list_of[c.cid] = data[i].list;
        set_outstanding(c.cid, true);
        m_sq_tail = static_cast<u16>((m_sq_tail + 1) % m_entries);
    }
    ring_sq();
    return count;
}

void NvmeQueue::ring_sq() {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // entries visible before the doorbell
    m_ctrl->write_doorbell(m_qid, false, m_sq_tail, m_sq_tail_rung);
    m_sq_tail_rung = m_sq_tail;
    m_sq_rung_ns = clock::monotonic_ns();
}

void NvmeQueue::check_for_lost_doorbell() {
    // Nothing completed, work is in flight and the tail moved long enough
    // ago that the controller must have fetched it: a shadow doorbell
    // update may have been lost (docs/nvme-shadow-doorbells.md). The
    // controller checks and, if so, rings MMIO.
    if (is_admin() || !m_in_flight || !m_ctrl->shadow_doorbells()) return;
    if (clock::monotonic_ns() - m_sq_rung_ns < kLostDoorbellNs) return;
    m_ctrl->recover_lost_doorbells(m_qid, m_sq_tail, m_cq_head);
    m_sq_rung_ns = clock::monotonic_ns();
}

void NvmeQueue::finish(u16 cid) {
    if (m_held[cid]) m_session->unhold(m_held[cid]);
    m_held[cid] = 0;
    if (m_list_of[cid]) m_list_free |= u64{1} << (m_list_of[cid] - 1);
    m_list_of[cid] = 0;
    set_outstanding(cid, false);
}

void NvmeQueue::advance_cq() {
    m_cq_head = static_cast<u16>((m_cq_head + 1) % m_cq_entries);
    if (m_cq_head == 0) m_phase = !m_phase;
}

Result<u32> NvmeQueue::complete(abi::NvmeCompletion* out, u32 max) {
    TRY(usable());
    u32 done = 0;
    while (done < max && m_stashed) {
        out[done++] = m_stash[0];
        m_stashed--;
        for (u16 i = 0; i < m_stashed; i++) m_stash[i] = m_stash[i + 1];
    }
    auto* cq = direct_map::to_virt<volatile nvme::Cqe>(m_cq_phys);
    bool consumed = false;
    while (done < max) {
        nvme::Cqe entry;
        __builtin_memcpy(&entry, const_cast<const nvme::Cqe*>(&cq[m_cq_head]), sizeof entry);
        auto cid = nvme::check_completion(entry, m_phase, m_qid, provider_cids(), m_outstanding);
        if (!cid.ok() && cid.status() == Status::NotFound) break;  // nothing new
        if (cid.ok()) {
            u16 c = cid.value();
            finish(c);
            out[done++] = abi::NvmeCompletion{entry.dw0, c, nvme::cqe_status_code(entry)};
        } else {
            LOG_WARN("nvme broker: session %u: queue %u: device posted a bad completion (cid %u): %s; ignored",
                     m_session->id(), m_qid, entry.cid, status_name(cid.status()));
        }
        advance_cq();
        consumed = true;
    }
    if (consumed) {
        m_ctrl->write_doorbell(m_qid, true, m_cq_head, m_cq_head_rung);
        m_cq_head_rung = m_cq_head;
    } else if (!done) {
        check_for_lost_doorbell();
    }
    return done;
}

Result<nvme::Cqe> NvmeQueue::run_internal(const nvme::Sqe& command) {
    if (!is_admin()) return Status::WrongType;
    TRY(usable());
    u16 cid = internal_cid();
    if (m_in_flight + 1u > m_entries - 1u) return Status::Busy;
    auto* sq = direct_map::to_virt<nvme::Sqe>(m_sq_phys);
    sq[m_sq_tail] = command;
    sq[m_sq_tail].cdw0 = nvme::cdw0(nvme::cdw0_opcode(command.cdw0), cid);
    m_sq_tail = static_cast<u16>((m_sq_tail + 1) % m_entries);
    ring_sq();

    // Wait for ours; the provider's completions met on the way are checked
    // and kept for its next complete().
    auto* cq = direct_map::to_virt<volatile nvme::Cqe>(m_cq_phys);
    u64 internal_bit[abi::kNvmeMaxEntries / 64] = {};
    internal_bit[cid / 64] = u64{1} << (cid % 64);
    nvme::Cqe result{};
    bool answered = false;
    bool consumed = false;
    u64 deadline = clock::monotonic_ns() + kInternalTimeoutNs;
    while (!answered && clock::monotonic_ns() < deadline) {
        nvme::Cqe entry;
        __builtin_memcpy(&entry, const_cast<const nvme::Cqe*>(&cq[m_cq_head]), sizeof entry);
        if (nvme::cqe_phase(entry) != m_phase) {
            __builtin_ia32_pause();
            continue;
        }
        if (nvme::check_completion(entry, m_phase, 0, m_entries, internal_bit).ok()) {
            result = entry;
            answered = true;
        } else if (auto c = nvme::check_completion(entry, m_phase, 0, provider_cids(), m_outstanding); c.ok()) {
            finish(c.value());
            m_stash[m_stashed++] = abi::NvmeCompletion{entry.dw0, c.value(), nvme::cqe_status_code(entry)};
        } else {
            LOG_WARN("nvme broker: session %u: device posted a bad completion (cid %u); ignored", m_session->id(),
                     entry.cid);
        }
        advance_cq();
        consumed = true;
    }
    if (consumed) {
        m_ctrl->write_doorbell(0, true, m_cq_head, m_cq_head_rung);
        m_cq_head_rung = m_cq_head;
    }
    if (!answered) {
        LOG_ERROR("nvme broker: session %u: admin opcode %#x got no completion within %llu ms", m_session->id(),
                  nvme::cdw0_opcode(command.cdw0), static_cast<unsigned long long>(kInternalTimeoutNs / 1'000'000));
        return Status::Timeout;
    }
    u16 status = nvme::cqe_status_code(result);
    if (status) {
        LOG_WARN("nvme broker: session %u: admin opcode %#x failed: %s (%#x)", m_session->id(),
                 nvme::cdw0_opcode(command.cdw0), nvme::status_text(status), status);
        return Status::DeviceError;
    }
    return result;
}

Result<u64> NvmeQueue::map_completions(Process* process, u32 space_id, u32 handle) {
    TRY(usable());
    auto frame_of = [](const void* self, u64 i) { return static_cast<const NvmeQueue*>(self)->m_cq_phys + i * kPage; };
    u64 pages = (u64{m_cq_entries} * sizeof(nvme::Cqe) + kPage - 1) / kPage;
    return m_mappings.map(this, process, 0, pages, frame_of, this, mm::MapFlags{false, false, false}, space_id,
                          handle);
}

}  // namespace kobj
