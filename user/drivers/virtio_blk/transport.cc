#include "transport.h"

#include <stddef.h>

#include "devices/virtio_pci.h"
#include "rt/sys.h"
#include "virtio/pci_layout.h"

namespace virtio_blk {

using virtio::CommonConfig;

namespace {
constexpr u64 kResetWaitNs = 1'000'000'000;  // QEMU answers at once; the spec gives no bound
constexpr u32 kConfigSpace = 256;            // virtio capabilities live in the first 256 bytes
}  // namespace

Result<void> Transport::locate(u32 pci, u32 (*window_for_bar)(u8 bar)) {
    // Only what the capability walk needs is read: the status register, the
    // capability pointer and each capability — a vendor capability whole
    // (but not pci_cfg_data, after the 16 bytes of a PCI-configuration-
    // access capability), any other only its header. Nothing the kernel's
    // config policy refuses (BARs, the MSI address, pci_cfg_data) is asked
    // for, so bring-up costs no refusal.
    u8 cfg[kConfigSpace] = {};
    auto fetch = [&](u32 at) -> Result<void> {
        u32 v = TRY(rt::pci_config_read(pci, at, 4));
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

Result<u64> Transport::common(u32 offset, u32 width) {
    return rt::mmio_read(m_common_window, m_common_offset + offset, width);
}

Result<void> Transport::set_common(u32 offset, u32 width, u64 value) {
    return rt::mmio_write(m_common_window, m_common_offset + offset, width, value);
}

Result<void> Transport::set_status(u8 bits) {
    m_status = bits;
    return set_common(offsetof(CommonConfig, device_status), 1, bits);
}

Result<void> Transport::negotiate() {
    TRY(set_status(0));
    for (u64 start = rt::clock_ns();;) {
        if (TRY(common(offsetof(CommonConfig, device_status), 1)) == 0) break;
        if (rt::clock_ns() - start > kResetWaitNs) return Status::Timeout;
        rt::sleep_ns(100'000);
    }
    TRY(set_status(virtio::status::kAcknowledge));
    TRY(set_status(virtio::status::kAcknowledge | virtio::status::kDriver));
    u64 offered = 0;
    for (u32 half = 0; half < 2; half++) {
        TRY(set_common(offsetof(CommonConfig, device_feature_select), 4, half));
        offered |= TRY(common(offsetof(CommonConfig, device_feature), 4)) << (32 * half);
    }
    m_features = TRY(virtio::blk::negotiate(offered, virtio::blk::driver_features(), virtio::blk::required_features()));
    for (u32 half = 0; half < 2; half++) {
        TRY(set_common(offsetof(CommonConfig, driver_feature_select), 4, half));
        TRY(set_common(offsetof(CommonConfig, driver_feature), 4, (m_features >> (32 * half)) & 0xffffffffu));
    }
    TRY(set_status(m_status | virtio::status::kFeaturesOk));
    if (!(TRY(common(offsetof(CommonConfig, device_status), 1)) & virtio::status::kFeaturesOk))
        return Status::Unsupported;  // the device does not accept this subset
    return {};
}

Result<virtio::blk::Config> Transport::read_config() {
    using virtio::blk::Config;
    // (offset, width) of every field up to write_zeroes_may_unmap; 64-bit
    // capacity as two 32-bit reads (§4.1.3.1), hence the generation check.
    struct Field {
        u8 offset, width;
    };
    static constexpr Field kFields[] = {
        {0, 4},  {4, 4},  {8, 4},  {12, 4}, {16, 2}, {18, 1}, {19, 1}, {20, 4}, {24, 1}, {25, 1},
        {26, 2}, {28, 4}, {32, 1}, {34, 2}, {36, 4}, {40, 4}, {44, 4}, {48, 4}, {52, 4}, {56, 1},
    };
    if (m_device_length < offsetof(Config, write_zeroes_may_unmap) + 1) return Status::Malformed;
    for (u32 attempt = 0; attempt < 8; attempt++) {
        u64 before = TRY(common(offsetof(CommonConfig, config_generation), 1));
        u8 raw[sizeof(Config)] = {};
        for (const Field& f : kFields) {
            u64 v = TRY(rt::mmio_read(m_device_window, m_device_offset + f.offset, f.width));
            for (u32 i = 0; i < f.width; i++) raw[f.offset + i] = static_cast<u8>(v >> (8 * i));
        }
        u64 after = TRY(common(offsetof(CommonConfig, config_generation), 1));
        if (before != after) continue;  // it changed under us: read again
        Config c;
        __builtin_memcpy(&c, raw, sizeof c);  // little-endian fields, as x86 reads them
        return c;
    }
    return Status::Busy;  // the configuration keeps changing
}

Result<void> Transport::driver_ok() { return set_status(m_status | virtio::status::kDriverOk); }

void Transport::fail() { (void)set_status(m_status | virtio::status::kFailed); }

bool Transport::needs_reset() {
    auto s = common(offsetof(CommonConfig, device_status), 1);
    return s.ok() && (s.value() & virtio::status::kDeviceNeedsReset);
}

}  // namespace virtio_blk
