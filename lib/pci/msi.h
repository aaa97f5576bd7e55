// MSI capability decoding (PCI Local Bus 3.0 §6.8.1).
#pragma once

#include <stddef.h>

#include "util/byte_view.h"
#include "util/result.h"
#include "util/types.h"

namespace pci {

// The largest MSI layout: 64-bit address with per-vector masking
// (PCI 3.0 §6.8.1, figure 6-9, last form). Smaller forms drop the upper
// address dword and/or the mask and pending dwords, shifting what follows.
struct MsiCapability64Masked {
    u8 id;
    u8 next;
    u16 message_control;
    u32 message_address;
    u32 message_upper_address;
    u16 message_data;
    u16 reserved;
    u32 mask_bits;
    u32 pending_bits;
};
static_assert(sizeof(MsiCapability64Masked) == 24);

// The same without the upper address dword.
struct MsiCapability32Masked {
    u8 id;
    u8 next;
    u16 message_control;
    u32 message_address;
    u16 message_data;
    u16 reserved;
    u32 mask_bits;
    u32 pending_bits;
};
static_assert(sizeof(MsiCapability32Masked) == 20);

// Message Control (PCI 3.0 §6.8.1.3).
inline constexpr u16 kMsiControlEnable = 1u << 0;
inline constexpr u16 kMsiControlMultipleMessageCapableShift = 1;  // bits 3:1, log2
inline constexpr u16 kMsiControlMultipleMessageEnableShift = 4;   // bits 6:4, log2
inline constexpr u16 kMsiControlMultipleMessageMask = 0x7;
inline constexpr u16 kMsiControl64Bit = 1u << 7;
inline constexpr u16 kMsiControlPerVectorMasking = 1u << 8;

struct MsiInfo {
    u8 vectors_capable;  // 1, 2, 4, 8, 16 or 32
    bool is_64bit;
    bool per_vector_masking;
    bool enabled;
    // Absolute configuration-space offsets of the registers the kernel
    // programs, already adjusted for the layout variant.
    u16 address_offset;        // Message Address (low dword)
    u16 upper_address_offset;  // Message Upper Address; 0 unless is_64bit
    u16 data_offset;           // Message Data (16 bits)
    u16 mask_offset;           // Mask Bits; 0 unless per_vector_masking
    u16 pending_offset;        // Pending Bits; 0 unless per_vector_masking
    u16 length;                // bytes the capability occupies
};

// Decodes the MSI capability whose header is at `cap_offset` (as returned by
// find_capability(cfg, kCapMsi)).
//   OutOfBounds      cap_offset + 4 is outside the view
//   InvalidArgument  the capability at cap_offset is not MSI (ID 05h)
//   Malformed        Multiple Message Capable encodes 6 or 7 (reserved), or
//                    the layout the control word implies runs past the view
//                    or past the 256-byte legacy configuration space
[[nodiscard]] Result<MsiInfo> parse_msi(ByteView cfg, u16 cap_offset);

}  // namespace pci
