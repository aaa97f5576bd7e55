#include "broker/nvme_queue.h"

#include "arch/x86_64/clock.h"
#include "arch/x86_64/mmio.h"
#include "console/log.h"
#include "dma/class_reset.h"
#include "events/refusals.h"
#include "mm/direct_map.h"
#include "nvme/registers.h"
#include "object/dma_pool.h"
#include "object/handles.h"
#include "object/interrupt.h"
#include "object/pci_function.h"
#include "pci/enumerate.h"
#include "sched/device_wait.h"
#include "util/page.h"

namespace object {
namespace {

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

// Is a BAR0 of `bar_size` big enough for queue `qid`'s doorbells?
bool doorbells_fit(u16 qid, u8 dstrd, u64 bar_size) { return nvme::cq_head_doorbell(qid, dstrd) + 4 <= bar_size; }

}  // namespace

// What m_core asks of the queue; its templates check this against
// nvme::QueueHost, and with the type known the calls inline.
class NvmeQueue::Host {
public:
    Host(NvmeQueue* queue, Process* caller) : m_queue(queue), m_caller(caller) {}

    // The caller's DmaBuffer: of this queue's grant, with both rights (the
    // device may read and write it), and the region inside it.
    [[gnu::always_inline]] Result<nvme::BufferRegion> resolve(u32 handle, u64 offset, u64 bytes) {
        if (!m_caller) return Status::BadHandle;
        auto* buffer = TRY(kcap::lookup<DmaBuffer>(m_caller, handle, cap::kRightRead | cap::kRightWrite));
        if (buffer->session() != m_queue->session()) return Status::NotOwner;
        if (offset > buffer->size() || bytes > buffer->size() - offset) return Status::OutOfBounds;
        return nvme::BufferRegion{buffer->device_address(offset), buffer->ledger_id()};
    }
    Result<u8> lba_shift(u32 nsid) {
        const NvmeNamespace* ns = m_queue->m_ctrl->find_namespace(nsid);
        if (!ns) return Status::NotFound;
        if (!ns->usable) return Status::Unsupported;
        return ns->lba_shift;
    }
    Result<void> hold(u32 id) { return m_queue->m_session->hold(id); }
    void unhold(u32 id) { m_queue->m_session->unhold(id); }
    // A device posting what the broker cannot trust is a refusal of the
    // device's, recorded (rate-limited, an event) against the provider
    // that drives it.
    void bad_completion(const nvme::Cqe& entry, Status why) {
        u32 session = m_queue->m_session->id();
        Process* who = m_caller ? m_caller : refusals::current_process();
        if (why == Status::Timeout)
            refusals::record(who, abi::RefusalKind::DeviceMisbehaved, m_queue->m_session->function(), why, entry.cid,
                             log::Level::Warn,
                             "nvme broker: session %u: queue %u: late answer (status 0x%x) to an abandoned broker "
                             "command; ignored",
                             session, m_queue->m_qid, nvme::cqe_status_code(entry));
        else
            refusals::record(who, abi::RefusalKind::DeviceMisbehaved, m_queue->m_session->function(), why, entry.cid,
                             log::Level::Warn,
                             "nvme broker: session %u: queue %u: device posted a bad completion (cid %u sq %u): %s; "
                             "ignored",
                             session, m_queue->m_qid, entry.cid, entry.sq_id, status_name(why));
    }

private:
    NvmeQueue* m_queue;
    Process* m_caller;
};

Result<void> NvmeQueue::allocate_rings(kdma::Session* session, u16 sq_entries, u16 cq_entries, u16 list_pages) {
    m_sq_entry =
        TRY(session->allocate(u64{sq_entries} * sizeof(nvme::Sqe), session->id(), dma::Use::Queue, &m_sq_phys));
    m_cq_entry =
        TRY(session->allocate(u64{cq_entries} * sizeof(nvme::Cqe), session->id(), dma::Use::Queue, &m_cq_phys));
    if (list_pages)
        m_list_entry = TRY(session->allocate(u64{list_pages} * kPage, session->id(), dma::Use::Queue, &m_list_phys));
    // The queue pair works on the memory through the direct map; the
    // device sees it at the ledger's addresses.
    nvme::QueuePair::Memory memory{direct_map::to_virt<nvme::Sqe>(m_sq_phys),
                                   direct_map::to_virt<volatile nvme::Cqe>(m_cq_phys),
                                   list_pages ? direct_map::to_virt<u64>(m_list_phys) : nullptr, m_list_phys};
    TRY(m_core.init({m_qid, sq_entries, cq_entries, list_pages}, memory));
    // Held for as long as the controller may fetch from or post to them.
    (void)session->hold(m_sq_entry);
    (void)session->hold(m_cq_entry);
    if (m_list_entry) (void)session->hold(m_list_entry);
    return {};
}

Result<RefPtr<NvmeQueue>> NvmeQueue::create_admin(kdma::Session* session, u16 entries) {
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
    // The waits below sleep (sched/device_wait.h: a controller may take
    // CAP.TO to stop or start, and the CPU is everyone's meanwhile). While
    // they do, the session is kept alive by this call's reference, and no
    // second admin queue creation may interleave with this one: the two
    // would write ASQ/ACQ over each other.
    if (session->nvme_enabling) return Status::Busy;
    session->nvme_enabling = true;
    auto kept = util::RefPtr<kdma::Session>::share(session);
    auto created = enable_admin(session, regs, cap, entries, timeout_ms);
    session->nvme_enabling = false;
    return created;
}

Result<RefPtr<NvmeQueue>> NvmeQueue::enable_admin(kdma::Session* session, volatile u8* regs, const nvme::Cap& cap,
                                                  u16 entries, u32 timeout_ms) {
    // Stopped first (the class reset teardown uses): it must not fetch from
    // the old queues while the new addresses are written. A live earlier
    // generation is retired: this is the provider's controller reset.
    auto off = kdma::reset_function(session->function(), sched::WaitHow::Sleep);
    if (NvmeController* old = session->nvme_controller) {
        refusals::note(refusals::current_process(), log::Level::Info,
                       "nvme broker: session %u: controller reset by a new admin queue (%s)", session->id(),
                       off.ok() ? "stopped" : status_name(off.status()));
        old->retire(off.ok());
    }
    if (!off.ok()) return off.status();
    if (!session->active()) return Status::TornDown;  // torn down while the reset was awaited

    auto q = RefPtr<NvmeQueue>::adopt(new (std::nothrow) NvmeQueue());
    if (!q) return Status::NoMemory;
    q->m_session = util::RefPtr<kdma::Session>::share(session);
    TRY(q->allocate_rings(session, entries, entries, 0));
    mmio::write<u32>(regs, nvme::kRegAqa, nvme::aqa_value(entries, entries));
    mmio::write64_halves(regs, nvme::kRegAsq, q->m_sq_phys);
    mmio::write64_halves(regs, nvme::kRegAcq, q->m_cq_phys);
    mmio::write<u32>(regs, nvme::kRegCc, nvme::cc_enable_value());
    u64 enabled_at = clock::monotonic_ns();
    bool fatal = false;
    auto ready = sched::wait_until(u64{timeout_ms} * 1'000'000, sched::WaitHow::Sleep, [&] {
        if (!session->active()) return true;  // torn down meanwhile: stop waiting
        u32 csts = mmio::read<u32>(regs, nvme::kRegCsts);
        fatal = csts & nvme::kCstsFatal;
        return fatal || ((csts & nvme::kCstsReady) && kdma::slow_device_settled(enabled_at));
    });
    // From here the controller record owns the generation: the destructor
    // resets the controller and retires it.
    q->m_ctrl = NvmeController::create(session, regs, cap.dstrd, cap.mqes_plus_one);
    if (!q->m_ctrl) {
        // The controller may have started fetching: its queues are freed
        // only if it is confirmed stopped (else the grant's teardown keeps them).
        auto stop = kdma::reset_function(session->function(), sched::WaitHow::Spin);
        q->drop_holds(stop.ok());
        return Status::NoMemory;
    }
    q->m_ctrl->admin = q.get();
    q->m_ctrl->attach(q.get());
    session->nvme_controller = q->m_ctrl.get();
    if (!session->active()) return Status::TornDown;
    if (!ready.ok() || fatal) {
        Status why = fatal ? Status::DeviceError : ready.status();  // CSTS.CFS: controller fatal status
        LOG_ERROR("nvme broker: session %u: controller did not become ready: %s", session->id(), status_name(why));
        return why;
    }
    refusals::note(refusals::current_process(), log::Level::Info,
                   "nvme broker: session %u: admin queue of %u entries, controller ready after %llu us", session->id(),
                   entries, static_cast<unsigned long long>(ready.value() / 1000));
    if (auto up = q->m_ctrl->bring_up(sched::WaitHow::Sleep); !up.ok()) {
        LOG_ERROR("nvme broker: session %u: bring-up failed: %s", session->id(), status_name(up.status()));
        return up.status();
    }
    return q;
}

Result<RefPtr<NvmeQueue>> NvmeQueue::create_io(NvmeQueue* admin, u16 entries, Interrupt* irq) {
    if (!admin->is_admin()) return Status::WrongType;
    TRY(admin->usable());
    kdma::Session* session = admin->session();
    NvmeController* ctrl = admin->m_ctrl.get();
    u16 cap_entries = ctrl->max_entries();
    if (entries < 2 || entries > abi::kNvmeMaxEntries || entries > cap_entries) return Status::InvalidArgument;
    if (irq && irq->function() != session->function()) return Status::NotOwner;
    u16 qid = TRY(ctrl->allocate_qid());

    auto q = RefPtr<NvmeQueue>::adopt(new (std::nothrow) NvmeQueue());
    if (!q) {
        ctrl->free_qid(qid);
        return Status::NoMemory;
    }
    q->m_session = util::RefPtr<kdma::Session>::share(session);
    q->m_ctrl = util::RefPtr<NvmeController>::share(ctrl);
    ctrl->attach(q.get());
    q->m_qid = qid;
    q->m_irq = RefPtr<Interrupt>::share(irq);
    u16 lists = entries < kMaxListPages ? entries : kMaxListPages;
    // The CQ is twice the SQ: with shadow doorbells the controller may
    // judge fullness from a CQ head one update old, and a CQ it believes
    // full is never posted to again until an MMIO CQ doorbell write
    // (QEMU 7.2 nvme_post_cqes). At most entries - 1 commands are in
    // flight per update, so twice that can never look full.
    u16 cq_entries = static_cast<u16>(2 * entries);
    if (cq_entries > cap_entries) cq_entries = cap_entries;
    TRY(q->allocate_rings(session, entries, cq_entries, lists));
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
    auto cq = admin->run_internal(create_cq, sched::WaitHow::Sleep);
    auto sq = cq.ok() ? admin->run_internal(create_sq, sched::WaitHow::Sleep) : cq;
    if (!sq.ok()) {
        refusals::note(refusals::current_process(), log::Level::Warn,
                       "nvme broker: session %u: creating I/O queue %u failed: %s", session->id(), qid,
                       status_name(sq.status()));
        bool gone = false;  // is the device known to hold neither queue?
        if (sq.status() == Status::DeviceError) {
            if (!cq.ok()) {
                gone = true;  // the CQ was refused, so the SQ was never tried
            } else {
                nvme::Sqe delete_cq{};
                delete_cq.cdw0 = nvme::kAdminDeleteCq;
                delete_cq.cdw10 = qid;
                gone = admin->run_internal(delete_cq, sched::WaitHow::Sleep).ok();
            }
        }
        if (gone) {
            q->drop_holds(true);
        } else {
            // No answer: the controller cannot be trusted with the queue's
            // memory; stop it (the provider creates its admin queue again).
            auto off = kdma::reset_function(session->function(), sched::WaitHow::Sleep);
            ctrl->retire(off.ok());
        }
        return sq.status();
    }
    q->m_device_created = true;
    return q;
}

NvmeQueue::~NvmeQueue() {
    if (m_ctrl && !m_ctrl->retired() && m_session->active()) {
        if (is_admin()) {
            // No admin queue means no I/O queues either: the controller stops.
            auto off = kdma::reset_function(m_session->function(), sched::WaitHow::Spin);
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
                // A destructor cannot sleep: the deletions get the spin
                // bound; a controller slower than that is reset instead.
                if (admin->run_internal(del, sched::WaitHow::Spin).ok()) {
                    del.cdw0 = nvme::kAdminDeleteCq;
                    deleted = admin->run_internal(del, sched::WaitHow::Spin).ok();
                }
            }
            if (deleted) {
                drop_holds(true);
            } else {
                LOG_WARN("nvme broker: session %u: I/O queue %u could not be deleted; resetting the controller",
                         m_session->id(), m_qid);
                auto off = kdma::reset_function(m_session->function(), sched::WaitHow::Spin);
                m_ctrl->retire(off.ok());
            }
        }
    }
    if (m_ctrl) {
        if (!is_admin() && !m_ctrl->retired()) m_ctrl->free_qid(m_qid);
        if (m_ctrl->admin == this) m_ctrl->admin = nullptr;
        m_ctrl->detach(this);
        m_ctrl.reset();  // may end the controller record: before the rings go
    }
    if (m_sq_entry) m_session->release(m_sq_entry);
    if (m_cq_entry) m_session->release(m_cq_entry);
    if (m_list_entry) m_session->release(m_list_entry);
    // m_irq's reference, then m_session's, go with the members.
}

void NvmeQueue::drop_holds(bool device_stopped) {
    if (m_retired) return;
    m_retired = true;
    if (!device_stopped) return;  // the holds wait for the grant's teardown
    Host host(this, nullptr);
    m_core.release_all(host);
    if (m_sq_entry) m_session->unhold(m_sq_entry);
    if (m_cq_entry) m_session->unhold(m_cq_entry);
    if (m_list_entry) m_session->unhold(m_list_entry);
}

Result<void> NvmeQueue::usable() const {
    if (!m_session->active()) return Status::TornDown;
    if (m_retired || !m_ctrl || m_ctrl->retired()) return Status::Stale;  // reset since: create the queues again
    return {};
}

Result<u32> NvmeQueue::submit(Process* caller, const abi::NvmeCommand* commands, u32 count) {
    TRY(usable());
    Host host(this, caller);
    u32 n = TRY(m_core.submit(commands, count, host));
    ring_sq();  // one doorbell write for the batch
    return n;
}

void NvmeQueue::ring_sq() {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // entries visible before the doorbell
    m_ctrl->write_doorbell(m_qid, false, m_core.sq_tail(), m_sq_tail_rung);
    m_sq_tail_rung = m_core.sq_tail();
    m_sq_rung_ns = clock::monotonic_ns();
}

bool NvmeQueue::ring_cq() {
    if (!m_core.take_cq_moved()) return false;
    m_ctrl->write_doorbell(m_qid, true, m_core.cq_head(), m_cq_head_rung);
    m_cq_head_rung = m_core.cq_head();
    return true;
}

void NvmeQueue::check_for_lost_doorbell() {
    // Nothing completed, work is in flight and the tail moved long enough
    // ago that the controller must have fetched it: a shadow doorbell
    // update may have been lost (docs/nvme-shadow-doorbells.md). The
    // controller checks and, if so, rings MMIO.
    if (is_admin() || !m_core.in_flight() || !m_ctrl->shadow_doorbells()) return;
    if (clock::monotonic_ns() - m_sq_rung_ns < kLostDoorbellNs) return;
    m_ctrl->recover_lost_doorbells(m_qid, m_core.sq_tail(), m_core.cq_head());
    m_sq_rung_ns = clock::monotonic_ns();
}

Result<u32> NvmeQueue::complete(abi::NvmeCompletion* out, u32 max) {
    TRY(usable());
    Host host(this, nullptr);
    u32 done = m_core.complete(out, max, host);
    if (!ring_cq() && !done) check_for_lost_doorbell();
    return done;
}

Result<nvme::Cqe> NvmeQueue::run_internal(const nvme::Sqe& command, sched::WaitHow how) {
    if (!is_admin()) return Status::WrongType;
    TRY(usable());
    u8 opcode = nvme::cdw0_opcode(command.cdw0);
    if (auto started = m_core.start_internal(command); !started.ok()) {
        if (started.status() == Status::Timeout)
            LOG_WARN("nvme broker: session %u: admin opcode 0x%x not sent: an earlier broker command never answered",
                     m_session->id(), opcode);
        return started.status();
    }
    ring_sq();
    auto answer = wait_internal(how);
    ring_cq();
    if (!answer.ok()) {
        if (answer.status() == Status::Timeout)
            LOG_ERROR("nvme broker: session %u: admin opcode 0x%x got no completion within %llu ms", m_session->id(),
                      opcode,
                      static_cast<unsigned long long>(how == sched::WaitHow::Spin ? sched::kMaxDeviceSpinNs / 1'000'000
                                                                                  : kInternalTimeoutNs / 1'000'000));
        return answer.status();
    }
    u16 status = nvme::cqe_status_code(answer.value());
    if (status) {
        LOG_WARN("nvme broker: session %u: admin opcode 0x%x failed: %s (0x%x)", m_session->id(), opcode,
                 nvme::status_text(status), status);
        return Status::DeviceError;
    }
    return answer.value();
}

Result<nvme::Cqe> NvmeQueue::wait_internal(sched::WaitHow how) {
    // The provider's completions met on the way are checked and kept for its
    // next complete() (their ids stay taken until then). A sleeping wait
    // lets the provider's other threads in meanwhile: a complete() of theirs
    // that meets the broker's answer hands it over (nvme::QueuePair), and a
    // reset or teardown in between ends the wait (the answer will not come).
    Host host(this, nullptr);
    Status status = Status::NotFound;
    nvme::Cqe entry{};
    auto waited = sched::wait_until(kInternalTimeoutNs, how, [&] {
        if (!usable().ok()) return true;
        auto answer = m_core.poll_internal(host);
        status = answer.ok() ? Status::Ok : answer.status();
        if (answer.ok()) entry = answer.value();
        return status != Status::NotFound;
    });
    if (status == Status::Ok) return entry;
    if (status != Status::NotFound) return status;
    m_core.abandon_internal();  // its id is never used again on this generation
    if (auto u = usable(); !u.ok()) return u.status();
    return waited.ok() ? Status::Timeout : waited.status();
}

Result<u64> NvmeQueue::map_completions(Process* process, u32 space_id, u32 handle) {
    TRY(usable());
    auto frame_of = [](const void* self, u64 i) { return static_cast<const NvmeQueue*>(self)->m_cq_phys + i * kPage; };
    u64 pages = (u64{m_core.cq_entries()} * sizeof(nvme::Cqe) + kPage - 1) / kPage;
    return m_mappings.map(this, process, 0, pages, frame_of, this, mm::MapFlags{false, false, false}, space_id, handle);
}

}  // namespace object
