// Walking a function's capability lists: the legacy list in the first 256
// bytes (PCI 3.0 §6.7) and the PCIe extended list from offset 0x100
// (PCIe Base 4.0 §7.6).
//
// Both walks defend against a hostile or broken device: every pointer is
// range-checked before it is followed, each offset may be visited once, and
// the walk is bounded by the list capacity. A malformed list is reported,
// never partially returned, so callers cannot act on half a list.
#pragma once

#include "pci/config_space.h"
#include "util/byte_view.h"
#include "util/result.h"
#include "util/types.h"

namespace pci {

// Legacy capability IDs (PCI Code and ID Assignment 1.11 §2).
inline constexpr u8 kCapPowerManagement = 0x01;
inline constexpr u8 kCapMsi = 0x05;
inline constexpr u8 kCapVendorSpecific = 0x09;
inline constexpr u8 kCapPciBridgeSubsystemVendor = 0x0D;
inline constexpr u8 kCapPciExpress = 0x10;
inline constexpr u8 kCapMsix = 0x11;

// Extended capability IDs (PCI Code and ID Assignment 1.11 §3).
inline constexpr u16 kExtCapNull = 0x0000;
inline constexpr u16 kExtCapAer = 0x0001;
inline constexpr u16 kExtCapVirtualChannel = 0x0002;
inline constexpr u16 kExtCapDeviceSerialNumber = 0x0003;
inline constexpr u16 kExtCapAcs = 0x000D;
inline constexpr u16 kExtCapAri = 0x000E;
inline constexpr u16 kExtCapAts = 0x000F;
inline constexpr u16 kExtCapSriov = 0x0010;
inline constexpr u16 kExtCapPasid = 0x001B;

// Legacy capability header (PCI 3.0 §6.7 figure 6-10). The next pointer's
// bottom two bits are reserved and software must mask them.
struct CapabilityHeader {
    u8 id;
    u8 next;
};
static_assert(sizeof(CapabilityHeader) == 2);

// Legacy capabilities live after the predefined header (PCI 3.0 §6.7:
// "must be ... in device-specific configuration space", i.e. >= 0x40).
inline constexpr u16 kFirstCapabilityOffset = 0x40;
inline constexpr u8 kCapabilityPointerMask = 0xFC;

// Extended capability header (PCIe 4.0 §7.6.3): one dword,
// bits 15:0 ID, 19:16 version, 31:20 next offset (dword-aligned, 0 ends).
struct ExtendedCapabilityHeader {
    u32 raw;
};
static_assert(sizeof(ExtendedCapabilityHeader) == 4);
inline constexpr u16 kFirstExtendedCapabilityOffset = 0x100;

// The list capacity. 48 is also the number of dword slots in 0x40..0xFF, so a
// legacy list can never legitimately be longer.
inline constexpr u32 kMaxCapabilities = 48;

struct Capability {
    // Legacy IDs are 8 bits, extended IDs 16 bits; one field holds both.
    u16 id;
    u16 offset;
    u8 version;  // extended capabilities only; 0 for legacy
};

struct CapabilityList {
    u32 count;
    Capability caps[kMaxCapabilities];
};

// Walks the legacy capability list (PCI 3.0 §6.7). The list pointer sits at
// 0x34 for type 0/1 headers and 0x14 for CardBus bridges.
//   empty list   status bit 4 clear, or a pointer of 0
//   Truncated    view shorter than the 64-byte header
//   Unsupported  header layout other than 0, 1, 2
//   Malformed    a pointer (after masking bits 1:0) below 0x40 or whose
//                2-byte header does not fit the view; a raw pointer of 0xFF
//                or a capability ID of 0xFF (all-ones: the function is gone
//                or the read failed); an offset visited twice (a loop)
[[nodiscard]] Result<CapabilityList> walk_capabilities(ByteView cfg);

// Walks the PCIe extended capability list at 0x100 (PCIe 4.0 §7.6).
//   empty list   view shorter than 4096 bytes (conventional function, or the
//                kernel snapshotted only 256 bytes); header at 0x100 reading
//                0 or 0xFFFFFFFF (PCIe 4.0 §7.6.3: no extended capabilities)
//   Malformed    a next offset below 0x100 or not dword-aligned; an offset
//                visited twice; a header of 0xFFFFFFFF after the first
//   NoMemory     more than kMaxCapabilities entries (not seen on real parts)
// Null capabilities (ID 0000h, "contains no registers other than the header",
// PCI Code and ID Assignment 1.11 §3) are followed but not listed.
[[nodiscard]] Result<CapabilityList> walk_extended_capabilities(ByteView cfg);

// Offset of the first legacy capability with `id`: NotFound when absent,
// otherwise any error of walk_capabilities.
[[nodiscard]] Result<u16> find_capability(ByteView cfg, u8 id);

// Offset of the first extended capability with `id`: NotFound when absent,
// otherwise any error of walk_extended_capabilities.
[[nodiscard]] Result<u16> find_extended_capability(ByteView cfg, u16 id);

}  // namespace pci
