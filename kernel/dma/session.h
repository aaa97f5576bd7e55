// One device's DMA grant, from DmaPoolCreate to teardown (DESIGN §3, §5).
//
// A Session is the kernel's record that a PCI function may do DMA: it turns
// Bus Master Enable on when it starts, owns the function's DMA ledger
// (lib/dma/ledger) and the quota, and runs the teardown sequence when the
// grant ends (the DmaPool's last capability goes — provider exit, crash,
// release or revoke):
//   1. new operations refused (state leaves Active: buffers, queues and
//      interrupts of this session answer TornDown);
//   2. Bus Master Enable cleared, then the class reset (NVMe CC.EN=0 until
//      CSTS.RDY=0 within CAP.TO; virtio device_status 0 until it reads 0).
//      Teardown runs where nothing may block, so it waits for the
//      confirmation only briefly (sched::kMaxDeviceSpinNs); a slower device is
//      checked again at every timer tick (poll_stopping) until it confirms
//      or its time is up, and steps 3-5 run then. Meanwhile the function
//      keeps its grant slot (a new DmaPoolCreate gets Busy) and every frame
//      stays held;
//   3. the function's interrupts masked;
//   4. behind a translating VT-d unit, the function's context entry
//      cleared and the unit's caches invalidated (iommu::Domain::detach):
//      from here on the device reaches nothing, whatever it still does;
//   5. only then the ledger is quiesced and frames come back — or, when the
//      reset could not be confirmed, every recorded frame is quarantined:
//      never reused, counted, and unmapped from every process that mapped
//      it (object::unmap_session_memory).
// One active session per function: that is the kernel-enforced exclusive
// binding (a second DmaPoolCreate gets Busy).
//
// Behind a translating VT-d unit (kernel/iommu/remapping.h) the session
// owns a domain that maps each of its ranges at its own physical address
// while it is allocated: the device reaches its ledger and nothing else,
// and a range's frames are reused only after the unit confirmed they are
// unmapped.
//
// Sessions are reference counted (util::RefCounted) by the pool, each
// buffer, each broker queue and controller generation (RefPtr<Session>
// members), and by a teardown waiting for its device (the stopping list): a
// buffer shared with a consumer outlives the provider's pool, and its
// frames come back when it is finally dropped.
#pragma once

#include "abi/device.h"
#include "dma/ledger.h"
#include "util/ref_ptr.h"
#include "util/result.h"

namespace iommu {
class Domain;
}
namespace vtd {
class IovaAllocator;
}
namespace object {
class NvmeController;
}

namespace kdma {

enum class SessionState : u8 { Active, TearingDown, Quiesced, Quarantined };

class Session : public util::RefCounted<Session> {
public:
    // Starts a grant for pci_enum function `function`: Busy if one is
    // active, InvalidArgument for a quota of 0 or above kMaxQuota,
    // Unsupported for a class the kernel cannot mediate (no register map:
    // not NVMe, not virtio), Forbidden for a virtio class whose payloads
    // carry addresses (devices::virtio_class_brokered), TornDown for a
    // function an earlier teardown could not stop (its memory is
    // quarantined; it is never granted again).
    // The creator's reference is the pool's.
    //
    // `lane` (abi::kDmaLane*): brokered, or remapped — Unsupported where no
    // translating unit covers the function, Forbidden without interrupt
    // remapping unless the flag accepts it, InvalidArgument for unknown
    // bits.
    static Result<util::RefPtr<Session>> create(u32 function, u64 quota_bytes, u64 lane = abi::kDmaLaneBrokered);
    static constexpr u64 kMaxQuota = 256ull << 20;

    u32 id() const { return m_id; }
    u32 function() const { return m_function; }
    // The process that answers for the device's remapping faults: the one
    // that last allocated from the grant (its provider; devmgr creates the
    // pool and hands it on), else its creator; 0 for the kernel.
    u32 owner_pid() const { return m_owner_pid; }
    // Its remapping domain, or null (no translating unit covers it).
    const iommu::Domain* domain() const { return m_domain; }
    // The remapped lane (Model B): ranges appear to the device at IOVAs of
    // the domain, above all of physical memory (so no IOVA is ever the
    // address of RAM: the address audit stays exact), which the provider
    // may learn; no broker serves it.
    bool remapped() const { return m_iovas != nullptr; }
    // The address the device is given for ledger entry `id` (the remapped
    // lane only: Forbidden on the brokered one). NotFound.
    Result<u64> device_address(u32 id) const;
    SessionState state() const { return m_state; }
    bool active() const { return m_state == SessionState::Active; }
    u64 quota() const { return m_quota; }
    u64 used() const { return m_used; }
    dma::Ledger& ledger() { return m_ledger; }

    // Zeroed, physically contiguous memory charged to the quota and
    // recorded in the ledger under `owner`. *phys is for the kernel only
    // (brokers and mappings): it never reaches user space.
    // QuotaExceeded, NoMemory, TornDown.
    Result<u32> allocate(u64 bytes, u32 owner, dma::Use use, u64* phys);
    // The owner is done with ledger entry `id`: freed now, or deferred
    // while in flight, or quarantined.
    void release(u32 id);
    // In-flight references for work handed to the device.
    Result<void> hold(u32 id) { return active() ? m_ledger.hold(id) : Status::TornDown; }
    void unhold(u32 id);

    // The grant ends: the sequence above. Idempotent.
    void teardown(const char* why);

    // The NVMe broker's live controller generation (nvme_controller.h), if
    // an admin queue was created and no reset has retired it since.
    object::NvmeController* nvme_controller = nullptr;
    // An admin queue is being created (the controller reset and enabled;
    // the creation sleeps while it waits): a second one is refused Busy.
    bool nvme_enabling = false;
    // Virtqueues the broker enabled on the device and has not yet reset
    // away: while any is live, the provider may not reset the device
    // itself (device_status 0), which would leave the broker's queues
    // describing rings the device has forgotten (object::DeviceMmio::write).
    u32 live_virtqueues = 0;
    // Device resets the virtqueue broker made (closing a live queue): a
    // queue enabled before the latest one is dead (object::VirtQueue).
    u32 virtio_resets = 0;

    // Is `value` inside DMA memory of any session? (the address audit)
    static bool is_dma_address(u64 value);
    // Frames quarantined since boot (never freed).
    static u64 quarantined_pages();

private:
    friend class util::RefCounted<Session>;
    friend void poll_stopping();
    // The last reference went: the grant must be over (panics otherwise:
    // a live grant with nobody to end it); unlinks and deletes.
    void last_reference_gone();
    [[noreturn]] void reference_underflow();
    // Steps 3 and 5, once step 2 is confirmed (stopped) or given up.
    void finish_teardown(bool stopped);
    Session(u32 id, u32 function, u64 quota, u32 owner_pid)
        : m_id(id), m_function(function), m_quota(quota), m_owner_pid(owner_pid) {}
    ~Session();
    static void give_back(void* self, u64 phys, u64 bytes, u64 device_address);
    // Where [phys, phys + bytes) appears to the device: an IOVA (remapped),
    // phys itself (brokered), mapped in the domain if there is one.
    Result<u64> expose(u64 phys, u64 bytes);
    // The reverse: unmapped (and invalidated); false when the unit did not
    // confirm it (the frames must never be reused).
    bool withdraw(u64 device_address, u64 bytes);

    u32 m_id;
    u32 m_function;
    u64 m_quota;
    u32 m_owner_pid;
    iommu::Domain* m_domain = nullptr;
    vtd::IovaAllocator* m_iovas = nullptr;  // the remapped lane's IOVAs
    u64 m_used = 0;
    u64 m_freed_after_reset = 0;
    SessionState m_state = SessionState::Active;
    Session* m_next = nullptr;  // every live session (address audit)
    // Teardown waiting for the device's reset (poll_stopping).
    Session* m_next_stopping = nullptr;
    u64 m_reset_started_ns = 0;
    u64 m_stop_deadline_ns = 0;
    bool m_bus_master_off = false;
    dma::Ledger m_ledger;
};

// The active session of a function, or null.
Session* active_session(u32 function);
// Timer tick: finishes the teardowns whose device has confirmed its reset
// (or whose time to do so is up: quarantine).
void poll_stopping();
// What DmaPoolInfo and DeviceList report (sizes and counts, no address);
// all zero for null.
abi::DmaUsage usage_of(Session* session);

}  // namespace kdma
