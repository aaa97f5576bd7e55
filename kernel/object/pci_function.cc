#include "object/pci_function.h"

#include "devices/config_policy.h"
#include "mm/paging.h"

namespace object {

PciFunction::PciFunction(u32 index) : Object(kType), m_index(index) {}

Result<volatile u8*> PciFunction::kernel_view(u32 function_index, u8 bar) {
    constexpr u32 kMaxFunctions = 256;
    static volatile u8* views[kMaxFunctions][6];
    if (function_index >= kMaxFunctions || bar >= 6) return Status::OutOfBounds;
    volatile u8*& view = views[function_index][bar];
    if (!view) {
        const pci::Bar& b = pci_enum::function(function_index).bars[bar];
        if (b.address == 0 || b.size == 0) return Status::Unsupported;
        view = static_cast<volatile u8*>(TRY(paging::map_mmio(b.address, b.size)));
    }
    return view;
}

Result<u32> PciFunction::config_read(u16 offset, u32 width) const {
    if ((width != 1 && width != 2 && width != 4) || offset >= 4096 || (offset & (width - 1)))
        return Status::InvalidArgument;
    const pci_enum::Function& f = function();
    if (devices::config_read_reveals_address(f.header.header_type, f.has_msi ? &f.msi : nullptr, offset, width,
                                             f.virtio_pci_cfg_data))
        return Status::NoRights;
    u32 dword = TRY(ecam::read32(function().address, offset & ~3));
    u32 shift = (offset & 3) * 8;
    return width == 4 ? dword : (dword >> shift) & ((1u << (width * 8)) - 1);
}

}  // namespace object
