#include "virtio/net_device.h"

#include "virtio/pci_layout.h"

namespace virtio::net {

using virtio::feature::bit;

u64 driver_features() {
    return bit(virtio::feature::kVersion1) | bit(feature::kMac) | bit(feature::kStatus) | bit(feature::kMtu) |
           bit(virtio::feature::kEventIdx) | bit(virtio::feature::kAccessPlatform);
}

Result<Device> negotiate(u64 offered, const Config& config, u16 max_mtu, const u8 (&fallback_mac)[6]) {
    // Locally administered (bit 1 of the first octet) and unicast (bit 0 clear).
    if (max_mtu < kDefaultMtu || (fallback_mac[0] & 3) != 2) return Status::InvalidArgument;
    if (!(offered & bit(virtio::feature::kVersion1))) return Status::Unsupported;
    Device d{};
    d.features = offered & driver_features();
    if (d.features & bit(feature::kMac)) {
        bool zero = true;
        for (u8 b : config.mac) zero = zero && b == 0;
        if (zero || (config.mac[0] & 1)) return Status::Malformed;
        __builtin_memcpy(d.mac, config.mac, sizeof d.mac);
        d.device_mac = true;
    } else {
        __builtin_memcpy(d.mac, fallback_mac, sizeof d.mac);
    }
    d.mtu = kDefaultMtu;
    if (d.features & bit(feature::kMtu)) {
        if (config.mtu < kMinMtu) return Status::Malformed;
        if (config.mtu > max_mtu) {
            d.features &= ~bit(feature::kMtu);  // declined: our buffers hold no more than max_mtu
        } else {
            d.mtu = config.mtu;
        }
    }
    d.has_status = d.features & bit(feature::kStatus);
    return d;
}

bool link_up(const Device& device, u16 status) { return !device.has_status || (status & kStatusLinkUp); }

Result<u32> rx_frame_length(const Header& header, u32 used_len, u32 buffer_len, u16 mtu) {
    if (used_len > buffer_len) return Status::OutOfBounds;
    if (used_len < sizeof(Header) + kEthernetHeader) return Status::Truncated;
    if (header.gso_type != kGsoNone || (header.flags & (kHeaderNeedsCsum | kHeaderRscInfo))) return Status::Malformed;
    u32 frame = used_len - static_cast<u32>(sizeof(Header));
    if (frame > u32{mtu} + kEthernetHeader) return Status::InvalidArgument;
    return frame;
}

}  // namespace virtio::net
