// PCI configuration-space header parsing.
//
// The kernel snapshots one function's configuration space (256 bytes for
// conventional PCI, 4096 for PCIe through ECAM) into a buffer and hands this
// library a ByteView of it. Nothing here touches hardware: every value is
// read from the snapshot through bounds-checked ByteView reads and treated as
// untrusted (a device or a broken bridge can return anything, including
// all-ones). The layout structs below document the registers and give their
// offsets via offsetof; they are never overlaid on the bytes.
//
// References: PCI Local Bus Specification 3.0 §6.1 (configuration space
// organization), §6.2 (predefined header); PCI-to-PCI Bridge Architecture 1.2
// §3.2 (type 1 header); PCIe Base 4.0 §7.5.1 (type 0/1 headers under PCIe).
#pragma once

#include <stddef.h>

#include "util/byte_view.h"
#include "util/result.h"
#include "util/types.h"

namespace pci {

// Sizes of the two configuration-space flavours (PCI 3.0 §6.1; PCIe 4.0 §7.2.2).
inline constexpr usize kConfigSpaceSize = 256;
inline constexpr usize kExtendedConfigSpaceSize = 4096;

// Type 0 (endpoint) header, PCI 3.0 §6.1 figure 6-1.
struct Type0Header {
    u16 vendor_id;
    u16 device_id;
    u16 command;
    u16 status;
    u8 revision_id;
    u8 prog_if;
    u8 subclass;
    u8 class_code;
    u8 cache_line_size;
    u8 latency_timer;
    u8 header_type;
    u8 bist;
    u32 bar[6];
    u32 cardbus_cis_pointer;
    u16 subsystem_vendor_id;
    u16 subsystem_id;
    u32 expansion_rom_base;
    u8 capabilities_pointer;
    u8 reserved0[3];
    u32 reserved1;
    u8 interrupt_line;
    u8 interrupt_pin;
    u8 min_gnt;
    u8 max_lat;
};
static_assert(sizeof(Type0Header) == 64);

// Type 1 (PCI-to-PCI bridge) header, PCI-to-PCI Bridge 1.2 §3.2 figure 3-2.
// The first 16 bytes are shared with type 0.
struct Type1Header {
    u16 vendor_id;
    u16 device_id;
    u16 command;
    u16 status;
    u8 revision_id;
    u8 prog_if;
    u8 subclass;
    u8 class_code;
    u8 cache_line_size;
    u8 latency_timer;
    u8 header_type;
    u8 bist;
    u32 bar[2];
    u8 primary_bus;
    u8 secondary_bus;
    u8 subordinate_bus;
    u8 secondary_latency_timer;
    u8 io_base;
    u8 io_limit;
    u16 secondary_status;
    u16 memory_base;
    u16 memory_limit;
    u16 prefetchable_base;
    u16 prefetchable_limit;
    u32 prefetchable_base_upper;
    u32 prefetchable_limit_upper;
    u16 io_base_upper;
    u16 io_limit_upper;
    u8 capabilities_pointer;
    u8 reserved0[3];
    u32 expansion_rom_base;
    u8 interrupt_line;
    u8 interrupt_pin;
    u16 bridge_control;
};
static_assert(sizeof(Type1Header) == 64);

// The predefined header occupies the first 64 bytes (PCI 3.0 §6.1);
// device-specific space (and legacy capabilities) follows.
inline constexpr usize kHeaderSize = sizeof(Type0Header);

// Register offsets common to every header type (PCI 3.0 §6.2).
inline constexpr u16 kVendorIdOffset = offsetof(Type0Header, vendor_id);      // 0x00
inline constexpr u16 kDeviceIdOffset = offsetof(Type0Header, device_id);      // 0x02
inline constexpr u16 kCommandOffset = offsetof(Type0Header, command);         // 0x04
inline constexpr u16 kStatusOffset = offsetof(Type0Header, status);           // 0x06
inline constexpr u16 kRevisionIdOffset = offsetof(Type0Header, revision_id);  // 0x08
inline constexpr u16 kProgIfOffset = offsetof(Type0Header, prog_if);          // 0x09
inline constexpr u16 kSubclassOffset = offsetof(Type0Header, subclass);       // 0x0A
inline constexpr u16 kClassCodeOffset = offsetof(Type0Header, class_code);    // 0x0B
inline constexpr u16 kHeaderTypeOffset = offsetof(Type0Header, header_type);  // 0x0E
inline constexpr u16 kBar0Offset = offsetof(Type0Header, bar);                // 0x10
inline constexpr u16 kBarStride = sizeof(u32);
inline constexpr u16 kSubsystemVendorIdOffset = offsetof(Type0Header, subsystem_vendor_id);     // 0x2C
inline constexpr u16 kSubsystemIdOffset = offsetof(Type0Header, subsystem_id);                  // 0x2E
inline constexpr u16 kCapabilitiesPointerOffset = offsetof(Type0Header, capabilities_pointer);  // 0x34
inline constexpr u16 kInterruptLineOffset = offsetof(Type0Header, interrupt_line);              // 0x3C
inline constexpr u16 kInterruptPinOffset = offsetof(Type0Header, interrupt_pin);                // 0x3D

inline constexpr u16 kPrimaryBusOffset = offsetof(Type1Header, primary_bus);          // 0x18
inline constexpr u16 kSecondaryBusOffset = offsetof(Type1Header, secondary_bus);      // 0x19
inline constexpr u16 kSubordinateBusOffset = offsetof(Type1Header, subordinate_bus);  // 0x1A
static_assert(offsetof(Type1Header, capabilities_pointer) == kCapabilitiesPointerOffset);
// Cross-check the layouts against the offsets the specifications print.
static_assert(kHeaderTypeOffset == 0x0E && kBar0Offset == 0x10 && kCapabilitiesPointerOffset == 0x34);
static_assert(kSecondaryBusOffset == 0x19 && kSubordinateBusOffset == 0x1A && kInterruptLineOffset == 0x3C);
static_assert(offsetof(Type1Header, bar) == kBar0Offset);

// Type 2 (CardBus bridge) keeps its capabilities pointer at 0x14
// (PC Card Standard 8.0, CardBus bridge configuration header).
inline constexpr u16 kCardbusCapabilitiesPointerOffset = 0x14;

// Header type register: bits 6:0 layout, bit 7 multi-function (PCI 3.0 §6.2.1).
inline constexpr u8 kHeaderTypeMask = 0x7F;
inline constexpr u8 kHeaderTypeMultifunction = 0x80;
inline constexpr u8 kHeaderTypeEndpoint = 0x00;
inline constexpr u8 kHeaderTypeBridge = 0x01;
inline constexpr u8 kHeaderTypeCardbus = 0x02;

// Command register bits (PCI 3.0 §6.2.2).
inline constexpr u16 kCommandIoSpace = 1u << 0;
inline constexpr u16 kCommandMemorySpace = 1u << 1;
inline constexpr u16 kCommandBusMaster = 1u << 2;
inline constexpr u16 kCommandInterruptDisable = 1u << 10;

// Status register bits (PCI 3.0 §6.2.3): bit 4 says a capabilities list exists.
inline constexpr u16 kStatusCapabilitiesList = 1u << 4;

// A vendor ID of all-ones is what a read of an absent function returns
// (PCI 3.0 §6.2.1); 0xFFFF is never assigned to a vendor.
inline constexpr u16 kInvalidVendorId = 0xFFFF;

// BAR slots per header layout (PCI 3.0 §6.2.5.1; PCI-to-PCI Bridge 1.2 §3.2.5.1).
inline constexpr u32 kType0BarCount = 6;
inline constexpr u32 kType1BarCount = 2;

struct FunctionHeader {
    u16 vendor;
    u16 device;
    u8 revision;
    u8 prog_if;
    u8 subclass;
    u8 class_code;
    u8 header_type;  // low 7 bits of the header type register
    bool multifunction;
    u16 command;
    u16 status;
    u8 secondary_bus;    // type 1 only, 0 otherwise
    u8 subordinate_bus;  // type 1 only, 0 otherwise
    u32 bar_count;       // 6 for type 0, 2 for type 1, 0 otherwise
};

// Parses the predefined header of a configuration-space snapshot.
//   Truncated  the view is shorter than the 64-byte header
//   NotFound   vendor ID is 0xFFFF: no function answered at this address
// Unknown header layouts (not 0/1) parse with bar_count 0 so the caller can
// log them. Pure function of the bytes; safe from any context.
[[nodiscard]] Result<FunctionHeader> parse_header(ByteView cfg);

// Offset of BAR slot `index` (0-based) for type 0 and type 1 headers.
constexpr u16 bar_offset(u32 index) { return static_cast<u16>(kBar0Offset + index * kBarStride); }

}  // namespace pci
