// Device authority calls' structures (DESIGN §3), shared by kernel and
// user/rt. Nothing here carries a physical or device-visible address: BARs
// are described by kind and size only.
#pragma once

#include "util/types.h"

namespace abi {

struct DeviceBar {
    u8 kind;  // 0 none, 1 io, 2 mem32, 3 mem64 (pci::BarKind)
    u8 prefetchable;
    u8 reserved[6];
    u64 size;
};

// A device's DMA grant as the kernel accounts it (DmaPoolInfo, and each
// DeviceList entry): sizes and counts only, never an address.
struct DmaUsage {
    u64 quota;      // bytes; 0 when the function has no DMA grant
    u64 used;       // bytes allocated from the pool (buffers and broker queues)
    u64 in_flight;  // bytes of ranges referenced by submitted work
    u32 ranges;     // live ledger entries
    u32 deferred;   // freed by their owner, waiting for in-flight work
    u32 session;    // grant number (changes on every new grant)
    u8 state;       // kDma*
    u8 lane;        // kDmaLane* (of the grant)
    u8 reserved[2];
};

// DmaPoolCreate's lane argument (DESIGN §4): which addresses the device is
// given. Brokered: host-physical ones, which the kernel writes and no
// process ever sees. Remapped ("Model B"): IOVAs of the grant's own VT-d
// domain, which the provider learns (DmaBufferAddress) and writes itself —
// they reach nothing but the pool's buffers. The remapped lane needs a
// translating unit covering the function (Unsupported) and interrupt
// remapping, or the accept flag (Forbidden): without it a device that can
// be aimed anywhere can also raise any interrupt.
constexpr u64 kDmaLaneBrokered = 0;
constexpr u64 kDmaLaneRemapped = 1;
constexpr u64 kDmaLaneAcceptUnremappedInterrupts = 1ull << 8;  // with kDmaLaneRemapped: the manifest accepts that risk

constexpr u8 kDmaNone = 0;    // no grant: bus mastering off
constexpr u8 kDmaActive = 1;  // granted: bus mastering on
constexpr u8 kDmaTearingDown = 2;
constexpr u8 kDmaQuiesced = 3;     // grant ended, device confirmed quiet
constexpr u8 kDmaQuarantined = 4;  // grant ended, device NOT confirmed quiet: its memory is never reused

struct DeviceInfo {
    u8 bus, device, function, header_type;
    u16 vendor, device_id;
    u8 class_code, subclass, prog_if, revision;
    u16 msix_vectors;  // 0 when no MSI-X
    u16 msi_vectors;   // 0 when no MSI
    u8 remapping;      // kRemapping*: does an IOMMU (ACPI DMAR unit) translate this function's DMA?
    u8 reserved[3];
    DeviceBar bars[6];
    DmaUsage dma;  // the function's active DMA grant, if any
};

constexpr u8 kRemappingNone = 0;     // no remapping unit: only the brokered (bounce) lane is safe
constexpr u8 kRemappingCovered = 1;  // a DMAR unit translates it
constexpr u8 kRemappingUnknown = 2;  // the DMAR tables could not decide (treat as none: fail closed)

// DeviceOpen's address argument.
constexpr u32 pci_bdf(u8 bus, u8 device, u8 function) { return (u32(bus) << 8) | (u32(device) << 3) | function; }

// MmioCreate flags.
constexpr u64 kMmioFiltered = 1u << 0;

}  // namespace abi
