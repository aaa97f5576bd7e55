// dma_adversary: a provider that tries to reach past its grants, one
// attempt per scenario (the word in its startup arguments). Every attempt
// must be refused with its own status — which it logs as
// "adversary: <attempt>: <status>" — and logged by the kernel, while the
// rest of the system keeps serving.
//
// As a devmgr-bound provider (grants pci, bar0 = a filtered 4 KiB NVMe
// register window, irq0, dma = a 16 KiB pool):
//   window    write past its window; then read past it (the process faults)
//   filtered  write ASQ, ACQ and CC through the filter
//   quota     allocate past the pool's quota
//   revoked   wait until devmgr revokes its grants, then use every handle
//   address   ask for addresses: BAR and ROM registers in config space,
//             plus every call that describes its grants (the kernel's
//             address audit checks what comes back)
//   broker    commands the NVMe broker must refuse: queue creation,
//             doorbell buffer config, host memory buffer, vendor opcodes,
//             no buffer, wrong length, out-of-range offset, busy cid
// Holding the device root (granted by a test manifest, to act as two
// providers at once):
//   foreign   submit a buffer of another device's pool to the NVMe queue
//   other_pool  submit a buffer of an earlier pool of the same device;
//             and ask for a second pool while one is live
#include "abi/nvme.h"
#include "rt/log.h"
#include "rt/sys.h"

namespace {

void report(const char* attempt, Status s) { rt::log("adversary: %s: %s", attempt, status_name(s)); }
template <typename T>
void report(const char* attempt, const Result<T>& r) {
    report(attempt, r.ok() ? Status::Ok : r.status());
}

abi::NvmeCommand identify(u16 cid, u32 buffer) {
    abi::NvmeCommand c{};
    c.opcode = 0x06;
    c.cid = cid;
    c.cdw10 = 1;  // CNS 01h: controller
    c.buffer = buffer;
    c.length = buffer ? 4096 : 0;
    return c;
}

Status submit(u32 queue, const abi::NvmeCommand& c) {
    auto r = rt::nvme_submit(queue, &c, 1);
    return r.ok() ? Status::Ok : r.status();
}

int window(u32 bar0) {
    report("write past the window", rt::mmio_write(bar0, 0x1000, 4, 0));
    report("write straddling the window end", rt::mmio_write(bar0, 0xffc, 8, 0));
    auto at = rt::mmio_map(bar0);
    if (!at.ok()) return 1;
    rt::log("adversary: reading 4 bytes past the window (this must fault)");
    volatile u32 v = *reinterpret_cast<volatile u32*>(at.value() + 0x1000);
    rt::log("adversary: read past the window returned 0x%x: NOT REFUSED", v);
    return 1;
}

int filtered(u32 bar0) {
    report("write ASQ", rt::mmio_write(bar0, 0x28, 8, 0x1000));
    report("write ACQ", rt::mmio_write(bar0, 0x30, 8, 0x2000));
    report("write CC", rt::mmio_write(bar0, 0x14, 4, 1));
    report("write INTMS (allowed)", rt::mmio_write(bar0, 0x0c, 4, 0));
    return 0;
}

int quota(u32 pool) {
    u32 got = 0;
    Status last = Status::Ok;
    for (u32 i = 0; i < 8; i++) {
        auto b = rt::dma_buffer_create(pool, 4096);
        if (!b.ok()) {
            last = b.status();
            break;
        }
        (void)b.value().release();
        got++;
    }
    rt::log("adversary: %u buffers of 4 KiB fit the 16 KiB pool", got);
    report("allocate past the quota", last);
    report("allocate 2 MiB", rt::dma_buffer_create(pool, 2u << 20));
    report("allocate 4 MiB (above the buffer limit)", rt::dma_buffer_create(pool, 4u << 20));
    return 0;
}

int revoked(u32 pci, u32 bar0, u32 irq, u32 pool) {
    auto buffer = rt::dma_buffer_create(pool, 4096);
    auto queue = rt::nvme_admin_queue_create(pool, 8);
    auto ws = rt::waitset_create();
    if (!buffer.ok() || !queue.ok() || !ws.ok()) return 1;
    if (!rt::waitset_add(ws.value().get(), irq, abi::kSignalDead, 7).ok()) return 1;
    rt::log("adversary: holding a buffer, an admin queue and irq0; waiting for the revoke");
    abi::WaitEvent ev{};
    auto woke = rt::waitset_wait(ws.value().get(), &ev, 1, abi::kForever);
    rt::log("adversary: irq0 reports the grant torn down (%s)", woke.ok() && ev.key == 7 ? "dead" : "?");
    report("mmio write after revoke", rt::mmio_write(bar0, 0x0c, 4, 0));
    report("mmio map after revoke", rt::mmio_map(bar0));
    report("buffer create after revoke", rt::dma_buffer_create(pool, 4096));
    report("buffer map after revoke", rt::memory_map(buffer.value().get(), 0, abi::kMapWrite));
    report("nvme submit after revoke", submit(queue.value().get(), identify(1, buffer.value().get())));
    report("interrupt ack after revoke", rt::interrupt_ack(irq));
    report("pool info after revoke", rt::dma_pool_info(pool));
    report("config read after revoke (pci is a copy from devmgr's, revoked with it)", rt::pci_config_read(pci, 0, 2));
    return 0;
}

int address(u32 pci, u32 pool) {
    report("config read BAR0", rt::pci_config_read(pci, 0x10, 4));
    report("config read BAR0 upper half", rt::pci_config_read(pci, 0x14, 4));
    report("config read a BAR byte", rt::pci_config_read(pci, 0x11, 1));
    report("config read expansion ROM", rt::pci_config_read(pci, 0x30, 4));
    report("config read device id (allowed)", rt::pci_config_read(pci, 0x02, 2));
    auto b = rt::dma_buffer_create(pool, 4096);
    auto u = rt::dma_pool_info(pool);
    rt::log("adversary: pool info reports quota %llu used %llu ranges %u: sizes and counts only",
            static_cast<unsigned long long>(u.ok() ? u.value().quota : 0),
            static_cast<unsigned long long>(u.ok() ? u.value().used : 0), u.ok() ? u.value().ranges : 0);
    auto q = rt::nvme_admin_queue_create(pool, 8);
    auto cq = q.ok() ? rt::nvme_queue_map(q.value().get()) : Result<u64>(q.status());
    report("map the completion queue (read-only, no addresses in it)", cq);
    if (b.ok() && q.ok()) report("identify into its own buffer (allowed)", submit(q.value().get(), identify(1, b.value().get())));
    return 0;
}

int broker(u32 pool) {
    auto b = rt::dma_buffer_create(pool, 8192);
    auto q = rt::nvme_admin_queue_create(pool, 8);
    if (!b.ok() || !q.ok()) return 1;
    u32 queue = q.value().get(), buf = b.value().get();
    abi::NvmeCommand c = identify(1, buf);
    c.opcode = 0x01;  // Create I/O SQ: its PRP1 is a queue address
    c.cdw10 = 1 | (7u << 16);
    report("create I/O SQ", submit(queue, c));
    c = identify(1, buf);
    c.opcode = 0x7C;  // Doorbell Buffer Config
    report("doorbell buffer config", submit(queue, c));
    c = identify(1, 0);
    c.opcode = 0x09;  // Set Features, Host Memory Buffer
    c.cdw10 = 0x0D;
    report("set features host memory buffer", submit(queue, c));
    c = identify(1, buf);
    c.opcode = 0xC1;
    report("vendor-specific opcode", submit(queue, c));
    report("identify without a buffer", submit(queue, identify(1, 0)));
    c = identify(1, buf);
    c.length = 512;
    report("identify claiming 512 bytes", submit(queue, c));
    c = identify(1, buf);
    c.offset = 8192 - 2048;
    report("identify past the buffer end", submit(queue, c));
    c = identify(9, buf);
    report("cid beyond the queue depth", submit(queue, c));
    report("identify (allowed)", submit(queue, identify(2, buf)));
    report("the same cid again while outstanding", submit(queue, identify(2, buf)));
    return 0;
}

// Root-holding modes: open two functions as two providers would hold them.
Result<rt::Handle> open_class(u32 root, u8 klass, u8 subclass) {
    static abi::DeviceInfo devs[64];
    u32 n = TRY(rt::device_list(root, devs, 64));
    for (u32 i = 0; i < n; i++)
        if (devs[i].class_code == klass && devs[i].subclass == subclass)
            return rt::device_open(root, abi::pci_bdf(devs[i].bus, devs[i].device, devs[i].function));
    return Status::NotFound;
}

int foreign(u32 root) {
    auto nvme = open_class(root, 0x01, 0x08);
    auto blk = open_class(root, 0x01, 0x00);  // virtio-blk: mass storage, SCSI subclass
    if (!nvme.ok() || !blk.ok()) return 1;
    auto pool_a = rt::dma_pool_create(nvme.value().get(), 65536);
    auto pool_b = rt::dma_pool_create(blk.value().get(), 16384);
    if (!pool_a.ok() || !pool_b.ok()) return 1;
    auto queue = rt::nvme_admin_queue_create(pool_a.value().get(), 8);
    auto theirs = rt::dma_buffer_create(pool_b.value().get(), 4096);
    auto ours = rt::dma_buffer_create(pool_a.value().get(), 4096);
    if (!queue.ok() || !theirs.ok() || !ours.ok()) return 1;
    report("another device's buffer in the NVMe queue", submit(queue.value().get(), identify(1, theirs.value().get())));
    report("a queue on the virtio device's pool", rt::nvme_admin_queue_create(pool_b.value().get(), 8));
    report("own buffer (allowed)", submit(queue.value().get(), identify(2, ours.value().get())));
    return 0;
}

int other_pool(u32 root) {
    auto nvme = open_class(root, 0x01, 0x08);
    if (!nvme.ok()) return 1;
    auto first = rt::dma_pool_create(nvme.value().get(), 65536);
    if (!first.ok()) return 1;
    auto old_buffer = rt::dma_buffer_create(first.value().get(), 4096);
    if (!old_buffer.ok()) return 1;
    report("a second pool while one is live", rt::dma_pool_create(nvme.value().get(), 65536));
    first.value().reset();  // the first grant ends (teardown); its buffer handle stays
    auto second = rt::dma_pool_create(nvme.value().get(), 65536);
    if (!second.ok()) return 1;
    auto queue = rt::nvme_admin_queue_create(second.value().get(), 8);
    if (!queue.ok()) return 1;
    report("a buffer of the earlier pool", submit(queue.value().get(), identify(1, old_buffer.value().get())));
    report("mapping that buffer", rt::memory_map(old_buffer.value().get(), 0, abi::kMapWrite));
    return 0;
}

}  // namespace

int main(u64) {
    u32 pci = rt::startup_handle("pci"), bar0 = rt::startup_handle("bar0"), irq = rt::startup_handle("irq0");
    u32 pool = rt::startup_handle("dma"), root = rt::startup_handle("devices");
    auto is = [](const char* w) { return rt::startup_args_contains(w); };
    int rc = 2;
    if (is("window")) rc = window(bar0);
    else if (is("filtered")) rc = filtered(bar0);
    else if (is("quota")) rc = quota(pool);
    else if (is("revoked")) rc = revoked(pci, bar0, irq, pool);
    else if (is("address")) rc = address(pci, pool);
    else if (is("broker")) rc = broker(pool);
    else if (is("foreign")) rc = foreign(root);
    else if (is("other_pool")) rc = other_pool(root);
    else rt::log("adversary: no attempt named in the arguments");
    rt::log("adversary: done (%d)", rc);
    return rc;
}
