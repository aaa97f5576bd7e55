#include "util/parse_size.h"

#include <gtest/gtest.h>

#include <cstring>

namespace {
bool parse(const char* s, u64* out) { return parse_size(s, std::strlen(s), out); }
}  // namespace

TEST(ParseSize, NumbersAndSuffixes) {
    u64 v = 0;
    EXPECT_TRUE(parse("4096", &v));
    EXPECT_EQ(v, 4096u);
    EXPECT_TRUE(parse("768K", &v));
    EXPECT_EQ(v, 768u << 10);
    EXPECT_TRUE(parse("16m", &v));
    EXPECT_EQ(v, 16u << 20);
    EXPECT_TRUE(parse("2G", &v));
    EXPECT_EQ(v, u64{2} << 30);
    EXPECT_TRUE(parse("0", &v));
    EXPECT_EQ(v, 0u);
    EXPECT_TRUE(parse("007k", &v));  // leading zeros are still decimal
    EXPECT_EQ(v, 7u << 10);
}

TEST(ParseSize, RefusesWhatIsNotASize) {
    u64 v = 99;
    for (const char* bad : {"", "K", "-1", "+1", "1.5M", "0x10", "12KB", "1T", " 1", "1 ", "M16"}) {
        EXPECT_FALSE(parse(bad, &v)) << bad;
        EXPECT_EQ(v, 99u) << bad;
    }
}

TEST(ParseSize, RefusesWhatDoesNotFit) {
    u64 v = 0;
    EXPECT_TRUE(parse("18446744073709551615", &v));
    EXPECT_EQ(v, ~u64{0});
    EXPECT_FALSE(parse("18446744073709551616", &v));
    EXPECT_TRUE(parse("17179869183G", &v));   // 2^34 - 1 GiB fits
    EXPECT_FALSE(parse("17179869184G", &v));  // 2^64 does not
    EXPECT_FALSE(parse("99999999999999999999999K", &v));
}
