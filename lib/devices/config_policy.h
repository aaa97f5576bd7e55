// Which configuration-space registers a PciFunction holder may read
// (DESIGN §4: no operation returns a host-physical or device-visible
// address). Reads are otherwise free — IDs, class, capabilities, status —
// but registers that hold addresses are refused:
//   type 0 header: the BARs (0x10-0x27) and the expansion ROM BAR (0x30);
//   type 1 header (bridges): BAR0/1 (0x10-0x17), the I/O window (0x1C-0x1D
//     and its upper halves 0x30-0x33), the memory and prefetchable windows
//     with their upper halves (0x20-0x2F), and the expansion ROM BAR (0x38);
//   MSI: the message address (and upper address) the kernel programs;
//   virtio: pci_cfg_data of the PCI configuration access capability (it
//     reads BAR memory — any register, ring addresses included — wherever
//     the capability points; virtio 1.1 §4.1.4.7).
// DeviceList describes BARs by kind and size; nothing needs the address.
#pragma once

#include "pci/msi.h"
#include "util/types.h"

namespace devices {

// Does the read [offset, offset + width) touch an address register?
// `virtio_pci_cfg_data`: where a virtio function's pci_cfg_data is
// (devices::find_virtio_pci_cfg_data), 0 for none.
bool config_read_reveals_address(u8 header_type, const pci::MsiInfo* msi, u16 offset, u32 width,
                                 u16 virtio_pci_cfg_data = 0);

}  // namespace devices
