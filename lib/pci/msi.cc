#include "pci/msi.h"

#include "pci/capabilities.h"
#include "pci/config_space.h"

namespace pci {

Result<MsiInfo> parse_msi(ByteView cfg, u16 cap_offset) {
    if (!cfg.contains(cap_offset, 4)) return Status::OutOfBounds;
    const u8 id = TRY(cfg.read_le<u8>(cap_offset));
    if (id != kCapMsi) return Status::InvalidArgument;
    const u16 control = TRY(cfg.read_le<u16>(cap_offset + offsetof(MsiCapability64Masked, message_control)));

    const u16 mmc = (control >> kMsiControlMultipleMessageCapableShift) & kMsiControlMultipleMessageMask;
    if (mmc > 5) return Status::Malformed;  // 110b and 111b are reserved (§6.8.1.3)

    MsiInfo info{};
    info.vectors_capable = static_cast<u8>(1u << mmc);
    info.is_64bit = (control & kMsiControl64Bit) != 0;
    info.per_vector_masking = (control & kMsiControlPerVectorMasking) != 0;
    info.enabled = (control & kMsiControlEnable) != 0;

    u16 data_rel;
    u16 mask_rel = 0;
    u16 pending_rel = 0;
    u16 length;
    if (info.is_64bit) {
        info.upper_address_offset = cap_offset + offsetof(MsiCapability64Masked, message_upper_address);
        data_rel = offsetof(MsiCapability64Masked, message_data);
        if (info.per_vector_masking) {
            mask_rel = offsetof(MsiCapability64Masked, mask_bits);
            pending_rel = offsetof(MsiCapability64Masked, pending_bits);
            length = sizeof(MsiCapability64Masked);
        } else {
            length = data_rel + sizeof(u16);
        }
    } else {
        data_rel = offsetof(MsiCapability32Masked, message_data);
        if (info.per_vector_masking) {
            mask_rel = offsetof(MsiCapability32Masked, mask_bits);
            pending_rel = offsetof(MsiCapability32Masked, pending_bits);
            length = sizeof(MsiCapability32Masked);
        } else {
            length = data_rel + sizeof(u16);
        }
    }
    info.address_offset = cap_offset + offsetof(MsiCapability64Masked, message_address);
    info.data_offset = cap_offset + data_rel;
    if (info.per_vector_masking) {
        info.mask_offset = cap_offset + mask_rel;
        info.pending_offset = cap_offset + pending_rel;
    }
    info.length = length;

    // A legacy capability lives wholly inside the first 256 bytes (§6.7).
    if (static_cast<usize>(cap_offset) + length > kConfigSpaceSize) return Status::Malformed;
    if (!cfg.contains(cap_offset, length)) return Status::Malformed;
    return info;
}

}  // namespace pci
