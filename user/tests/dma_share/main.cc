// dma_share: a DmaBuffer shared with a consumer (DESIGN §3, §6: "shareable
// with consumers for zero-copy I/O"). Two roles, by startup argument:
//   owner     holds the device root: opens the NVMe controller, takes a DMA
//             grant, has the kernel's broker run Identify into a buffer,
//             and hands the consumer a read-only copy of that buffer over
//             an endpoint; then ends its grant while the consumer still
//             holds the buffer, and asks the consumer to look again.
//   consumer  maps what it was given and reads the device's data; cannot
//             map it writable; after the grant ended its mapping still
//             reads, a new mapping is refused, and dropping the buffer
//             returns the grant's last frames.
// With "orphan" (and test.dma_stuck on the kernel command line: the
// teardown's reset counts as unconfirmed) the owner also hands over a copy
// of its admin queue and of its pool, and exits with everything open
// instead of ending the grant. The kernel must end the grant at its death
// whatever copies exist, and — the device not confirmed stopped —
// quarantine the memory: the consumer finds its mappings of the buffer and
// of the completion queue gone, new ones refused, and dropping its copies
// gives no frame back (DESIGN §5, issue 11 findings 4 and 10).
#include "abi/nvme.h"
#include "nvme/command.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/sys.h"

namespace {

int owner(u32 root, u32 peer, bool orphan) {
    static abi::DeviceInfo devs[64];
    auto n = rt::device_list(root, devs, 64);
    if (!n.ok()) return 1;
    u32 bdf = ~0u;
    for (u32 i = 0; i < n.value(); i++)
        if (devs[i].class_code == 1 && devs[i].subclass == 8)
            bdf = abi::pci_bdf(devs[i].bus, devs[i].device, devs[i].function);
    auto fn = rt::device_open(root, bdf);
    if (!fn.ok()) return 1;
    auto pool = rt::dma_pool_create(fn.value().get(), 65536);
    if (!pool.ok()) return 1;
    auto queue = rt::nvme_admin_queue_create(pool.value().get(), 8);
    auto buffer = rt::dma_buffer_create(pool.value().get(), 4096);
    if (!queue.ok() || !buffer.ok()) return 1;
    abi::NvmeCommand identify{};
    identify.opcode = 0x06;
    identify.cid = 1;
    identify.cdw10 = 1;
    identify.buffer = buffer.value().get();
    identify.length = 4096;
    if (!rt::nvme_submit(queue.value().get(), &identify, 1).ok()) return 1;
    u32 done = 0;
    abi::NvmeCompletion completion{};
    for (u32 i = 0; i < 1000 && !done; i++) {
        done = rt::nvme_complete(queue.value().get(), &completion, 1).value_or(0);
        if (!done) rt::sleep_ns(1'000'000);
    }
    rt::log("share: owner: identify into its buffer: %s", done ? "completed" : "NO COMPLETION");
    // A read-only copy for the consumer (narrowed, then moved over).
    auto copy = rt::duplicate(buffer.value().get(), cap_rights::kRead | cap_rights::kMap | cap_rights::kTransfer);
    if (!copy.ok()) return 1;
    abi::Message m{};
    m.handle_count = 1;
    m.handles[0] = copy.value().release();
    m.length = 1;
    m.data[0] = 1;
    if (orphan) {
        // The completion queue to map, and the pool to watch the grant by.
        auto q = rt::duplicate(queue.value().get(), cap_rights::kMap | cap_rights::kTransfer);
        auto p = rt::duplicate(pool.value().get(), cap_rights::kInspect | cap_rights::kTransfer);
        if (!q.ok() || !p.ok()) return 1;
        m.handle_count = 3;
        m.handles[1] = q.value().release();
        m.handles[2] = p.value().release();
    }
    if (auto r = rt::endpoint_call(peer, m); !r.ok())
        return rt::log("share: owner: call: %s", status_name(r.status())), 1;
    if (orphan) {
        // Left open: the process's death, not a close, ends them.
        (void)pool.value().release();
        (void)queue.value().release();
        (void)buffer.value().release();
        rt::log("share: owner: exiting with its pool, queue and buffer open; the consumer holds copies of all three");
        return 0;
    }
    // End the grant while the consumer holds the buffer.
    u32 pool_handle = pool.value().get();
    queue.value().reset();
    buffer.value().reset();
    pool.value().reset();
    auto gone = rt::dma_pool_info(pool_handle);
    rt::log("share: owner: grant ended (pool now %s); the consumer still holds the buffer", status_name(gone.status()));
    abi::Message again{};
    again.length = 1;
    again.data[0] = 2;
    if (auto r = rt::endpoint_call(peer, again); !r.ok()) return 1;
    return 0;
}

int consumer(u32 peer) {
    abi::Message m{};
    if (!rt::endpoint_receive(peer, m, abi::kForever).ok() || m.handle_count != 1) return 1;
    u32 buffer = m.handles[0];
    auto writable = rt::memory_map(buffer, 0, abi::kMapWrite);
    auto at = rt::memory_map(buffer, 0, 0);
    if (!at.ok()) return rt::log("share: consumer: map: %s", status_name(at.status())), 1;
    const auto* data = reinterpret_cast<const volatile u8*>(at.value());
    char serial[21];
    nvme::identify_string(const_cast<const u8*>(data), 4, 20, serial);
    rt::log("share: consumer: mapped the shared buffer read-only: serial '%s' (writable map: %s)", serial,
            status_name(writable.status()));
    abi::Message reply{};
    (void)rt::endpoint_reply(reply);
    abi::Message next{};
    if (!rt::endpoint_receive(peer, next, abi::kForever).ok()) return 1;
    nvme::identify_string(const_cast<const u8*>(data), 4, 20, serial);
    auto remap = rt::memory_map(buffer, 0, 0);
    rt::log("share: consumer: after the grant ended: its mapping still reads '%s'; a new mapping: %s", serial,
            status_name(remap.status()));
    (void)rt::close(buffer);  // the grant's last frames come back now
    (void)rt::endpoint_reply(reply);
    return 0;
}

// Whether `at` is still mapped, without touching it: LogWrite copies its
// text in from user memory and answers OutOfBounds for an unmapped page.
const char* probe_mapping(u64 at) {
    auto r = rt::log_write(rt::startup_handle("log"), reinterpret_cast<const char*>(at), 8);
    return r.ok() ? "STILL MAPPED" : r.status() == Status::OutOfBounds ? "gone" : status_name(r.status());
}

int quarantine_consumer(u32 peer) {
    abi::Message m{};
    if (!rt::endpoint_receive(peer, m, abi::kForever).ok() || m.handle_count != 3) return 1;
    u32 buffer = m.handles[0], queue = m.handles[1], pool = m.handles[2];
    auto at = rt::memory_map(buffer, 0, 0);
    auto cq = rt::nvme_queue_map(queue);
    if (!at.ok() || !cq.ok())
        return rt::log("share: consumer: map: %s", status_name(at.ok() ? cq.status() : at.status())), 1;
    char serial[21];
    nvme::identify_string(reinterpret_cast<const u8*>(at.value()), 4, 20, serial);
    rt::log("share: consumer: mapped the shared buffer (serial '%s') and the admin completion queue", serial);
    abi::Message reply{};
    (void)rt::endpoint_reply(reply);
    // The owner exits now; its grant must end with it, copies or not.
    u8 state = abi::kDmaActive;
    for (u32 i = 0; i < 500 && state == abi::kDmaActive; i++) {
        rt::sleep_ns(20'000'000);
        auto u = rt::dma_pool_info(pool);
        state = u.ok() ? u.value().state : 0;
    }
    const char* state_name = state == abi::kDmaActive        ? "STILL ACTIVE"
                             : state == abi::kDmaQuarantined ? "quarantined"
                             : state == abi::kDmaQuiesced    ? "quiesced"
                                                             : "?";
    const char* buffer_mapping = probe_mapping(at.value());
    const char* cq_mapping = probe_mapping(cq.value());
    auto unmap = rt::memory_unmap(buffer, at.value());
    rt::log(
        "share: consumer: the owner died; the grant is %s: buffer mapping %s (unmap: %s), completion queue mapping "
        "%s; new mappings: %s, %s",
        state_name, buffer_mapping, status_name(unmap.ok() ? Status::Ok : unmap.status()), cq_mapping,
        status_name(rt::memory_map(buffer, 0, 0).status()), status_name(rt::nvme_queue_map(queue).status()));
    // Dropping the copies gives nothing back: the frames stay quarantined.
    (void)rt::close(buffer);
    (void)rt::close(queue);
    (void)rt::close(pool);
    return 0;
}

}  // namespace

int main(u64) {
    u32 peer = rt::startup_handle("peer");
    bool orphan = rt::startup_args_contains("orphan");
    if (rt::startup_args_contains("owner")) return owner(rt::startup_handle("devices"), peer, orphan);
    if (rt::startup_args_contains("consumer")) return orphan ? quarantine_consumer(peer) : consumer(peer);
    rt::log("share: give owner or consumer");
    return 2;
}
