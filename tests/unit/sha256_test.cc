#include "util/sha256.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

std::string digest_hex(const u8 digest[32]) {
    char hex[65];
    util::hex_digest(digest, hex);
    return std::string(hex);
}

std::string sha256_hex(const void* data, usize len) {
    u8 digest[32];
    util::sha256(data, len, digest);
    return digest_hex(digest);
}

std::string sha256_hex(const std::string& s) { return sha256_hex(s.data(), s.size()); }

// A message that is not one repeated byte, so a mis-ordered or dropped byte
// changes the digest: byte i = 31 * i + 7 (mod 256).
std::vector<u8> pattern(usize n) {
    std::vector<u8> v(n);
    for (usize i = 0; i < n; i++) v[i] = static_cast<u8>(i * 31 + 7);
    return v;
}

// Expected digests below come from the FIPS 180-4 examples (NIST CSRC
// "SHA256.pdf", "SHA2_Additional.pdf") and, for the pattern messages, from
// the host's sha256sum / Python hashlib.

// ---- NIST vectors ----------------------------------------------------------

TEST(Sha256, EmptyMessage) {
    EXPECT_EQ(sha256_hex(nullptr, 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, Abc) { EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"); }

TEST(Sha256, TwoBlockMessage448Bits) {
    // 56 bytes: the length no longer fits in the first block, so padding
    // takes a second one.
    std::string m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ASSERT_EQ(m.size(), 56u);
    EXPECT_EQ(sha256_hex(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, Message896Bits) {
    std::string m =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopq"
        "rstu";
    ASSERT_EQ(m.size(), 112u);
    EXPECT_EQ(sha256_hex(m), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, OneMillionA) {
    constexpr char kExpected[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    std::string m(1000000, 'a');
    EXPECT_EQ(sha256_hex(m), kExpected);

    // The same message fed in odd-sized pieces (not a divisor of 64), so
    // the buffered path carries partial blocks across calls.
    util::Sha256 h;
    usize fed = 0;
    while (fed < m.size()) {
        usize n = m.size() - fed < 997 ? m.size() - fed : 997;
        h.update(m.data() + fed, n);
        fed += n;
    }
    u8 digest[32];
    h.finish(digest);
    EXPECT_EQ(digest_hex(digest), kExpected);
}

// ---- incremental == one-shot ---------------------------------------------

constexpr char kPattern200[] = "44cae5223d431caed4a9e32271d6abf17c3f2f4abac45fcdb48a99fcc6072a09";

TEST(Sha256, OneShotOfPattern200) { EXPECT_EQ(sha256_hex(pattern(200).data(), 200), kPattern200); }

TEST(Sha256, SplitAtEveryOffsetMatchesOneShot) {
    auto m = pattern(200);
    for (usize split = 0; split <= m.size(); split++) {
        util::Sha256 h;
        h.update(m.data(), split);
        h.update(m.data() + split, m.size() - split);
        u8 digest[32];
        h.finish(digest);
        EXPECT_EQ(digest_hex(digest), kPattern200) << "split at " << split;
    }
}

TEST(Sha256, ThreeWaySplitsMatchOneShot) {
    // Every (a, b) pair in steps that cross block edges at different phases.
    auto m = pattern(200);
    for (usize a = 0; a <= m.size(); a += 7) {
        for (usize b = a; b <= m.size(); b += 13) {
            util::Sha256 h;
            h.update(m.data(), a);
            h.update(m.data() + a, b - a);
            h.update(m.data() + b, m.size() - b);
            u8 digest[32];
            h.finish(digest);
            ASSERT_EQ(digest_hex(digest), kPattern200) << "splits at " << a << ", " << b;
        }
    }
}

TEST(Sha256, ByteAtATimeMatchesOneShot) {
    auto m = pattern(200);
    util::Sha256 h;
    for (u8 byte : m) h.update(&byte, 1);
    u8 digest[32];
    h.finish(digest);
    EXPECT_EQ(digest_hex(digest), kPattern200);
}

TEST(Sha256, EmptyUpdatesChangeNothing) {
    auto m = pattern(200);
    util::Sha256 h;
    h.update(nullptr, 0);
    h.update(m.data(), 100);
    h.update(nullptr, 0);
    h.update(m.data() + 100, 0);
    h.update(m.data() + 100, 100);
    h.update(nullptr, 0);
    u8 digest[32];
    h.finish(digest);
    EXPECT_EQ(digest_hex(digest), kPattern200);
}

// ---- padding at block boundaries ------------------------------------------

// 55 bytes: 0x80 and the length just fit in one block. 56: the first that
// needs a second block. 63/64/65: around a full data block.
struct BoundaryCase {
    usize len;
    const char* hex;
};

TEST(Sha256, BlockBoundaryLengths) {
    const BoundaryCase cases[] = {
        {55, "8aa994584139d128848eeebc4e815639ba5ab6e6e39574195a63ac4f14f7c43b"},
        {56, "ad574708f75c044c9b85de64cb568ee7711ff4f36448c6242f053ba8f6cc2b63"},
        {63, "280ed3e8ff1df845b2e7dfe6ac6cee817bef20e783cc65abc41b818b4d2fe076"},
        {64, "c6ab9724ade5b6a7a1edfffb12f3aa9181351355af8fd08c919952ad211339dd"},
        {65, "788367c73c7ddf4c53f65e68cc0d943e6227ab55b0e78ba63ace822b1c6301c0"},
        {119, "3d610547d68216dedf7435a4fb6260353911f6b3fd3f18805ddb8be285d726fe"},
        {120, "1f80156a804cb7862ad113e8200e9d74499723e7c7854d5f48776d3148e09656"},
        {128, "cc548ca2dec1f6fe4f58b2e27aa9c7521607df1130d140b55a4dad0665302356"},
    };
    for (const auto& c : cases) {
        auto m = pattern(c.len);
        EXPECT_EQ(sha256_hex(m.data(), m.size()), c.hex) << "length " << c.len;
        // And with the data arriving one byte short of the end first.
        util::Sha256 h;
        h.update(m.data(), c.len - 1);
        h.update(m.data() + c.len - 1, 1);
        u8 digest[32];
        h.finish(digest);
        EXPECT_EQ(digest_hex(digest), c.hex) << "length " << c.len << " split";
    }
}

TEST(Sha256, DigestDependsOnEveryByte) {
    // Flipping any one bit of a two-block message changes the digest.
    auto m = pattern(100);
    std::string base = sha256_hex(m.data(), m.size());
    for (usize i = 0; i < m.size(); i++) {
        m[i] ^= 0x01;
        EXPECT_NE(sha256_hex(m.data(), m.size()), base) << "byte " << i;
        m[i] ^= 0x01;
    }
}

TEST(Sha256, FinishWritesExactly32Bytes) {
    u8 out[40];
    std::memset(out, 0xa5, sizeof out);
    util::sha256("abc", 3, out);
    for (usize i = 32; i < sizeof out; i++) EXPECT_EQ(out[i], 0xa5) << "byte " << i;
    EXPECT_EQ(out[0], 0xba);
    EXPECT_EQ(out[31], 0xad);
}

// ---- hex_digest -------------------------------------------------------------

TEST(Sha256, HexDigestFormatsLowercaseHighNibbleFirst) {
    u8 digest[32];
    for (usize i = 0; i < 32; i++) digest[i] = static_cast<u8>(i * 8 + 1);  // 01 09 11 .. f9
    digest[0] = 0x00;
    digest[1] = 0xff;
    digest[2] = 0xa0;
    digest[3] = 0x0b;
    char out[66];
    std::memset(out, 'X', sizeof out);
    util::hex_digest(digest, out);
    EXPECT_EQ(std::string(out), "00ffa00b21293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");
    EXPECT_EQ(out[64], '\0');
    EXPECT_EQ(out[65], 'X');  // nothing written past out[64]
}

TEST(Sha256, HexDigestAllDigits) {
    u8 digest[32];
    for (usize i = 0; i < 32; i++) digest[i] = static_cast<u8>(i < 16 ? i * 0x11 : 0xff - i);
    char out[65];
    util::hex_digest(digest, out);
    EXPECT_EQ(std::string(out), "00112233445566778899aabbccddeeffefeeedecebeae9e8e7e6e5e4e3e2e1e0");
}

}  // namespace
