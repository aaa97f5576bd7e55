#include "util/format.h"

#include <gtest/gtest.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

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

// format_chunks through a 512-byte buffer with a sink that records each
// piece, as the shell's console output does.
struct Pieces {
    std::string all;
    std::vector<usize> sizes;
};

std::string chunked(usize cap, Pieces& p, const char* f, ...) {
    std::vector<char> buf(cap);
    va_list ap;
    va_start(ap, f);
    usize n = format_chunks(
        buf.data(), cap,
        [](void* ctx, const char* text, usize len) {
            auto* pieces = static_cast<Pieces*>(ctx);
            pieces->all.append(text, len);
            pieces->sizes.push_back(len);
        },
        &p, f, ap);
    va_end(ap);
    EXPECT_EQ(n, p.all.size());
    return p.all;
}

TEST(FormatChunks, OutputLongerThanTheBufferComesOutWhole) {
    // The shell's help is ~1.4 KiB through a 512-byte buffer; format_v cut
    // it at 511 bytes.
    std::string line(100, 'x');
    std::string expect;
    for (int i = 0; i < 15; i++) expect += line + std::to_string(i) + "\n";
    Pieces p;
    std::string got = chunked(512, p, "%s", expect.c_str());
    EXPECT_EQ(got, expect);
    ASSERT_GE(p.sizes.size(), 3u);
    for (usize s : p.sizes) {
        EXPECT_GT(s, 0u);
        EXPECT_LE(s, 511u);
    }
    // Full pieces until the last: no needless small writes.
    for (usize i = 0; i + 1 < p.sizes.size(); i++) EXPECT_EQ(p.sizes[i], 511u);
}

TEST(FormatChunks, ConversionsAcrossPieceBoundaries) {
    // A 4-byte buffer (3 bytes a piece) splits numbers and padding mid-way.
    Pieces p;
    EXPECT_EQ(chunked(4, p, "[%8d|%-6s|%llx]", -12345, "ab", 0xdeadbeefcafeull), "[  -12345|ab    |deadbeefcafe]");
    for (usize s : p.sizes) EXPECT_LE(s, 3u);
}

TEST(FormatChunks, ShortOutputIsOnePieceAndEmptyIsNone) {
    Pieces p;
    EXPECT_EQ(chunked(512, p, "pid %u\n", 7u), "pid 7\n");
    EXPECT_EQ(p.sizes, std::vector<usize>{6});
    Pieces none;
    EXPECT_EQ(chunked(512, none, "%s", ""), "");
    EXPECT_TRUE(none.sizes.empty());
}

TEST(FormatChunks, ExactlyOneBufferfulIsOnePiece) {
    Pieces p;
    EXPECT_EQ(chunked(8, p, "%s", "1234567"), "1234567");
    EXPECT_EQ(p.sizes, std::vector<usize>{7});
    Pieces q;
    EXPECT_EQ(chunked(8, q, "%s", "12345678"), "12345678");
    EXPECT_EQ(q.sizes, (std::vector<usize>{7, 1}));
}

TEST(FormatChunks, NoRoomEmitsNothing) {
    // cap 1 holds only the NUL: refused up front rather than looping.
    Pieces p;
    EXPECT_EQ(chunked(1, p, "abc"), "");
    EXPECT_TRUE(p.sizes.empty());
}

}  // namespace
