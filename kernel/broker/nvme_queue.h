// The kernel's NVMe queue broker (DESIGN §4, brokered lane): queue pairs
// whose submission queue, PRP lists and base addresses only the kernel
// writes.
//
// Admin queue (QID 0): creating it resets the controller (CC.EN=0 until
// CSTS.RDY=0, within CAP.TO), takes the SQ and CQ from the device's DmaPool
// (ledger entries held while the controller may use them), writes
// AQA/ASQ/ACQ, enables the controller and runs the broker's bring-up
// (nvme_controller.h). I/O queue pairs: the broker issues Create I/O CQ and
// Create I/O SQ itself on the admin queue (PRP1 = kernel memory, the
// interrupt vector from the provider's Interrupt capability) and Delete
// I/O SQ/CQ when the queue goes.
//
// submit() validates each command as part of a batch (allow-list per queue
// kind, buffer of the same pool, transfer size computed from the command
// and the namespace's format, bounds, command id free), builds PRP1/PRP2
// and PRP lists (in kernel pages) from the ledger, records an in-flight
// hold per buffer, writes the entries and rings the doorbell once per
// batch. complete() reads the completions itself — never trusting the
// device: phase, queue id, command id outstanding — copies the checked
// ones out, releases the holds and writes the CQ head doorbell.
#pragma once

#include "abi/nvme.h"
#include "broker/nvme_controller.h"
#include "cap/mapping_list.h"
#include "cap/object.h"
#include "dma/session.h"
#include "nvme/command.h"
#include "util/result.h"

namespace kobj {

class Interrupt;
class Process;

class NvmeQueue : public Object {
public:
    static Result<NvmeQueue*> create_admin(kdma::Session* session, u16 entries);
    // `irq` may be null: a polled queue (interrupts disabled).
    static Result<NvmeQueue*> create_io(NvmeQueue* admin, u16 entries, Interrupt* irq);
    ~NvmeQueue() override;

    kdma::Session* session() const { return m_session; }
    bool is_admin() const { return m_qid == 0; }

    // Validated as a batch: one refused command refuses the batch (nothing
    // is written). Returns the number submitted.
    Result<u32> submit(Process* caller, const abi::NvmeCommand* commands, u32 count);
    // Consumes up to `max` completions into `out`; returns how many.
    Result<u32> complete(abi::NvmeCompletion* out, u32 max);
    // The Interrupt the I/O queue was created with (null: polled, or the
    // admin queue). The queue holds a reference: NvmeComplete may
    // acknowledge it (abi::kNvmeCompleteAckInterrupt).
    Interrupt* interrupt() const { return m_irq; }
    Result<u64> map_completions(Process* process, u32 space_id, u32 handle);
    void cap_released(u32 space_id, u32 handle) override { m_mappings.unmap_by_cap(space_id, handle); }

    // --- The broker's own use (NvmeController) ---
    // Runs one command of the kernel's on the admin queue and waits for it
    // (polling, bounded): the completion, DeviceError when the device
    // refused it, Timeout when it never answered (the caller then resets
    // the controller), Busy when the queue is full.
    Result<nvme::Cqe> run_internal(const nvme::Sqe& command);
    // The controller was reset: in-flight work is gone (its holds released
    // when device_stopped), and the queue answers Stale from now on.
    void drop_holds(bool device_stopped);
    NvmeQueue* next_in_controller = nullptr;

    // Ok while the queue can submit and complete; Stale after its
    // controller was reset by a new admin queue, TornDown after its DMA
    // grant ended.
    Result<void> usable() const;

private:
    NvmeQueue() : Object(Type::NvmeQueue) {}
    Result<void> allocate_rings(kdma::Session* session, u16 sq_entries, u16 cq_entries, u16 list_pages);
    void ring_sq();
    void check_for_lost_doorbell();
    bool outstanding(u16 cid) const { return m_outstanding[cid / 64] >> (cid % 64) & 1; }
    void set_outstanding(u16 cid, bool on);
    u16 internal_cid() const { return static_cast<u16>(m_entries - 1); }
    // Provider command ids: the admin queue keeps its last one for the broker.
    u16 provider_cids() const { return is_admin() ? internal_cid() : m_entries; }
    // Commands that fit: a full SQ keeps one slot empty (§4.1.1); the admin
    // queue keeps one more for the broker's own commands.
    u32 capacity() const { return m_entries - 1u - (is_admin() ? 1u : 0u); }
    Result<u64> transfer_bytes(const abi::NvmeCommand& c) const;
    Result<u16> take_list_page();
    void finish(u16 cid);
    void advance_cq();

    kdma::Session* m_session = nullptr;
    NvmeController* m_ctrl = nullptr;
    Interrupt* m_irq = nullptr;  // referenced
    u16 m_qid = 0;
    u16 m_entries = 0;     // submission queue entries (and command ids)
    u16 m_cq_entries = 0;  // I/O queues: twice the SQ (see create_io)
    u64 m_sq_rung_ns = 0;  // when the SQ tail last moved
    u16 m_sq_tail = 0, m_sq_tail_rung = 0;
    u16 m_cq_head = 0, m_cq_head_rung = 0;
    bool m_phase = true;
    bool m_retired = false;
    bool m_device_created = false;  // Create I/O SQ succeeded: Delete it when done
    u16 m_in_flight = 0;
    u32 m_sq_entry = 0, m_cq_entry = 0, m_list_entry = 0;  // ledger ids
    u64 m_sq_phys = 0, m_cq_phys = 0, m_list_phys = 0;
    u16 m_list_pages = 0;
    u64 m_list_free = 0;  // bit p: PRP list page p free
    u64 m_outstanding[abi::kNvmeMaxEntries / 64] = {};
    u32 m_held[abi::kNvmeMaxEntries] = {};     // ledger id held by each outstanding command (0: none)
    u8 m_list_of[abi::kNvmeMaxEntries] = {};   // PRP list page + 1 of each outstanding command (0: none)
    // Completions of the provider's that run_internal() consumed while
    // waiting for its own; complete() hands them out first.
    abi::NvmeCompletion m_stash[abi::kNvmeMaxEntries] = {};
    u16 m_stashed = 0;
    MappingList m_mappings;
};

}  // namespace kobj
