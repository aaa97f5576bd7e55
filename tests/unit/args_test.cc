#include "util/args.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace {

Args of(const char* s) { return Args(s, std::strlen(s) + 1); }

std::string value(const Args& a, const char* key) {
    Args::Value v;
    if (!a.find(key, &v)) return "<absent>";
    return std::string(v.text, v.len);
}

TEST(Args, KeysMatchAsWholeWords) {
    // The NVMe provider's old lookup found "timeout_ms=" anywhere in the text.
    EXPECT_EQ(of("xtimeout_ms=5").number("timeout_ms", 30000), 30000u);
    EXPECT_EQ(of("timeout_msx=5").number("timeout_ms", 30000), 30000u);
    EXPECT_EQ(of("a=timeout_ms=5").number("timeout_ms", 30000), 30000u);  // inside a value
    EXPECT_EQ(of("timeout_ms").number("timeout_ms", 30000), 30000u);      // no '='
    EXPECT_EQ(of("xtimeout_ms=5 timeout_ms=7").number("timeout_ms", 30000), 7u);
    EXPECT_EQ(of("timeout_ms=5").number("timeout_ms", 30000), 5u);
    EXPECT_EQ(of("qd=4 timeout_ms=5 bs=512").number("timeout_ms", 0), 5u);
    EXPECT_EQ(of("test.drop_completion=3").number("test.drop_completion", 0), 3u);
    EXPECT_EQ(of("").number("timeout_ms", 9), 9u);
    EXPECT_FALSE(of("a=1").has(""));
}

TEST(Args, FirstOccurrenceWins) {
    EXPECT_EQ(of("qd=1 qd=2").number("qd", 0), 1u);
    EXPECT_EQ(value(of("mode=read mode=write"), "mode"), "read");
}

TEST(Args, NumbersAreWholeValuesThatFit) {
    EXPECT_EQ(of("n=").number("n", 42), 42u);
    EXPECT_EQ(of("n=12x").number("n", 42), 42u);
    EXPECT_EQ(of("n=-1").number("n", 42), 42u);
    EXPECT_EQ(of("n=18446744073709551615").number("n", 42), 18446744073709551615ull);
    EXPECT_EQ(of("n=18446744073709551616").number("n", 42), 42u);
    EXPECT_EQ(of("n=0").number("n", 42), 0u);
}

TEST(Args, ValuesEndAtASpaceRestRunsToTheEnd) {
    Args a = of("dev=nvme0n1 run=blk list;blk hash nvme0n1 0 8");
    EXPECT_EQ(value(a, "dev"), "nvme0n1");
    Args::Value v;
    ASSERT_TRUE(a.find("run", &v));
    EXPECT_EQ(std::string(v.text, v.rest), "blk list;blk hash nvme0n1 0 8");
    EXPECT_EQ(std::string(v.text, v.len), "blk");
}

TEST(Args, CopyAndEquals) {
    Args a = of("target=nvme mode=randread");
    char buf[4] = "old";
    EXPECT_FALSE(a.copy("dev", buf, sizeof buf));
    EXPECT_STREQ(buf, "old");
    EXPECT_TRUE(a.copy("mode", buf, sizeof buf));
    EXPECT_STREQ(buf, "ran");  // cut to fit
    EXPECT_TRUE(a.equals("target", "nvme"));
    EXPECT_FALSE(a.equals("target", "nvm"));
    EXPECT_FALSE(a.equals("target", "nvme0"));
    EXPECT_FALSE(a.equals("mode", ""));
    EXPECT_TRUE(of("x=").equals("x", ""));
}

TEST(Args, BoundedByTheBufferWithoutANul) {
    // A full startup block need not hold a NUL: nothing past size is read
    // (ASan would flag the read).
    const char full[] = {'q', 'd', '=', '1', '2'};
    Args a(full, sizeof full);
    EXPECT_EQ(a.number("qd", 0), 12u);
    const char cut[] = {'q', 'd'};
    EXPECT_FALSE(Args(cut, sizeof cut).has("qd"));
    // A NUL ends the arguments even if the buffer goes on.
    const char early[] = "qd=1\0bs=2";
    EXPECT_FALSE(Args(early, sizeof early).has("bs"));
}

}  // namespace
