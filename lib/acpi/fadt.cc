#include "acpi/fadt.h"

#include "acpi/util.h"

namespace acpi {

Result<FadtInfo> parse_fadt(ByteView table) {
    // open_table trims the view to the table's length, so read_or_zero
    // yields 0 for fields a short (older revision) FADT does not have,
    // rather than whatever follows it in memory.
    const ByteView f = TRY(open_table(table, "FACP"));
    using detail::read_or_zero;

    FadtInfo info;
    info.dsdt = read_or_zero<u32>(f, offsetof(FadtLayout, dsdt));
    info.sci_int = read_or_zero<u16>(f, offsetof(FadtLayout, sci_int));
    info.smi_cmd = read_or_zero<u32>(f, offsetof(FadtLayout, smi_cmd));
    info.acpi_enable = read_or_zero<u8>(f, offsetof(FadtLayout, acpi_enable));
    info.pm1a_cnt_blk = read_or_zero<u32>(f, offsetof(FadtLayout, pm1a_cnt_blk));
    info.pm1b_cnt_blk = read_or_zero<u32>(f, offsetof(FadtLayout, pm1b_cnt_blk));
    info.iapc_boot_arch = read_or_zero<u16>(f, offsetof(FadtLayout, iapc_boot_arch));
    info.flags = read_or_zero<u32>(f, offsetof(FadtLayout, flags));
    info.x_dsdt = read_or_zero<u64>(f, offsetof(FadtLayout, x_dsdt));
    return info;
}

}  // namespace acpi
