#include "broker/nvme_controller.h"

#include "abi/nvme.h"
#include "arch/x86_64/mmio.h"
#include "boot/cmdline.h"
#include "broker/nvme_queue.h"
#include "console/log.h"
#include "debug/panic.h"
#include "events/refusals.h"
#include "mm/direct_map.h"
#include "nvme/command.h"
#include "nvme/doorbell.h"
#include "nvme/identify.h"
#include "nvme/registers.h"
#include "util/page.h"

namespace object {
namespace {

nvme::Sqe identify_command(u8 cns, u32 nsid, u64 page) {
    nvme::Sqe e{};
    e.cdw0 = nvme::kAdminIdentify;
    e.nsid = nsid;
    e.prp1 = page;
    e.cdw10 = cns;
    return e;
}

}  // namespace

util::RefPtr<NvmeController> NvmeController::create(kdma::Session* session, volatile u8* regs, u8 dstrd,
                                                    u16 max_entries) {
    return util::RefPtr<NvmeController>::adopt(new (std::nothrow) NvmeController(session, regs, dstrd, max_entries));
}

void NvmeController::reference_underflow() { panic("nvme broker: unref of a dead controller record"); }

NvmeController::~NvmeController() {
    if (m_session->nvme_controller == this) m_session->nvme_controller = nullptr;
    if (m_scratch_entry) m_session->release(m_scratch_entry);
    if (m_shadow_entry) m_session->release(m_shadow_entry);
    if (m_eventidx_entry) m_session->release(m_eventidx_entry);
    // m_session's reference goes last, with the members.
}

Result<void> NvmeController::bring_up(sched::WaitHow how) {
    m_wait = how;
    // One page the device writes Identify data into, held while it may.
    m_scratch_entry = TRY(m_session->allocate(kPage, m_session->id(), dma::Use::Queue, &m_scratch_phys));
    TRY(m_session->hold(m_scratch_entry));
    m_scratch_held = true;
    const u8* page = direct_map::to_virt<const u8>(m_scratch_phys);

    TRY(identify(nvme::kIdentifyController, 0));
    nvme::ControllerInfo info = nvme::parse_identify_controller(page);
    TRY(identify_namespaces(info.nn));
    TRY(configure_queues());
    bool dbbuf = info.oacs & nvme::kOacsDoorbellBufferConfig;
    // Tests only: drive the controller as one without Doorbell Buffer
    // Config (AWS Nitro's, say) would be — every doorbell by MMIO.
    usize len = 0;
    if (dbbuf && cmdline::get("test.nvme_no_dbbuf", &len)) {
        LOG_INFO("nvme broker: session %u: test.nvme_no_dbbuf: Doorbell Buffer Config not used", m_session->id());
        dbbuf = false;
    }
    if (dbbuf) TRY(configure_shadow_doorbells());
    refusals::note(refusals::current_process(), log::Level::Info,
                   "nvme broker: session %u: '%s' %u namespace(s), %u I/O queue(s), shadow doorbells %s",
                   m_session->id(), info.model, m_namespace_count, m_io_queues, m_shadow_on ? "on" : "off");
    return {};
}

Result<void> NvmeController::identify(u8 cns, u32 nsid) {
    // Zeroed first: a device that answers success without writing the page
    // leaves zeros (for a namespace: NSZE 0, inactive, no I/O), never the
    // previous command's data to be taken for this one's.
    __builtin_memset(direct_map::to_virt<u8>(m_scratch_phys), 0, kPage);
    TRY(admin->run_internal(identify_command(cns, nsid, m_scratch_phys), m_wait));
    return {};
}

Result<void> NvmeController::identify_namespaces(u32 nn) {
    const u8* page = direct_map::to_virt<const u8>(m_scratch_phys);
    u32* nsids = m_active_nsids;
    u32 count = 0;
    // The active list (CNS 02h, NVMe 1.1+); a controller that refuses it
    // gets 1..NN probed one by one.
    if (auto listed = identify(nvme::kIdentifyActiveNamespaces, 0); listed.ok()) {
        count = TRY(nvme::parse_active_namespaces(page, nsids, kMaxNamespaces));
    } else {
        if (listed.status() != Status::DeviceError) return listed.status();
        for (u32 n = 1; n <= nn && count < kMaxNamespaces; n++) nsids[count++] = n;
    }
    if (count == kMaxNamespaces && nn > kMaxNamespaces)
        LOG_WARN("nvme broker: session %u: the controller may have up to %u namespaces; only the first %u get I/O",
                 m_session->id(), nn, kMaxNamespaces);
    m_namespace_count = 0;
    for (u32 i = 0; i < count; i++) {
        // Only a refusal skips a namespace. No answer (Timeout) ends the
        // bring-up — the controller is reset — because the command may
        // still complete and write this page later, under another
        // namespace's name (issue 11, finding 9); the broker's command id
        // is retired by then anyway.
        if (auto r = identify(nvme::kIdentifyNamespace, nsids[i]); !r.ok()) {
            if (r.status() != Status::DeviceError) return r.status();
            LOG_WARN("nvme broker: session %u: namespace %u: Identify refused; no I/O to it", m_session->id(),
                     nsids[i]);
            continue;
        }
        auto ns = nvme::parse_identify_namespace(page);
        if (!ns.ok()) {
            if (ns.status() != Status::NotFound)
                LOG_WARN("nvme broker: session %u: namespace %u: %s; no I/O to it", m_session->id(), nsids[i],
                         status_name(ns.status()));
            continue;
        }
        bool usable = ns.value().metadata == 0;
        if (!usable)
            LOG_WARN("nvme broker: session %u: namespace %u has %u bytes of metadata per block; no I/O to it",
                     m_session->id(), nsids[i], ns.value().metadata);
        m_namespaces[m_namespace_count++] = NvmeNamespace{nsids[i], ns.value().lba_shift, usable, ns.value().blocks};
    }
    return {};
}

Result<void> NvmeController::configure_queues() {
    // Set Features Number of Queues (§5.21.1.7): 0's based counts of
    // submission (15:0) and completion (31:16) queues; the controller may
    // grant fewer or more; we use at most what we asked for.
    constexpr u32 want = abi::kNvmeMaxIoQueues;
    nvme::Sqe e{};
    e.cdw0 = nvme::kAdminSetFeatures;
    e.cdw10 = nvme::kFeatureNumberOfQueues;
    e.cdw11 = (want - 1) | (want - 1) << 16;
    nvme::Cqe done = TRY(admin->run_internal(e, m_wait));
    u32 sq = (done.dw0 & 0xffff) + 1, cq = (done.dw0 >> 16) + 1;
    u32 granted = sq < cq ? sq : cq;
    m_io_queues = static_cast<u16>(granted < want ? granted : want);
    return {};
}

Result<void> NvmeController::configure_shadow_doorbells() {
    // The pages use the doorbell stride (CAP.DSTRD, the device's to choose):
    // every queue's slots must fit one page.
    if (nvme::shadow_cq_offset(abi::kNvmeMaxIoQueues, m_dstrd) + 4 > kPage) {
        LOG_WARN("nvme broker: session %u: doorbell stride %u B is too wide for one shadow page; MMIO doorbells only",
                 m_session->id(), 4u << m_dstrd);
        return {};
    }
    // Two pages the device reads (shadow) and writes (EventIdx), held for
    // as long as this generation lives. Without memory for them the
    // controller still works, with MMIO doorbells.
    auto shadow = m_session->allocate(kPage, m_session->id(), dma::Use::Queue, &m_shadow_phys);
    auto eventidx = shadow.ok() ? m_session->allocate(kPage, m_session->id(), dma::Use::Queue, &m_eventidx_phys)
                                : Result<u32>(shadow.status());
    if (!eventidx.ok()) {
        if (shadow.ok()) m_session->release(shadow.value());
        LOG_WARN("nvme broker: session %u: no memory for shadow doorbells (%s); MMIO doorbells only", m_session->id(),
                 status_name(eventidx.status()));
        return {};
    }
    m_shadow_entry = shadow.value();
    m_eventidx_entry = eventidx.value();
    (void)m_session->hold(m_shadow_entry);
    (void)m_session->hold(m_eventidx_entry);
    m_shadow_held = true;
    nvme::Sqe e{};
    e.cdw0 = nvme::kAdminDoorbellBufferConfig;
    e.prp1 = m_shadow_phys;
    e.prp2 = m_eventidx_phys;
    auto r = admin->run_internal(e, m_wait);
    if (r.ok()) {
        m_shadow_on = true;
        return {};
    }
    if (r.status() != Status::DeviceError) return r.status();  // no answer: the caller resets
    // Refused: the device never took the pages.
    LOG_WARN("nvme broker: session %u: Doorbell Buffer Config refused; MMIO doorbells only", m_session->id());
    m_session->unhold(m_shadow_entry);
    m_session->unhold(m_eventidx_entry);
    m_shadow_held = false;
    return {};
}

const NvmeNamespace* NvmeController::find_namespace(u32 nsid) const {
    for (u32 i = 0; i < m_namespace_count; i++)
        if (m_namespaces[i].nsid == nsid) return &m_namespaces[i];
    return nullptr;
}

Result<u16> NvmeController::allocate_qid() {
    for (u16 q = 1; q <= m_io_queues; q++) {
        if (!(m_qids_used >> q & 1)) {
            m_qids_used |= 1u << q;
            return q;
        }
    }
    return Status::QuotaExceeded;
}

void NvmeController::free_qid(u16 qid) { m_qids_used &= ~(1u << qid); }

void NvmeController::attach(NvmeQueue* q) {
    q->next_in_controller = m_queues;
    m_queues = q;
}

void NvmeController::detach(NvmeQueue* q) {
    for (NvmeQueue** p = &m_queues; *p; p = &(*p)->next_in_controller) {
        if (*p == q) {
            *p = q->next_in_controller;
            return;
        }
    }
}

void NvmeController::retire(bool device_stopped) {
    if (m_retired) return;
    m_retired = true;
    if (m_session->nvme_controller == this) m_session->nvme_controller = nullptr;
    for (NvmeQueue* q = m_queues; q; q = q->next_in_controller) q->drop_holds(device_stopped);
    if (!device_stopped) return;  // the holds wait for the grant's teardown
    if (m_scratch_held) m_session->unhold(m_scratch_entry);
    if (m_shadow_held) {
        m_session->unhold(m_shadow_entry);
        m_session->unhold(m_eventidx_entry);
    }
}

void NvmeController::recover_lost_doorbells(u16 qid, u16 sq_tail, u16 cq_head) {
    if (m_retired) return;
    u64 at = nvme::shadow_sq_offset(qid, m_dstrd);
    u16 seen = static_cast<u16>(*direct_map::to_virt<volatile u32>(m_eventidx_phys + at));
    m_recoveries++;
    if (seen != sq_tail && !m_sq_always_mmio) {
        m_sq_always_mmio = true;
        LOG_WARN(
            "nvme broker: session %u: queue %u: shadow doorbell update lost (controller saw tail %u, published "
            "%u); SQ tails go by MMIO too from now on",
            m_session->id(), qid, seen, sq_tail);
    }
    mmio::write<u32>(m_regs, nvme::sq_tail_doorbell(qid, m_dstrd), sq_tail);
    mmio::write<u32>(m_regs, nvme::cq_head_doorbell(qid, m_dstrd), cq_head);
}

void NvmeController::reset_shadow(u16 qid) {
    if (!m_shadow_on) return;
    *direct_map::to_virt<volatile u32>(m_shadow_phys + nvme::shadow_sq_offset(qid, m_dstrd)) = 0;
    *direct_map::to_virt<volatile u32>(m_shadow_phys + nvme::shadow_cq_offset(qid, m_dstrd)) = 0;
}

bool NvmeController::write_doorbell(u16 qid, bool cq, u16 value, u16 old_value) {
    if (qid != 0 && m_shadow_on) {
        u64 at = cq ? nvme::shadow_cq_offset(qid, m_dstrd) : nvme::shadow_sq_offset(qid, m_dstrd);
        *direct_map::to_virt<volatile u32>(m_shadow_phys + at) = value;
        // The shadow store must be visible before EventIdx is read (x86
        // may otherwise let the load pass the store): mfence.
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        u16 event = static_cast<u16>(*direct_map::to_virt<volatile u32>(m_eventidx_phys + at));
        bool always = !cq && m_sq_always_mmio;
        if (!always && !nvme::doorbell_needs_mmio(value, old_value, event)) return false;
    }
    u64 doorbell = cq ? nvme::cq_head_doorbell(qid, m_dstrd) : nvme::sq_tail_doorbell(qid, m_dstrd);
    mmio::write<u32>(m_regs, doorbell, value);
    return true;
}

}  // namespace object
