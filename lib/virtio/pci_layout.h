// Virtio 1.1 over PCI, as structs (virtio 1.1 §4.1.4): the vendor-specific
// capabilities that locate each configuration structure, the common
// configuration the kernel and providers program, the device status bits
// and the feature bits Sluice knows. Every offset the spec gives is checked
// here, so code reads `offsetof(CommonConfig, queue_desc)` rather than a
// bare 0x20.
#pragma once

#include <stddef.h>

#include "util/types.h"

namespace virtio {

// §4.1.4 struct virtio_pci_cap: capability id 0x09 (vendor-specific).
struct PciCapability {
    u8 cap_vndr;
    u8 cap_next;
    u8 cap_len;
    u8 cfg_type;  // PciCfgType
    u8 bar;
    u8 id;
    u8 padding[2];
    u32 offset;  // within the BAR, little-endian
    u32 length;
};
static_assert(sizeof(PciCapability) == 16);

// §4.1.4.4 struct virtio_pci_notify_cap.
struct PciNotifyCapability {
    PciCapability cap;
    u32 notify_off_multiplier;
};
static_assert(sizeof(PciNotifyCapability) == 20);

enum class PciCfgType : u8 { Common = 1, Notify = 2, Isr = 3, Device = 4, PciCfg = 5 };

// §4.1.4.3 struct virtio_pci_common_cfg.
struct CommonConfig {
    u32 device_feature_select;
    u32 device_feature;
    u32 driver_feature_select;
    u32 driver_feature;
    u16 msix_config;
    u16 num_queues;
    u8 device_status;
    u8 config_generation;
    // About the queue queue_select names:
    u16 queue_select;
    u16 queue_size;
    u16 queue_msix_vector;
    u16 queue_enable;
    u16 queue_notify_off;
    u64 queue_desc;    // device-visible addresses: only the kernel writes
    u64 queue_driver;  // these, and no provider may read them
    u64 queue_device;
};
static_assert(sizeof(CommonConfig) == 0x38);
static_assert(offsetof(CommonConfig, msix_config) == 0x10);
static_assert(offsetof(CommonConfig, num_queues) == 0x12);
static_assert(offsetof(CommonConfig, device_status) == 0x14);
static_assert(offsetof(CommonConfig, config_generation) == 0x15);
static_assert(offsetof(CommonConfig, queue_select) == 0x16);
static_assert(offsetof(CommonConfig, queue_size) == 0x18);
static_assert(offsetof(CommonConfig, queue_msix_vector) == 0x1a);
static_assert(offsetof(CommonConfig, queue_enable) == 0x1c);
static_assert(offsetof(CommonConfig, queue_notify_off) == 0x1e);
static_assert(offsetof(CommonConfig, queue_desc) == 0x20);
static_assert(offsetof(CommonConfig, queue_driver) == 0x28);
static_assert(offsetof(CommonConfig, queue_device) == 0x30);

constexpr u16 kNoMsixVector = 0xffff;  // VIRTIO_MSI_NO_VECTOR (§4.1.4.3)

// §2.1 device status bits.
namespace status {
constexpr u8 kAcknowledge = 1;
constexpr u8 kDriver = 2;
constexpr u8 kDriverOk = 4;
constexpr u8 kFeaturesOk = 8;
constexpr u8 kDeviceNeedsReset = 64;
constexpr u8 kFailed = 128;
}  // namespace status

// §6 reserved feature bits (device-independent), as bit numbers.
namespace feature {
constexpr u32 kIndirectDesc = 28;
constexpr u32 kEventIdx = 29;
constexpr u32 kVersion1 = 32;
constexpr u32 kAccessPlatform = 33;
constexpr u32 kRingPacked = 34;
constexpr u32 kInOrder = 35;
constexpr u32 kOrderPlatform = 36;
constexpr u32 kSrIov = 37;
constexpr u32 kNotificationData = 38;
constexpr u64 bit(u32 n) { return u64{1} << n; }
}  // namespace feature

// Modern (1.x) PCI device ids are 0x1040 + the device type (§4.1.2.1);
// transitional ones keep their legacy ids.
constexpr u16 kPciVendor = 0x1af4;
enum class DeviceType : u16 { Net = 1, Block = 2, Console = 3, Entropy = 4, Balloon = 5, Gpu = 16 };
constexpr u16 modern_device_id(DeviceType t) { return static_cast<u16>(0x1040 + static_cast<u16>(t)); }
constexpr u16 kTransitionalNet = 0x1000, kTransitionalBlock = 0x1001;

}  // namespace virtio
