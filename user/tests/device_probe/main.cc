// device_probe: a provider-shaped program with the device root (granted by
// the manifest). It lists the PCI functions, makes a filtered window of the
// NVMe controller's registers and reads CAP and VS with MmioRead (mapping
// it is refused: its first page holds ASQ and ACQ), finds each virtio
// device's common configuration through its PCI capabilities and reads the
// device features through a filtered window — then tries the forbidden
// things: windows over the MSI-X table, past the BAR, a direct window over
// NVMe's address registers, a filtered write to ASQ, a read of ASQ. Each
// must be refused with its own error.
#include "rt/log.h"
#include "rt/sys.h"

namespace {

u32 g_root;

const char* st(Status s) { return status_name(s); }

void probe_nvme(const abi::DeviceInfo& d) {
    auto fn = rt::device_open(g_root, abi::pci_bdf(d.bus, d.device, d.function));
    if (!fn.ok()) return rt::log("probe: FAILED open nvme: %s", st(fn.status()));
    auto regs = rt::mmio_create(fn.value().get(), 0, 0, 0x2000, abi::kMmioFiltered);
    if (!regs.ok()) return rt::log("probe: FAILED nvme register window: %s", st(regs.status()));
    Status map = rt::mmio_map(regs.value().get()).status();
    auto cap_read = rt::mmio_read(regs.value().get(), 0x00, 8);
    auto vs_read = rt::mmio_read(regs.value().get(), 0x08, 4);
    if (!cap_read.ok() || !vs_read.ok()) return rt::log("probe: FAILED register reads");
    u64 cap = cap_read.value();
    u32 vs = static_cast<u32>(vs_read.value());
    rt::log("probe: nvme %02x:%02x.%x CAP 0x%016llx MQES %llu TO %llu DSTRD %llu VS %u.%u.%u", d.bus, d.device,
            d.function, static_cast<unsigned long long>(cap), static_cast<unsigned long long>(cap & 0xffff),
            static_cast<unsigned long long>((cap >> 24) & 0xff), static_cast<unsigned long long>((cap >> 32) & 0xf),
            vs >> 16, (vs >> 8) & 0xff, vs & 0xff);
    // Forbidden: the MSI-X table page, past the BAR, ASQ/ACQ directly.
    Status msix = rt::mmio_create(fn.value().get(), 0, 0x2000, 0x1000, 0).status();
    Status past = rt::mmio_create(fn.value().get(), 0, 0x4000, 0x1000, 0).status();
    Status direct_regs = rt::mmio_create(fn.value().get(), 0, 0, 0x1000, 0).status();
    Status asq = rt::mmio_write(regs.value().get(), 0x28, 4, 0xdead000).status();
    Status intms = rt::mmio_write(regs.value().get(), 0x0c, 4, 0).status();
    Status read_asq = rt::mmio_read(regs.value().get(), 0x28, 8).status();
    rt::log("probe: nvme refusals: msix-window %s, past-bar %s, direct-registers %s, write-asq %s; write-intms %s",
            st(msix), st(past), st(direct_regs), st(asq), st(intms));
    rt::log("probe: nvme register window: map %s, read-asq %s", st(map), st(read_asq));
    // Doorbells are the queue broker's on the brokered lane: never direct.
    auto bells = rt::mmio_create(fn.value().get(), 0, 0x1000, 0x1000, 0);
    rt::log("probe: nvme doorbell window (direct): %s", bells.ok() ? "ok" : st(bells.status()));
    Status ring = rt::mmio_write(regs.value().get(), 0x1000, 4, 1).status();
    rt::log("probe: nvme doorbell write through the filter: %s", st(ring));
    // Windows are derived from the function's capability: revoking it
    // revokes (and unmaps) them, while the function capability itself stays.
    auto revoked = rt::revoke(fn.value().get());
    Status after = rt::mmio_map(regs.value().get()).status();
    Status write_after = rt::mmio_write(regs.value().get(), 0x0c, 4, 0).status();
    Status read_after = rt::mmio_read(regs.value().get(), 0x08, 4).status();
    Status fn_after = rt::pci_config_read(fn.value().get(), 0, 2).status();
    rt::log("probe: revoked %llu windows; register window now: map %s, write %s, read %s; function: %s",
            static_cast<unsigned long long>(revoked.value_or(0)), st(after), st(write_after), st(read_after),
            st(fn_after));
}

// Virtio 1.x §4.1.4: vendor-specific capabilities (id 0x09) describe the
// configuration structures; cfg_type 1 is the common configuration, 5 the
// PCI configuration access capability (its pci_cfg_data reads BAR memory
// through config space: refused like the registers it could reach).
void probe_virtio(const abi::DeviceInfo& d) {
    auto fn = rt::device_open(g_root, abi::pci_bdf(d.bus, d.device, d.function));
    if (!fn.ok()) return rt::log("probe: FAILED open virtio: %s", st(fn.status()));
    u32 pci = fn.value().get();
    u32 common_at = 0, pci_cfg_at = 0;
    u32 ptr = rt::pci_config_read(pci, 0x34, 1).value_or(0) & 0xfc;
    for (u32 hops = 0; ptr >= 0x40 && hops < 48; hops++) {
        u32 id = rt::pci_config_read(pci, ptr, 1).value_or(0);
        u32 next = rt::pci_config_read(pci, ptr + 1, 1).value_or(0) & 0xfc;
        u32 type = id == 0x09 ? rt::pci_config_read(pci, ptr + 3, 1).value_or(0) : 0;
        if (type == 1 && !common_at) common_at = ptr;
        if (type == 5 && !pci_cfg_at) pci_cfg_at = ptr;
        ptr = next;
    }
    if (!common_at)
        return rt::log("probe: virtio %02x:%02x.%x has no common configuration capability", d.bus, d.device,
                       d.function);
    u32 bar = rt::pci_config_read(pci, common_at + 4, 1).value_or(0);
    u32 offset = rt::pci_config_read(pci, common_at + 8, 4).value_or(0);
    u64 page = offset & ~0xfffu;
    // The common configuration holds the queue addresses: never a direct
    // window; read it through a filtered one.
    Status direct = rt::mmio_create(pci, bar, page, 0x1000, 0).status();
    auto win = rt::mmio_create(pci, bar, page, 0x1000, abi::kMmioFiltered);
    if (!win.ok()) return rt::log("probe: FAILED virtio window: %s", st(win.status()));
    u64 rel = offset - page;
    (void)rt::mmio_write(win.value().get(), rel + 0x00, 4, 0);  // device_feature_select
    u32 lo = static_cast<u32>(rt::mmio_read(win.value().get(), rel + 0x04, 4).value_or(0));
    (void)rt::mmio_write(win.value().get(), rel + 0x00, 4, 1);
    u32 hi = static_cast<u32>(rt::mmio_read(win.value().get(), rel + 0x04, 4).value_or(0));
    Status desc = rt::mmio_write(win.value().get(), rel + 0x20, 4, 0x1000).status();  // queue_desc
    Status enable = rt::mmio_write(win.value().get(), rel + 0x1c, 2, 1).status();     // queue_enable
    Status cfg_data = pci_cfg_at ? rt::pci_config_read(pci, pci_cfg_at + 16, 4).status() : Status::NotFound;
    rt::log(
        "probe: virtio %04x:%04x at %02x:%02x.%x common cfg bar%u+0x%x features 0x%08x%08x%s; direct %s, "
        "queue-desc %s, queue-enable %s, pci-cfg-data %s",
        d.vendor, d.device_id, d.bus, d.device, d.function, bar, offset, hi, lo, (hi & 1) ? " (VERSION_1)" : "",
        st(direct), st(desc), st(enable), st(cfg_data));
}

}  // namespace

int main(u64) {
    g_root = rt::startup_handle("devices");
    static abi::DeviceInfo list[64];
    auto n = rt::device_list(g_root, list, 64);
    if (!n.ok()) {
        rt::log("probe: FAILED device_list: %s", st(n.status()));
        return 1;
    }
    rt::log("probe: %u PCI functions", n.value());
    for (u32 i = 0; i < n.value(); i++) {
        const abi::DeviceInfo& d = list[i];
        if (d.class_code == 0x01 && d.subclass == 0x08 && d.prog_if == 0x02)
            probe_nvme(d);
        else if (d.vendor == 0x1af4)
            probe_virtio(d);
    }
    Status no_such = rt::device_open(g_root, abi::pci_bdf(0xfe, 31, 7)).status();
    rt::log("probe: opening an absent function: %s", st(no_such));
    return 0;
}
