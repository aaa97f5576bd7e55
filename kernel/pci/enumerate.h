// PCI enumeration at boot: walks every bus reachable from the root bus
// through bridges, sizes BARs, decodes MSI/MSI-X, and keeps the result
// for the device manager (later issue). One log line per function:
//   pci BB:DD.F vvvv:dddd class cc.ss.pp rev rr
// followed by its BARs and interrupt capabilities (the scenario harness
// compares these lines with QEMU's own view over QMP).
#pragma once

#include "devices/virtio_pci.h"
#include "devices/window_policy.h"
#include "pci/bar.h"
#include "pci/config_space.h"
#include "pci/ecam.h"
#include "pci/msi.h"
#include "pci/msix.h"

namespace pci_enum {

struct Function {
    ecam::Address address;
    pci::FunctionHeader header;
    pci::Bar bars[6];
    bool has_msix, has_msi, is_pcie;
    pci::MsixInfo msix;
    pci::MsiInfo msi;
    // Where its address-carrying registers are (never in a direct window).
    devices::RegisterMap registers;
    // virtio: where queue notifications are written (the queue broker's).
    bool has_virtio_notify;
    devices::VirtioRegion virtio_notify;
    // virtio: pci_cfg_data's offset in configuration space (never read by
    // a holder: devices/config_policy.h); 0 for none.
    u16 virtio_pci_cfg_data;
};

// Enumerates and logs; returns the number of functions found. Bus
// mastering is switched off on every endpoint function (firmware may have
// left it on): only the kernel turns it on, with a DMA grant.
Result<u32> enumerate();
u32 count();
const Function& function(u32 index);

}  // namespace pci_enum
