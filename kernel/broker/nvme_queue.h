// The kernel's NVMe queue broker (DESIGN §4, brokered lane): queue pairs
// whose submission queue and base addresses only the kernel writes.
//
// This is the admin queue pair so far. Creating it disables the controller
// (CC.EN=0 until CSTS.RDY=0, within CAP.TO), takes the submission and
// completion queues from the device's DmaPool (ledger entries held for as
// long as the controller may use them), writes AQA/ASQ/ACQ and enables the
// controller. submit() validates each command (allow-list per queue kind,
// buffer of the same pool, bounds, command id free), builds PRP1/PRP2 from
// the ledger, records an in-flight hold per buffer, writes the entries and
// rings the doorbell once per batch. complete() reads the completions
// itself (never trusting the device: phase, queue, command id outstanding),
// releases the holds and writes the completion-queue head doorbell.
// I/O queue pairs, PRP lists and shadow doorbells come next (issue 5).
#pragma once

#include "abi/nvme.h"
#include "cap/mapping_list.h"
#include "cap/object.h"
#include "dma/session.h"
#include "util/result.h"

namespace kobj {

class Process;

class NvmeQueue : public Object {
public:
    static Result<NvmeQueue*> create_admin(kdma::Session* session, u16 entries);
    ~NvmeQueue() override;

    // Validated as a batch: one refused command refuses the batch (nothing
    // is written). Returns the number submitted.
    Result<u32> submit(Process* caller, const abi::NvmeCommand* commands, u32 count);
    // Consumes up to `count` posted completions; returns how many.
    Result<u32> complete(u32 count);
    Result<u64> map_completions(Process* process, u32 space_id, u32 handle);
    void cap_released(u32 space_id, u32 handle) override { m_mappings.unmap_by_cap(space_id, handle); }

private:
    NvmeQueue() : Object(Type::NvmeQueue) {}
    bool outstanding(u16 cid) const { return m_outstanding[cid / 64] >> (cid % 64) & 1; }
    void ring(u64 doorbell, u32 value);

    kdma::Session* m_session = nullptr;
    volatile u8* m_regs = nullptr;
    u32 m_timeout_ms = 0;
    u8 m_dstrd = 0;
    u16 m_entries = 0;
    u16 m_sq_tail = 0;
    u16 m_cq_head = 0;
    bool m_phase = true;
    u32 m_sq_entry = 0, m_cq_entry = 0;  // ledger ids
    u64 m_sq_phys = 0, m_cq_phys = 0;
    u64 m_outstanding[abi::kNvmeMaxEntries / 64] = {};
    u32 m_held[abi::kNvmeMaxEntries] = {};  // ledger id held by each outstanding command (0: none)
    MappingList m_mappings;
};

}  // namespace kobj
