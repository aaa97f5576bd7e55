#include "util/le_bytes.h"

#include <gtest/gtest.h>

#include "util/byte_view.h"

namespace {

TEST(LeBytes, ByteOrderAndRoundTrip) {
    const u8 b[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88};
    EXPECT_EQ(le::get_u16(b), 0x0201u);
    EXPECT_EQ(le::get_u32(b), 0x04030201u);
    EXPECT_EQ(le::get_u64(b), 0x8807060504030201ull);
    EXPECT_EQ(le::load<u8>(b + 7), 0x88u);
    u8 out[8] = {};
    le::put_u64(out, 0x8807060504030201ull);
    EXPECT_EQ(0, __builtin_memcmp(out, b, 8));
    le::put_u16(out, 0xbeef);
    EXPECT_EQ(out[0], 0xef);
    EXPECT_EQ(out[1], 0xbe);
    EXPECT_EQ(out[2], 0x03);  // nothing past the field
    le::put_u32(out, 0xcafef00d);
    EXPECT_EQ(le::get_u32(out), 0xcafef00du);
}

TEST(LeBytes, ByteViewReadsThroughTheSameDefinition) {
    const u8 b[6] = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa};
    ByteView v(b, sizeof b);
    EXPECT_EQ(v.read_le<u32>(2).value(), le::get_u32(b + 2));
    EXPECT_EQ(v.read_le<u16>(4).value(), 0xaabbu);
    EXPECT_FALSE(v.read_le<u32>(3).ok());  // one byte short
}

}  // namespace
