// MADT ("APIC"): local APICs, I/O APICs and ISA interrupt overrides.
// ACPI 6.5 §5.2.12.
#pragma once

#include "acpi/sdt.h"

namespace acpi {

// ACPI 6.5 §5.2.12, Table 5.19: fixed part before the structure list.
struct [[gnu::packed]] MadtLayout {
    SdtHeaderLayout header;
    u32 local_apic_address;
    u32 flags;  // bit 0 PCAT_COMPAT: dual 8259s present, mask them
};
static_assert(sizeof(MadtLayout) == 44);

// Interrupt controller structure types (ACPI 6.5 Table 5.21).
inline constexpr u8 kMadtLocalApic = 0;
inline constexpr u8 kMadtIoApic = 1;
inline constexpr u8 kMadtInterruptOverride = 2;
inline constexpr u8 kMadtLocalApicNmi = 4;
inline constexpr u8 kMadtLocalApicAddressOverride = 5;
inline constexpr u8 kMadtLocalX2Apic = 9;

// §5.2.12.2 Processor Local APIC Structure.
struct [[gnu::packed]] MadtLocalApicLayout {
    u8 type, length;
    u8 processor_uid;
    u8 apic_id;
    u32 flags;  // bit 0 Enabled, bit 1 Online Capable
};
static_assert(sizeof(MadtLocalApicLayout) == 8);

// §5.2.12.3 I/O APIC Structure.
struct [[gnu::packed]] MadtIoApicLayout {
    u8 type, length;
    u8 id;
    u8 reserved;
    u32 address;
    u32 gsi_base;
};
static_assert(sizeof(MadtIoApicLayout) == 12);

// §5.2.12.5 Interrupt Source Override Structure.
struct [[gnu::packed]] MadtOverrideLayout {
    u8 type, length;
    u8 bus;     // 0 = ISA
    u8 source;  // bus-relative IRQ
    u32 gsi;
    u16 flags;  // MPS INTI flags: bits 1:0 polarity, bits 3:2 trigger mode
};
static_assert(sizeof(MadtOverrideLayout) == 10);

// §5.2.12.8 Local APIC Address Override Structure.
struct [[gnu::packed]] MadtLapicOverrideLayout {
    u8 type, length;
    u16 reserved;
    u64 address;
};
static_assert(sizeof(MadtLapicOverrideLayout) == 12);

// §5.2.12.12 Processor Local x2APIC Structure.
struct [[gnu::packed]] MadtLocalX2ApicLayout {
    u8 type, length;
    u16 reserved;
    u32 x2apic_id;
    u32 flags;  // as for the local APIC structure
    u32 processor_uid;
};
static_assert(sizeof(MadtLocalX2ApicLayout) == 16);

inline constexpr u32 kMaxCpus = 64;
inline constexpr u32 kMaxIoApics = 8;
inline constexpr u32 kMaxOverrides = 16;

struct MadtInfo {
    u32 lapic_address = 0;
    u32 flags = 0;
    // Enabled processors only (Local APIC and Local x2APIC structures), in
    // table order. IDs are u32 because x2APIC IDs need 32 bits.
    u32 lapic_count = 0;
    u32 lapic_ids[kMaxCpus] = {};
    struct IoApic {
        u8 id;
        u32 address;
        u32 gsi_base;
    };
    u32 ioapic_count = 0;
    IoApic ioapics[kMaxIoApics] = {};
    struct Override {
        u8 bus;
        u8 source;
        u32 gsi;
        u16 flags;
    };
    u32 override_count = 0;
    Override overrides[kMaxOverrides] = {};
    u64 lapic_address_override = 0;  // 0 if the table has none
    // Some entries did not fit the arrays above and were dropped; the
    // counts describe only what was kept.
    bool truncated_lists = false;
};

// The local APIC base OSPM must use: the 64-bit override if present
// (§5.2.12.8), else the 32-bit header field.
inline u64 effective_lapic_address(const MadtInfo& info) {
    return info.lapic_address_override != 0 ? info.lapic_address_override : info.lapic_address;
}

// Validates (see open_table) and parses a MADT. Structures are walked by
// their (type, length) header; unknown types are skipped.
//   InvalidArgument  not an "APIC" table
//   Truncated        table shorter than the 44-byte fixed part
//   Malformed        a structure with length < 2, running past the table,
//                    or shorter than its type's spec size
// (plus everything validate_table returns)
[[nodiscard]] Result<MadtInfo> parse_madt(ByteView table);

}  // namespace acpi
