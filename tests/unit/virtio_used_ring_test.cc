// The virtqueue broker's checks of a device's used ring (lib/virtio/used_ring.h),
// against a device that lies: index jumps, ids out of range, ids of chains
// it was never given, the same chain returned twice.
#include <gtest/gtest.h>

#include "virtio/used_ring.h"

namespace {

TEST(VirtioUsedRing, IndexMayAdvanceAtMostARingsWorth) {
    EXPECT_TRUE(virtio::used_index_plausible(5, 5, 16));    // nothing new
    EXPECT_TRUE(virtio::used_index_plausible(21, 5, 16));   // exactly a ring
    EXPECT_FALSE(virtio::used_index_plausible(22, 5, 16));  // more than was ever outstanding
    EXPECT_FALSE(virtio::used_index_plausible(4, 5, 16));   // backwards: 65535 ahead
    // Across the 16-bit wrap.
    EXPECT_TRUE(virtio::used_index_plausible(3, 65530, 16));
    EXPECT_FALSE(virtio::used_index_plausible(20, 65530, 16));
}

TEST(VirtioUsedRing, IdsMustNameAnOutstandingChainHead) {
    bool heads[8] = {};
    heads[2] = true;  // one chain, headed by descriptor 2, is with the device
    EXPECT_EQ(virtio::check_used_id(2, 8, heads), virtio::UsedId::Chain);
    EXPECT_EQ(virtio::check_used_id(3, 8, heads), virtio::UsedId::NotGiven);  // a descriptor inside it, or free
    EXPECT_EQ(virtio::check_used_id(8, 8, heads), virtio::UsedId::OutOfRange);
    EXPECT_EQ(virtio::check_used_id(0xffffffffu, 8, heads), virtio::UsedId::OutOfRange);
    // Returned once, the driver clears its shadow: the same id again is a lie.
    heads[2] = false;
    EXPECT_EQ(virtio::check_used_id(2, 8, heads), virtio::UsedId::NotGiven);
}

}  // namespace
