// MSI-X capability decoding (PCI Local Bus 3.0 §6.8.2).
//
// The capability only says where the vector table and the Pending Bit Array
// live (a BAR index and an offset into it); the kernel maps them. Before it
// does, it must call check_msix_bars() with the decoded BARs so a device
// cannot point the table outside its own BAR.
#pragma once

#include "pci/bar.h"
#include "util/byte_view.h"
#include "util/result.h"
#include "util/types.h"

namespace pci {

// MSI-X capability structure (PCI 3.0 §6.8.2, figure 6-10).
struct MsixCapability {
    u8 id;
    u8 next;
    u16 message_control;
    u32 table_offset_bir;  // bits 2:0 BIR, 31:3 QWORD-aligned offset
    u32 pba_offset_bir;    // same encoding
};
static_assert(sizeof(MsixCapability) == 12);

// One vector table entry (PCI 3.0 §6.8.2.6 – §6.8.2.9).
struct MsixTableEntry {
    u32 message_address;
    u32 message_upper_address;
    u32 message_data;
    u32 vector_control;  // bit 0: mask
};
static_assert(sizeof(MsixTableEntry) == 16);

// Message Control (PCI 3.0 §6.8.2.3).
inline constexpr u16 kMsixControlTableSizeMask = 0x7FF;  // N - 1
inline constexpr u16 kMsixControlFunctionMask = 1u << 14;
inline constexpr u16 kMsixControlEnable = 1u << 15;
inline constexpr u32 kMsixBirMask = 0x7;
inline constexpr u8 kMsixMaxBir = 5;  // BIR 6 and 7 are reserved (§6.8.2.4)
inline constexpr u32 kMsixVectorControlMasked = 1u << 0;

struct MsixInfo {
    u16 cap_offset;  // of the capability in configuration space (Message Control is at +2)
    u16 table_size;  // N, the number of vectors (field value + 1): 1..2048
    u8 table_bir;
    u32 table_offset;
    u8 pba_bir;
    u32 pba_offset;
    bool enabled;
    bool function_masked;
};

// Bytes the vector table and PBA occupy: N * 16, and one bit per vector
// rounded up to whole QWORDs (§6.8.2.10).
constexpr u64 msix_table_bytes(const MsixInfo& info) { return u64{info.table_size} * sizeof(MsixTableEntry); }
constexpr u64 msix_pba_bytes(const MsixInfo& info) { return (u64{info.table_size} + 63) / 64 * 8; }

// Decodes the MSI-X capability whose header is at `cap_offset` (as returned
// by find_capability(cfg, kCapMsix)).
//   OutOfBounds      the 12-byte capability is outside the view
//   InvalidArgument  the capability at cap_offset is not MSI-X (ID 11h)
//   Malformed        a BIR above 5, or above 1 on a type 1 (bridge) header;
//                    table and PBA overlapping in the same BAR (§6.8.2 says
//                    they may share a BAR but must not overlap)
[[nodiscard]] Result<MsixInfo> parse_msix(ByteView cfg, u16 cap_offset);

// Checks that the table and PBA lie inside the memory BARs their BIRs name
// (§6.8.2: both are in memory space). `table_bar` and `pba_bar` are the
// decoded BARs at info.table_bir and info.pba_bir (the same BAR twice when
// they share one).
//   Malformed  a BIR naming an I/O or unimplemented BAR, or a structure
//              that runs past the end of its BAR
[[nodiscard]] Result<void> check_msix_bars(const MsixInfo& info, const Bar& table_bar, const Bar& pba_bar);

}  // namespace pci
