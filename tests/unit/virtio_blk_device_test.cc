// virtio::blk's negotiation, configuration and id rules (lib/virtio/
// blk_device.h) against devices that say odd things.
#include <gtest/gtest.h>

#include <cstring>

#include "virtio/blk_device.h"
#include "virtio/pci_layout.h"

namespace {

using namespace virtio::blk;

constexpr u64 bit(u32 n) { return u64{1} << n; }

Config qemu_default() {
    Config c{};
    c.capacity = 131072;  // 64 MiB
    c.seg_max = 126;      // QEMU: queue size 128 - 2
    c.blk_size = 512;
    c.max_discard_sectors = 0x3fffff;
    c.max_discard_seg = 1;
    c.max_write_zeroes_sectors = 0x3fffff;
    c.max_write_zeroes_seg = 1;
    return c;
}

TEST(VirtioBlkDevice, NegotiationTakesOnlyWhatTheDriverImplements) {
    u64 offered = driver_features() | bit(virtio::feature::kEventIdx) | bit(feature::kMultiQueue) |
                  bit(feature::kConfigWce) | bit(virtio::feature::kRingPacked);
    auto taken = negotiate(offered, driver_features(), required_features());
    ASSERT_TRUE(taken.ok());
    EXPECT_EQ(taken.value(), driver_features());
    EXPECT_FALSE(taken.value() & bit(virtio::feature::kRingPacked));
    // A legacy-only device (no VERSION_1) is refused.
    EXPECT_EQ(negotiate(driver_features() & ~bit(virtio::feature::kVersion1), driver_features(), required_features())
                  .status(),
              Status::Unsupported);
    // A device offering less gets less.
    auto minimal = negotiate(bit(virtio::feature::kVersion1), driver_features(), required_features());
    EXPECT_EQ(minimal.value(), bit(virtio::feature::kVersion1));
}

TEST(VirtioBlkDevice, GeometryOfQemusDefaultDevice) {
    u64 f = driver_features() & ~bit(feature::kReadOnly);  // a writable drive
    auto g = read_geometry(qemu_default(), f, 254);
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g.value().blocks, 131072u);
    EXPECT_EQ(g.value().block_size, 512u);
    EXPECT_EQ(g.value().max_segments, 126u);
    EXPECT_TRUE(g.value().flush);
    EXPECT_TRUE(g.value().discard);
    EXPECT_FALSE(g.value().read_only);
}

TEST(VirtioBlkDevice, CapacityIsInSectorsWhateverTheBlockSize) {
    Config c = qemu_default();
    c.blk_size = 4096;
    auto g = read_geometry(c, driver_features(), 254);
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g.value().block_size, 4096u);
    EXPECT_EQ(g.value().blocks, 131072u / 8);
    c.capacity = 131073;  // not whole 4 KiB blocks
    EXPECT_EQ(read_geometry(c, driver_features(), 254).status(), Status::Malformed);
    // Without BLK_SIZE negotiated the field means nothing: 512-byte blocks.
    EXPECT_EQ(read_geometry(c, driver_features() & ~bit(feature::kBlockSize), 254).value().block_size, 512u);
}

TEST(VirtioBlkDevice, ValuesTheSpecDoesNotAllowAreMalformed) {
    u64 f = driver_features();
    for (u32 bad : {0u, 256u, 1000u, 131072u}) {
        Config c = qemu_default();
        c.blk_size = bad;
        EXPECT_EQ(read_geometry(c, f, 254).status(), Status::Malformed) << bad;
    }
    Config c = qemu_default();
    c.seg_max = 0;
    EXPECT_EQ(read_geometry(c, f, 254).status(), Status::Malformed);
    c = qemu_default();
    c.size_max = 100;  // smaller than a sector
    EXPECT_EQ(read_geometry(c, f, 254).status(), Status::Malformed);
    c = qemu_default();
    c.max_discard_seg = 0;
    EXPECT_EQ(read_geometry(c, f, 254).status(), Status::Malformed);
    c = qemu_default();
    c.topology.physical_block_exp = 40;
    EXPECT_EQ(read_geometry(c, f, 254).status(), Status::Malformed);
    c = qemu_default();  // 64 KiB blocks << 16 would wrap a u32 to 0
    c.blk_size = 65536;
    c.topology.physical_block_exp = 16;
    EXPECT_EQ(read_geometry(c, f, 254).status(), Status::Malformed);
    c = qemu_default();
    c.capacity = ~u64{0};
    EXPECT_EQ(read_geometry(c, f, 254).status(), Status::Malformed);
}

TEST(VirtioBlkDevice, SegmentLimitIsTheSmallerOfDeviceAndDriver) {
    Config c = qemu_default();
    c.seg_max = 1000;
    EXPECT_EQ(read_geometry(c, driver_features(), 254).value().max_segments, 254u);
    EXPECT_EQ(read_geometry(c, driver_features() & ~bit(feature::kSegMax), 30).value().max_segments, 30u);
}

TEST(VirtioBlkDevice, SizeMaxZeroMeansNoLimit) {
    Config c = qemu_default();
    EXPECT_EQ(read_geometry(c, driver_features(), 254).value().max_segment_bytes, 0u);
    c.size_max = 65536;
    EXPECT_EQ(read_geometry(c, driver_features(), 254).value().max_segment_bytes, 65536u);
}

TEST(VirtioBlkDevice, ReadOnlyAndTopology) {
    Config c = qemu_default();
    c.topology.physical_block_exp = 3;
    auto g = read_geometry(c, driver_features() | bit(feature::kReadOnly), 254);
    EXPECT_TRUE(g.value().read_only);
    EXPECT_EQ(g.value().physical_block, 4096u);
}

TEST(VirtioBlkDevice, IdStringIsPrintableAndTrimmed) {
    char out[kIdBytes + 1];
    u8 full[kIdBytes];
    std::memcpy(full, "ABCDEFGHIJKLMNOPQRST", kIdBytes);  // 20 bytes, no NUL
    id_string(full, out);
    EXPECT_STREQ(out, "ABCDEFGHIJKLMNOPQRST");
    u8 shorter[kIdBytes] = {'s', 'e', 'r', 'i', 'a', 'l', ' ', ' ', 0};
    id_string(shorter, out);
    EXPECT_STREQ(out, "serial");
    u8 odd[kIdBytes] = {'a', 0x1b, 'b', 0xff, 0};
    id_string(odd, out);
    EXPECT_STREQ(out, "a?b?");
    u8 empty[kIdBytes] = {};
    id_string(empty, out);
    EXPECT_STREQ(out, "");
}

}  // namespace
