// MCFG: PCI Express enhanced configuration (ECAM) windows.
// The signature is reserved by ACPI 6.5 §5.2.6 (Table 5.6); the layout is
// the PCI Firmware Specification 3.x §4.1.2 "MCFG Table Description".
#pragma once

#include "acpi/sdt.h"

namespace acpi {

struct [[gnu::packed]] McfgLayout {
    SdtHeaderLayout header;
    u8 reserved[8];
};
static_assert(sizeof(McfgLayout) == 44);

// PCI Firmware Spec 3.x Table 4-3: one allocation per segment/bus range.
struct [[gnu::packed]] McfgEntryLayout {
    u64 base_address;  // ECAM base for bus 0 of the segment, even if start_bus > 0
    u16 segment;
    u8 start_bus;
    u8 end_bus;
    u32 reserved;
};
static_assert(sizeof(McfgEntryLayout) == 16);

inline constexpr u32 kMaxMcfgEntries = 8;

struct McfgInfo {
    struct Entry {
        u64 base;
        u16 segment;
        u8 start_bus;
        u8 end_bus;
    };
    u32 count = 0;
    Entry entries[kMaxMcfgEntries] = {};
    bool truncated_lists = false;  // more than kMaxMcfgEntries; extras dropped
};

// Validates (see open_table) and parses an MCFG.
//   InvalidArgument  not an "MCFG" table
//   Truncated        shorter than the 44-byte fixed part
//   Malformed        entry area not a multiple of 16 bytes, or an entry
//                    with start_bus > end_bus
[[nodiscard]] Result<McfgInfo> parse_mcfg(ByteView table);

}  // namespace acpi
