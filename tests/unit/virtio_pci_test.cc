#include "devices/virtio_pci.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

// A config space with a capability list: MSI-X at 0x40, then virtio
// vendor capabilities (cfg_type 1 common at BAR4+0 len 0x38, cfg_type 2
// notify), the layout QEMU 7.2 builds.
std::vector<u8> virtio_config(u8 common_len = 16, u8 common_bar = 4) {
    std::vector<u8> c(256, 0);
    c[0x06] = 0x10;  // status: capability list
    c[0x34] = 0x40;
    c[0x40] = 0x11, c[0x41] = 0x50;                             // MSI-X
    c[0x50] = 0x09, c[0x51] = 0x60, c[0x52] = 20, c[0x53] = 2;  // notify cfg
    c[0x54] = 4;
    c[0x60] = 0x09, c[0x61] = 0x00, c[0x62] = common_len, c[0x63] = 1;  // common cfg
    c[0x64] = common_bar;
    c[0x68] = 0x00;  // offset 0
    c[0x6c] = 0x38;  // length 0x38
    return c;
}

TEST(VirtioPci, FindsTheCommonConfiguration) {
    auto c = virtio_config();
    auto r = devices::find_virtio_common_cfg(ByteView(c.data(), c.size()));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value().bar, 4);
    EXPECT_EQ(r.value().offset, 0u);
    EXPECT_EQ(r.value().length, 0x38u);
}

TEST(VirtioPci, RefusesShortOrBadCapabilitiesAndReportsAbsence) {
    auto short_cap = virtio_config(12);
    EXPECT_EQ(devices::find_virtio_common_cfg(ByteView(short_cap.data(), short_cap.size())).status(),
              Status::Malformed);
    auto bad_bar = virtio_config(16, 6);
    EXPECT_EQ(devices::find_virtio_common_cfg(ByteView(bad_bar.data(), bad_bar.size())).status(), Status::Malformed);
    auto none = virtio_config();
    none[0x63] = 3;  // the common cap turned into an ISR cap
    EXPECT_EQ(devices::find_virtio_common_cfg(ByteView(none.data(), none.size())).status(), Status::NotFound);
}

// QEMU 7.2's notify capability: BAR4 + 0x3000, 0x1000 bytes, multiplier 4
// (struct virtio_pci_notify_cap, virtio 1.1 §4.1.4.4).
std::vector<u8> notify_config(u8 cap_len = 20) {
    std::vector<u8> c(256, 0);
    c[0x06] = 0x10;
    c[0x34] = 0x70;
    c[0x70] = 0x09, c[0x71] = 0x00, c[0x72] = cap_len, c[0x73] = 2;
    c[0x74] = 4;
    c[0x79] = 0x30;  // offset 0x3000
    c[0x7d] = 0x10;  // length 0x1000
    c[0x80] = 4;     // notify_off_multiplier
    return c;
}

TEST(VirtioPci, FindsTheNotifyConfigurationWithItsMultiplier) {
    auto c = notify_config();
    auto r = devices::find_virtio_notify_cfg(ByteView(c.data(), c.size()));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value().bar, 4);
    EXPECT_EQ(r.value().offset, 0x3000u);
    EXPECT_EQ(r.value().length, 0x1000u);
    EXPECT_EQ(r.value().notify_off_multiplier, 4u);
    auto short_cap = notify_config(16);  // a notify cap without room for its multiplier
    EXPECT_EQ(devices::find_virtio_notify_cfg(ByteView(short_cap.data(), short_cap.size())).status(),
              Status::Malformed);
    EXPECT_EQ(devices::find_virtio_common_cfg(ByteView(c.data(), c.size())).status(), Status::NotFound);
}

TEST(VirtioPci, FindsPciCfgData) {
    auto c = virtio_config();
    c[0x61] = 0x70;                                             // common cfg -> next
    c[0x70] = 0x09, c[0x71] = 0x00, c[0x72] = 20, c[0x73] = 5;  // PCI configuration access
    auto r = devices::find_virtio_pci_cfg_data(ByteView(c.data(), c.size()));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value(), 0x80);
    c[0x72] = 16;  // too short to hold pci_cfg_data
    EXPECT_EQ(devices::find_virtio_pci_cfg_data(ByteView(c.data(), c.size())).status(), Status::Malformed);
    auto none = virtio_config();
    EXPECT_EQ(devices::find_virtio_pci_cfg_data(ByteView(none.data(), none.size())).status(), Status::NotFound);
}

}  // namespace
