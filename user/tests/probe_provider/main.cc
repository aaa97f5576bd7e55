// probe_provider: started by devmgr for one PCI function with the grants
// its manifest entry names ("pci": config reads only; "barN": windows;
// "irqN": MSI-X vectors; "dma": a DmaPool). It reads identifying registers
// — NVMe CAP and VS through a filtered bar0 window, or a virtio device's
// features through its common configuration in a filtered bar4 window —
// and checks that it holds no more authority than granted (it cannot open
// other functions or create windows). With a pool it allocates, maps and
// fills DMA buffers; on NVMe with a pool and irq0 it has the kernel's queue
// broker run Identify Controller into one of them and waits for the MSI-X
// interrupt that command causes.
#include "abi/nvme.h"
#include "rt/log.h"
#include "rt/sys.h"

namespace {

void probe_dma(u32 pool) {
    u64 sizes[] = {4096, 4096, 8192, 3000};
    u32 mapped = 0;
    for (u64 size : sizes) {
        auto b = rt::dma_buffer_create(pool, size);
        if (!b.ok()) return rt::log("provider: dma buffer of %llu bytes: %s", static_cast<unsigned long long>(size), status_name(b.status()));
        auto at = rt::memory_map(b.value().get(), 0, abi::kMapWrite);
        if (!at.ok()) return rt::log("provider: dma buffer map: %s", status_name(at.status()));
        auto* words = reinterpret_cast<volatile u64*>(at.value());
        bool zeroed = true;
        for (u64 i = 0; i < size / 8; i++) zeroed &= words[i] == 0;
        for (u64 i = 0; i < size / 8; i++) words[i] = i * 0x9e3779b97f4a7c15ull;
        bool kept = true;
        for (u64 i = 0; i < size / 8; i++) kept &= words[i] == i * 0x9e3779b97f4a7c15ull;
        if (zeroed && kept) mapped++;
        (void)b.value().release();  // kept until exit: teardown frees them
    }
    auto u = rt::dma_pool_info(pool);
    if (!u.ok()) return rt::log("provider: dma pool info: %s", status_name(u.status()));
    rt::log("provider: dma %u buffers allocated zeroed, mapped and written; pool %llu of %llu KiB used, %u ranges", mapped,
            static_cast<unsigned long long>(u.value().used >> 10), static_cast<unsigned long long>(u.value().quota >> 10),
            u.value().ranges);
}

// Copies a space-padded ASCII field of the Identify data.
void field(const volatile u8* data, u32 offset, u32 len, char* out) {
    u32 n = 0;
    for (u32 i = 0; i < len; i++) out[n++] = data[offset + i] >= 0x20 && data[offset + i] < 0x7f ? data[offset + i] : '?';
    while (n && out[n - 1] == ' ') n--;
    out[n] = 0;
}

void probe_nvme_identify(u32 pool, u32 irq) {
    auto queue = rt::nvme_queue_create(pool, abi::NvmeQueueKind::Admin, 16);
    if (!queue.ok()) return rt::log("provider: nvme admin queue: %s", status_name(queue.status()));
    auto cq_at = rt::nvme_queue_map(queue.value().get());
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
    abi::WaitEvent ev{};
    auto woke = rt::waitset_wait(ws.value().get(), &ev, 1, 5'000'000'000ull);
    if (!woke.ok() || !(ev.signals & abi::kSignalReady))
        return rt::log("provider: nvme identify: no interrupt (%s)", woke.ok() ? "dead" : status_name(woke.status()));
    auto pending = rt::interrupt_ack(irq);
    // The completion entry, read from the read-only mapped queue: command
    // id in bits 15:0 and status in 31:17 of dword 3 (NVMe 1.4 §4.6).
    auto* cqe = reinterpret_cast<const volatile u32*>(cq_at.value());
    u16 cid = cqe[3] & 0xffff;
    u16 status = (cqe[3] >> 17) & 0x7fff;
    auto consumed = rt::nvme_complete(queue.value().get(), 1);
    const auto* data = reinterpret_cast<const volatile u8*>(data_at.value());
    char serial[21], model[41];
    field(data, 4, 20, serial);
    field(data, 24, 40, model);
    rt::log("provider: nvme interrupt irq0 received (%llu pending); completion cid %u status 0x%x, %u consumed",
            static_cast<unsigned long long>(pending.value_or(0)), cid, status, consumed.value_or(0));
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
        rt::log("provider: nvme identify cid 4 left in flight (%s), its buffer closed: %llu bytes in flight, %u frees "
                "deferred",
                again.ok() ? "submitted" : status_name(again.status()),
                static_cast<unsigned long long>(u.ok() ? u.value().in_flight : 0), u.ok() ? u.value().deferred : 0);
    }
    (void)queue.value().release();  // the controller keeps its queues until teardown
    (void)buffer.value().release();
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
        auto at = rt::mmio_map(bar0);
        if (!at.ok()) return 1;
        auto* r = reinterpret_cast<volatile u32*>(at.value());
        rt::log("provider: nvme CAP.MQES %u VS %u.%u", r[0] & 0xffff, r[2] >> 16, (r[2] >> 8) & 0xff);
    }
    if (u32 bar4 = rt::startup_handle("bar4")) {
        auto at = rt::mmio_map(bar4);
        if (!at.ok()) return 1;
        auto* common = reinterpret_cast<volatile u32*>(at.value());
        (void)rt::mmio_write(bar4, 0x00, 4, 1);  // device_feature_select: features 32..63 (filtered write)
        rt::log("provider: virtio features[32..63] 0x%08x (VERSION_1 %s)", common[1], (common[1] & 1) ? "set" : "clear");
    }
    u32 pool = rt::startup_handle("dma");
    if (pool) probe_dma(pool);
    u32 irq0 = rt::startup_handle("irq0");
    bool nvme = klass == 0x010802;
    if (pool && irq0 && nvme) probe_nvme_identify(pool, irq0);
    // "hold": stay alive (a teardown test kills us with DMA buffers and an
    // admin command in flight).
    if (rt::startup_args_contains("hold")) {
        rt::log("provider: holding");
        for (;;) rt::sleep_ns(1'000'000'000ull);
    }
    return 0;
}
