// dma_adversary: a provider that tries to reach past its grants, one
// attempt per scenario (the word in its startup arguments). Every attempt
// must be refused with its own status — which it logs as
// "adversary: <attempt>: <status>" — and logged by the kernel, while the
// rest of the system keeps serving.
//
// As a devmgr-bound provider (grants pci, bar0 = a filtered 4 KiB NVMe
// register window, irq0, dma = a 16 KiB pool):
//   window    write and read past its window; map it (refused: it holds
//             ASQ and ACQ); then map its doorbell window (bar0.1, which
//             holds no address register) and read past that (the process
//             faults)
//   filtered  write ASQ, ACQ and CC through the filter
//   quota     allocate past the pool's quota
//   revoked   wait until devmgr revokes its grants, then use every handle
//   address   ask for addresses: BAR and ROM registers in config space,
//             plus every call that describes its grants (the kernel's
//             address audit checks what comes back)
//   broker    commands the NVMe broker must refuse: queue creation,
//             doorbell buffer config, host memory buffer, vendor opcodes,
//             no buffer, wrong length, out-of-range offset, busy cid
//   stash     the admin queue's stash (issue 11, finding 1): set the
//             temperature threshold to a value of its choosing, then,
//             round after round, submit Get Features of it with six
//             command ids, never take their completions, and create and
//             close an I/O queue — the broker's own Create/Delete commands
//             meet its completions and keep them for it. The ids must not
//             be reusable until their completions were taken (busy);
//             NvmeComplete then hands out exactly those completions, and
//             afterwards the ids are free again.
// Holding the device root (granted by a test manifest, to act as two
// providers at once):
//   foreign   submit a buffer of another device's pool to the NVMe queue
//   other_pool  submit a buffer of an earlier pool of the same device;
//             and ask for a second pool while one is live
//   io        the I/O queue broker, after building a working chain (a
//             256 KiB pool, the admin queue, an I/O queue on irq1, a buffer
//             of its own): a Read into the virtio device's buffer
//             (not-owner); past its own buffer (out-of-bounds); NLB larger
//             than the length claimed (invalid-argument); Create I/O SQ/CQ
//             and Doorbell Buffer Config raw on the admin queue, Reservation
//             Register and a vendor opcode on the I/O queue (forbidden);
//             namespace 99 (not-found); a valid Read of LBA 0, completed
//             after irq1 — first through a kernel-address output pointer
//             (out-of-bounds, nothing consumed); an I/O queue on the virtio
//             device's interrupt (not-owner); a second admin queue (the
//             controller reset), then the old I/O queue (stale). It exits
//             with every handle open: the kernel's teardown frees them.
//   read_windows  (also holds a resource with inspect, for the audit) has
//             the kernel write device addresses into registers — an NVMe
//             admin queue (ASQ, ACQ), a virtio-blk virtqueue (queue_desc,
//             queue_driver, queue_device) — asks for that queue again
//             (busy), then reads every 4- and 8-byte aligned offset of
//             every page of every memory BAR of the NVMe and virtio
//             functions: with MmioRead (the kernel audits each value), and
//             through the mapping where MmioMap allows one, handing those
//             words to the address audit (SystemInfo AuditWords). Any
//             device address seen panics the kernel.
//   readonly  a direct virtio-net window, copied without the write right:
//             MmioWrite and a map without read are refused, the map is
//             read-only, and a store through it faults.
//   ring_quota  a virtio-blk pool of 8 KiB, a virtqueue needing 3 pages
//             (its third ring does not fit): refused, and the pool is left
//             as it was — used, ranges and deferred frees unchanged.
//   balloon   a DMA grant for each virtio function of a class the broker
//             does not serve (a balloon's payloads carry page frame
//             numbers, a GPU's guest addresses): refused.
// A virtio-blk provider bound by devmgr that is also handed a consumer's
// copy of another provider's buffer (issue 13):
//   virtio_foreign  receives, on its `service` endpoint, the data buffer an
//             accomplice got as a consumer of the NVMe disk (a copy of the
//             NVMe provider's DmaBuffer, read|write|map), and submits it
//             on its own virtqueue: alone, and as the data of a read with
//             its own header and status byte (not-owner both times,
//             nothing held). Then two real reads of sector 0, each asking
//             for head 5: the kernel picks the heads (distinct), and the
//             completions name exactly those heads.
//   virtio_lie_holds  (booted with test.virtio_lie=len@1: the kernel
//             plays a device that lies about the first read's length) a
//             read of sector 0 comes back LenTooLong and its buffer stays
//             held (the pool's in-flight bytes); a second read works;
//             closing the queue (a device reset) gives the first back.
//   foreign_accomplice  (a process both entries serve) attaches to the
//             NVMe disk and moves its channel's data buffer to the
//             adversary, calling the adversary's instance endpoint.
// A virtio-net provider bound by devmgr (match = VirtioNet; bar4 the
// common configuration, filtered; a pool), on QEMU's user network:
//   virtio_net  transmit chains whose frame is not in its grant — a memory
//             object that is no DMA buffer (wrong-type), a buffer it gave
//             back (stale), a number never given (bad-handle), offsets past its
//             buffer into the next one, at a kernel-looking address and
//             wrapping (out-of-bounds), a header one byte short
//             (invalid-argument); every such memory holds kForeignMarker,
//             which the host's capture must never see. Receive chains
//             shorter than the virtio_net_hdr (invalid-argument: QEMU 7.2
//             asserts, killing the VM, when a packet meets one); refill
//             past the ring (busy, nothing held). Then, with the ring full
//             of whole buffers, a UDP frame carrying kGrantedMarker (the
//             capture must see it) and an ARP request for 10.0.2.2, whose
//             reply it receives.
// Holding the device root, a virtio-net driver:
//   generations  virtio-net with two live queues (receive, transmit): a
//             buffer of the virtio-blk function's pool on the transmit
//             queue (not-owner); a frame sent; then closing the receive
//             queue resets the device, which stops the transmit queue too:
//             its next submit is stale, the provider may reset and set up
//             the device again, enables a new transmit queue, closes the
//             old one — which must not reset the device again — and sends
//             a frame on the new one.
#include "abi/nvme.h"
#include "devices/virtio_class.h"
#include "devices/virtio_pci.h"
#include "nvme/command.h"
#include "rt/block_client.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/service.h"
#include "rt/sys.h"
#include "util/format.h"

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

int window(u32 bar0, u32 doorbells) {
    report("write past the window", rt::mmio_write(bar0, 0x1000, 4, 0));
    report("write straddling the window end", rt::mmio_write(bar0, 0xffc, 8, 0));
    report("read past the window", rt::mmio_read(bar0, 0x1000, 4));
    report("map the register window (ASQ and ACQ are on its page)", rt::mmio_map(bar0));
    auto at = rt::mmio_map(doorbells);
    report("map the doorbell window (no address register on it)", at);
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
    if (b.ok() && q.ok())
        report("identify into its own buffer (allowed)", submit(q.value().get(), identify(1, b.value().get())));
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
    // NvmeComplete's flags: unknown ones, and acknowledging an interrupt the
    // admin queue was never given. Refused before anything is consumed.
    abi::NvmeCompletion done[2] = {};
    report("complete with an unknown flag", rt::nvme_complete(queue, done, 2, 1u << 7));
    report("complete acknowledging the admin queue's interrupt (it has none)",
           rt::nvme_complete(queue, done, 2, abi::kNvmeCompleteAckInterrupt));
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

// The I/O queue mode: an NVMe provider's whole chain, then everything the
// I/O broker must refuse on it. Exactly 12 refusals: the kernel logs the
// first kLoggedRefusals (12) of a process, and each must be seen.
constexpr u32 kIoEntries = 16;
constexpr u64 kBlock = 512;  // QEMU's default namespace format

abi::NvmeCommand read_lba0(u16 cid, u32 nsid, u32 buffer, u16 nlb_zero_based, u64 length) {
    abi::NvmeCommand c{};
    c.opcode = nvme::kIoRead;
    c.cid = cid;
    c.nsid = nsid;
    c.cdw10 = 0;  // SLBA 31:0
    c.cdw11 = 0;  // SLBA 63:32
    c.cdw12 = nlb_zero_based;
    c.buffer = buffer;
    c.length = length;
    return c;
}

abi::NvmeCommand raw(u8 opcode, u16 cid, u32 nsid, u32 buffer, u64 length) {
    abi::NvmeCommand c{};
    c.opcode = opcode;
    c.cid = cid;
    c.nsid = nsid;
    c.buffer = buffer;
    c.length = length;
    return c;
}

int fail(const char* step, Status s) {
    rt::log("adversary: building the chain: %s: %s", step, status_name(s));
    return 1;
}

// The stash mode's Get Features answers with this (Temperature Threshold,
// NVMe 1.4 §5.21.1.4: TMPTH, CDW11 15:0, comes back in DW0). At cf9a47e the
// 257th stashed completion landed on the stash's counter, DW0 first: 0x101
// sent the next ones onto the queue's mapping list, and the kernel
// panicked when the process exited.
constexpr u32 kStashThreshold = 0x0101;
constexpr u16 kStashIds = 6;  // an 8-entry admin queue takes 6 of the provider's at once
constexpr u32 kStashRounds = 64;

abi::NvmeCommand temperature_threshold(u8 opcode, u16 cid) {
    abi::NvmeCommand c{};
    c.opcode = opcode;
    c.cid = cid;
    c.cdw10 = nvme::kFeatureTemperatureThreshold;
    c.cdw11 = opcode == nvme::kAdminSetFeatures ? kStashThreshold : 0;  // composite sensor, over-temperature
    return c;
}

// Takes completions until `want` arrived or a second passed; returns how many.
u32 take_completions(u32 queue, abi::NvmeCompletion* done, u32 max, u32 want) {
    u32 got = 0;
    u64 deadline = rt::clock_ns() + 1'000'000'000ull;
    while (got < want && got < max && rt::clock_ns() < deadline) {
        auto n = rt::nvme_complete(queue, done + got, max - got);
        if (!n.ok()) {
            report("complete", n);
            break;
        }
        got += n.value();
    }
    return got;
}

int stash(u32 pool) {
    auto q = rt::nvme_admin_queue_create(pool, 8);
    if (!q.ok()) return fail("admin queue", q.status());
    u32 queue = q.value().get();
    static abi::NvmeCompletion done[abi::kNvmeMaxEntries];
    report("set the temperature threshold", submit(queue, temperature_threshold(nvme::kAdminSetFeatures, 0)));
    if (take_completions(queue, done, 1, 1) != 1 || done[0].status) return fail("set features", Status::DeviceError);

    u32 round = 0, submitted = 0;
    Status refused = Status::Ok;
    u16 refused_cid = 0;
    for (; round < kStashRounds && refused == Status::Ok; round++) {
        for (u16 cid = 0; cid < kStashIds; cid++) {
            Status s = submit(queue, temperature_threshold(nvme::kAdminGetFeatures, cid));
            if (s != Status::Ok) {
                refused = s;
                refused_cid = cid;
                break;
            }
            submitted++;
        }
        if (refused != Status::Ok) break;
        // The broker's Create I/O CQ/SQ, then Delete I/O SQ/CQ on close.
        auto io = rt::nvme_io_queue_create(pool, queue, 2, 0);
        if (!io.ok()) return fail("I/O queue", io.status());
    }
    rt::log(
        "adversary: stash: %u Get Features submitted in %u round(s) with I/O queue churn, none taken; then cid "
        "%u: %s",
        submitted, round, refused_cid, status_name(refused));
    report("reuse a command id whose completion was not taken", refused);

    // Exactly what it submitted and the device answered, each once.
    u32 got = take_completions(queue, done, abi::kNvmeMaxEntries, submitted);
    u32 right = 0;
    u32 seen = 0;  // bit cid
    for (u32 i = 0; i < got; i++) {
        bool ok = done[i].cid < kStashIds && !(seen >> done[i].cid & 1) && done[i].status == 0 &&
                  done[i].result == kStashThreshold;
        if (!ok && i - right < 4)  // a few are enough to show it
            rt::log("adversary: stash: completion %u: cid %u result 0x%x status 0x%x: not one it is owed", i,
                    done[i].cid, done[i].result, done[i].status);
        seen |= 1u << (done[i].cid % 32);
        right += ok;
    }
    rt::log("adversary: stash: NvmeComplete handed out %u completion(s), %u of them its own Get Features", got, right);
    report("the same command id after its completion was taken",
           submit(queue, temperature_threshold(nvme::kAdminGetFeatures, 0)));
    u32 last = take_completions(queue, done, abi::kNvmeMaxEntries, 1);
    rt::log("adversary: stash: its completion: %u, cid %u result 0x%x", last, last ? done[0].cid : 0xffff,
            last ? done[0].result : 0);
    return 0;
}

int io(u32 root) {
    auto nvme_fn = open_class(root, 0x01, 0x08);
    auto blk_fn = open_class(root, 0x01, 0x00);  // virtio-blk
    if (!nvme_fn.ok()) return fail("open the NVMe function", nvme_fn.status());
    if (!blk_fn.ok()) return fail("open the virtio-blk function", blk_fn.status());
    u32 nvme = nvme_fn.value().get(), blk = blk_fn.value().get();
    // The broker's bring-up pages and an I/O queue's SQ, CQ and PRP-list
    // pages all come from the pool.
    auto pool = rt::dma_pool_create(nvme, 256u << 10);
    auto their_pool = rt::dma_pool_create(blk, 16u << 10);
    if (!pool.ok()) return fail("NVMe pool", pool.status());
    if (!their_pool.ok()) return fail("virtio-blk pool", their_pool.status());
    auto irq0 = rt::interrupt_create(nvme, 0);
    auto irq1 = rt::interrupt_create(nvme, 1);
    auto their_irq = rt::interrupt_create(blk, 0);
    if (!irq0.ok() || !irq1.ok()) return fail("NVMe vectors", irq0.ok() ? irq1.status() : irq0.status());
    if (!their_irq.ok()) return fail("virtio-blk vector 0", their_irq.status());
    auto admin = rt::nvme_admin_queue_create(pool.value().get(), 8);
    if (!admin.ok()) return fail("admin queue", admin.status());
    auto ioq = rt::nvme_io_queue_create(pool.value().get(), admin.value().get(), kIoEntries, irq1.value().get());
    if (!ioq.ok()) return fail("I/O queue on irq1", ioq.status());
    auto ours = rt::dma_buffer_create(pool.value().get(), 4096);
    auto theirs = rt::dma_buffer_create(their_pool.value().get(), 4096);
    if (!ours.ok()) return fail("own buffer", ours.status());
    if (!theirs.ok()) return fail("virtio-blk buffer", theirs.status());
    auto data = rt::memory_map(ours.value().get(), 0, 0);
    if (!data.ok()) return fail("map the own buffer", data.status());
    auto ws = rt::waitset_create();
    if (!ws.ok()) return fail("waitset", ws.status());
    if (auto r = rt::waitset_add(ws.value().get(), irq1.value().get(), abi::kSignalReady | abi::kSignalDead, 1);
        !r.ok())
        return fail("wait on irq1", r.status());
    u32 aq = admin.value().get(), q = ioq.value().get(), buf = ours.value().get();
    rt::log("adversary: chain ready: admin queue, I/O queue of %u entries on irq1, a 4 KiB buffer of its pool",
            kIoEntries);

    // 1-4: refused at validation, nothing written to the queue.
    report("read into the virtio device's buffer", submit(q, read_lba0(1, 1, theirs.value().get(), 0, kBlock)));
    abi::NvmeCommand c = read_lba0(1, 1, buf, 0, kBlock);
    c.offset = 4096 - kBlock / 2;
    report("read running past its buffer end", submit(q, c));
    report("read of 8 blocks claiming 512 bytes", submit(q, read_lba0(1, 1, buf, 7, kBlock)));
    c = raw(nvme::kAdminCreateSq, 1, 0, buf, 4096);
    c.cdw10 = 1u | (kIoEntries - 1u) << 16;  // QID 1: the broker's own queue
    c.cdw11 = 1u << 16 | 1u;
    report("create I/O SQ on the admin queue", submit(aq, c));
    c = raw(nvme::kAdminCreateCq, 1, 0, buf, 4096);
    c.cdw10 = 2u | (kIoEntries - 1u) << 16;
    c.cdw11 = 1u;
    report("create I/O CQ on the admin queue", submit(aq, c));
    report("doorbell buffer config on the admin queue",
           submit(aq, raw(nvme::kAdminDoorbellBufferConfig, 1, 0, buf, 4096)));
    report("reservation register on the I/O queue", submit(q, raw(nvme::kIoReservationRegister, 1, 1, buf, 24)));
    report("vendor opcode 0x80 on the I/O queue", submit(q, raw(nvme::kIoVendorFirst, 1, 1, buf, kBlock)));
    report("read from namespace 99", submit(q, read_lba0(1, 99, buf, 0, kBlock)));

    // 5: its own Read goes through; the completion is taken after irq1 —
    // first through an output pointer into the kernel (refused before
    // anything is consumed), then for real.
    report("read of LBA 0 into its own buffer (allowed)", submit(q, read_lba0(2, 1, buf, 0, kBlock)));
    abi::WaitEvent ev{};
    auto woke = rt::waitset_wait(ws.value().get(), &ev, 1, 5'000'000'000ull);
    if (!woke.ok() || woke.value() == 0 || ev.key != 1 || (ev.signals & abi::kSignalDead)) {
        rt::log("adversary: irq1 never came for the read: %s", woke.ok() ? "timeout" : status_name(woke.status()));
        return 1;
    }
    auto acked = rt::interrupt_ack(irq1.value().get());
    rt::log("adversary: irq1 received (%llu pending)", static_cast<unsigned long long>(acked.ok() ? acked.value() : 0));
    report("complete into a kernel address",
           rt::nvme_complete(q, reinterpret_cast<abi::NvmeCompletion*>(0xffff800000000000ull), 1));
    abi::NvmeCompletion done[4] = {};
    auto n = rt::nvme_complete(q, done, 4);
    if (!n.ok()) {
        report("complete the read", n);
        return 1;
    }
    char hex[33];
    auto* bytes = reinterpret_cast<const volatile u8*>(data.value());
    for (u32 i = 0; i < 16; i++) {
        const char* digits = "0123456789abcdef";
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 15];
    }
    hex[32] = '\0';
    rt::log("adversary: read of LBA 0: %u completion(s), cid %u status %u; first 16 bytes %s", n.value(),
            n.value() ? done[0].cid : 0, n.value() ? done[0].status : 0xffff, hex);

    // 5b: two more reads, each taken with one NvmeComplete that also
    // acknowledges irq1: afterwards irq1 is quiet (its delivery was
    // cleared), and the next read's interrupt still comes (it was re-armed).
    for (u16 cid = 4; cid <= 5; cid++) {
        Status sent = submit(q, read_lba0(cid, 1, buf, 0, kBlock));
        auto fired = rt::waitset_wait(ws.value().get(), &ev, 1, 5'000'000'000ull);
        if (sent != Status::Ok || !fired.ok() || ev.key != 1 || (ev.signals & abi::kSignalDead)) {
            rt::log("adversary: read cid %u: %s, irq1 %s", cid, status_name(sent),
                    fired.ok() ? "fired" : status_name(fired.status()));
            return 1;
        }
        auto taken = rt::nvme_complete(q, done, 4, abi::kNvmeCompleteAckInterrupt);
        auto quiet = rt::waitset_wait(ws.value().get(), &ev, 1, 0);
        rt::log(
            "adversary: read cid %u taken with NvmeComplete acknowledging irq1: %s, %u completion(s), cid %u "
            "status %u; irq1 afterwards: %s",
            cid, status_name(taken.ok() ? Status::Ok : taken.status()), taken.ok() ? taken.value() : 0,
            taken.ok() && taken.value() ? done[0].cid : 0, taken.ok() && taken.value() ? done[0].status : 0xffff,
            quiet.ok() ? "STILL PENDING" : status_name(quiet.status()));
    }

    // 6: a queue whose interrupt is another device's vector.
    report("an I/O queue on the virtio device's interrupt",
           rt::nvme_io_queue_create(pool.value().get(), aq, kIoEntries, their_irq.value().get()));

    // 7: the provider's controller reset; the old generation is stale.
    auto admin2 = rt::nvme_admin_queue_create(pool.value().get(), 8);
    report("a second admin queue (controller reset)", admin2);
    report("read on the I/O queue of before the reset", submit(q, read_lba0(3, 1, buf, 0, kBlock)));

    // Leave every handle open: the process's exit must tear the grants
    // down and give every frame back.
    rt::Handle* held[] = {&nvme_fn.value(), &blk_fn.value(), &pool.value(),      &their_pool.value(),
                          &irq0.value(),    &irq1.value(),   &their_irq.value(), &admin.value(),
                          &ioq.value(),     &ours.value(),   &theirs.value(),    &ws.value()};
    for (rt::Handle* h : held) (void)h->release();
    if (admin2.ok()) (void)admin2.value().release();
    rt::log("adversary: exiting with every handle open");
    return 0;
}

// flood: the log and the refusal path as a way to take the CPU (issue 11,
// finding 5). 100000 refused system calls of one kind, 100000 log lines,
// 20000 refused register writes; then a line after a pause, which the
// kernel prefixes with how many were not logged. The refusals still arrive
// at devmgr, counted (`events`, `lsdev`), while the disk keeps being served.
int flood(u32 bar0) {
    constexpr u32 kCalls = 100000, kLines = 100000, kWrites = 20000;
    u32 refused = 0;
    for (u32 i = 0; i < kCalls; i++)
        if (rt::raw_syscall(abi::Syscall::HandleClose, 0xdead0001) < 0) refused++;
    u32 logged = 0;
    u32 log = rt::startup_handle("log");
    for (u32 i = 0; i < kLines; i++) {
        char line[48];
        usize n = format(line, sizeof line, "adversary: flood line %u", i);
        if (rt::log_write(log, line, n).ok()) logged++;
    }
    u32 writes = 0;
    for (u32 i = 0; i < kWrites; i++)
        if (!rt::mmio_write(bar0, 0x28, 8, 0x1000).ok()) writes++;
    rt::sleep_ns(500'000'000);
    rt::log("adversary: flood done: %u of %u calls refused, %u of %u lines taken, %u of %u ASQ writes refused", refused,
            kCalls, logged, kLines, writes, kWrites);
    return 0;
}

// --- reading every window ------------------------------------------------

struct ReadTotals {
    u32 windows, mapped, map_refused, pages_refused;
    u64 reads, read_refused, audited;
};

// Words read through a mapping, handed to the kernel's address audit.
bool audit_words(u32 resource, const u64* words, u64 count) {
    auto r = rt::system_info(resource, abi::SystemInfoKind::AuditWords, 0, const_cast<u64*>(words), count * 8);
    if (!r.ok())
        rt::log("adversary: the address audit refused %llu words: %s", static_cast<unsigned long long>(count),
                status_name(r.status()));
    return r.ok();
}

// Every 4- and 8-byte aligned offset of one page window: MmioRead, then
// the mapping when there is one.
void read_window(u32 resource, u32 window, const char* where, ReadTotals& t) {
    u64 reads = 0, refused = 0;
    // Which accesses the kernel refused, as "width@offset" (the kernel logs
    // refusals at a bounded rate, so its log need not show them all).
    char list[192] = "";
    usize at_list = 0;
    for (u32 width : {4u, 8u}) {
        for (u64 off = 0; off < 4096; off += width) {
            auto v = rt::mmio_read(window, off, width);
            reads++;
            if (v.ok()) continue;
            refused++;
            if (at_list < sizeof list)
                at_list += format(list + at_list, sizeof list - at_list, " %u@0x%llx", width,
                                  static_cast<unsigned long long>(off));
        }
    }
    if (refused) rt::log("adversary: %s: refused%s", where, list);
    t.windows++;
    t.reads += reads;
    t.read_refused += refused;
    auto at = rt::mmio_map(window);
    if (!at.ok()) {
        t.map_refused++;
        rt::log("adversary: %s: %llu reads, %llu refused; map %s", where, static_cast<unsigned long long>(reads),
                static_cast<unsigned long long>(refused), status_name(at.status()));
        return;
    }
    static u64 words[abi::kAuditWordsMax];
    u64 n = 0, audited = 0;
    auto flush = [&] {
        if (n && audit_words(resource, words, n)) audited += n;
        n = 0;
    };
    const volatile u8* base = reinterpret_cast<const volatile u8*>(at.value());
    for (u64 off = 0; off < 4096; off += 4) {
        words[n++] = *reinterpret_cast<const volatile u32*>(base + off);
        if (n == abi::kAuditWordsMax) flush();
    }
    for (u64 off = 0; off < 4096; off += 8) {
        words[n++] = *reinterpret_cast<const volatile u64*>(base + off);
        if (n == abi::kAuditWordsMax) flush();
    }
    flush();
    t.mapped++;
    t.audited += audited;
    rt::log("adversary: %s: %llu reads, %llu refused; mapped, %llu words audited", where,
            static_cast<unsigned long long>(reads), static_cast<unsigned long long>(refused),
            static_cast<unsigned long long>(audited));
}

// A page window: direct where the policy allows one, else filtered (MSI-X
// pages: none at all).
Result<rt::Handle> page_window(u32 fn, u32 bar, u64 offset, const char** kind) {
    auto direct = rt::mmio_create(fn, bar, offset, 4096, 0);
    *kind = "direct";
    if (direct.ok()) return direct;
    *kind = "filtered";
    return rt::mmio_create(fn, bar, offset, 4096, abi::kMmioFiltered);
}

// Every page of every memory BAR of one function.
void read_function(u32 resource, u32 root, const abi::DeviceInfo& d, ReadTotals& t) {
    auto fn = rt::device_open(root, abi::pci_bdf(d.bus, d.device, d.function));
    if (!fn.ok())
        return rt::log("adversary: open %02x:%02x.%x: %s", d.bus, d.device, d.function, status_name(fn.status()));
    for (u32 bar = 0; bar < 6; bar++) {
        if (d.bars[bar].kind != 2 && d.bars[bar].kind != 3) continue;
        u64 pages = d.bars[bar].size / 4096;
        if (pages > 64) pages = 64;  // no BAR here is larger; a bound all the same
        for (u64 page = 0; page < pages; page++) {
            const char* kind = nullptr;
            auto win = page_window(fn.value().get(), bar, page * 4096, &kind);
            if (!win.ok()) {
                t.pages_refused++;
                continue;
            }
            char where[64];
            format(where, sizeof where, "%02x:%02x.%x bar%u+0x%llx (%s)", d.bus, d.device, d.function, bar,
                   static_cast<unsigned long long>(page * 4096), kind);
            read_window(resource, win.value().get(), where, t);
        }
    }
}

// A virtio function's common configuration (virtio 1.1 §4.1.4.3), found
// through its capabilities in configuration space. The BAR registers
// (0x10-0x33) are not read: they are refused, and not needed.
Result<devices::VirtioRegion> virtio_common(u32 pci) {
    static u8 cfg[256];
    for (u32 off = 0; off < sizeof cfg; off += 4) {
        u32 v = off >= 0x10 && off < 0x34 ? 0 : rt::pci_config_read(pci, off, 4).value_or(0);
        __builtin_memcpy(cfg + off, &v, 4);
    }
    return devices::find_virtio_common_cfg(ByteView{cfg, sizeof cfg});
}

// A filtered window on the page holding a virtio function's common
// configuration; *rel is where the structure starts in it.
Result<rt::Handle> common_window(u32 pci, u64* rel) {
    devices::VirtioRegion common = TRY(virtio_common(pci));
    u64 page = common.offset & ~0xfffull;
    *rel = common.offset - page;
    return rt::mmio_create(pci, common.bar, page, 4096, abi::kMmioFiltered);
}

// Device reset (device_status 0, virtio 1.1 §3.1.1), as a driver starts:
// the firmware may have left a queue of its own enabled.
void virtio_reset(u32 window, u64 rel) {
    (void)rt::mmio_write(window, rel + 0x14, 1, 0);
    for (u32 i = 0; i < 1000 && rt::mmio_read(window, rel + 0x14, 1).value_or(1) != 0; i++) rt::sleep_ns(100'000);
}

// virtio 1.1 §3.1.1 up to FEATURES_OK, VERSION_1 only (no MSI-X: the
// queues are polled) — and ACCESS_PLATFORM when offered (a device behind
// QEMU's IOMMU refuses FEATURES_OK without it).
void virtio_setup(u32 window, u64 rel) {
    virtio_reset(window, rel);
    (void)rt::mmio_write(window, rel + 0x14, 1, 1);
    (void)rt::mmio_write(window, rel + 0x14, 1, 3);
    (void)rt::mmio_write(window, rel + 0x00, 4, 1);  // device_feature_select: word 1
    const u64 offered = rt::mmio_read(window, rel + 0x04, 4).value_or(0);
    (void)rt::mmio_write(window, rel + 0x08, 4, 1);                  // driver_feature_select: word 1
    (void)rt::mmio_write(window, rel + 0x0c, 4, 1 | (offered & 2));  // VERSION_1, ACCESS_PLATFORM
    (void)rt::mmio_write(window, rel + 0x08, 4, 0);
    (void)rt::mmio_write(window, rel + 0x0c, 4, 0);
    (void)rt::mmio_write(window, rel + 0x14, 1, 11);  // FEATURES_OK
}

// The first virtio function with either device ID.
Result<rt::Handle> open_virtio(u32 root, u16 device_a, u16 device_b) {
    static abi::DeviceInfo devs[64];
    u32 n = TRY(rt::device_list(root, devs, 64));
    for (u32 i = 0; i < n; i++) {
        if (devs[i].vendor != 0x1af4 || (devs[i].device_id != device_a && devs[i].device_id != device_b)) continue;
        return rt::device_open(root, abi::pci_bdf(devs[i].bus, devs[i].device, devs[i].function));
    }
    return Status::NotFound;
}

int read_windows(u32 root, u32 resource) {
    // Addresses into the registers: the NVMe admin queue (ASQ, ACQ) ...
    auto nvme = open_class(root, 0x01, 0x08);
    if (!nvme.ok()) return fail("open the NVMe function", nvme.status());
    auto nvme_pool = rt::dma_pool_create(nvme.value().get(), 64u << 10);
    if (!nvme_pool.ok()) return fail("NVMe pool", nvme_pool.status());
    auto admin = rt::nvme_admin_queue_create(nvme_pool.value().get(), 8);
    if (!admin.ok()) return fail("NVMe admin queue", admin.status());
    // ... and a virtio-blk virtqueue (queue_desc, queue_driver, queue_device).
    auto blk = open_virtio(root, 0x1001, 0x1042);
    if (!blk.ok()) return fail("open the virtio-blk function", blk.status());
    auto blk_pool = rt::dma_pool_create(blk.value().get(), 64u << 10);
    if (!blk_pool.ok()) return fail("virtio-blk pool", blk_pool.status());
    u64 rel = 0;
    auto win = common_window(blk.value().get(), &rel);
    if (!win.ok()) return fail("virtio-blk common configuration window", win.status());
    virtio_setup(win.value().get(), rel);
    auto q = rt::virtqueue_create(blk_pool.value().get(), 0, 16, 0xffff, 1);
    if (!q.ok()) return fail("virtqueue 0", q.status());
    // The same queue again: busy. Checking it meant selecting it; the
    // broker must not leave it selected (its ring addresses one read away).
    report("virtqueue 0 again (enabled)", rt::virtqueue_create(blk_pool.value().get(), 0, 16, 0xffff, 1));
    auto queues = rt::mmio_read(win.value().get(), rel + 0x12, 2);  // num_queues
    auto select = rt::mmio_read(win.value().get(), rel + 0x16, 2);  // queue_select
    auto size = rt::mmio_read(win.value().get(), rel + 0x18, 2);    // queue_size of the selected queue
    rt::log("adversary: after VirtQueueCreate: queue_select %llu of %llu queues, its queue_size %llu",
            static_cast<unsigned long long>(select.value_or(~0ull)),
            static_cast<unsigned long long>(queues.value_or(~0ull)),
            static_cast<unsigned long long>(size.value_or(~0ull)));
    win.value().reset();
    rt::log("adversary: the kernel wrote an NVMe admin queue and a virtio-blk virtqueue; reading every window");

    ReadTotals t{};
    static abi::DeviceInfo devs[64];
    auto n = rt::device_list(root, devs, 64);
    if (!n.ok()) return fail("device list", n.status());
    u32 functions = 0;
    for (u32 i = 0; i < n.value(); i++) {
        const abi::DeviceInfo& d = devs[i];
        bool nvme_fn = d.class_code == 0x01 && d.subclass == 0x08 && d.prog_if == 0x02;
        if (!nvme_fn && !devices::is_virtio(d.vendor, d.device_id)) continue;
        read_function(resource, root, d, t);
        functions++;
    }
    rt::log(
        "adversary: read every offset of %u windows on %u functions: %llu MmioReads (%llu refused), %u mapped "
        "(%llu words audited), %u maps refused, %u pages with no window",
        t.windows, functions, static_cast<unsigned long long>(t.reads), static_cast<unsigned long long>(t.read_refused),
        t.mapped, static_cast<unsigned long long>(t.audited), t.map_refused, t.pages_refused);
    // Everything stays open until exit: the teardown frees it.
    (void)admin.value().release();
    (void)q.value().release();
    return 0;
}

// The first page of BAR4 the policy lets be direct (QEMU: the ISR status
// page; a store there changes nothing in the device).
Result<rt::Handle> first_direct_page(u32 fn, u64* at_page) {
    for (u64 page = 1; page < 4; page++) {
        auto win = rt::mmio_create(fn, 4, page * 4096, 4096, 0);
        *at_page = page * 4096;
        if (win.ok()) return win;
    }
    return Status::NotFound;
}

int readonly(u32 root) {
    auto net = open_virtio(root, 0x1000, 0x1041);
    if (!net.ok()) return fail("open the virtio-net function", net.status());
    u64 at_page = 0;
    auto win = first_direct_page(net.value().get(), &at_page);
    if (!win.ok()) return fail("a direct virtio-net window", win.status());
    auto ro = rt::duplicate(win.value().get(), cap_rights::kRead | cap_rights::kMap | cap_rights::kInspect);
    auto no_read = rt::duplicate(win.value().get(), cap_rights::kMap);
    if (!ro.ok() || !no_read.ok()) return fail("copies of the window", ro.ok() ? no_read.status() : ro.status());
    report("MmioWrite through the copy without write", rt::mmio_write(ro.value().get(), 0, 1, 0));
    report("map the copy without read", rt::mmio_map(no_read.value().get()));
    auto at = rt::mmio_map(ro.value().get());
    report("map the copy without write", at);
    if (!at.ok()) return 1;
    auto* reg = reinterpret_cast<volatile u32*>(at.value());
    u32 v = *reg;
    rt::log("adversary: bar4+0x%llx read through the read-only mapping: 0x%x", static_cast<unsigned long long>(at_page),
            v);
    rt::log("adversary: storing to 0x%llx through the read-only mapping (this must fault)",
            static_cast<unsigned long long>(at.value()));
    *reg = 0;
    rt::log("adversary: the store through a copy without write went through: NOT REFUSED");
    return 1;
}

int ring_quota(u32 root) {
    auto blk = open_virtio(root, 0x1001, 0x1042);
    if (!blk.ok()) return fail("open the virtio-blk function", blk.status());
    // Descriptors, available and used ring take a page each for 16
    // entries: the third does not fit in two.
    auto pool = rt::dma_pool_create(blk.value().get(), 8192);
    if (!pool.ok()) return fail("an 8 KiB pool", pool.status());
    u64 rel = 0;
    auto win = common_window(blk.value().get(), &rel);
    if (!win.ok()) return fail("virtio-blk common configuration window", win.status());
    virtio_setup(win.value().get(), rel);
    auto before = rt::dma_pool_info(pool.value().get());
    report("a virtqueue whose third ring does not fit the pool",
           rt::virtqueue_create(pool.value().get(), 0, 16, 0xffff, 1));
    auto after = rt::dma_pool_info(pool.value().get());
    if (!before.ok() || !after.ok()) return fail("pool info", before.ok() ? after.status() : before.status());
    auto b = [](const Result<abi::DmaUsage>& u) { return u.value(); };
    rt::log(
        "adversary: pool before: used %llu, ranges %u, deferred %u, in flight %llu; after: used %llu, ranges %u, "
        "deferred %u, in flight %llu",
        static_cast<unsigned long long>(b(before).used), b(before).ranges, b(before).deferred,
        static_cast<unsigned long long>(b(before).in_flight), static_cast<unsigned long long>(b(after).used),
        b(after).ranges, b(after).deferred, static_cast<unsigned long long>(b(after).in_flight));
    // The quota is whole again: two pages of buffers fit.
    auto one = rt::dma_buffer_create(pool.value().get(), 4096);
    auto two = rt::dma_buffer_create(pool.value().get(), 4096);
    rt::log("adversary: two 4 KiB buffers after the refusal: %s, %s", status_name(one.ok() ? Status::Ok : one.status()),
            status_name(two.ok() ? Status::Ok : two.status()));
    return 0;
}

int balloon(u32 root) {
    static abi::DeviceInfo devs[64];
    u32 n = rt::device_list(root, devs, 64).value_or(0);
    u32 tried = 0;
    for (u32 i = 0; i < n; i++) {
        const abi::DeviceInfo& d = devs[i];
        if (!devices::is_virtio(d.vendor, d.device_id) || devices::virtio_class_brokered(d.vendor, d.device_id))
            continue;
        auto fn = rt::device_open(root, abi::pci_bdf(d.bus, d.device, d.function));
        if (!fn.ok()) return fail("open", fn.status());
        char what[64];
        format(what, sizeof what, "a DMA grant for %04x:%04x (virtio %s)", d.vendor, d.device_id,
               devices::virtio_class_name(d.vendor, d.device_id));
        report(what, rt::dma_pool_create(fn.value().get(), 64u << 10));
        tried++;
    }
    rt::log("adversary: %u virtio functions of classes the broker does not serve", tried);
    return tried ? 0 : 1;
}

// virtio: the virtqueue broker as an adversarial virtio-blk provider sees
// it (devmgr-bound: pci, bar4 = the filtered common configuration page,
// irq0, dma = a 64 KiB pool). Chains the broker must refuse — out of order,
// past their buffer, empty, too long, unknown flags, not a buffer, a
// buffer without the write right, more descriptors than the queue has —
// then a real read of sector 0 in flight while it tries to reset the
// device, to enable the same queue again and to write driver features
// (all busy); the read
// completes and shows the sector's first bytes (the host checks them).
// Last, a store into the used ring, which is mapped read-only: it faults.
int virtio(u32 window, u32 pool, u32 irq) {
    constexpr u64 kFeatureSelect = 0x00, kFeature = 0x04, kDriverSelect = 0x08, kDriverFeature = 0x0c, kStatus = 0x14;
    auto reg = [&](u64 off, u32 width) { return rt::mmio_read(window, off, width).value_or(~0ull); };
    (void)rt::mmio_write(window, kStatus, 1, 0);
    for (u32 i = 0; i < 1000 && reg(kStatus, 1) != 0; i++) rt::sleep_ns(100'000);
    (void)rt::mmio_write(window, kStatus, 1, 1);
    (void)rt::mmio_write(window, kStatus, 1, 3);
    (void)rt::mmio_write(window, kFeatureSelect, 4, 1);
    // VERSION_1, and ACCESS_PLATFORM when offered (behind an IOMMU)
    u64 features = reg(kFeature, 4) & 3;
    (void)rt::mmio_write(window, kDriverSelect, 4, 1);
    (void)rt::mmio_write(window, kDriverFeature, 4, features);
    (void)rt::mmio_write(window, kDriverSelect, 4, 0);
    (void)rt::mmio_write(window, kDriverFeature, 4, 0);
    (void)rt::mmio_write(window, kStatus, 1, 11);
    // Chains of up to 3 segments, written directly (no INDIRECT_DESC).
    auto q = rt::virtqueue_create(pool, 0, 16, 0, 3);
    if (!q.ok()) return fail("virtqueue 0", q.status());
    auto used_at = rt::virtqueue_map(q.value().get());
    auto buf = rt::dma_buffer_create(pool, 4096);
    auto note = rt::notification_create();
    if (!used_at.ok() || !buf.ok() || !note.ok()) return fail("used ring, buffer, notification", buf.status());
    auto read_only = rt::duplicate(buf.value().get(), cap_rights::kRead | cap_rights::kMap);
    auto data = rt::memory_map(buf.value().get(), 0, abi::kMapWrite);
    if (!read_only.ok() || !data.ok()) return fail("buffer copy and mapping", data.status());
    (void)rt::mmio_write(window, kStatus, 1, 15);  // DRIVER_OK
    u32 b = buf.value().get();
    // What the device holds with nothing submitted: the three rings.
    auto in_flight = [&] {
        auto u = rt::dma_pool_info(pool);
        return static_cast<unsigned long long>(u.ok() ? u.value().in_flight : ~0ull);
    };
    unsigned long long baseline = in_flight();
    auto seg = [](u32 buffer, u64 offset, u64 length, bool device_writes, u32 extra_flags = 0) {
        return abi::VirtioSegment{buffer, (device_writes ? abi::kVirtioSegmentDeviceWrites : 0u) | extra_flags, offset,
                                  length};
    };
    // One chain of `n` segments.
    auto one = [&](const char* what, const abi::VirtioSegment* segs, u16 n) {
        abi::VirtioChain c{n, 0, 0};
        report(what, rt::virtqueue_submit(q.value().get(), &c, 1, segs, n));
    };
    abi::VirtioSegment s[4] = {seg(b, 512, 512, true), seg(b, 0, 16, false)};
    one("chain with a device-writable segment before a readable one", s, 2);
    s[0] = seg(b, 4000, 200, false);
    one("segment running past its buffer end", s, 1);
    s[0] = seg(b, 8192, 1, false);
    one("segment starting past its buffer", s, 1);
    s[0] = seg(b, 0, 0, false);
    one("empty segment", s, 1);
    s[0] = seg(b, 0, 1ull << 32, false);
    one("segment of 4 GiB", s, 1);
    s[0] = seg(b, 0, 16, false, 1u << 1);
    one("segment with an unknown flag", s, 1);
    s[0] = seg(note.value().get(), 0, 16, false);
    one("a notification as the buffer", s, 1);
    s[0] = seg(read_only.value().get(), 0, 16, false);
    one("a buffer copy without the write right", s, 1);
    for (u32 i = 0; i < 4; i++) s[i] = seg(b, i * 16, 16, false);
    one("chain of 4 segments (more than the queue takes)", s, 4);
    static abi::VirtioChain many[abi::kVirtioMaxBatch + 1];
    static abi::VirtioSegment many_segs[2 * (abi::kVirtioMaxBatch + 1)];
    for (u32 i = 0; i <= abi::kVirtioMaxBatch; i++) {
        many[i] = abi::VirtioChain{1, 0, 0};
        many_segs[i] = seg(b, 0, 16, false);
    }
    char label[64];
    format(label, sizeof label, "a batch of %u chains (one past the most)", abi::kVirtioMaxBatch + 1);
    report(label,
           rt::virtqueue_submit(q.value().get(), many, abi::kVirtioMaxBatch + 1, many_segs, abi::kVirtioMaxBatch + 1));
    for (u32 i = 0; i < abi::kVirtioMaxBatch; i++) {
        many[i].segments = 2;
        many_segs[2 * i] = seg(b, 0, 16, false);
        many_segs[2 * i + 1] = seg(b, 512, 16, true);
    }
    // Eight fit: they are added, then taken back when the ninth does not.
    report("16 chains of 2 descriptors on a 16-entry queue",
           rt::virtqueue_submit(q.value().get(), many, 16, many_segs, 32));
    rt::log("adversary: in flight: %llu bytes before the refusals, %llu after", baseline, in_flight());

    // A real read of sector 0 (§5.2.6: header, data, status), in flight ...
    auto* bytes = reinterpret_cast<volatile u8*>(data.value());
    for (u32 i = 0; i < 16; i++) bytes[i] = 0;
    bytes[1024] = 0xff;
    s[0] = seg(b, 0, 16, false);
    s[1] = seg(b, 512, 512, true);
    s[2] = seg(b, 1024, 1, true);
    abi::VirtioChain c{3, 0, 0};
    auto sent = rt::virtqueue_submit(q.value().get(), &c, 1, s, 3);
    report("read of sector 0 (allowed)", sent);
    // ... while it tries to take the queue from the broker.
    report("device reset under the live queue", rt::mmio_write(window, kStatus, 1, 0));
    report("the same queue enabled again", rt::virtqueue_create(pool, 0, 16, 0, 3));
    // ... and to change the features the broker drives the queue by:
    // dropping FEATURES_OK without a reset (ACKNOWLEDGE|DRIVER|DRIVER_OK
    // written), then the features themselves.
    report("FEATURES_OK cleared under the live queue", rt::mmio_write(window, kStatus, 1, 0x07));
    (void)rt::mmio_write(window, kDriverSelect, 4, 0);
    report("driver features written under the live queue", rt::mmio_write(window, kDriverFeature, 4, 0));
    auto ws = rt::waitset_create();
    abi::WaitEvent ev{};
    bool fired = ws.ok() && rt::waitset_add(ws.value().get(), irq, abi::kSignalReady, 1).ok() &&
                 rt::waitset_wait(ws.value().get(), &ev, 1, 5'000'000'000ull).ok();
    (void)rt::interrupt_ack(irq);
    abi::VirtioCompletion done[16] = {};
    auto taken = rt::virtqueue_complete(q.value().get(), done, 16);
    char hex[33];
    for (u32 i = 0; i < 16; i++) format(hex + 2 * i, 3, "%02x", bytes[512 + i]);
    rt::log("adversary: read of sector 0: irq0 %s, %u used, status %u, first 16 bytes %s", fired ? "fired" : "silent",
            taken.value_or(0), bytes[1024], hex);
    rt::log("adversary: in flight: %llu bytes before the read, %llu after it completed", baseline, in_flight());
    // The broker's way to reset: close the queue. Then the provider may.
    q.value().reset();
    report("device reset with no live queue", rt::mmio_write(window, kStatus, 1, 0));
    // Queues come after FEATURES_OK (virtio 1.1 §3.1.1): before it the
    // broker cannot know what the device will drive them by.
    report("a virtqueue before FEATURES_OK", rt::virtqueue_create(pool, 0, 16, 0, 1));
    virtio_setup(window, 0);
    // Once the device accepted them the features are settled, queue or not.
    (void)rt::mmio_write(window, kDriverSelect, 4, 0);
    report("driver features after FEATURES_OK", rt::mmio_write(window, kDriverFeature, 4, 0));
    // The used ring is the device's to write and mapped read-only.
    auto q2 = rt::virtqueue_create(pool, 0, 16, 0, 1);
    auto used2 = q2.ok() ? rt::virtqueue_map(q2.value().get()) : Result<u64>(q2.status());
    if (!used2.ok()) return fail("a second queue", used2.status());
    rt::log("adversary: storing into the used ring (this must fault)");
    *reinterpret_cast<volatile u16*>(used2.value() + 2) = 7;
    rt::log("adversary: a store into the used ring went through: NOT REFUSED");
    return 1;
}

int generations(u32 root) {
    auto net = open_virtio(root, 0x1000, 0x1041);
    if (!net.ok()) return fail("open the virtio-net function", net.status());
    auto pool = rt::dma_pool_create(net.value().get(), 64u << 10);
    if (!pool.ok()) return fail("virtio-net pool", pool.status());
    u64 rel = 0;
    auto win = common_window(net.value().get(), &rel);
    if (!win.ok()) return fail("virtio-net common configuration window", win.status());
    u32 w = win.value().get();
    virtio_setup(w, rel);
    auto rx = rt::virtqueue_create(pool.value().get(), 0, 16, 0xffff, 1);
    auto tx = rt::virtqueue_create(pool.value().get(), 1, 16, 0xffff, 2);
    auto buf = rt::dma_buffer_create(pool.value().get(), 4096);
    if (!rx.ok() || !tx.ok() || !buf.ok()) return fail("receive and transmit queues", tx.status());
    auto at = rt::memory_map(buf.value().get(), 0, abi::kMapWrite);
    if (!at.ok()) return fail("buffer mapping", at.status());
    (void)rt::mmio_write(w, rel + 0x14, 1, 15);  // DRIVER_OK
    rt::log("adversary: generations: receive and transmit queues live");
    // A 12-byte virtio_net_hdr (zero: no offloads) and a 60-byte broadcast frame.
    auto* bytes = reinterpret_cast<volatile u8*>(at.value());
    for (u32 i = 0; i < 72; i++) bytes[i] = i >= 12 && i < 18 ? 0xff : 0;
    abi::VirtioSegment frame{buf.value().get(), 0, 0, 72};
    auto send = [&](u32 queue) -> Result<u32> {
        abi::VirtioChain c{1, 0, 0};
        TRY(rt::virtqueue_submit(queue, &c, 1, &frame, 1));
        return c.head;
    };
    // Polled: the transmit completes at once (QEMU's user network).
    auto sent = [&](u32 queue, abi::VirtioCompletion* e) -> u32 {
        for (u32 i = 0; i < 100; i++) {
            auto n = rt::virtqueue_complete(queue, e, 1);
            if (n.ok() && n.value()) return n.value();
            rt::sleep_ns(10'000'000);
        }
        return 0;
    };

    // Another device's buffer on this queue.
    auto blk = open_virtio(root, 0x1001, 0x1042);
    auto blk_pool = blk.ok() ? rt::dma_pool_create(blk.value().get(), 16u << 10) : Result<rt::Handle>(blk.status());
    auto theirs =
        blk_pool.ok() ? rt::dma_buffer_create(blk_pool.value().get(), 4096) : Result<rt::Handle>(blk_pool.status());
    if (!theirs.ok()) return fail("a virtio-blk buffer", theirs.status());
    abi::VirtioSegment foreign{theirs.value().get(), 0, 0, 72};
    abi::VirtioChain fc{1, 0, 0};
    report("a buffer of the virtio-blk pool on the transmit queue",
           rt::virtqueue_submit(tx.value().get(), &fc, 1, &foreign, 1));

    abi::VirtioCompletion e{};
    auto head = send(tx.value().get());
    u32 n = head.ok() ? sent(tx.value().get(), &e) : 0;
    rt::log("adversary: generations: a frame on the first transmit queue: %s, %u completed, verdict %u",
            status_name(head.ok() ? Status::Ok : head.status()), n, static_cast<u32>(e.verdict));

    // Closing the receive queue resets the device: the transmit queue is
    // gone with it, and the device is the provider's to set up again.
    rx.value().reset();
    report("the transmit queue after its device was reset", send(tx.value().get()));
    report("device reset by the provider after that", rt::mmio_write(w, rel + 0x14, 1, 0));
    virtio_setup(w, rel);
    auto tx2 = rt::virtqueue_create(pool.value().get(), 1, 16, 0xffff, 2);
    report("a new transmit queue", tx2);
    if (!tx2.ok()) return 1;
    (void)rt::mmio_write(w, rel + 0x14, 1, 15);
    // The old queue goes: it must not reset the device under the new one.
    tx.value().reset();
    e = abi::VirtioCompletion{};
    auto head2 = send(tx2.value().get());
    n = head2.ok() ? sent(tx2.value().get(), &e) : 0;
    rt::log(
        "adversary: generations: a frame on the new transmit queue after the old one closed: %s, %u completed, "
        "verdict %u",
        status_name(head2.ok() ? Status::Ok : head2.status()), n, static_cast<u32>(e.verdict));
    return n == 1 ? 0 : 1;
}

// A virtio-blk device set up by a provider that polls: VERSION_1, queue 0
// of 16 entries (chains of up to 3 segments, direct, no vector), a 4 KiB
// buffer mapped, DRIVER_OK.
struct PolledBlk {
    rt::Handle queue, buffer;
    volatile u8* bytes;
};
Result<PolledBlk> polled_blk(u32 window, u32 pool) {
    virtio_setup(window, 0);
    PolledBlk p{TRY(rt::virtqueue_create(pool, 0, 16, 0xffff, 3)), TRY(rt::dma_buffer_create(pool, 4096)), nullptr};
    p.bytes = reinterpret_cast<volatile u8*>(TRY(rt::memory_map(p.buffer.get(), 0, abi::kMapWrite)));
    (void)rt::mmio_write(window, 0x14, 1, 15);  // DRIVER_OK
    return p;
}

unsigned long long pool_in_flight(u32 pool) {
    auto u = rt::dma_pool_info(pool);
    return static_cast<unsigned long long>(u.ok() ? u.value().in_flight : ~0ull);
}

int virtio_lie_holds(u32 window, u32 pool) {
    auto blk = polled_blk(window, pool);
    if (!blk.ok()) return fail("virtqueue, buffer and mapping", blk.status());
    rt::Handle& q = blk.value().queue;
    auto in_flight = [&] { return pool_in_flight(pool); };
    u32 b = blk.value().buffer.get();
    volatile u8* bytes = blk.value().bytes;
    for (u32 i = 0; i < 4096; i++) bytes[i] = 0;  // header: IN (0), sector 0
    // A read of sector 0 (§5.2.6: header, data, status), completed by polling.
    auto read = [&](u64 data_at, u64 status_at, abi::VirtioCompletion* c) -> Status {
        bytes[status_at] = 0xff;
        abi::VirtioSegment segs[3] = {abi::VirtioSegment{b, 0, 0, 16},
                                      abi::VirtioSegment{b, abi::kVirtioSegmentDeviceWrites, data_at, 512},
                                      abi::VirtioSegment{b, abi::kVirtioSegmentDeviceWrites, status_at, 1}};
        abi::VirtioChain chain{3, 0, 0};
        if (auto r = rt::virtqueue_submit(q.get(), &chain, 1, segs, 3); !r.ok()) return r.status();
        for (u32 i = 0; i < 500; i++) {
            auto n = rt::virtqueue_complete(q.get(), c, 1);
            if (!n.ok()) return n.status();
            if (n.value()) return c->id == chain.head ? Status::Ok : Status::Malformed;
            rt::sleep_ns(10'000'000);
        }
        return Status::Timeout;
    };
    unsigned long long base = in_flight();
    abi::VirtioCompletion c{};
    Status s = read(512, 1024, &c);
    rt::log("adversary: lie: a read of sector 0: %s, verdict %u, len %u; in flight %llu bytes, %llu before it",
            status_name(s), static_cast<u32>(c.verdict), c.len, in_flight(), base);
    c = abi::VirtioCompletion{};
    s = read(2048, 1025, &c);
    char hex[33];
    for (u32 i = 0; i < 16; i++) format(hex + 2 * i, 3, "%02x", bytes[2048 + i]);
    rt::log(
        "adversary: lie: a second read of sector 0: %s, verdict %u, status %u, first 16 bytes %s; in flight %llu "
        "bytes",
        status_name(s), static_cast<u32>(c.verdict), bytes[1025], hex, in_flight());
    q = rt::Handle();  // the broker resets the device: every chain of the queue comes back
    rt::log("adversary: lie: queue closed (device reset): in flight %llu bytes", in_flight());
    return 0;
}

// The virtio_net mode (see the top of the file). Markers the host looks
// for in QEMU's capture: the foreign one must never appear, the granted
// one must (it proves the capture saw this provider's frames).
constexpr char kForeignMarker[] = "SLUICE-NIC-FOREIGN-5e91c2";
constexpr char kGrantedMarker[] = "SLUICE-NIC-GRANTED-7a3c04";
constexpr u8 kOurMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};      // the scenario's -device mac=
constexpr u8 kGatewayMac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};  // slirp's 10.0.2.2
constexpr u8 kOurIp[4] = {10, 0, 2, 15}, kGatewayIp[4] = {10, 0, 2, 2};

void fill_marker(volatile u8* at, u64 bytes) {
    for (u64 i = 0; i < bytes; i++) at[i] = static_cast<u8>(kForeignMarker[i % (sizeof kForeignMarker - 1)]);
}

// A 12-byte zero virtio_net_hdr, then an Ethernet frame; returns its length.
u32 udp_frame(u8* at) {
    for (u32 i = 0; i < 12; i++) at[i] = 0;
    u8* f = at + 12;
    constexpr u32 kPayload = sizeof kGrantedMarker - 1;
    constexpr u32 kIp = 20 + 8 + kPayload;
    for (u32 i = 0; i < 6; i++) {
        f[i] = kGatewayMac[i];
        f[6 + i] = kOurMac[i];
    }
    f[12] = 0x08;
    f[13] = 0x00;
    u8 ip[20] = {0x45, 0, kIp >> 8, kIp & 0xff, 0, 0, 0, 0, 64, 17, 0, 0};
    for (u32 i = 0; i < 4; i++) {
        ip[12 + i] = kOurIp[i];
        ip[16 + i] = kGatewayIp[i];
    }
    u32 sum = 0;
    for (u32 i = 0; i < 20; i += 2) sum += u32{ip[i]} << 8 | ip[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = static_cast<u8>(~sum >> 8);
    ip[11] = static_cast<u8>(~sum);
    for (u32 i = 0; i < 20; i++) f[14 + i] = ip[i];
    // UDP 40000 -> 9 (discard), no checksum (allowed over IPv4).
    const u8 udp[8] = {0x9c, 0x40, 0, 9, (8 + kPayload) >> 8, (8 + kPayload) & 0xff, 0, 0};
    for (u32 i = 0; i < 8; i++) f[34 + i] = udp[i];
    for (u32 i = 0; i < kPayload; i++) f[42 + i] = static_cast<u8>(kGrantedMarker[i]);
    return 12 + 42 + kPayload;
}

// A 12-byte zero header, then an ARP request (RFC 826) for 10.0.2.2.
u32 arp_request(u8* at) {
    for (u32 i = 0; i < 12 + 42; i++) at[i] = 0;
    u8* f = at + 12;
    for (u32 i = 0; i < 6; i++) {
        f[i] = 0xff;
        f[6 + i] = f[22 + i] = kOurMac[i];
    }
    const u8 fixed[10] = {0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1};
    for (u32 i = 0; i < 10; i++) f[12 + i] = fixed[i];
    for (u32 i = 0; i < 4; i++) {
        f[28 + i] = kOurIp[i];
        f[38 + i] = kGatewayIp[i];
    }
    return 12 + 42;
}

int virtio_net(u32 window, u32 pool) {
    virtio_setup(window, 0);
    auto rx = rt::virtqueue_create(pool, 0, 16, 0xffff, 2);
    auto tx = rt::virtqueue_create(pool, 1, 16, 0xffff, 2);
    // Its own frames (the first page) and 16 receive buffers of 1536 bytes,
    // then a page whose bytes are the foreign marker, allocated right after.
    constexpr u64 kOwnBytes = 7 * 4096, kRxStride = 1536;
    auto own = rt::dma_buffer_create(pool, kOwnBytes);
    auto next = rt::dma_buffer_create(pool, 4096);
    auto given_back = rt::dma_buffer_create(pool, 4096);
    auto plain = rt::memory_create(4096);
    if (!rx.ok() || !tx.ok() || !own.ok() || !next.ok() || !given_back.ok() || !plain.ok())
        return fail("queues, buffers and memory", rx.ok() ? tx.status() : rx.status());
    auto own_at = rt::memory_map(own.value().get(), 0, abi::kMapWrite);
    auto next_at = rt::memory_map(next.value().get(), 0, abi::kMapWrite);
    auto back_at = rt::memory_map(given_back.value().get(), 0, abi::kMapWrite);
    auto plain_at = rt::memory_map(plain.value().get(), 0, abi::kMapWrite);
    if (!own_at.ok() || !next_at.ok() || !back_at.ok() || !plain_at.ok()) return fail("mappings", own_at.status());
    (void)rt::mmio_write(window, 0x14, 1, 15);  // DRIVER_OK
    auto* bytes = reinterpret_cast<u8*>(own_at.value());
    fill_marker(reinterpret_cast<volatile u8*>(next_at.value()), 4096);
    fill_marker(reinterpret_cast<volatile u8*>(back_at.value()), 4096);
    fill_marker(reinterpret_cast<volatile u8*>(plain_at.value()), 4096);
    u32 gone = given_back.value().get();
    (void)rt::memory_unmap(gone, back_at.value());
    given_back.value().reset();  // gone: its number names nothing now
    u32 b = own.value().get();
    u32 frame = udp_frame(bytes);
    auto in_flight = [&] { return pool_in_flight(pool); };
    unsigned long long baseline = in_flight();
    rt::log("adversary: net: queues live, in flight %llu bytes", baseline);

    // Transmit: the header from its own buffer, the frame from elsewhere.
    auto seg = [](u32 buffer, u64 offset, u64 length, bool device_writes) {
        return abi::VirtioSegment{buffer, device_writes ? abi::kVirtioSegmentDeviceWrites : 0u, offset, length};
    };
    auto send2 = [&](const char* what, u32 buffer, u64 offset) {
        abi::VirtioSegment s[2] = {seg(b, 0, 12, false), seg(buffer, offset, frame - 12, false)};
        abi::VirtioChain c{2, 0, 0};
        report(what, rt::virtqueue_submit(tx.value().get(), &c, 1, s, 2));
    };
    send2("transmit from a memory object that is no DMA buffer", plain.value().get(), 0);
    send2("transmit from a buffer it gave back", gone, 0);
    send2("transmit from a handle never given", 0x7ff0u, 0);
    send2("transmit from past its buffer's end (the next buffer)", b, kOwnBytes);
    send2("transmit running past its buffer's end", b, kOwnBytes - 16);
    send2("transmit from a kernel-looking offset", b, 0xffff800000000000ull);
    send2("transmit from an offset that wraps", b, ~0ull - 8);
    abi::VirtioSegment short_header = seg(b, 0, 11, false);
    abi::VirtioChain sc{1, 0, 0};
    report("transmit with a header one byte short", rt::virtqueue_submit(tx.value().get(), &sc, 1, &short_header, 1));

    // Receive: buffers shorter than the header the device writes first.
    auto post_rx = [&](u32 count, u64 length) {
        static abi::VirtioChain c[17];
        static abi::VirtioSegment s[17];
        for (u32 i = 0; i < count; i++) {
            c[i] = abi::VirtioChain{1, 0, 0};
            s[i] = seg(b, 4096 + i * (length <= 256 ? 256 : kRxStride), length, true);
        }
        return rt::virtqueue_submit(rx.value().get(), c, count, s, count);
    };
    report("a receive buffer of 4 bytes", post_rx(1, 4));
    report("a receive buffer of 11 bytes (one short of the header)", post_rx(1, 11));
    // More receive buffers than the ring holds.
    report("17 receive buffers on a 16-entry ring", post_rx(17, 256));
    rt::log("adversary: net: in flight %llu bytes before the refusals, %llu after", baseline, in_flight());

    // The ring filled with whole buffers (header + a full frame), then one past it.
    report("16 receive buffers of 1526 bytes", post_rx(16, 1526));
    report("one more receive buffer on the full ring", post_rx(1, 1526));

    // A frame of its own (the capture must see it), and an ARP request
    // whose reply comes back into a receive buffer.
    abi::VirtioSegment good = seg(b, 0, frame, false);
    abi::VirtioChain gc{1, 0, 0};
    report("transmit of its own frame", rt::virtqueue_submit(tx.value().get(), &gc, 1, &good, 1));
    u32 arp = arp_request(bytes + 2048);
    abi::VirtioSegment who = seg(b, 2048, arp, false);
    abi::VirtioChain ac{1, 0, 0};
    report("transmit of an ARP request for 10.0.2.2", rt::virtqueue_submit(tx.value().get(), &ac, 1, &who, 1));
    abi::VirtioCompletion done[16] = {}, transmitted[16] = {};
    u32 sent = 0, got = 0;
    for (u32 i = 0; i < 300 && (sent < 2 || got == 0); i++) {
        auto t = rt::virtqueue_complete(tx.value().get(), transmitted, 16);
        if (t.ok()) sent += t.value();
        auto r = rt::virtqueue_complete(rx.value().get(), done + got, 16 - got);
        if (r.ok()) got += r.value();
        if (sent < 2 || got == 0) rt::sleep_ns(10'000'000);
    }
    // The reply: in one of the buffers, behind its 12-byte header, an ARP
    // reply (oper 2) from 10.0.2.2 (the network may send other frames too).
    bool is_reply = false;
    for (u32 i = 0; i < got; i++) {
        if (done[i].verdict != abi::VirtioVerdict::Ok || done[i].len < 12 + 42) continue;
        for (u32 k = 0; k < 16 && !is_reply; k++) {
            const volatile u8* f = bytes + 4096 + k * kRxStride + 12;  // the device wrote it
            is_reply = f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && f[28] == 10 && f[31] == 2;
        }
    }
    rt::log("adversary: net: %u transmitted, %s received", sent,
            is_reply ? "an ARP reply from 10.0.2.2" : "NO ARP reply");
    return sent == 2 && is_reply ? 0 : 1;
}

// The accomplice: a consumer of the NVMe disk and of the adversary (both
// entries serve it) hands its NVMe channel's data buffer — the NVMe
// provider's, copied to it by the service — to the adversary, in a call
// on the adversary's own service endpoint, as any consumer may call it.
int foreign_accomplice() {
    static rt::ServiceInstance instances[4];
    auto named = [](const rt::ServiceInstance& e, const char* want) {
        u32 k = 0;
        while (want[k] && e.name[k] == want[k]) k++;
        return !want[k] && !e.name[k];
    };
    i32 disk = -1, adversary = -1;
    // devmgr answers for an instance once it has bound the function.
    for (u32 tries = 0; tries < 200 && (disk < 0 || adversary < 0); tries++) {
        if (tries) rt::sleep_ns(50'000'000);
        u32 n = rt::open_service_instances(instances, 4);
        disk = adversary = -1;
        for (u32 i = 0; i < n; i++) {
            if (named(instances[i], "disk")) disk = static_cast<i32>(i);
            if (named(instances[i], "adversary")) adversary = static_cast<i32>(i);
        }
    }
    if (disk < 0 || adversary < 0) return fail("the disk and adversary instances", Status::NotFound);
    // Static: it outlives main, so its destructor never closes the moved handle.
    static rt::BlockClient client(instances[disk].endpoint.get());
    if (auto a = client.attach(4096); !a.ok()) return fail("attach to the disk", a.status());
    abi::Message m{};
    m.handles[0] = client.data_handle();  // moved
    m.handle_count = 1;
    rt::log("adversary: accomplice: attached to the disk; handing its data buffer (the NVMe provider's) over");
    report("accomplice: handed over", rt::endpoint_call(instances[adversary].endpoint.get(), m));
    return 0;
}

int virtio_foreign(u32 window, u32 pool, u32 service) {
    abi::Message m{};
    if (auto r = rt::endpoint_receive(service, m, abi::kForever); !r.ok() || m.handle_count != 1)
        return fail("the accomplice's buffer", r.ok() ? Status::Malformed : r.status());
    rt::Handle theirs(m.handles[0]);
    abi::Message reply{};
    (void)rt::endpoint_reply(reply);
    rt::log("adversary: holding a copy of another provider's DMA buffer");

    auto blk = polled_blk(window, pool);
    if (!blk.ok()) return fail("virtqueue, buffer and mapping", blk.status());
    rt::Handle& q = blk.value().queue;
    auto in_flight = [&] { return pool_in_flight(pool); };
    unsigned long long baseline = in_flight();
    u32 b = blk.value().buffer.get();
    auto seg = [](u32 buffer, u64 offset, u64 length, bool device_writes) {
        return abi::VirtioSegment{buffer, device_writes ? abi::kVirtioSegmentDeviceWrites : 0u, offset, length};
    };
    abi::VirtioSegment alone = seg(theirs.get(), 0, 512, false);
    abi::VirtioChain c1{1, 0, 0};
    report("another provider's buffer on the virtqueue", rt::virtqueue_submit(q.get(), &c1, 1, &alone, 1));
    abi::VirtioSegment read[3] = {seg(b, 0, 16, false), seg(theirs.get(), 0, 512, true), seg(b, 1024, 1, true)};
    abi::VirtioChain c3{3, 0, 0};
    report("a read into it, with its own header and status byte", rt::virtqueue_submit(q.get(), &c3, 1, read, 3));
    rt::log("adversary: in flight: %llu bytes before the refusals, %llu after", baseline, in_flight());

    // Heads are the kernel's: two reads of sector 0, each asking for head 5.
    volatile u8* bytes = blk.value().bytes;
    for (u32 i = 0; i < 4096; i++) bytes[i] = 0;  // header: IN (0), sector 0
    bytes[1024] = 0xff;
    bytes[1025] = 0xff;
    abi::VirtioSegment two[6] = {seg(b, 0, 16, false), seg(b, 512, 512, true),  seg(b, 1024, 1, true),
                                 seg(b, 0, 16, false), seg(b, 2048, 512, true), seg(b, 1025, 1, true)};
    abi::VirtioChain chains[2] = {{3, 5, 0}, {3, 5, 0}};
    auto sent = rt::virtqueue_submit(q.get(), chains, 2, two, 6);
    rt::log("adversary: two reads of sector 0, each asking for head 5: %s, heads %u and %u",
            status_name(sent.ok() ? Status::Ok : sent.status()), chains[0].head, chains[1].head);
    abi::VirtioCompletion done[16] = {};
    u32 got = 0;
    for (u32 i = 0; i < 500 && got < 2; i++) {
        auto n = rt::virtqueue_complete(q.get(), done + got, 16 - got);
        if (n.ok()) got += n.value();
        if (got < 2) rt::sleep_ns(10'000'000);
    }
    bool exact = got == 2 && chains[0].head != chains[1].head &&
                 ((done[0].id == chains[0].head && done[1].id == chains[1].head) ||
                  (done[0].id == chains[1].head && done[1].id == chains[0].head)) &&
                 done[0].verdict == abi::VirtioVerdict::Ok && done[1].verdict == abi::VirtioVerdict::Ok;
    char hex[33];
    for (u32 i = 0; i < 16; i++) format(hex + 2 * i, 3, "%02x", bytes[2048 + i]);
    rt::log("adversary: %u completions, ids %u and %u: %s; statuses %u %u, first 16 bytes %s", got, done[0].id,
            done[1].id, exact ? "exactly the heads the kernel gave" : "NOT the heads given", bytes[1024], bytes[1025],
            hex);
    rt::log("adversary: in flight: %llu bytes at the start, %llu after the reads", baseline, in_flight());
    return exact ? 0 : 1;
}

}  // namespace

int main(u64) {
    u32 pci = rt::startup_handle("pci"), bar0 = rt::startup_handle("bar0"), irq = rt::startup_handle("irq0");
    u32 pool = rt::startup_handle("dma"), root = rt::startup_handle("devices");
    auto is = [](const char* w) { return rt::startup_args_contains(w); };
    int rc = 2;
    if (is("window"))
        rc = window(bar0, rt::startup_handle("bar0.1"));
    else if (is("filtered"))
        rc = filtered(bar0);
    else if (is("quota"))
        rc = quota(pool);
    else if (is("revoked"))
        rc = revoked(pci, bar0, irq, pool);
    else if (is("address"))
        rc = address(pci, pool);
    else if (is("broker"))
        rc = broker(pool);
    else if (is("stash"))
        rc = stash(pool);
    else if (is("foreign"))
        rc = foreign(root);
    else if (is("other_pool"))
        rc = other_pool(root);
    else if (is("io"))
        rc = io(root);
    else if (is("flood"))
        rc = flood(bar0);
    else if (is("virtio"))
        rc = virtio(rt::startup_handle("bar4"), pool, irq);
    else if (is("read_windows"))
        rc = read_windows(root, rt::startup_handle("resource"));
    else if (is("readonly"))
        rc = readonly(root);
    else if (is("ring_quota"))
        rc = ring_quota(root);
    else if (is("balloon"))
        rc = balloon(root);
    else if (is("virtio_foreign"))
        rc = virtio_foreign(rt::startup_handle("bar4"), pool, rt::startup_handle("service"));
    else if (is("virtio_net"))
        rc = virtio_net(rt::startup_handle("bar4"), pool);
    else if (is("virtio_lie_holds"))
        rc = virtio_lie_holds(rt::startup_handle("bar4"), pool);
    else if (is("foreign_accomplice"))
        rc = foreign_accomplice();
    else if (is("generations"))
        rc = generations(root);
    else
        rt::log("adversary: no attempt named in the arguments");
    rt::log("adversary: done (%d)", rc);
    return rc;
}
