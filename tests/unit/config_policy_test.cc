#include "devices/config_policy.h"

#include <gtest/gtest.h>

namespace {

using devices::config_read_reveals_address;

TEST(ConfigPolicy, EndpointBarsAndRomAreRefused) {
    for (u16 off = 0x10; off < 0x28; off += 4) EXPECT_TRUE(config_read_reveals_address(0, nullptr, off, 4)) << off;
    EXPECT_TRUE(config_read_reveals_address(0, nullptr, 0x30, 4));
    EXPECT_TRUE(config_read_reveals_address(0, nullptr, 0x12, 2));     // a half of BAR0
    EXPECT_TRUE(config_read_reveals_address(0, nullptr, 0x27, 1));     // last byte of BAR5
    EXPECT_TRUE(config_read_reveals_address(0x80, nullptr, 0x10, 4));  // multi-function bit does not matter
}

TEST(ConfigPolicy, IdentityAndCapabilitiesAreReadable) {
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x00, 4));  // vendor, device
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x08, 4));  // class
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x0C, 4));  // header type
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x28, 4));  // cardbus CIS pointer slot
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x2C, 4));  // subsystem IDs
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x34, 1));  // capabilities pointer
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x0F, 1));  // BIST, just below BAR0
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x40, 4));
}

TEST(ConfigPolicy, BridgeWindowsAreRefusedButBusNumbersAreNot) {
    EXPECT_TRUE(config_read_reveals_address(1, nullptr, 0x10, 4));
    EXPECT_TRUE(config_read_reveals_address(1, nullptr, 0x14, 4));
    EXPECT_FALSE(config_read_reveals_address(1, nullptr, 0x18, 4));  // primary/secondary/subordinate bus
    EXPECT_TRUE(config_read_reveals_address(1, nullptr, 0x1C, 2));   // I/O base/limit
    EXPECT_FALSE(config_read_reveals_address(1, nullptr, 0x1E, 2));  // secondary status
    EXPECT_TRUE(config_read_reveals_address(1, nullptr, 0x20, 4));   // memory window
    EXPECT_TRUE(config_read_reveals_address(1, nullptr, 0x24, 4));   // prefetchable window
    EXPECT_TRUE(config_read_reveals_address(1, nullptr, 0x2C, 4));   // prefetchable limit upper
    EXPECT_TRUE(config_read_reveals_address(1, nullptr, 0x30, 4));   // I/O base/limit upper halves
    EXPECT_FALSE(config_read_reveals_address(1, nullptr, 0x34, 1));
    EXPECT_TRUE(config_read_reveals_address(1, nullptr, 0x38, 4));   // bridge ROM
    EXPECT_FALSE(config_read_reveals_address(1, nullptr, 0x3C, 4));  // interrupt line/pin, bridge control
}

TEST(ConfigPolicy, MsiMessageAddressIsRefusedDataIsNot) {
    pci::MsiInfo msi{};
    msi.address_offset = 0x54;
    msi.upper_address_offset = 0x58;
    msi.data_offset = 0x5C;
    EXPECT_TRUE(config_read_reveals_address(0, &msi, 0x54, 4));
    EXPECT_TRUE(config_read_reveals_address(0, &msi, 0x58, 4));
    EXPECT_TRUE(config_read_reveals_address(0, &msi, 0x56, 2));
    EXPECT_FALSE(config_read_reveals_address(0, &msi, 0x5C, 2));
    EXPECT_FALSE(config_read_reveals_address(0, &msi, 0x50, 4));  // header and message control
    msi.upper_address_offset = 0;                                 // 32-bit MSI
    EXPECT_FALSE(config_read_reveals_address(0, &msi, 0x58, 4));
}

// virtio's PCI configuration access capability reads BAR memory through
// config space: a way around the MMIO read filter.
TEST(ConfigPolicy, VirtioPciCfgDataIsRefused) {
    EXPECT_TRUE(config_read_reveals_address(0, nullptr, 0x94, 4, 0x94));
    EXPECT_TRUE(config_read_reveals_address(0, nullptr, 0x97, 1, 0x94));
    EXPECT_TRUE(config_read_reveals_address(0, nullptr, 0x96, 2, 0x94));
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x90, 4, 0x94));  // the capability's length field
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x98, 4, 0x94));
    EXPECT_FALSE(config_read_reveals_address(0, nullptr, 0x94, 4, 0));  // none
}

}  // namespace
