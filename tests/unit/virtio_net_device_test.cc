// virtio::net's negotiation, configuration and received-packet rules
// (lib/virtio/net_device.h) against devices that say odd things.
#include <gtest/gtest.h>

#include "virtio/net_device.h"
#include "virtio/pci_layout.h"

namespace {

using namespace virtio::net;
using virtio::feature::bit;

constexpr u8 kFallback[6] = {0x02, 0x53, 0x4c, 0x00, 0x00, 0x01};
constexpr u16 kMaxMtu = 1500;

Config qemu_default() {
    Config c{};
    const u8 mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};  // QEMU's default
    __builtin_memcpy(c.mac, mac, 6);
    c.status = kStatusLinkUp;
    c.max_virtqueue_pairs = 1;
    c.mtu = 1500;
    return c;
}

// What QEMU 7.2's virtio-net-pci offers with -netdev user (no vhost).
u64 qemu_offered() {
    return bit(feature::kCsum) | bit(feature::kGuestCsum) | bit(feature::kCtrlGuestOffloads) | bit(feature::kMac) |
           bit(feature::kGuestTso4) | bit(feature::kGuestTso6) | bit(feature::kGuestEcn) | bit(feature::kGuestUfo) |
           bit(feature::kHostTso4) | bit(feature::kHostTso6) | bit(feature::kHostEcn) | bit(feature::kHostUfo) |
           bit(feature::kMrgRxbuf) | bit(feature::kStatus) | bit(feature::kCtrlVq) | bit(feature::kCtrlRx) |
           bit(feature::kCtrlVlan) | bit(feature::kGuestAnnounce) | bit(feature::kCtrlMacAddr) |
           bit(virtio::feature::kVersion1) | bit(virtio::feature::kIndirectDesc) | bit(virtio::feature::kEventIdx) |
           bit(virtio::feature::kAccessPlatform) | bit(virtio::feature::kRingPacked);
}

TEST(VirtioNetDevice, TakesOnlyWhatTheDriverImplements) {
    auto d = negotiate(qemu_offered() | bit(feature::kMtu), qemu_default(), kMaxMtu, kFallback);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d.value().features, driver_features());
    for (u32 refused : {feature::kCsum, feature::kGuestCsum, feature::kGuestTso4, feature::kMrgRxbuf, feature::kCtrlVq,
                        feature::kMq, feature::kHostUfo})
        EXPECT_FALSE(d.value().features & bit(refused)) << refused;
    EXPECT_FALSE(d.value().features & bit(virtio::feature::kRingPacked));
    // Taken: the device then goes through the IOMMU, where the kernel maps
    // each DMA range at its own address (QEMU refuses FEATURES_OK without it).
    EXPECT_TRUE(d.value().features & bit(virtio::feature::kAccessPlatform));
    EXPECT_TRUE(d.value().device_mac);
    EXPECT_EQ(d.value().mac[5], 0x56);
    EXPECT_EQ(d.value().mtu, 1500);
    EXPECT_TRUE(d.value().has_status);
}

TEST(VirtioNetDevice, LegacyOnlyDeviceIsRefused) {
    EXPECT_EQ(negotiate(qemu_offered() & ~bit(virtio::feature::kVersion1), qemu_default(), kMaxMtu, kFallback).status(),
              Status::Unsupported);
}

TEST(VirtioNetDevice, MinimalDeviceGetsTheFallbackMacAndLinkAlwaysUp) {
    Config c{};  // nothing meaningful in it
    auto d = negotiate(bit(virtio::feature::kVersion1), c, kMaxMtu, kFallback);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d.value().features, bit(virtio::feature::kVersion1));
    EXPECT_FALSE(d.value().device_mac);
    EXPECT_EQ(0, __builtin_memcmp(d.value().mac, kFallback, 6));
    EXPECT_EQ(d.value().mtu, kDefaultMtu);
    EXPECT_FALSE(d.value().has_status);
    EXPECT_TRUE(link_up(d.value(), 0));  // no STATUS: assumed up whatever the field says
}

TEST(VirtioNetDevice, LinkFollowsStatusWhenNegotiated) {
    auto d = negotiate(qemu_offered(), qemu_default(), kMaxMtu, kFallback);
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(link_up(d.value(), kStatusLinkUp));
    EXPECT_FALSE(link_up(d.value(), 0));
    EXPECT_FALSE(link_up(d.value(), kStatusAnnounce));
}

TEST(VirtioNetDevice, MulticastOrZeroMacIsMalformed) {
    Config c = qemu_default();
    c.mac[0] = 0x01;  // multicast bit
    EXPECT_EQ(negotiate(qemu_offered(), c, kMaxMtu, kFallback).status(), Status::Malformed);
    Config z = qemu_default();
    __builtin_memset(z.mac, 0, 6);
    EXPECT_EQ(negotiate(qemu_offered(), z, kMaxMtu, kFallback).status(), Status::Malformed);
    // Without MAC the field means nothing and is not looked at.
    EXPECT_TRUE(negotiate(qemu_offered() & ~bit(feature::kMac), z, kMaxMtu, kFallback).ok());
}

TEST(VirtioNetDevice, MtuRules) {
    u64 offered = qemu_offered() | bit(feature::kMtu);
    Config c = qemu_default();
    c.mtu = 67;  // below what the spec allows a device to say
    EXPECT_EQ(negotiate(offered, c, kMaxMtu, kFallback).status(), Status::Malformed);
    c.mtu = 576;  // smaller: taken, and the driver keeps to it
    auto small = negotiate(offered, c, kMaxMtu, kFallback);
    ASSERT_TRUE(small.ok());
    EXPECT_EQ(small.value().mtu, 576);
    EXPECT_TRUE(small.value().features & bit(feature::kMtu));
    c.mtu = 9000;  // jumbo: more than the buffers hold, so MTU is declined
    auto jumbo = negotiate(offered, c, kMaxMtu, kFallback);
    ASSERT_TRUE(jumbo.ok());
    EXPECT_EQ(jumbo.value().mtu, kDefaultMtu);
    EXPECT_FALSE(jumbo.value().features & bit(feature::kMtu));
    // Not offered: the field is not looked at.
    c.mtu = 0;
    EXPECT_EQ(negotiate(qemu_offered(), c, kMaxMtu, kFallback).value().mtu, kDefaultMtu);
}

TEST(VirtioNetDevice, DriverArgumentsAreChecked) {
    EXPECT_EQ(negotiate(qemu_offered(), qemu_default(), 1400, kFallback).status(), Status::InvalidArgument);
    const u8 global[6] = {0x00, 0x16, 0x3e, 0, 0, 1};  // not locally administered (an OUI)
    EXPECT_EQ(negotiate(qemu_offered(), qemu_default(), kMaxMtu, global).status(), Status::InvalidArgument);
    const u8 multicast[6] = {0x03, 0, 0, 0, 0, 1};
    EXPECT_EQ(negotiate(qemu_offered(), qemu_default(), kMaxMtu, multicast).status(), Status::InvalidArgument);
}

TEST(VirtioNetDevice, ReceivedPacketLengths) {
    constexpr u32 kBuffer = 2048;
    Header h{};
    EXPECT_EQ(rx_frame_length(h, 12 + 60, kBuffer, 1500).value(), 60u);
    EXPECT_EQ(rx_frame_length(h, 12 + 1514, kBuffer, 1500).value(), 1514u);
    h.num_buffers = 0x5a5a;  // not negotiated: ignored (QEMU leaves it as it was)
    EXPECT_TRUE(rx_frame_length(h, 12 + 60, kBuffer, 1500).ok());
    h.flags = kHeaderDataValid;  // harmless
    EXPECT_TRUE(rx_frame_length(h, 12 + 60, kBuffer, 1500).ok());
}

TEST(VirtioNetDevice, ReceivedPacketLiesAreRefused) {
    constexpr u32 kBuffer = 2048;
    Header h{};
    EXPECT_EQ(rx_frame_length(h, kBuffer + 1, kBuffer, 1500).status(), Status::OutOfBounds);
    EXPECT_EQ(rx_frame_length(h, 0xffffffffu, kBuffer, 1500).status(), Status::OutOfBounds);
    EXPECT_EQ(rx_frame_length(h, 12 + 13, kBuffer, 1500).status(), Status::Truncated);
    EXPECT_EQ(rx_frame_length(h, 0, kBuffer, 1500).status(), Status::Truncated);
    EXPECT_EQ(rx_frame_length(h, 12 + 1515, kBuffer, 1500).status(), Status::InvalidArgument);
    EXPECT_EQ(rx_frame_length(h, 12 + 577 + 14, kBuffer, 576).status(), Status::InvalidArgument);
    Header gso{};
    gso.gso_type = kGsoTcpv4;
    EXPECT_EQ(rx_frame_length(gso, 12 + 60, kBuffer, 1500).status(), Status::Malformed);
    Header csum{};
    csum.flags = kHeaderNeedsCsum;
    EXPECT_EQ(rx_frame_length(csum, 12 + 60, kBuffer, 1500).status(), Status::Malformed);
    Header rsc{};
    rsc.flags = kHeaderRscInfo;
    EXPECT_EQ(rx_frame_length(rsc, 12 + 60, kBuffer, 1500).status(), Status::Malformed);
}

}  // namespace
