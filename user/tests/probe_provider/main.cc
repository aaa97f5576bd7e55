// probe_provider: started by devmgr for one PCI function with the grants
// its manifest entry names ("pci": config reads only; "barN": windows;
// "irqN": MSI-X vectors; "dma": a DmaPool). It reads identifying registers
// — NVMe CAP and VS through a filtered bar0 window, or a virtio device's
// features through its common configuration in a filtered bar4 window,
// both with MmioRead (neither window is mappable: their pages hold
// registers that carry device addresses) —
// and checks that it holds no more authority than granted (it cannot open
// other functions or create windows). With a pool it allocates, maps and
// fills DMA buffers; on NVMe with a pool and irq0 it has the kernel's queue
// broker run Identify Controller into one of them and waits for the MSI-X
// interrupt that command causes. On virtio with a pool and vectors it has
// the kernel's virtqueue broker run one request — virtio-blk reads sector
// 0, virtio-net sends an ARP request for the gateway and receives the
// reply — and takes the interrupts those cause. With "bulk" on virtio-blk
// it runs virtio_bulk.cc instead (long chains, notification counts).
#include "abi/nvme.h"
#include "abi/virtio.h"
#include "nvme/command.h"
#include "rt/log.h"
#include "rt/sys.h"
#include "util/format.h"

namespace probe {
// virtio_bulk.cc: long chains and notification counts on virtio-blk.
void virtio_blk_bulk(u32 pci, u32 window, u32 pool, u32 irq, bool indirect, bool event_idx);
// nvme_model_b.cc: the admin queue in its own memory on the remapped lane.
void nvme_model_b(u32 regs, u32 doorbells, u32 pool);
}  // namespace probe

namespace {

// The remapped lane (Model B): each buffer's IOVA, as the provider would
// write it into its own queues. All above physical memory (4 GiB here),
// page aligned and apart from each other.
void report_iovas(const u64 (&iova)[4], const u64 (&sizes)[4]) {
    bool apart = true, aligned = true, high = true;
    for (u32 i = 0; i < 4; i++) {
        aligned &= (iova[i] & 4095) == 0;
        high &= iova[i] >= (4ull << 30);
        for (u32 k = 0; k < i; k++)
            apart &= iova[i] >= iova[k] + ((sizes[k] + 4095) & ~4095ull) ||
                     iova[k] >= iova[i] + ((sizes[i] + 4095) & ~4095ull);
    }
    rt::log("provider: remapped lane: buffers at IOVAs 0x%llx 0x%llx 0x%llx 0x%llx: %s, %s, %s",
            static_cast<unsigned long long>(iova[0]), static_cast<unsigned long long>(iova[1]),
            static_cast<unsigned long long>(iova[2]), static_cast<unsigned long long>(iova[3]),
            high ? "above 4 GiB" : "NOT above 4 GiB", aligned ? "page aligned" : "NOT page aligned",
            apart ? "apart" : "OVERLAPPING");
}

void probe_dma(u32 pool) {
    u64 sizes[4] = {4096, 4096, 8192, 3000};
    u64 iova[4] = {};
    auto lane = rt::dma_pool_info(pool);
    const bool remapped = lane.ok() && lane.value().lane == abi::kDmaLaneRemapped;
    u32 mapped = 0, n = 0;
    for (u64 size : sizes) {
        auto b = rt::dma_buffer_create(pool, size);
        if (!b.ok())
            return rt::log("provider: dma buffer of %llu bytes: %s", static_cast<unsigned long long>(size),
                           status_name(b.status()));
        auto at = rt::memory_map(b.value().get(), 0, abi::kMapWrite);
        if (!at.ok()) return rt::log("provider: dma buffer map: %s", status_name(at.status()));
        auto* words = reinterpret_cast<volatile u64*>(at.value());
        bool zeroed = true;
        for (u64 i = 0; i < size / 8; i++) zeroed &= words[i] == 0;
        for (u64 i = 0; i < size / 8; i++) words[i] = i * 0x9e3779b97f4a7c15ull;
        bool kept = true;
        for (u64 i = 0; i < size / 8; i++) kept &= words[i] == i * 0x9e3779b97f4a7c15ull;
        if (zeroed && kept) mapped++;
        if (remapped) {
            auto at_device = rt::dma_buffer_address(b.value().get());
            if (!at_device.ok()) return rt::log("provider: dma buffer address: %s", status_name(at_device.status()));
            iova[n] = at_device.value();
        }
        n++;
        (void)b.value().release();  // kept until exit: teardown frees them
    }
    if (remapped) report_iovas(iova, sizes);
    auto u = rt::dma_pool_info(pool);
    if (!u.ok()) return rt::log("provider: dma pool info: %s", status_name(u.status()));
    rt::log("provider: dma %u buffers allocated zeroed, mapped and written; pool %llu of %llu KiB used, %u ranges",
            mapped, static_cast<unsigned long long>(u.value().used >> 10),
            static_cast<unsigned long long>(u.value().quota >> 10), u.value().ranges);
}

void probe_nvme_identify(u32 pool, u32 irq) {
    auto queue = rt::nvme_admin_queue_create(pool, 16);
    if (!queue.ok()) return rt::log("provider: nvme admin queue: %s", status_name(queue.status()));
    auto cq_at = rt::nvme_queue_map(queue.value().get());  // read-only: checked below only for mapping
    auto buffer = rt::dma_buffer_create(pool, 4096);
    auto ws = rt::waitset_create();
    if (!cq_at.ok() || !buffer.ok() || !ws.ok()) return rt::log("provider: nvme identify setup failed");
    auto data_at = rt::memory_map(buffer.value().get(), 0, 0);
    if (!data_at.ok() || !rt::waitset_add(ws.value().get(), irq, abi::kSignalReady | abi::kSignalDead, 1).ok())
        return rt::log("provider: nvme identify setup failed");
    abi::NvmeCommand identify{};
    identify.opcode = 0x06;  // Identify
    identify.cid = 3;
    identify.cdw10 = 1;  // CNS 01h: the controller
    identify.buffer = buffer.value().get();
    identify.length = 4096;
    auto sent = rt::nvme_submit(queue.value().get(), &identify, 1);
    if (!sent.ok()) return rt::log("provider: nvme submit: %s", status_name(sent.status()));
    // Interrupts until the completion arrives (the broker's own bring-up
    // commands may have left one pending); the kernel copies out checked
    // completions.
    abi::NvmeCompletion done{};
    u32 consumed = 0;
    u64 pending = 0;
    for (int round = 0; round < 4 && !consumed; round++) {
        abi::WaitEvent ev{};
        auto woke = rt::waitset_wait(ws.value().get(), &ev, 1, 5'000'000'000ull);
        if (!woke.ok() || !(ev.signals & abi::kSignalReady))
            return rt::log("provider: nvme identify: no interrupt (%s)",
                           woke.ok() ? "dead" : status_name(woke.status()));
        pending += rt::interrupt_ack(irq).value_or(0);
        consumed = rt::nvme_complete(queue.value().get(), &done, 1).value_or(0);
    }
    u16 cid = done.cid;
    u16 status = done.status;
    const auto* data = reinterpret_cast<const volatile u8*>(data_at.value());
    char serial[21], model[41];
    nvme::identify_string(const_cast<const u8*>(data), 4, 20, serial);
    nvme::identify_string(const_cast<const u8*>(data), 24, 40, model);
    rt::log("provider: nvme interrupt irq0 received (%llu pending); completion cid %u status 0x%x, %u consumed",
            static_cast<unsigned long long>(pending), cid, status, consumed);
    rt::log("provider: nvme identify: serial '%s' model '%s' vid 0x%04x", serial, model, data[0] | data[1] << 8);
    if (rt::startup_args_contains("hold")) {
        // Leave a command in flight (its completion never acknowledged) and
        // drop the only handle to its buffer: the kernel must defer that
        // buffer's frames until the device is stopped.
        auto second = rt::dma_buffer_create(pool, 4096);
        if (!second.ok()) return rt::log("provider: second buffer: %s", status_name(second.status()));
        identify.cid = 4;
        identify.buffer = second.value().get();
        auto again = rt::nvme_submit(queue.value().get(), &identify, 1);
        second.value().reset();
        auto u = rt::dma_pool_info(pool);
        rt::log(
            "provider: nvme identify cid 4 left in flight (%s), its buffer closed: %llu bytes in flight, %u frees "
            "deferred",
            again.ok() ? "submitted" : status_name(again.status()),
            static_cast<unsigned long long>(u.ok() ? u.value().in_flight : 0), u.ok() ? u.value().deferred : 0);
    }
    (void)queue.value().release();  // the controller keeps its queues until teardown
    (void)buffer.value().release();
}

// --- virtio: one request through the kernel's virtqueue broker -------------

// virtio 1.1 §4.1.4.3 common configuration, read with MmioRead and written
// with MmioWrite through the filtered window.
constexpr u64 kDeviceFeatureSelect = 0x00, kDeviceFeature = 0x04, kDriverFeatureSelect = 0x08, kDriverFeature = 0x0c,
              kDeviceStatus = 0x14;
constexpr u8 kAcknowledge = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8;

u64 read_reg(u32 window, u64 offset, u32 width) { return rt::mmio_read(window, offset, width).value_or(~0ull); }

// Reset, then negotiate VERSION_1 only (§3.1.1) — and ACCESS_PLATFORM when
// offered (a device behind an IOMMU refuses FEATURES_OK without it).
// Returns the status byte.
u8 virtio_handshake(u32 window) {
    (void)rt::mmio_write(window, kDeviceStatus, 1, 0);
    for (u32 i = 0; i < 1000 && read_reg(window, kDeviceStatus, 1) != 0; i++) rt::sleep_ns(100'000);
    (void)rt::mmio_write(window, kDeviceStatus, 1, kAcknowledge);
    (void)rt::mmio_write(window, kDeviceStatus, 1, kAcknowledge | kDriver);
    (void)rt::mmio_write(window, kDeviceFeatureSelect, 4, 1);
    const u64 taken = read_reg(window, kDeviceFeature, 4) & 3;  // bits 32 and 33
    (void)rt::mmio_write(window, kDriverFeatureSelect, 4, 1);
    (void)rt::mmio_write(window, kDriverFeature, 4, taken);
    (void)rt::mmio_write(window, kDriverFeatureSelect, 4, 0);
    (void)rt::mmio_write(window, kDriverFeature, 4, 0);
    (void)rt::mmio_write(window, kDeviceStatus, 1, kAcknowledge | kDriver | kFeaturesOk);
    return static_cast<u8>(read_reg(window, kDeviceStatus, 1));
}

struct Waiter {
    rt::Handle ws;
    bool wait(u32 irq, u64 key) {
        if (!ws) {
            auto made = rt::waitset_create();
            if (!made.ok()) return false;
            ws = static_cast<rt::Handle&&>(made.value());
        }
        if (!rt::waitset_add(ws.get(), irq, abi::kSignalReady | abi::kSignalDead, key).ok()) return false;
        abi::WaitEvent ev{};
        auto woke = rt::waitset_wait(ws.get(), &ev, 1, 5'000'000'000ull);
        (void)rt::waitset_remove(ws.get(), key);
        return woke.ok() && ev.key == key && (ev.signals & abi::kSignalReady);
    }
};

// The used ring through its read-only mapping: idx at +2.
struct UsedRing {
    const volatile u8* base;
    u16 idx() const { return *reinterpret_cast<const volatile u16*>(base + 2); }
};

// One chain of `n` segments: returns its head.
Result<u16> submit_one(u32 queue, const abi::VirtioSegment* segments, u16 n) {
    abi::VirtioChain chain{n, 0, 0};
    TRY(rt::virtqueue_submit(queue, &chain, 1, segments, n));
    return chain.head;
}

abi::VirtioSegment segment(u32 buffer, u64 offset, u64 length, bool device_writes) {
    return abi::VirtioSegment{buffer, device_writes ? abi::kVirtioSegmentDeviceWrites : 0u, offset, length};
}

// virtio-blk (§5.2.6): read sector 0 and show its first 16 bytes (the
// harness checks them against the disk image it wrote).
void probe_virtio_blk(u32 window, u32 pool, u32 irq0) {
    u8 status = virtio_handshake(window);
    auto q = rt::virtqueue_create(pool, 0, 16, 0, 3);
    auto used_at = q.ok() ? rt::virtqueue_map(q.value().get()) : Result<u64>(q.status());
    auto b = rt::dma_buffer_create(pool, 4096);
    if (!q.ok() || !used_at.ok() || !b.ok()) return rt::log("provider: virtio-blk queue: %s", status_name(q.status()));
    (void)rt::mmio_write(window, kDeviceStatus, 1, status | kDriverOk);
    auto data = rt::memory_map(b.value().get(), 0, abi::kMapWrite);
    if (!data.ok()) return;
    auto* bytes = reinterpret_cast<volatile u8*>(data.value());
    for (u32 i = 0; i < 16; i++) bytes[i] = 0;  // header: type 0 (read), sector 0
    bytes[1024] = 0xff;                         // status, until the device writes it
    const abi::VirtioSegment segs[3] = {segment(b.value().get(), 0, 16, false),
                                        segment(b.value().get(), 512, 512, true),
                                        segment(b.value().get(), 1024, 1, true)};
    auto head = submit_one(q.value().get(), segs, 3);
    if (!head.ok()) return rt::log("provider: virtio-blk submit: %s", status_name(head.status()));
    Waiter w;
    bool got = w.wait(irq0, 10);
    auto pending = rt::interrupt_ack(irq0);
    UsedRing used{reinterpret_cast<const volatile u8*>(used_at.value())};
    abi::VirtioCompletion e[16] = {};
    auto consumed = rt::virtqueue_complete(q.value().get(), e, 16);
    char hex[33];
    for (u32 i = 0; i < 16; i++) format(hex + 2 * i, 3, "%02x", bytes[512 + i]);
    rt::log(
        "provider: virtio-blk interrupt irq0 %s (%llu pending); used idx %u id %u (head %u) len %u, %u consumed; "
        "status %u",
        got ? "received" : "NOT received", static_cast<unsigned long long>(pending.value_or(0)), used.idx(), e[0].id,
        head.value(), e[0].len, consumed.value_or(0), bytes[1024]);
    rt::log("provider: virtio-blk sector 0 begins %s", hex);
    (void)q.value().release();  // until teardown
}

// virtio-net (§5.1.6): post a receive buffer, send an ARP request for the
// user-mode network's gateway (10.0.2.2), take the transmit interrupt, then
// the gateway's reply.
void probe_virtio_net(u32 window, u32 pool, u32 irq0, u32 irq1) {
    u8 status = virtio_handshake(window);
    auto rxq = rt::virtqueue_create(pool, 0, 16, 0, 1);
    auto txq = rt::virtqueue_create(pool, 1, 16, 1, 1);
    auto rx = rt::dma_buffer_create(pool, 4096), tx = rt::dma_buffer_create(pool, 4096);
    if (!rxq.ok() || !txq.ok() || !rx.ok() || !tx.ok())
        return rt::log("provider: virtio-net queues: %s %s", status_name(rxq.status()), status_name(txq.status()));
    auto rx_used_at = rt::virtqueue_map(rxq.value().get());
    auto rx_at = rt::memory_map(rx.value().get(), 0, 0);
    auto tx_at = rt::memory_map(tx.value().get(), 0, abi::kMapWrite);
    if (!rx_used_at.ok() || !rx_at.ok() || !tx_at.ok()) return;
    (void)rt::mmio_write(window, kDeviceStatus, 1, status | kDriverOk);
    abi::VirtioSegment post = segment(rx.value().get(), 0, 2048, true);
    (void)submit_one(rxq.value().get(), &post, 1);
    // 12-byte virtio_net_hdr (all zero: no offloads), then the frame.
    static const u8 kFrame[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12,
                                  0x34, 0x56, 0x08, 0x06,                                    // ethernet, ARP
                                  0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01,            // request
                                  0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10,   0,    2,    15,  // sender
                                  0,    0,    0,    0,    0,    0,    10,   0,    2,    2};  // target: 10.0.2.2
    auto* out = reinterpret_cast<volatile u8*>(tx_at.value());
    for (u32 i = 0; i < 12; i++) out[i] = 0;
    for (u32 i = 0; i < sizeof kFrame; i++) out[12 + i] = kFrame[i];
    abi::VirtioSegment send = segment(tx.value().get(), 0, 12 + sizeof kFrame, false);
    auto sent = submit_one(txq.value().get(), &send, 1);
    if (!sent.ok()) return rt::log("provider: virtio-net submit: %s", status_name(sent.status()));
    Waiter w;
    bool tx_irq = w.wait(irq1, 11);
    (void)rt::interrupt_ack(irq1);
    abi::VirtioCompletion done[16];
    auto tx_done = rt::virtqueue_complete(txq.value().get(), done, 16);
    rt::log("provider: virtio-net transmit interrupt irq1 %s; %u sent frames completed",
            tx_irq ? "received" : "NOT received", tx_done.value_or(0));
    bool rx_irq = w.wait(irq0, 12);
    (void)rt::interrupt_ack(irq0);
    abi::VirtioCompletion e[16] = {};
    auto rx_done = rt::virtqueue_complete(rxq.value().get(), e, 16);
    const volatile u8* f = reinterpret_cast<const volatile u8*>(rx_at.value()) + 12;
    bool arp_reply = e[0].len >= 12 + 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2;
    rt::log(
        "provider: virtio-net receive interrupt irq0 %s; %u frames, %u bytes: %s %u.%u.%u.%u is-at "
        "%02x:%02x:%02x:%02x:%02x:%02x",
        rx_irq ? "received" : "NOT received", rx_done.value_or(0), e[0].len, arp_reply ? "ARP reply" : "not ARP", f[28],
        f[29], f[30], f[31], f[22], f[23], f[24], f[25], f[26], f[27]);
    (void)rxq.value().release();
    (void)txq.value().release();
}

}  // namespace

int main(u64) {
    u32 pci = rt::startup_handle("pci");
    u32 vendor = rt::pci_config_read(pci, 0, 2).value_or(0xffff);
    u32 device = rt::pci_config_read(pci, 2, 2).value_or(0xffff);
    u32 klass = rt::pci_config_read(pci, 8, 4).value_or(0) >> 8;
    Status widen = rt::mmio_create(pci, 0, 0, 0x1000, abi::kMmioFiltered).status();
    rt::log("provider: %04x:%04x class %06x; creating a window without the manage right: %s", vendor, device, klass,
            status_name(widen));
    if (u32 bar0 = rt::startup_handle("bar0")) {
        auto cap = rt::mmio_read(bar0, 0x00, 4), vs = rt::mmio_read(bar0, 0x08, 4);
        if (!cap.ok() || !vs.ok()) return 1;
        rt::log("provider: nvme CAP.MQES %llu VS %llu.%llu", static_cast<unsigned long long>(cap.value() & 0xffff),
                static_cast<unsigned long long>(vs.value() >> 16),
                static_cast<unsigned long long>((vs.value() >> 8) & 0xff));
    }
    u32 bar4 = rt::startup_handle("bar4");
    if (bar4) {
        (void)rt::mmio_write(bar4, 0x00, 4, 1);  // device_feature_select: features 32..63 (filtered write)
        auto features = rt::mmio_read(bar4, 0x04, 4);
        if (!features.ok()) return 1;
        rt::log("provider: virtio features[32..63] 0x%08llx (VERSION_1 %s)",
                static_cast<unsigned long long>(features.value()), (features.value() & 1) ? "set" : "clear");
    }
    u32 pool = rt::startup_handle("dma");
    auto arg = [](const char* w) { return rt::startup_args_contains(w); };
    if (arg("bulk") && pool && bar4) {
        probe::virtio_blk_bulk(pci, bar4, pool, rt::startup_handle("irq0"), arg("indirect"), arg("event_idx"));
        rt::log("provider: bulk: done");
        for (;;) rt::sleep_ns(1'000'000'000ull);  // holds its queue until the end
    }
    if (pool) probe_dma(pool);
    u32 irq0 = rt::startup_handle("irq0"), irq1 = rt::startup_handle("irq1");
    bool nvme = klass == 0x010802;
    if (pool && irq0 && nvme) probe_nvme_identify(pool, irq0);
    // "model_b": the remapped lane, driven by the provider itself (bar0: the
    // registers, bar0.1: the doorbells).
    if (pool && nvme && arg("model_b"))
        probe::nvme_model_b(rt::startup_handle("bar0"), rt::startup_handle("bar0.1"), pool);
    if (pool && irq0 && bar4 && vendor == 0x1af4 && (device == 0x1001 || device == 0x1042))
        probe_virtio_blk(bar4, pool, irq0);
    if (pool && irq0 && irq1 && bar4 && vendor == 0x1af4 && (device == 0x1000 || device == 0x1041))
        probe_virtio_net(bar4, pool, irq0, irq1);
    // "hold": stay alive (a teardown test kills us with DMA buffers and an
    // admin command in flight).
    if (rt::startup_args_contains("hold")) {
        rt::log("provider: holding");
        for (;;) rt::sleep_ns(1'000'000'000ull);
    }
    return 0;
}
