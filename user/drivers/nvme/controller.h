// The NVMe provider's controller: everything it does to the device, all of
// it through the kernel's queue broker (DESIGN §4, brokered lane). The
// provider never sees a device-visible address: it names memory as
// (DmaBuffer, offset, length) and the broker builds PRPs and rings
// doorbells.
//
// start() creates the admin queue — which makes the broker reset and enable
// the controller (honouring CAP.TO) and configure shadow doorbells — then
// reads Identify Controller, the active namespace list and each namespace,
// and creates one I/O queue pair on its own MSI-X vector. reset() does the
// same again after a command timed out (QEMU's Abort never aborts, so a
// reset is the only recovery): the broker retires every queue of the old
// generation and releases what was in flight.
#pragma once

#include "abi/nvme.h"
#include "nvme/identify.h"
#include "rt/handle.h"
#include "util/result.h"

namespace nvme_driver {

struct Namespace {
    u32 nsid;
    u8 lba_shift;
    u64 blocks;
};

class Controller {
public:
    static constexpr u32 kMaxNamespaces = 256;  // as the broker's
    static constexpr u32 kAdminEntries = 32;
    static constexpr u32 kIoEntries = 128;

    // pool: the DMA grant; admin_irq: MSI-X vector 0 (admin completions);
    // io_irq: the vector for the I/O queue (may equal admin_irq).
    Result<void> start(u32 pool, u32 admin_irq, u32 io_irq);
    Result<void> reset();

    const nvme::ControllerInfo& info() const { return m_info; }
    u32 namespace_count() const { return m_namespace_count; }
    const Namespace& ns(u32 i) const { return m_namespaces[i]; }
    // Bytes one command may move: MDTS, capped at what one broker PRP list
    // reaches and at the largest shared data buffer.
    u64 max_transfer() const { return m_max_transfer; }
    bool volatile_cache() const { return m_info.vwc & nvme::kVwcPresent; }
    u32 io_queue() const { return m_io.get(); }
    u32 io_irq() const { return m_io_irq; }
    u32 pool() const { return m_pool; }

    // I/O submission and completion (the broker validates each command).
    Result<u32> submit(const abi::NvmeCommand* commands, u32 count);
    // ack_interrupt: acknowledge (re-arm) the I/O queue's interrupt first,
    // in the same system call.
    Result<u32> complete(abi::NvmeCompletion* out, u32 max, bool ack_interrupt = false);

private:
    // One admin command, waited for (interrupt, then bounded polling).
    Result<abi::NvmeCompletion> admin_command(abi::NvmeCommand c);
    Result<void> bring_up();

    u32 m_pool = 0, m_admin_irq = 0, m_io_irq = 0;
    rt::Handle m_admin, m_io, m_ws;
    rt::Handle m_identify;  // one 4 KiB buffer for Identify data
    const volatile u8* m_identify_data = nullptr;
    u16 m_admin_cid = 0;
    nvme::ControllerInfo m_info{};
    Namespace m_namespaces[kMaxNamespaces] = {};
    u32 m_namespace_count = 0;
    u64 m_max_transfer = 0;
};

// A clear, fixed name for an NVMe status field (for logs and completions).
const char* status_name_of(u16 status);

}  // namespace nvme_driver
