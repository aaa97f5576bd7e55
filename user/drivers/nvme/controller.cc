#include "controller.h"

#include "nvme/command.h"
#include "protocol/block.h"
#include "rt/log.h"
#include "rt/sys.h"

namespace nvme_driver {
namespace {

constexpr u64 kAdminTimeoutNs = 5'000'000'000ull;

}  // namespace

const char* status_name_of(u16 status) { return nvme::status_text(status); }

Result<void> Controller::start(u32 pool, u32 admin_irq, u32 io_irq) {
    m_pool = pool;
    m_admin_irq = admin_irq;
    m_io_irq = io_irq;
    m_ws = TRY(rt::waitset_create());
    TRY(rt::waitset_add(m_ws.get(), admin_irq, abi::kSignalReady | abi::kSignalDead, 0));
    m_identify = TRY(rt::dma_buffer_create(pool, nvme::kIdentifyBytes));
    m_identify_data = reinterpret_cast<const volatile u8*>(TRY(rt::memory_map(m_identify.get(), 0, 0)));
    return bring_up();
}

Result<void> Controller::reset() {
    // A new admin queue is the reset: the broker disables the controller,
    // retires the old queues (their in-flight buffers are released) and
    // enables it again with shadow doorbells configured anew. The old
    // handles are closed only afterwards: closed first, the I/O queue would
    // ask the (hung) controller to delete it and wait for that.
    rt::Handle old_io = static_cast<rt::Handle&&>(m_io);
    rt::Handle old_admin = static_cast<rt::Handle&&>(m_admin);
    return bring_up();
}

Result<void> Controller::bring_up() {
    m_admin = TRY(rt::nvme_admin_queue_create(m_pool, kAdminEntries));
    abi::NvmeCommand c{};
    c.opcode = nvme::kAdminIdentify;
    c.cdw10 = nvme::kIdentifyController;
    c.buffer = m_identify.get();
    c.length = nvme::kIdentifyBytes;
    TRY(admin_command(c));
    u8 page[nvme::kIdentifyBytes];
    for (u32 i = 0; i < nvme::kIdentifyBytes; i++) page[i] = m_identify_data[i];
    m_info = nvme::parse_identify_controller(page);
    // MDTS is in units of CAP.MPSMIN pages; the broker uses 4 KiB pages,
    // which check_cap() requires to be the minimum. One broker PRP list
    // reaches 2 MiB; a shared data buffer is at most that too.
    m_max_transfer = nvme::max_transfer_bytes(m_info.mdts, abi::kBlockMaxDataBytes);

    c.cdw10 = nvme::kIdentifyActiveNamespaces;
    TRY(admin_command(c));
    for (u32 i = 0; i < nvme::kIdentifyBytes; i++) page[i] = m_identify_data[i];
    u32 nsids[kMaxNamespaces];
    u32 listed = TRY(nvme::parse_active_namespaces(page, nsids, kMaxNamespaces));
    if (listed == kMaxNamespaces && m_info.nn > kMaxNamespaces)
        rt::log("nvme: the controller may have up to %u namespaces; only the first %u are served", m_info.nn,
                kMaxNamespaces);
    m_namespace_count = 0;
    for (u32 i = 0; i < listed; i++) {
        c.cdw10 = nvme::kIdentifyNamespace;
        c.nsid = nsids[i];
        if (auto r = admin_command(c); !r.ok()) {
            rt::log("nvme: namespace %u: identify failed: %s", nsids[i], status_name(r.status()));
            continue;
        }
        for (u32 k = 0; k < nvme::kIdentifyBytes; k++) page[k] = m_identify_data[k];
        auto ns = nvme::parse_identify_namespace(page);
        if (!ns.ok()) {
            rt::log("nvme: namespace %u: %s; not served", nsids[i], status_name(ns.status()));
            continue;
        }
        if (ns.value().metadata) {
            rt::log("nvme: namespace %u: %u bytes of metadata per block; not served", nsids[i], ns.value().metadata);
            continue;
        }
        m_namespaces[m_namespace_count++] = Namespace{nsids[i], ns.value().lba_shift, ns.value().blocks};
    }
    c.nsid = 0;
    m_io = TRY(rt::nvme_io_queue_create(m_pool, m_admin.get(), kIoEntries, m_io_irq));
    return {};
}

Result<abi::NvmeCompletion> Controller::admin_command(abi::NvmeCommand c) {
    // Admin command ids cycle through the queue (the broker keeps the last).
    c.cid = m_admin_cid;
    m_admin_cid = static_cast<u16>((m_admin_cid + 1) % (kAdminEntries - 1));
    TRY(rt::nvme_submit(m_admin.get(), &c, 1));
    u64 deadline = rt::clock_ns() + kAdminTimeoutNs;
    for (;;) {
        abi::NvmeCompletion done[8];
        u32 n = TRY(rt::nvme_complete(m_admin.get(), done, 8));
        for (u32 i = 0; i < n; i++) {
            if (done[i].cid != c.cid) continue;  // a stale one (an earlier timed-out command)
            if (done[i].status) {
                rt::log("nvme: admin opcode 0x%02x failed: %s (0x%x)", c.opcode, status_name_of(done[i].status),
                        done[i].status);
                return Status::DeviceError;
            }
            return done[i];
        }
        u64 now = rt::clock_ns();
        if (now >= deadline) {
            rt::log("nvme: admin opcode 0x%02x: no completion within %llu ms", c.opcode,
                    static_cast<unsigned long long>(kAdminTimeoutNs / 1'000'000));
            return Status::Timeout;
        }
        abi::WaitEvent ev{};
        u64 wait = deadline - now < 10'000'000 ? deadline - now : 10'000'000;
        if (TRY(rt::waitset_wait(m_ws.get(), &ev, 1, wait)) && (ev.signals & abi::kSignalDead)) return Status::TornDown;
        (void)rt::interrupt_ack(m_admin_irq);
    }
}

Result<u32> Controller::submit(const abi::NvmeCommand* commands, u32 count) {
    return rt::nvme_submit(m_io.get(), commands, count);
}

Result<u32> Controller::complete(abi::NvmeCompletion* out, u32 max, bool ack_interrupt) {
    return rt::nvme_complete(m_io.get(), out, max, ack_interrupt ? abi::kNvmeCompleteAckInterrupt : 0);
}

}  // namespace nvme_driver
