#include "pci/msix.h"

#include <stddef.h>

#include "pci/capabilities.h"
#include "pci/config_space.h"

namespace pci {

namespace {

bool ranges_overlap(u64 a_base, u64 a_len, u64 b_base, u64 b_len) {
    return a_base < b_base + b_len && b_base < a_base + a_len;
}

Result<void> check_in_bar(const Bar& bar, u64 offset, u64 length) {
    if (bar.kind != BarKind::Mem32 && bar.kind != BarKind::Mem64) return Status::Malformed;
    if (offset > bar.size || length > bar.size - offset) return Status::Malformed;
    return {};
}

}  // namespace

Result<MsixInfo> parse_msix(ByteView cfg, u16 cap_offset) {
    if (!cfg.contains(cap_offset, sizeof(MsixCapability))) return Status::OutOfBounds;
    const u8 id = TRY(cfg.read_le<u8>(cap_offset));
    if (id != kCapMsix) return Status::InvalidArgument;
    const u16 control = TRY(cfg.read_le<u16>(cap_offset + offsetof(MsixCapability, message_control)));
    const u32 table = TRY(cfg.read_le<u32>(cap_offset + offsetof(MsixCapability, table_offset_bir)));
    const u32 pba = TRY(cfg.read_le<u32>(cap_offset + offsetof(MsixCapability, pba_offset_bir)));

    MsixInfo info{};
    info.cap_offset = cap_offset;
    info.table_size = static_cast<u16>((control & kMsixControlTableSizeMask) + 1);
    info.enabled = (control & kMsixControlEnable) != 0;
    info.function_masked = (control & kMsixControlFunctionMask) != 0;
    info.table_bir = static_cast<u8>(table & kMsixBirMask);
    info.table_offset = table & ~kMsixBirMask;
    info.pba_bir = static_cast<u8>(pba & kMsixBirMask);
    info.pba_offset = pba & ~kMsixBirMask;

    // A bridge has only BAR0 and BAR1; anything else has up to six.
    u8 max_bir = kMsixMaxBir;
    if (cfg.contains(kHeaderTypeOffset, 1)) {
        const u8 header_type = TRY(cfg.read_le<u8>(kHeaderTypeOffset)) & kHeaderTypeMask;
        if (header_type == kHeaderTypeBridge) max_bir = kType1BarCount - 1;
    }
    if (info.table_bir > max_bir || info.pba_bir > max_bir) return Status::Malformed;

    if (info.table_bir == info.pba_bir &&
        ranges_overlap(info.table_offset, msix_table_bytes(info), info.pba_offset, msix_pba_bytes(info))) {
        return Status::Malformed;
    }
    return info;
}

Result<void> check_msix_bars(const MsixInfo& info, const Bar& table_bar, const Bar& pba_bar) {
    TRY(check_in_bar(table_bar, info.table_offset, msix_table_bytes(info)));
    TRY(check_in_bar(pba_bar, info.pba_offset, msix_pba_bytes(info)));
    return {};
}

}  // namespace pci
