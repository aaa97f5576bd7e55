#include "devices/window_policy.h"

#include <gtest/gtest.h>

namespace {

// QEMU 7.2 NVMe: BAR0 64-bit, 16 KiB; registers + doorbells in the first
// 8 KiB, MSI-X table (65 vectors) at 0x2000, PBA at 0x3000.
const pci::Bar kNvmeBar0{pci::BarKind::Mem64, false, 0xfebf0000, 0x4000};
pci::MsixInfo nvme_msix() {
    pci::MsixInfo m{};
    m.table_size = 65;
    m.table_bir = 0;
    m.table_offset = 0x2000;
    m.pba_bir = 0;
    m.pba_offset = 0x3000;
    return m;
}

TEST(WindowPolicy, RegistersAndDoorbellsAreGrantable) {
    auto m = nvme_msix();
    EXPECT_TRUE(devices::check_window(kNvmeBar0, 0, &m, 0, 0x1000).ok());
    EXPECT_TRUE(devices::check_window(kNvmeBar0, 0, &m, 0x1000, 0x1000).ok());
    EXPECT_TRUE(devices::check_window(kNvmeBar0, 0, &m, 0, 0x2000).ok());
}

TEST(WindowPolicy, MsixTableAndPbaPagesAreNever) {
    auto m = nvme_msix();
    EXPECT_EQ(devices::check_window(kNvmeBar0, 0, &m, 0x2000, 0x1000).status(), Status::NoRights);
    EXPECT_EQ(devices::check_window(kNvmeBar0, 0, &m, 0x3000, 0x1000).status(), Status::NoRights);
    EXPECT_EQ(devices::check_window(kNvmeBar0, 0, &m, 0, 0x4000).status(), Status::NoRights);
    EXPECT_EQ(devices::check_window(kNvmeBar0, 0, &m, 0x1000, 0x2000).status(), Status::NoRights);
    // The same offsets in another BAR are fine.
    EXPECT_TRUE(devices::check_window(kNvmeBar0, 2, &m, 0x2000, 0x1000).ok());
    // A table that ends mid-page still claims the whole page.
    m.table_offset = 0x1800;
    m.table_size = 4;
    EXPECT_EQ(devices::check_window(kNvmeBar0, 0, &m, 0x1000, 0x1000).status(), Status::NoRights);
}

TEST(WindowPolicy, WindowsStayInsideTheBarAndOnPages) {
    auto m = nvme_msix();
    EXPECT_EQ(devices::check_window(kNvmeBar0, 0, &m, 0x4000, 0x1000).status(), Status::OutOfBounds);
    EXPECT_EQ(devices::check_window(kNvmeBar0, 0, &m, 0, 0x8000).status(), Status::OutOfBounds);
    EXPECT_EQ(devices::check_window(kNvmeBar0, 0, &m, 0x800, 0x1000).status(), Status::OutOfBounds);
    EXPECT_EQ(devices::check_window(kNvmeBar0, 0, &m, 0, 0).status(), Status::OutOfBounds);
    EXPECT_EQ(devices::check_window(kNvmeBar0, 0, &m, ~0ull - 0xfff, 0x2000).status(), Status::OutOfBounds);
    const pci::Bar io{pci::BarKind::Io, false, 0xc000, 0x40};
    EXPECT_EQ(devices::check_window(io, 1, nullptr, 0, 0x1000).status(), Status::Unsupported);
}

TEST(WindowPolicy, AddressRegistersAreNeverDirect) {
    const auto nvme = devices::nvme_register_map(0x4000);
    EXPECT_FALSE(devices::direct_window_allowed(nvme, 0, 0, 0x1000));
    EXPECT_FALSE(devices::direct_window_allowed(nvme, 0, 0, 0x2000));
    EXPECT_FALSE(devices::direct_window_allowed(nvme, 0, 0x1000, 0x1000));  // doorbells: the broker's
    EXPECT_TRUE(devices::direct_window_allowed(nvme, 2, 0, 0x1000));        // another BAR
    // QEMU virtio: common configuration at BAR4 + 0, 0x38 bytes: its page is never direct.
    const auto virtio = devices::virtio_register_map(4, 0, 0x38);
    EXPECT_FALSE(devices::direct_window_allowed(virtio, 4, 0, 0x1000));
    EXPECT_TRUE(devices::direct_window_allowed(virtio, 4, 0x3000, 0x1000));  // notify
    EXPECT_FALSE(devices::direct_window_allowed(devices::virtio_register_map(4, 0x1ff8, 0x38), 4, 0x2000, 0x1000));
    EXPECT_TRUE(devices::direct_window_allowed(devices::RegisterMap{}, 0, 0, 0x1000));
}

TEST(WindowPolicy, NvmeFilterDeniesAddressRegisters) {
    const auto nvme = devices::nvme_register_map(0x4000);
    // Address registers, CC (enable would fetch from ASQ/ACQ), AQA, BPRSEL
    // (a boot-partition read DMAs to BPMBL), NSSR, read-only and unnamed
    // ones, and every doorbell (the broker's: a tail write re-fetches
    // entries the kernel wrote).
    for (u64 off : {0x28ull, 0x2cull, 0x30ull, 0x34ull, 0x48ull, 0x50ull, 0x00ull, 0x08ull, 0x14ull, 0x1cull, 0x20ull,
                    0x24ull, 0x44ull, 0xe14ull, 0x1000ull, 0x1004ull, 0x1ffcull, 0x3ffcull})
        EXPECT_FALSE(devices::filtered_write_allowed(nvme, 0, off, 4)) << std::hex << off;
    for (u64 off : {0x0cull, 0x10ull}) EXPECT_TRUE(devices::filtered_write_allowed(nvme, 0, off, 4)) << std::hex << off;
    EXPECT_FALSE(devices::filtered_write_allowed(nvme, 0, 0x0c, 8));    // 64-bit write over INTMS+INTMC
    EXPECT_FALSE(devices::filtered_write_allowed(nvme, 0, 0x1002, 4));  // misaligned
    EXPECT_FALSE(devices::filtered_write_allowed(nvme, 2, 0x1000, 4));  // not BAR0
    EXPECT_FALSE(devices::filtered_write_allowed(devices::RegisterMap{}, 0, 0x14, 4));
}

TEST(WindowPolicy, VirtioFilterDeniesQueueAddressesAndEnable) {
    const auto v = devices::virtio_register_map(4, 0, 0x38);
    // queue_desc, queue_driver, queue_device (64-bit each, also as halves), queue_enable
    for (u64 off : {0x20ull, 0x24ull, 0x28ull, 0x2cull, 0x30ull, 0x34ull})
        EXPECT_FALSE(devices::filtered_write_allowed(v, 4, off, 4)) << std::hex << off;
    EXPECT_FALSE(devices::filtered_write_allowed(v, 4, 0x20, 8));
    EXPECT_FALSE(devices::filtered_write_allowed(v, 4, 0x1c, 2));   // queue_enable
    EXPECT_FALSE(devices::filtered_write_allowed(v, 4, 0x04, 4));   // device_feature (read-only)
    EXPECT_TRUE(devices::filtered_write_allowed(v, 4, 0x00, 4));    // device_feature_select
    EXPECT_TRUE(devices::filtered_write_allowed(v, 4, 0x0c, 4));    // driver_feature
    EXPECT_TRUE(devices::filtered_write_allowed(v, 4, 0x14, 1));    // device_status
    EXPECT_FALSE(devices::filtered_write_allowed(v, 4, 0x16, 2));   // queue_select: the broker's
    EXPECT_FALSE(devices::filtered_write_allowed(v, 4, 0x18, 2));   // queue_size: the broker's
    EXPECT_FALSE(devices::filtered_write_allowed(v, 4, 0x1a, 2));   // queue_msix_vector: the broker's
    EXPECT_TRUE(devices::filtered_write_allowed(v, 4, 0x10, 2));    // msix_config
    EXPECT_FALSE(devices::filtered_write_allowed(v, 4, 0x14, 4));   // device_status with its neighbours
    EXPECT_TRUE(devices::filtered_write_allowed(v, 4, 0x3000, 2));  // a queue notify
}

TEST(WindowPolicy, VirtioDriverFeaturesTheBrokerCannotServeAreRefused) {
    EXPECT_TRUE(devices::virtio_driver_features_allowed(1, 1));              // VERSION_1
    EXPECT_FALSE(devices::virtio_driver_features_allowed(1, 1u << 2));       // RING_PACKED (34)
    EXPECT_FALSE(devices::virtio_driver_features_allowed(1, 1u | 1u << 6));  // NOTIFICATION_DATA (38)
    EXPECT_TRUE(devices::virtio_driver_features_allowed(1, 1u | 1u << 3));   // IN_ORDER (35)
    EXPECT_TRUE(devices::virtio_driver_features_allowed(0, 0xffffffffu));    // word 0: device features
}

// Finding: filtered windows were readable through their mapping, and ASQ,
// ACQ and the virtio ring addresses read back what the kernel wrote.
TEST(WindowPolicy, NvmeAddressRegistersAreNeverRead) {
    const auto nvme = devices::nvme_register_map(0x4000);
    // ASQ, ACQ, BPMBL, CMBMSC, PMRMSCL/PMRMSCU: whole, as halves, as bytes.
    for (u64 reg : {0x28ull, 0x30ull, 0x48ull, 0x50ull, 0xe14ull}) {
        EXPECT_FALSE(devices::filtered_read_allowed(nvme, 0, reg, 8)) << std::hex << reg;
        EXPECT_FALSE(devices::filtered_read_allowed(nvme, 0, reg, 4)) << std::hex << reg;
        EXPECT_FALSE(devices::filtered_read_allowed(nvme, 0, reg + 4, 4)) << std::hex << reg;
        EXPECT_FALSE(devices::filtered_read_allowed(nvme, 0, reg + 7, 1)) << std::hex << reg;
        EXPECT_TRUE(devices::read_reveals_address(nvme, 0, reg + 3, 2)) << std::hex << reg;  // any overlap
    }
    // What a driver reads: CAP, VS, CC, CSTS, AQA, CMBLOC/CMBSZ (an offset
    // and a size, no address), BPINFO, CMBSTS, PMRCAP..PMRSWTP, doorbells.
    for (u64 off : {0x00ull, 0x08ull, 0x0cull, 0x14ull, 0x1cull, 0x24ull, 0x38ull, 0x3cull, 0x40ull, 0x44ull, 0x58ull,
                    0xe00ull, 0xe10ull, 0xe1cull, 0x1000ull, 0x1ffcull})
        EXPECT_TRUE(devices::filtered_read_allowed(nvme, 0, off, 4)) << std::hex << off;
    EXPECT_TRUE(devices::filtered_read_allowed(nvme, 0, 0x00, 8));   // CAP whole
    EXPECT_TRUE(devices::filtered_read_allowed(nvme, 0, 0x20, 8));   // NSSR+AQA: ends where ASQ begins
    EXPECT_FALSE(devices::filtered_read_allowed(nvme, 0, 0x24, 8));  // misaligned
    EXPECT_FALSE(devices::filtered_read_allowed(nvme, 0, 0x00, 3));  // no such width
    EXPECT_TRUE(devices::filtered_read_allowed(nvme, 2, 0x28, 8));   // another BAR holds no NVMe register
    // An unknown class: nothing known to reveal (its windows may even be direct).
    EXPECT_TRUE(devices::filtered_read_allowed(devices::RegisterMap{}, 0, 0x28, 8));
    EXPECT_FALSE(devices::read_reveals_address(nvme, 0, ~0ull - 3, 8));  // no wrap-around
}

TEST(WindowPolicy, VirtioQueueAddressesAreNeverRead) {
    // A common configuration that does not start on a page boundary.
    const auto v = devices::virtio_register_map(4, 0x800, 0x40);
    for (u64 rel = 0x20; rel < 0x38; rel += 4) {
        EXPECT_FALSE(devices::filtered_read_allowed(v, 4, 0x800 + rel, 4)) << std::hex << rel;
        EXPECT_FALSE(devices::filtered_read_allowed(v, 4, 0x800 + rel, 2)) << std::hex << rel;
    }
    for (u64 rel : {0x20ull, 0x28ull, 0x30ull}) EXPECT_FALSE(devices::filtered_read_allowed(v, 4, 0x800 + rel, 8));
    // Features, status, num_queues, queue_size/enable/notify_off,
    // queue_notify_data/reset, admin queue index/count (virtio 1.3).
    for (u64 rel : {0x00ull, 0x04ull, 0x10ull, 0x14ull, 0x18ull, 0x1cull, 0x38ull, 0x3cull})
        EXPECT_TRUE(devices::filtered_read_allowed(v, 4, 0x800 + rel, 4)) << std::hex << rel;
    EXPECT_TRUE(devices::filtered_read_allowed(v, 4, 0x800 + 0x18, 8));  // queue_size..notify_off: no address
    EXPECT_TRUE(devices::filtered_read_allowed(v, 4, 0x20, 8));          // the same offsets, before the block
    EXPECT_TRUE(devices::filtered_read_allowed(v, 2, 0x800 + 0x20, 8));  // another BAR
}

TEST(WindowPolicy, FilteredWindowsWithAddressRegistersAreNotMappable) {
    const auto nvme = devices::nvme_register_map(0x4000);
    EXPECT_FALSE(devices::filtered_map_allowed(nvme, 0, 0, 0x1000));  // ASQ..PMRMSC
    EXPECT_FALSE(devices::filtered_map_allowed(nvme, 0, 0, 0x2000));
    EXPECT_TRUE(devices::filtered_map_allowed(nvme, 0, 0x1000, 0x1000));  // doorbells only
    EXPECT_TRUE(devices::filtered_map_allowed(nvme, 2, 0, 0x1000));
    // virtio: the page holding the common configuration, wherever in it.
    EXPECT_FALSE(devices::filtered_map_allowed(devices::virtio_register_map(4, 0, 0x38), 4, 0, 0x1000));
    EXPECT_FALSE(devices::filtered_map_allowed(devices::virtio_register_map(4, 0xfd0, 0x38), 4, 0,
                                               0x1000));  // queue_desc and queue_driver
    EXPECT_FALSE(devices::filtered_map_allowed(devices::virtio_register_map(4, 0xfd0, 0x38), 4, 0x1000,
                                               0x1000));  // queue_device
    EXPECT_TRUE(devices::filtered_map_allowed(devices::virtio_register_map(4, 0, 0x38), 4, 0x1000, 0x3000));
    EXPECT_TRUE(devices::filtered_map_allowed(devices::RegisterMap{}, 0, 0, 0x1000));
    EXPECT_FALSE(devices::filtered_map_allowed(nvme, 0, ~0ull - 0xfff, 0x2000));  // wraps
}

}  // namespace
