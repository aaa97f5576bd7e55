// DMAR: Intel VT-d DMA remapping reporting table.
// Intel Virtualization Technology for Directed I/O Architecture
// Specification (rev 4.x) §8 "BIOS Considerations".
//
// What the kernel needs from it: which remapping hardware units (DRHDs)
// exist, where their registers are, and which unit translates a given PCI
// function (DESIGN.md §3 "Backend selection"). The answer must fail closed:
// when the table cannot tell us for certain, dmar_find_unit says so instead
// of guessing a unit.
#pragma once

#include "acpi/sdt.h"

namespace acpi {

// VT-d §8.1, Table "DMA Remapping Reporting Structure".
struct [[gnu::packed]] DmarLayout {
    SdtHeaderLayout header;
    u8 host_address_width;  // N-1, N = max DMA physical address width
    u8 flags;               // bit0 INTR_REMAP, bit1 X2APIC_OPT_OUT, bit2 DMA_CTRL_PLATFORM_OPT_IN
    u8 reserved[10];
    // remapping structures follow
};
static_assert(sizeof(DmarLayout) == 48);

// VT-d §8.2: every remapping structure starts with (u16 type, u16 length).
struct [[gnu::packed]] DmarStructHeaderLayout {
    u16 type;
    u16 length;
};
static_assert(sizeof(DmarStructHeaderLayout) == 4);

inline constexpr u16 kDmarTypeDrhd = 0;  // §8.3 DMA Remapping Hardware Unit Definition
inline constexpr u16 kDmarTypeRmrr = 1;  // §8.4 Reserved Memory Region Reporting
inline constexpr u16 kDmarTypeAtsr = 2;  // §8.5 Root Port ATS Capability Reporting

// VT-d §8.3 DRHD structure (device scopes follow at offset 16).
struct [[gnu::packed]] DmarDrhdLayout {
    u16 type;
    u16 length;
    u8 flags;  // bit0 INCLUDE_PCI_ALL
    u8 size;   // bits 3:0: register set is 2^N 4 KiB pages
    u16 segment;
    u64 register_base;
};
static_assert(sizeof(DmarDrhdLayout) == 16);

// VT-d §8.3.1 Device Scope Structure (path entries follow at offset 6).
struct [[gnu::packed]] DmarScopeLayout {
    u8 type;
    u8 length;  // 6 + 2 * path entries
    u8 flags;   // reserved before VT-d 4.0
    u8 reserved;
    u8 enumeration_id;  // I/O APIC ID / HPET number / ACPI device number
    u8 start_bus;
};
static_assert(sizeof(DmarScopeLayout) == 6);

inline constexpr u8 kDrhdIncludePciAll = 1u << 0;
inline constexpr u8 kDmarFlagIntrRemap = 1u << 0;

// Device scope entry types, VT-d §8.3.1.
inline constexpr u8 kScopePciEndpoint = 1;
inline constexpr u8 kScopePciSubHierarchy = 2;  // a bridge and everything below it
inline constexpr u8 kScopeIoApic = 3;
inline constexpr u8 kScopeHpet = 4;
inline constexpr u8 kScopeAcpiNamespace = 5;

inline constexpr u32 kMaxDmarUnits = 8;
inline constexpr u32 kMaxDmarScopes = 32;  // per unit (QEMU lists every root-bus device)
inline constexpr u32 kMaxDmarPath = 8;     // hops per scope

struct DmarScope {
    u8 type = 0;
    u8 enumeration_id = 0;
    u8 start_bus = 0;
    u8 path_count = 0;            // entries stored in path[] (<= kMaxDmarPath)
    bool path_truncated = false;  // the table's path was longer; never matches
    struct Hop {
        u8 device;
        u8 function;
    } path[kMaxDmarPath] = {};
};

struct DmarUnit {
    u64 register_base = 0;
    u16 segment = 0;
    u8 flags = 0;  // bit0 INCLUDE_PCI_ALL
    u8 size = 0;
    u32 scope_count = 0;
    DmarScope scopes[kMaxDmarScopes] = {};
};

struct DmarInfo {
    u8 host_address_width = 0;  // in bits: the table's field + 1
    u8 flags = 0;
    u32 unit_count = 0;
    DmarUnit units[kMaxDmarUnits] = {};
    u32 rmrr_count = 0;
    u32 atsr_count = 0;
    // A unit or scope did not fit and was dropped. Device-to-unit answers
    // are then incomplete; dmar_find_unit refuses to answer.
    bool truncated_lists = false;
};
// sizeof(DmarInfo) is ~2.8 KiB: kernel callers with small stacks should use
// parse_dmar_into with a static or heap-owned DmarInfo.

// Validates (see open_table) and parses a DMAR.
//   InvalidArgument  not a "DMAR" table
//   Truncated        shorter than the 48-byte fixed part
//   Malformed        a remapping structure with length < 4 or running past
//                    the table; a DRHD shorter than 16 bytes; a device scope
//                    with length < 6, an odd path length or running past
//                    its DRHD; a host address width field > 63
[[nodiscard]] Result<DmarInfo> parse_dmar(ByteView table);
// Same, filling `out` in place (no DmarInfo on the stack). On error `out`
// holds a partial parse and must not be used.
[[nodiscard]] Result<void> parse_dmar_into(ByteView table, DmarInfo& out);

// ---------------------------------------------------------------------------
// Which unit translates a PCI function (VT-d §8.3, §8.3.1).
//
// A scope names a function by a start bus and a path of (device, function)
// hops: every hop but the last is a PCI-to-PCI bridge whose secondary bus
// holds the next hop. A sub-hierarchy scope (type 2) also covers every bus
// behind the bridge it names. Resolving either needs the bridges' bus
// numbers from PCI configuration space, which this library cannot read; the
// caller supplies them through a PciBridgeResolver. Without one (or when
// the resolver fails), only single-hop scopes resolve, plus the rule that a
// bus numbered at or below a bridge's own bus is never behind it (firmware
// always numbers secondary buses above the primary). Anything else is
// "unknown": dmar_unit_covers answers false and dmar_find_unit refuses.

struct PciBridgeBuses {
    u8 secondary;
    u8 subordinate;
};

struct PciBridgeResolver {
    // Secondary/subordinate bus numbers (type-1 header offsets 0x19/0x1A)
    // of the bridge at segment:bus:device.function; an error if there is
    // no bridge there. Called synchronously; must not re-enter the parser.
    Result<PciBridgeBuses> (*lookup)(void* ctx, u16 segment, u8 bus, u8 device, u8 function);
    void* ctx;
};

// True when `unit` is known to translate segment:bus:device.function: the
// unit has INCLUDE_PCI_ALL on that segment, or one of its PCI endpoint /
// sub-hierarchy scopes resolves to the function. Note that INCLUDE_PCI_ALL
// only claims the devices no *other* unit on the segment lists (VT-d §8.3),
// which a single unit cannot know: use dmar_find_unit to choose a unit.
bool dmar_unit_covers(const DmarUnit& unit, u16 segment, u8 bus, u8 device, u8 function,
                      const PciBridgeResolver* resolver = nullptr);

// Index into info.units of the unit that translates the function:
// a unit whose scopes name it, else the segment's INCLUDE_PCI_ALL unit.
//   NotFound     no unit translates it (the device is not behind an IOMMU)
//   Malformed    scopes of two different units name the function
//   Unsupported  cannot decide: the lists were truncated, or a scope on the
//                segment needs bridge resolution that was not available
//                (the caller must fail closed, e.g. not pick the iommu lane
//                for this device, and log why)
[[nodiscard]] Result<u32> dmar_find_unit(const DmarInfo& info, u16 segment, u8 bus, u8 device, u8 function,
                                         const PciBridgeResolver* resolver = nullptr);

}  // namespace acpi
