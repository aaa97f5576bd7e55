#include "devices/virtio_class.h"

#include <gtest/gtest.h>

namespace {

// Finding: the virtio broker took every virtio class, balloon and GPU
// included, whose payloads carry guest-physical addresses it cannot see.
TEST(VirtioClass, OnlyNetworkAndBlockAreBrokered) {
    for (u16 id : {0x1000, 0x1041, 0x1001, 0x1042}) EXPECT_TRUE(devices::virtio_class_brokered(0x1af4, id)) << id;
    // balloon (transitional, modern), console, SCSI, entropy, 9P, GPU,
    // input, vsock, crypto, memory, fs, pmem, an ID past the range, another
    // vendor with a virtio-net ID, a transitional ID with no class.
    for (u16 id : {0x1002, 0x1045, 0x1003, 0x1004, 0x1005, 0x1009, 0x1050, 0x1052, 0x1053, 0x1054, 0x1058, 0x105a,
                   0x105b, 0x1080, 0x0fff, 0x1006, 0x103f, 0x1040, 0x107f})
        EXPECT_FALSE(devices::virtio_class_brokered(0x1af4, id)) << std::hex << id;
    EXPECT_FALSE(devices::virtio_class_brokered(0x8086, 0x1000));
}

TEST(VirtioClass, DeviceTypesAndNames) {
    EXPECT_EQ(devices::virtio_device_type(0x1af4, 0x1002), 5);
    EXPECT_EQ(devices::virtio_device_type(0x1af4, 0x1045), 5);
    EXPECT_EQ(devices::virtio_device_type(0x1af4, 0x1050), 16);
    EXPECT_EQ(devices::virtio_device_type(0x1af4, 0x1080), 0);
    EXPECT_STREQ(devices::virtio_class_name(0x1af4, 0x1002), "balloon");
    EXPECT_STREQ(devices::virtio_class_name(0x1af4, 0x1050), "GPU");
    EXPECT_STREQ(devices::virtio_class_name(0x1af4, 0x1042), "block");
    EXPECT_STREQ(devices::virtio_class_name(0x1b36, 0x0010), "unknown");
    EXPECT_TRUE(devices::is_virtio(0x1af4, 0x107f));
    EXPECT_FALSE(devices::is_virtio(0x1af4, 0x1080));
}

}  // namespace
