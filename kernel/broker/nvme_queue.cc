#include "broker/nvme_queue.h"

#include "arch/x86_64/clock.h"
#include "cap/dma_pool.h"
#include "cap/handles.h"
#include "cap/pci_function.h"
#include "arch/x86_64/mmio.h"
#include "console/log.h"
#include "dma/class_reset.h"
#include "mm/direct_map.h"
#include "nvme/command.h"
#include "nvme/completion.h"
#include "nvme/policy.h"
#include "nvme/prp.h"
#include "nvme/registers.h"

namespace kobj {
namespace {

constexpr u64 kPage = 4096;

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

}  // namespace

void NvmeQueue::ring(u64 doorbell, u32 value) { mmio::write<u32>(m_regs, doorbell, value); }

Result<NvmeQueue*> NvmeQueue::create_admin(kdma::Session* session, u16 entries) {
    if (entries < 2 || entries > abi::kNvmeMaxEntries) return Status::InvalidArgument;
    if (!session->active()) return Status::TornDown;
    if (pci_enum::function(session->function()).registers.kind != devices::RegisterMap::Kind::Nvme)
        return Status::WrongType;
    if (session->nvme_admin_live) return Status::Busy;
    volatile u8* regs = TRY(PciFunction::kernel_view(session->function(), 0));
    u64 cap_value = u64{mmio::read<u32>(regs, nvme::kRegCap)} | u64{mmio::read<u32>(regs, nvme::kRegCap + 4)} << 32;
    nvme::Cap cap = nvme::decode_cap(cap_value);
    TRY(nvme::check_cap(cap));  // NVM command set and 4 KiB pages, as cc_enable_value() assumes
    if (entries > cap.mqes_plus_one) return Status::InvalidArgument;

    auto* q = new (std::nothrow) NvmeQueue();
    if (!q) return Status::NoMemory;
    q->m_regs = regs;
    q->m_dstrd = cap.dstrd;
    q->m_timeout_ms = cap.timeout_ms ? cap.timeout_ms : 500;
    q->m_entries = entries;
    // Stopped first (the class reset teardown uses): it must not fetch from
    // the old queues while the new addresses are written.
    if (auto off = kdma::reset_function(session->function()); !off.ok()) {
        delete q;
        return off.status();
    }
    // The queues: kernel memory from the device's pool, held for as long
    // as the controller may fetch from or post to them.
    auto sq = session->allocate(u64{entries} * sizeof(nvme::Sqe), session->id(), dma::Use::Queue, &q->m_sq_phys);
    if (!sq.ok()) {
        delete q;
        return sq.status();
    }
    q->m_sq_entry = sq.value();
    auto cq = session->allocate(u64{entries} * sizeof(nvme::Cqe), session->id(), dma::Use::Queue, &q->m_cq_phys);
    if (!cq.ok()) {
        session->release(q->m_sq_entry);
        delete q;
        return cq.status();
    }
    q->m_cq_entry = cq.value();
    (void)session->hold(q->m_sq_entry);
    (void)session->hold(q->m_cq_entry);
    session->ref();
    session->nvme_admin_live = true;
    q->m_session = session;

    mmio::write<u32>(regs, nvme::kRegAqa, nvme::aqa_value(entries, entries));
    mmio::write64_halves(regs, nvme::kRegAsq, q->m_sq_phys);
    mmio::write64_halves(regs, nvme::kRegAcq, q->m_cq_phys);
    mmio::write<u32>(regs, nvme::kRegCc, nvme::cc_enable_value());
    bool fatal = false;
    auto ready = clock::spin_until(u64{q->m_timeout_ms} * 1'000'000, [&] {
        u32 csts = mmio::read<u32>(regs, nvme::kRegCsts);
        fatal = csts & nvme::kCstsFatal;
        return fatal || (csts & nvme::kCstsReady);
    });
    if (!ready.ok() || fatal) {
        Status why = fatal ? Status::Malformed : ready.status();  // CSTS.CFS: controller fatal status
        LOG_ERROR("nvme broker: session %u: controller did not become ready: %s", session->id(), status_name(why));
        q->unref();
        return why;
    }
    LOG_INFO("nvme broker: session %u: admin queue of %u entries, controller ready after %llu us", session->id(),
             entries, static_cast<unsigned long long>(ready.value() / 1000));
    return q;
}

NvmeQueue::~NvmeQueue() {
    if (!m_session) return;
    // The controller must stop using the queues before they can go: disable
    // it (no admin queue means no I/O queues either). If that cannot be
    // confirmed the holds stay and the memory waits for the grant's
    // teardown (quiesce or quarantine).
    if (m_session->active()) {
        if (auto off = kdma::reset_function(m_session->function()); off.ok()) {
            for (u32 cid = 0; cid < m_entries; cid++)
                if (m_held[cid]) m_session->unhold(m_held[cid]);
            m_session->unhold(m_sq_entry);
            m_session->unhold(m_cq_entry);
        } else {
            LOG_ERROR("nvme broker: session %u: controller did not disable (%s); its queues wait for teardown",
                      m_session->id(), status_name(off.status()));
        }
    }
    m_session->release(m_sq_entry);
    m_session->release(m_cq_entry);
    m_session->nvme_admin_live = false;
    m_session->unref();
}

Result<u32> NvmeQueue::submit(Process* caller, const abi::NvmeCommand* commands, u32 count) {
    if (!m_session->active()) return Status::TornDown;
    if (count == 0 || count > abi::kNvmeMaxBatch) return Status::InvalidArgument;
    // What validation derives per command (the rest comes from the command).
    struct Data {
        u64 prp1, prp2;
        u32 hold;  // ledger entry the device is handed (0: none)
    };
    Data data[abi::kNvmeMaxBatch];
    u64 batch_cids[abi::kNvmeMaxEntries / 64] = {};
    u32 free_slots = m_entries - 1;  // a full SQ has one empty slot (NVMe 1.4 §4.1.1)
    for (u32 c = 0; c < m_entries; c++) free_slots -= outstanding(static_cast<u16>(c)) ? 1 : 0;
    if (count > free_slots) return Status::Busy;

    for (u32 i = 0; i < count; i++) {
        const abi::NvmeCommand& c = commands[i];
        if (c.cid >= m_entries || outstanding(c.cid) || (batch_cids[c.cid / 64] >> (c.cid % 64) & 1))
            return Status::Busy;
        batch_cids[c.cid / 64] |= u64{1} << (c.cid % 64);
        TRY(nvme::command_allowed(nvme::QueueKind::Admin, c.opcode, c.cdw10));
        u64 bytes = TRY(admin_transfer_bytes(c));
        data[i] = Data{0, 0, 0};
        if (bytes == 0) {
            if (c.buffer || c.length) return Status::InvalidArgument;
            continue;
        }
        if (!c.buffer) return Status::InvalidArgument;  // PRP1 = 0 would aim the device at physical 0
        if (c.length != bytes) return Status::InvalidArgument;
        auto* buffer = TRY(kcap::lookup<DmaBuffer>(caller, c.buffer, Type::DmaBuffer,
                                                   cap::kRightRead | cap::kRightWrite));
        if (buffer->session() != m_session) return Status::NotOwner;
        if (c.offset > buffer->size() || bytes > buffer->size() - c.offset) return Status::OutOfBounds;
        nvme::PrpPlan plan = TRY(nvme::plan_prps(buffer->device_address(c.offset), bytes));
        if (plan.list_entries) return Status::Unsupported;  // PRP lists: the I/O broker (issue 5)
        data[i] = Data{plan.prp1, plan.prp2, buffer->ledger_id()};
    }
    // The holds, all or none (they cannot fail after validation on one CPU,
    // but nothing is written until they are taken).
    for (u32 i = 0; i < count; i++) {
        if (!data[i].hold) continue;
        if (auto h = m_session->hold(data[i].hold); !h.ok()) {
            for (u32 k = 0; k < i; k++)
                if (data[k].hold) m_session->unhold(data[k].hold);
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
        m_outstanding[c.cid / 64] |= u64{1} << (c.cid % 64);
        m_sq_tail = static_cast<u16>((m_sq_tail + 1) % m_entries);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // entries visible before the doorbell
    ring(nvme::sq_tail_doorbell(0, m_dstrd), m_sq_tail);
    return count;
}

Result<u32> NvmeQueue::complete(u32 count) {
    if (!m_session->active()) return Status::TornDown;
    auto* cq = direct_map::to_virt<volatile nvme::Cqe>(m_cq_phys);
    u32 done = 0;
    while (done < count) {
        nvme::Cqe entry;
        __builtin_memcpy(&entry, const_cast<const nvme::Cqe*>(&cq[m_cq_head]), sizeof entry);
        auto cid = nvme::check_completion(entry, m_phase, 0, m_entries, m_outstanding);
        if (!cid.ok() && cid.status() == Status::NotFound) break;  // nothing new
        if (cid.ok()) {
            u16 c = cid.value();
            if (m_held[c]) m_session->unhold(m_held[c]);
            m_held[c] = 0;
            m_outstanding[c / 64] &= ~(u64{1} << (c % 64));
        } else {
            LOG_WARN("nvme broker: session %u: device posted a bad completion (cid %u): %s; ignored", m_session->id(),
                     entry.cid, status_name(cid.status()));
        }
        m_cq_head = static_cast<u16>((m_cq_head + 1) % m_entries);
        if (m_cq_head == 0) m_phase = !m_phase;
        done++;
    }
    if (done) ring(nvme::cq_head_doorbell(0, m_dstrd), m_cq_head);
    return done;
}

Result<u64> NvmeQueue::map_completions(Process* process, u32 space_id, u32 handle) {
    if (!m_session->active()) return Status::TornDown;
    auto frame_of = [](const void* self, u64 i) { return static_cast<const NvmeQueue*>(self)->m_cq_phys + i * kPage; };
    u64 pages = (u64{m_entries} * sizeof(nvme::Cqe) + kPage - 1) / kPage;
    return m_mappings.map(this, process, 0, pages, frame_of, this, mm::MapFlags{false, false, false}, space_id,
                          handle);
}

}  // namespace kobj
