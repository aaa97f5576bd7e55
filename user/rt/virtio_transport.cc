#include "rt/virtio_transport.h"

#include <stddef.h>

#include "devices/virtio_pci.h"
#include "rt/sys.h"
#include "util/format.h"
#include "virtio/pci_layout.h"

namespace rt {

using virtio::CommonConfig;

namespace {
constexpr u64 kResetWaitNs = 1'000'000'000;  // QEMU answers at once; the spec gives no bound
constexpr u32 kConfigSpace = 256;            // virtio capabilities live in the first 256 bytes
}  // namespace

u32 startup_bar_window(u8 bar) {
    char name[8];
    format(name, sizeof name, "bar%u", bar);
    return startup_handle(name);
}

Result<void> VirtioTransport::locate(u32 pci, u32 (*window_for_bar)(u8 bar)) {
    // Only what the capability walk needs is read: the status register, the
    // capability pointer and each capability — a vendor capability whole
    // (but not pci_cfg_data, after the 16 bytes of a PCI-configuration-
    // access capability), any other only its header. Nothing the kernel's
    // config policy refuses (BARs, the MSI address, pci_cfg_data) is asked
    // for, so bring-up costs no refusal.
    u8 cfg[kConfigSpace] = {};
    auto fetch = [&](u32 at) -> Result<void> {
        u32 v = TRY(pci_config_read(pci, at, 4));
        for (u32 i = 0; i < 4; i++) cfg[at + i] = static_cast<u8>(v >> (8 * i));
        return {};
    };
    TRY(fetch(0x04));
    TRY(fetch(0x34));
    u32 seen = 0;
    for (u32 at = cfg[0x34] & 0xfc; at >= 0x40 && at < kConfigSpace && seen < 48; seen++) {
        TRY(fetch(at));
        if (cfg[at] == 0x09) {  // vendor-specific: a virtio_pci_cap
            u32 len = cfg[at + 2];
            if (cfg[at + 3] == static_cast<u8>(virtio::PciCfgType::PciCfg) && len > 16) len = 16;
            for (u32 off = 4; off < len && at + off < kConfigSpace; off += 4) TRY(fetch(at + off));
        }
        at = cfg[at + 1] & 0xfc;
    }
    ByteView view(cfg, sizeof cfg);
    auto common = TRY(devices::find_virtio_cfg(view, static_cast<u8>(virtio::PciCfgType::Common)));
    auto device = TRY(devices::find_virtio_cfg(view, static_cast<u8>(virtio::PciCfgType::Device)));
    if (common.length < sizeof(CommonConfig)) return Status::Malformed;
    m_common_window = window_for_bar(common.bar);
    m_device_window = window_for_bar(device.bar);
    if (!m_common_window || !m_device_window) return Status::NotFound;
    m_common_offset = common.offset;
    m_device_offset = device.offset;
    m_device_length = device.length;
    return {};
}

Result<u64> VirtioTransport::common(u32 offset, u32 width) {
    return mmio_read(m_common_window, m_common_offset + offset, width);
}

Result<void> VirtioTransport::set_common(u32 offset, u32 width, u64 value) {
    return mmio_write(m_common_window, m_common_offset + offset, width, value);
}

Result<void> VirtioTransport::set_status(u8 bits) {
    m_status = bits;
    return set_common(offsetof(CommonConfig, device_status), 1, bits);
}

Result<u64> VirtioTransport::begin() {
    TRY(set_status(0));
    for (u64 start = clock_ns();;) {
        if (TRY(common(offsetof(CommonConfig, device_status), 1)) == 0) break;
        if (clock_ns() - start > kResetWaitNs) return Status::Timeout;
        sleep_ns(100'000);
    }
    TRY(set_status(virtio::status::kAcknowledge));
    TRY(set_status(virtio::status::kAcknowledge | virtio::status::kDriver));
    u64 offered = 0;
    for (u32 half = 0; half < 2; half++) {
        TRY(set_common(offsetof(CommonConfig, device_feature_select), 4, half));
        offered |= TRY(common(offsetof(CommonConfig, device_feature), 4)) << (32 * half);
    }
    return offered;
}

Result<void> VirtioTransport::accept(u64 features) {
    m_features = features;
    for (u32 half = 0; half < 2; half++) {
        TRY(set_common(offsetof(CommonConfig, driver_feature_select), 4, half));
        TRY(set_common(offsetof(CommonConfig, driver_feature), 4, (m_features >> (32 * half)) & 0xffffffffu));
    }
    TRY(set_status(m_status | virtio::status::kFeaturesOk));
    if (!(TRY(common(offsetof(CommonConfig, device_status), 1)) & virtio::status::kFeaturesOk))
        return Status::Unsupported;  // the device does not accept this subset
    return {};
}

Result<void> VirtioTransport::read_config(const ConfigField* fields, u32 count, u8* raw, u32 size) {
    u32 end = 0;
    for (u32 i = 0; i < count; i++) {
        if (fields[i].offset + fields[i].width > size) return Status::InvalidArgument;
        if (fields[i].offset + fields[i].width > end) end = fields[i].offset + fields[i].width;
    }
    if (m_device_length < end) return Status::Malformed;
    for (u32 attempt = 0; attempt < 8; attempt++) {
        u64 before = TRY(common(offsetof(CommonConfig, config_generation), 1));
        for (u32 f = 0; f < count; f++) {
            u64 v = TRY(mmio_read(m_device_window, m_device_offset + fields[f].offset, fields[f].width));
            for (u32 i = 0; i < fields[f].width; i++) raw[fields[f].offset + i] = static_cast<u8>(v >> (8 * i));
        }
        u64 after = TRY(common(offsetof(CommonConfig, config_generation), 1));
        if (before == after) return {};  // else it changed under us: read again
    }
    return Status::Busy;  // the configuration keeps changing
}

Result<void> VirtioTransport::set_config_vector(u16 entry) {
    return set_common(offsetof(CommonConfig, msix_config), 2, entry);
}

Result<void> VirtioTransport::driver_ok() { return set_status(m_status | virtio::status::kDriverOk); }

void VirtioTransport::fail() { (void)set_status(m_status | virtio::status::kFailed); }

bool VirtioTransport::needs_reset() {
    auto s = common(offsetof(CommonConfig, device_status), 1);
    return s.ok() && (s.value() & virtio::status::kDeviceNeedsReset);
}

}  // namespace rt
