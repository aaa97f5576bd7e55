// The NVMe broker's record of one enabled controller (DESIGN §4, brokered
// lane): from the admin queue's creation, which resets and enables it, to
// the next reset. The queues of one generation share it.
//
// Right after enable the broker brings the controller up with its own admin
// commands (the provider never names their memory): Identify Controller,
// the active namespace list and each namespace's LBA format (the I/O
// broker sizes transfers from them), Set Features Number of Queues (it
// hands out the QIDs), and Doorbell Buffer Config when OACS reports it:
// shadow doorbells, with kernel-owned shadow and EventIdx pages. A reset
// silently turns them off (QEMU clears dbbuf_enabled; so may real
// hardware), so they are configured again on every enable — each enable
// makes a new controller record.
//
// Retire: the controller was reset (a new admin queue, a failed queue
// deletion, the admin queue's end). Every queue of the generation drops its
// in-flight holds — the device can no longer use them — and answers Stale.
#pragma once

#include "dma/session.h"
#include "sched/device_wait.h"
#include "util/result.h"
#include "util/types.h"

namespace object {

class NvmeQueue;

struct NvmeNamespace {
    u32 nsid;
    u8 lba_shift;
    bool usable;  // no separate metadata: the broker never writes MPTR
    u64 blocks;
};

// Reference counted (util::RefCounted) by the queues of its generation
// (RefPtr members); the session's `nvme_controller` only points at the live
// one, and the controller clears it when it goes.
class NvmeController : public util::RefCounted<NvmeController> {
public:
    // QEMU's model allows 256; cloud controllers have a handful. Namespaces
    // past this are logged and get no I/O.
    static constexpr u32 kMaxNamespaces = 256;

    // Null when the heap is out. Holds a reference to `session`.
    static util::RefPtr<NvmeController> create(kdma::Session* session, volatile u8* regs, u8 dstrd, u16 max_entries);

    kdma::Session* session() const { return m_session.get(); }
    volatile u8* regs() const { return m_regs; }
    u8 dstrd() const { return m_dstrd; }
    u16 max_entries() const { return m_max_entries; }  // CAP.MQES + 1
    bool retired() const { return m_retired; }
    bool shadow_doorbells() const { return m_shadow_on; }

    // The admin queue of this generation (null once it is gone).
    NvmeQueue* admin = nullptr;

    // With the admin queue live and nothing of the provider's submitted yet.
    // (how: the waits for its admin commands, sched/device_wait.h)
    Result<void> bring_up(sched::WaitHow how);

    // The namespace's format, or null when the broker does not know it.
    const NvmeNamespace* find_namespace(u32 nsid) const;

    // I/O queue ids granted by Set Features Number of Queues.
    Result<u16> allocate_qid();
    void free_qid(u16 qid);

    void attach(NvmeQueue* q);
    void detach(NvmeQueue* q);

    // The controller was reset (device_stopped: confirmed stopped, so
    // in-flight holds may go) or must be treated as such. Idempotent.
    void retire(bool device_stopped);

    // Writes queue `qid`'s SQ tail (cq false) or CQ head doorbell, moving it
    // from `old_value` to `value`: through the shadow page and EventIdx when
    // shadow doorbells are on (I/O queues only: the admin queue always
    // takes the MMIO write, as Linux does), else MMIO. Returns whether an
    // MMIO write was made.
    bool write_doorbell(u16 qid, bool cq, u16 value, u16 old_value);

    // An I/O queue has had work in flight and nothing completed for a while.
    // If the controller's SQ EventIdx (the tail it last read) lags the tail
    // we published, a shadow update was lost — the EventIdx handshake raced
    // without a working fence (QEMU < 8.1 under single-vCPU TCG drops the
    // guest's mfence; docs/nvme-shadow-doorbells.md) — and from then on
    // this controller's SQ tails also go by MMIO. Either way both
    // doorbells are written by MMIO with their current values (harmless
    // when nothing was lost).
    void recover_lost_doorbells(u16 qid, u16 sq_tail, u16 cq_head);

    // Before a queue is created: its shadow slots back to 0, the value a
    // new queue's tail and head start from (a deleted queue left its last
    // values there).
    void reset_shadow(u16 qid);

private:
    friend class util::RefCounted<NvmeController>;
    NvmeController(kdma::Session* session, volatile u8* regs, u8 dstrd, u16 max_entries)
        : m_session(util::RefPtr<kdma::Session>::share(session)),
          m_regs(regs),
          m_dstrd(dstrd),
          m_max_entries(max_entries) {}
    ~NvmeController();
    void last_reference_gone() { delete this; }
    [[noreturn]] void reference_underflow();
    // Identify `cns` (for `nsid`) into the scratch page, zeroed first.
    Result<void> identify(u8 cns, u32 nsid);
    Result<void> identify_namespaces(u32 nn);
    Result<void> configure_queues();
    Result<void> configure_shadow_doorbells();

    util::RefPtr<kdma::Session> m_session;
    volatile u8* m_regs;
    u8 m_dstrd;
    u16 m_max_entries;
    bool m_retired = false;
    sched::WaitHow m_wait = sched::WaitHow::Spin;  // bring-up's waits (bring_up's argument)
    bool m_sq_always_mmio = false;                 // a lost shadow update was seen
    u32 m_recoveries = 0;
    NvmeQueue* m_queues = nullptr;  // every queue of this generation

    u32 m_scratch_entry = 0;  // one page for the broker's own Identify data
    u64 m_scratch_phys = 0;
    bool m_scratch_held = false;
    u32 m_shadow_entry = 0, m_eventidx_entry = 0;
    u64 m_shadow_phys = 0, m_eventidx_phys = 0;
    bool m_shadow_held = false;  // the device may use the pages
    bool m_shadow_on = false;    // Doorbell Buffer Config succeeded

    u16 m_io_queues = 0;  // granted
    u32 m_qids_used = 0;  // bit q: QID q in use (bit 0 unused)
    NvmeNamespace m_namespaces[kMaxNamespaces] = {};
    u32 m_active_nsids[kMaxNamespaces] = {};  // bring-up's scratch: the active list (too big for the stack)
    u32 m_namespace_count = 0;
};

}  // namespace object
