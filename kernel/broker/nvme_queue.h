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
// The queue logic — command validation, command-id bookkeeping, PRP
// lists, completion checking, the stash of completions met while the
// broker waits for its own command, and the broker's own command slot — is
// lib/nvme/queue_pair.h (pure, unit-tested and fuzzed against a fake
// controller). This object keeps what only the kernel has: the queue
// memory (ledger allocations, seen through the direct map), the doorbells
// (MMIO or shadow, nvme_controller.h), DmaBuffer lookup, ledger holds, and
// the one place the broker waits for the device (wait_internal()).
#pragma once

#include "abi/nvme.h"
#include "broker/nvme_controller.h"
#include "dma/session.h"
#include "nvme/command.h"
#include "nvme/queue_pair.h"
#include "nvme/registers.h"
#include "object/interrupt.h"
#include "object/mapping_list.h"
#include "object/object.h"
#include "sched/device_wait.h"
#include "util/result.h"

namespace object {

class Process;

class NvmeQueue : public Object {
public:
    static constexpr Type kType = Type::NvmeQueue;
    static constexpr cap::Rights kDefaultRights =
        cap::kRightWrite | cap::kRightMap | cap::kRightRead | cap::kRightRevoke | kPassRights;

    // Sleeps while the controller resets and enables (its own thread: a
    // system call); Busy while another creation on the session is under way.
    static Result<RefPtr<NvmeQueue>> create_admin(kdma::Session* session, u16 entries);
    // `irq` may be null: a polled queue (interrupts disabled).
    static Result<RefPtr<NvmeQueue>> create_io(NvmeQueue* admin, u16 entries, Interrupt* irq);
    ~NvmeQueue() override;

    kdma::Session* session() const { return m_session.get(); }
    bool is_admin() const { return m_qid == 0; }

    // Validated as a batch: one refused command refuses the batch (nothing
    // is written). Returns the number submitted. See nvme::QueuePair::submit.
    Result<u32> submit(Process* caller, const abi::NvmeCommand* commands, u32 count);
    // Consumes up to `max` completions into `out`; returns how many.
    Result<u32> complete(abi::NvmeCompletion* out, u32 max);
    // The Interrupt the I/O queue was created with (null: polled, or the
    // admin queue). The queue holds a reference: NvmeComplete may
    // acknowledge it (abi::kNvmeCompleteAckInterrupt).
    Interrupt* interrupt() const { return m_irq.get(); }
    Result<u64> map_completions(Process* process, u32 space_id, u32 handle);
    void cap_released(u32 space_id, u32 handle) override { m_mappings.unmap_by_cap(space_id, handle); }

    // --- The broker's own use (NvmeController) ---
    // Runs one command of the kernel's on the admin queue and waits for it
    // (polling, bounded): the completion, DeviceError when the device
    // refused it, Timeout when it never answered — or when an earlier one
    // never did: its id is then retired for this controller generation, so
    // no later command can take its late answer (the caller resets the
    // controller) — Busy when the queue is full.
    // `how`: Sleep from a system call (the CPU is shared while the device
    // answers; the caller keeps this queue alive), Spin where nothing may
    // block (a destructor: bounded by sched::kMaxDeviceSpinNs).
    Result<nvme::Cqe> run_internal(const nvme::Sqe& command, sched::WaitHow how);
    // The controller was reset: in-flight work is gone (its holds released
    // when device_stopped), and the queue answers Stale from now on.
    void drop_holds(bool device_stopped);
    NvmeQueue* next_in_controller = nullptr;

    // Ok while the queue can submit and complete; Stale after its
    // controller was reset by a new admin queue, TornDown after its DMA
    // grant ended.
    Result<void> usable() const;

private:
    NvmeQueue() : Object(kType) {}
    static Result<RefPtr<NvmeQueue>> enable_admin(kdma::Session* session, volatile u8* regs, const nvme::Cap& cap,
                                                  u16 entries, u32 timeout_ms);
    Result<void> allocate_rings(kdma::Session* session, u16 sq_entries, u16 cq_entries, u16 list_pages);
    void ring_sq();
    // Writes the CQ head doorbell if the queue pair consumed entries;
    // returns whether it did.
    bool ring_cq();
    void check_for_lost_doorbell();
    // The broker's one wait for the device: polls the admin queue until the
    // internal command's answer or kInternalTimeoutNs (then the slot is
    // abandoned). Kept apart so the wait can become one the scheduler runs
    // other work during.
    Result<nvme::Cqe> wait_internal(sched::WaitHow how);

    // What m_core asks of this queue (nvme::QueueHost); `caller` names the
    // process whose DmaBuffer handles a submit's commands carry (null when
    // no buffer is looked up). Defined in nvme_queue.cc.
    class Host;
    friend class Host;

    util::RefPtr<kdma::Session> m_session;
    util::RefPtr<NvmeController> m_ctrl;
    RefPtr<Interrupt> m_irq;
    u16 m_qid = 0;
    u64 m_sq_rung_ns = 0;  // when the SQ tail last moved
    u16 m_sq_tail_rung = 0, m_cq_head_rung = 0;
    bool m_retired = false;
    bool m_device_created = false;                         // Create I/O SQ succeeded: Delete it when done
    u32 m_sq_entry = 0, m_cq_entry = 0, m_list_entry = 0;  // ledger ids
    u64 m_sq_phys = 0, m_cq_phys = 0, m_list_phys = 0;
    nvme::QueuePair m_core;  // valid once allocate_rings() succeeded
    MappingList m_mappings;
};

}  // namespace object
