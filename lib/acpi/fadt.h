// FADT ("FACP"): fixed ACPI hardware description. ACPI 6.5 §5.2.9.
#pragma once

#include "acpi/sdt.h"

namespace acpi {

// ACPI 6.5 §5.2.3.2 Generic Address Structure.
struct [[gnu::packed]] GasLayout {
    u8 address_space_id;
    u8 register_bit_width;
    u8 register_bit_offset;
    u8 access_size;
    u64 address;
};
static_assert(sizeof(GasLayout) == 12);

// ACPI 6.5 §5.2.9, Table 5.9 "FADT Format". Each revision appended fields:
// ACPI 1.0 tables end at iapc_boot_arch's neighbours (116 bytes), 2.0+
// added the X_ fields, 5.0 the sleep registers, 6.0 the hypervisor ID.
struct [[gnu::packed]] FadtLayout {
    SdtHeaderLayout header;
    u32 firmware_ctrl;
    u32 dsdt;
    u8 reserved0;  // INT_MODEL in ACPI 1.0
    u8 preferred_pm_profile;
    u16 sci_int;
    u32 smi_cmd;
    u8 acpi_enable;
    u8 acpi_disable;
    u8 s4bios_req;
    u8 pstate_cnt;
    u32 pm1a_evt_blk;
    u32 pm1b_evt_blk;
    u32 pm1a_cnt_blk;
    u32 pm1b_cnt_blk;
    u32 pm2_cnt_blk;
    u32 pm_tmr_blk;
    u32 gpe0_blk;
    u32 gpe1_blk;
    u8 pm1_evt_len;
    u8 pm1_cnt_len;
    u8 pm2_cnt_len;
    u8 pm_tmr_len;
    u8 gpe0_blk_len;
    u8 gpe1_blk_len;
    u8 gpe1_base;
    u8 cst_cnt;
    u16 p_lvl2_lat;
    u16 p_lvl3_lat;
    u16 flush_size;
    u16 flush_stride;
    u8 duty_offset;
    u8 duty_width;
    u8 day_alrm;
    u8 mon_alrm;
    u8 century;
    u16 iapc_boot_arch;
    u8 reserved1;
    u32 flags;
    GasLayout reset_reg;
    u8 reset_value;
    u16 arm_boot_arch;
    u8 fadt_minor_version;
    u64 x_firmware_ctrl;
    u64 x_dsdt;
    GasLayout x_pm1a_evt_blk;
    GasLayout x_pm1b_evt_blk;
    GasLayout x_pm1a_cnt_blk;
    GasLayout x_pm1b_cnt_blk;
    GasLayout x_pm2_cnt_blk;
    GasLayout x_pm_tmr_blk;
    GasLayout x_gpe0_blk;
    GasLayout x_gpe1_blk;
    GasLayout sleep_control_reg;
    GasLayout sleep_status_reg;
    u64 hypervisor_vendor_identity;
};
static_assert(sizeof(FadtLayout) == 276);
static_assert(offsetof(FadtLayout, flags) == 112);
static_assert(offsetof(FadtLayout, x_dsdt) == 140);

// IA-PC boot architecture flags (ACPI 6.5 Table 5.10).
inline constexpr u16 kBootArchLegacyDevices = 1u << 0;
inline constexpr u16 kBootArch8042 = 1u << 1;
// FADT fixed feature flags (ACPI 6.5 Table 5.10).
inline constexpr u32 kFadtResetRegSup = 1u << 10;
inline constexpr u32 kFadtHwReducedAcpi = 1u << 20;

struct FadtInfo {
    u64 dsdt = 0;  // the 32-bit DSDT field
    u32 pm1a_cnt_blk = 0;
    u32 pm1b_cnt_blk = 0;
    u16 sci_int = 0;
    u32 smi_cmd = 0;
    u8 acpi_enable = 0;
    u16 iapc_boot_arch = 0;
    u32 flags = 0;
    u64 x_dsdt = 0;
};

// The DSDT to use: X_DSDT when nonzero (ACPI 6.5 §5.2.9: then DSDT must be
// ignored), else DSDT.
inline u64 dsdt_address(const FadtInfo& info) { return info.x_dsdt != 0 ? info.x_dsdt : info.dsdt; }

// Validates (see open_table) and parses a FADT of any revision: a field
// that lies (even partly) beyond the table's length reads as 0.
//   InvalidArgument  not a "FACP" table
[[nodiscard]] Result<FadtInfo> parse_fadt(ByteView table);

}  // namespace acpi
