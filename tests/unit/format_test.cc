#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "util/format.h"

namespace {

std::string fmt(const char* f, auto... args) {
    char buf[128];
    usize n = format(buf, sizeof buf, f, args...);
    EXPECT_EQ(n, std::strlen(buf));
    return buf;
}

TEST(Format, MatchesLibcForCommonConversions) {
    char expect[128];
    std::snprintf(expect, sizeof expect, "%d %u %x %X %5d|%-5d|%05d %s %c %%", -42, 42u, 0xbeefu, 0xbeefu, 7, 7, -7,
                  "str", 'z');
    EXPECT_EQ(fmt("%d %u %x %X %5d|%-5d|%05d %s %c %%", -42, 42u, 0xbeefu, 0xbeefu, 7, 7, -7, "str", 'z'), expect);
}

TEST(Format, LengthModifiersAndExtremes) {
    EXPECT_EQ(fmt("%llx", 0xffffffffffffffffull), "ffffffffffffffff");
    EXPECT_EQ(fmt("%lld", static_cast<long long>(-9223372036854775807LL - 1)), "-9223372036854775808");
    EXPECT_EQ(fmt("%016lx", 0x1234ul), "0000000000001234");
    EXPECT_EQ(fmt("%zu", static_cast<size_t>(99)), "99");
    EXPECT_EQ(fmt("%hhx", 0x1ff), "ff");
    EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0xdead0000)), "0x00000000dead0000");
}

TEST(Format, StringPrecisionBoundsTheRead) {
    const char not_terminated[3] = {'a', 'b', 'c'};
    EXPECT_EQ(fmt("[%.*s]", 3, not_terminated), "[abc]");
    EXPECT_EQ(fmt("[%.2s]", "hello"), "[he]");
    EXPECT_EQ(fmt("%s", static_cast<const char*>(nullptr)), "(null)");
}

TEST(Format, TruncatesButReportsFullLength) {
    char buf[6];
    EXPECT_EQ(format(buf, sizeof buf, "%s", "0123456789"), 10u);
    EXPECT_STREQ(buf, "01234");
    EXPECT_EQ(format(buf, 0, "abc"), 3u);
}

}  // namespace
