#include "devices/config_policy.h"

namespace devices {
namespace {

bool overlaps(u16 offset, u32 width, u16 start, u16 end) { return offset < end && offset + width > start; }

}  // namespace

bool config_read_reveals_address(u8 header_type, const pci::MsiInfo* msi, u16 offset, u32 width,
                                 u16 virtio_pci_cfg_data) {
    if (virtio_pci_cfg_data && overlaps(offset, width, virtio_pci_cfg_data, virtio_pci_cfg_data + 4)) return true;
    if ((header_type & 0x7f) == 1) {
        if (overlaps(offset, width, 0x10, 0x18) || overlaps(offset, width, 0x1C, 0x1E) ||
            overlaps(offset, width, 0x20, 0x34) || overlaps(offset, width, 0x38, 0x3C))
            return true;
    } else if (overlaps(offset, width, 0x10, 0x28) || overlaps(offset, width, 0x30, 0x34)) {
        return true;
    }
    if (msi && msi->address_offset) {
        if (overlaps(offset, width, msi->address_offset, msi->address_offset + 4)) return true;
        if (msi->upper_address_offset &&
            overlaps(offset, width, msi->upper_address_offset, msi->upper_address_offset + 4))
            return true;
    }
    return false;
}

}  // namespace devices
