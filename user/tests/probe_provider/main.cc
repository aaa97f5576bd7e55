// probe_provider: started by devmgr for one PCI function with the grants
// its manifest entry names ("pci": config reads only; "barN": windows).
// It reads identifying registers — NVMe CAP and VS through a filtered
// bar0 window, or a virtio device's features through its common
// configuration in a filtered bar4 window — and checks that it holds no more
// authority than granted (it cannot open other functions or create windows).
#include "rt/log.h"
#include "rt/sys.h"

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
    return 0;
}
