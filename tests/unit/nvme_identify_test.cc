// lib/nvme/identify.h against Identify pages built by hand from the NVMe 1.4
// §5.15.2 layouts. Pages live on the heap at exactly kIdentifyBytes, so
// ASan catches any read past the structure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <vector>

#include "nvme/identify.h"

namespace {

using Page = std::vector<u8>;

Page blank_page() { return Page(nvme::kIdentifyBytes, 0); }

void put16(Page& p, u32 at, u16 v) {
    for (u32 i = 0; i < 2; i++) p[at + i] = static_cast<u8>(v >> (8 * i));
}
void put32(Page& p, u32 at, u32 v) {
    for (u32 i = 0; i < 4; i++) p[at + i] = static_cast<u8>(v >> (8 * i));
}
void put64(Page& p, u32 at, u64 v) {
    for (u32 i = 0; i < 8; i++) p[at + i] = static_cast<u8>(v >> (8 * i));
}

// An ASCII field of `len` bytes, space padded (§1.5: ASCII strings are
// left justified and padded with spaces).
void put_ascii(Page& p, u32 at, u32 len, const char* s) {
    u32 n = static_cast<u32>(std::strlen(s));
    ASSERT_LE(n, len);
    for (u32 i = 0; i < len; i++) p[at + i] = i < n ? static_cast<u8>(s[i]) : ' ';
}

// ---- Identify Controller (CNS 01h) ------------------------------------------

constexpr u32 kSn = 4, kMn = 24, kFr = 64, kMdts = 77, kOacs = 256, kNn = 516, kOncs = 520, kVwc = 525;

TEST(NvmeIdentifyController, ParsesEveryField) {
    Page p = blank_page();
    put_ascii(p, kSn, 20, "deadbeef");
    put_ascii(p, kMn, 40, "QEMU NVMe Ctrl");
    put_ascii(p, kFr, 8, "7.2.0");
    p[kMdts] = 7;
    put16(p, kOacs, 0x010a);
    put32(p, kNn, 0x12345678);
    put16(p, kOncs, 0x805f);
    p[kVwc] = 0x07;

    nvme::ControllerInfo c = nvme::parse_identify_controller(p.data());
    EXPECT_STREQ(c.serial, "deadbeef");
    EXPECT_STREQ(c.model, "QEMU NVMe Ctrl");
    EXPECT_STREQ(c.firmware, "7.2.0");
    EXPECT_EQ(c.mdts, 7);
    EXPECT_EQ(c.oacs, 0x010a);
    EXPECT_TRUE(c.oacs & nvme::kOacsDoorbellBufferConfig);
    EXPECT_EQ(c.nn, 0x12345678u);
    EXPECT_EQ(c.oncs, 0x805f);
    EXPECT_TRUE(c.oncs & nvme::kOncsDsm);
    EXPECT_TRUE(c.oncs & nvme::kOncsWriteZeroes);
    EXPECT_EQ(c.vwc, 0x07);
    EXPECT_TRUE(c.vwc & nvme::kVwcPresent);
}

TEST(NvmeIdentifyController, FieldsStayInsideTheirBytes) {
    // Every byte outside the fields is 0xEE: a field read one byte early or
    // late, or too wide, picks some of it up.
    Page p(nvme::kIdentifyBytes, 0xEE);
    put_ascii(p, kSn, 20, "ABCDEFGHIJKLMNOPQRST");  // full width, no padding
    put_ascii(p, kMn, 40, "0123456789abcdefghijklmnopqrstuvwxyzABCD");
    put_ascii(p, kFr, 8, "FW-1.2.3");
    p[kMdts] = 5;
    put16(p, kOacs, 0x0000);
    put32(p, kNn, 0x00000001);
    put16(p, kOncs, 0x0000);
    p[kVwc] = 0x00;

    nvme::ControllerInfo c = nvme::parse_identify_controller(p.data());
    EXPECT_STREQ(c.serial, "ABCDEFGHIJKLMNOPQRST");
    EXPECT_STREQ(c.model, "0123456789abcdefghijklmnopqrstuvwxyzABCD");
    EXPECT_STREQ(c.firmware, "FW-1.2.3");
    EXPECT_EQ(c.mdts, 5);
    EXPECT_EQ(c.oacs, 0);
    EXPECT_EQ(c.nn, 1u);
    EXPECT_EQ(c.oncs, 0);
    EXPECT_EQ(c.vwc, 0);
}

TEST(NvmeIdentifyController, TrailingSpacePaddingIsStripped) {
    Page p = blank_page();
    put_ascii(p, kSn, 20, "  SN 01  x");  // leading and inner spaces are data
    put_ascii(p, kMn, 40, "");            // all padding
    put_ascii(p, kFr, 8, "1.0     ");
    nvme::ControllerInfo c = nvme::parse_identify_controller(p.data());
    EXPECT_STREQ(c.serial, "  SN 01  x");
    EXPECT_STREQ(c.model, "");
    EXPECT_STREQ(c.firmware, "1.0");
}

TEST(NvmeIdentifyController, UnprintableBytesShowAsQuestionMarks) {
    Page p = blank_page();
    put_ascii(p, kSn, 20, "S-N");
    p[kSn + 0] = 0x00;
    p[kSn + 2] = 0x7f;  // DEL
    put_ascii(p, kMn, 40, "model ~");
    p[kMn + 1] = 0x1f;
    p[kMn + 2] = 0x80;
    p[kMn + 3] = 0xff;
    put_ascii(p, kFr, 8, "fw");
    p[kFr + 7] = 0x0a;  // a newline after the padding: not padding itself
    nvme::ControllerInfo c = nvme::parse_identify_controller(p.data());
    EXPECT_STREQ(c.serial, "?-?");
    EXPECT_STREQ(c.model, "m???l ~");
    EXPECT_STREQ(c.firmware, "fw     ?");
}

// ---- max_transfer_bytes ---------------------------------------------------------

constexpr u64 kMiB = 1024 * 1024;

TEST(NvmeIdentifyController, MdtsZeroMeansTheCap) {
    EXPECT_EQ(nvme::max_transfer_bytes(0, 2 * kMiB), 2 * kMiB);
    EXPECT_EQ(nvme::max_transfer_bytes(0, 4096), 4096u);
}

TEST(NvmeIdentifyController, MdtsIsAPowerOfTwoOfPages) {
    EXPECT_EQ(nvme::max_transfer_bytes(1, 2 * kMiB), 8192u);
    EXPECT_EQ(nvme::max_transfer_bytes(5, 2 * kMiB), 128u * 1024);
    EXPECT_EQ(nvme::max_transfer_bytes(7, 2 * kMiB), 512u * 1024);  // QEMU's default
    EXPECT_EQ(nvme::max_transfer_bytes(9, 2 * kMiB), 2 * kMiB);     // exactly the cap
    EXPECT_EQ(nvme::max_transfer_bytes(10, 2 * kMiB), 2 * kMiB);    // above it: capped
    EXPECT_EQ(nvme::max_transfer_bytes(7, 256u * 1024), 256u * 1024);
}

TEST(NvmeIdentifyController, HugeMdtsIsCapped) {
    constexpr u64 kNoCap = ~u64{0};
    EXPECT_EQ(nvme::max_transfer_bytes(31, kNoCap), u64{4096} << 31);
    EXPECT_EQ(nvme::max_transfer_bytes(32, kNoCap), kNoCap);
    EXPECT_EQ(nvme::max_transfer_bytes(52, 2 * kMiB), 2 * kMiB);  // 4096 << 52 would overflow
    EXPECT_EQ(nvme::max_transfer_bytes(64, 2 * kMiB), 2 * kMiB);  // a shift by the width: UB if attempted
    EXPECT_EQ(nvme::max_transfer_bytes(255, 2 * kMiB), 2 * kMiB);
}

// ---- Identify Namespace (CNS 00h) -------------------------------------------------

constexpr u32 kNsze = 0, kNlbaf = 25, kFlbas = 26, kLbaf0 = 128;

// LBA Format i (§5.15.2.1, Figure 249): MS 15:0, LBADS 23:16, RP 25:24.
void put_lbaf(Page& p, u32 index, u16 ms, u8 lbads, u8 rp = 0) {
    put32(p, kLbaf0 + 4 * index, u32{ms} | u32{lbads} << 16 | u32{rp & 3u} << 24);
}

Page namespace_page(u64 nsze, u8 nlbaf, u8 flbas) {
    Page p = blank_page();
    put64(p, kNsze, nsze);
    put64(p, 8, nsze);   // NCAP
    put64(p, 16, nsze);  // NUSE
    p[kNlbaf] = nlbaf;
    p[kFlbas] = flbas;
    return p;
}

TEST(NvmeIdentifyNamespace, Parses512ByteFormat) {
    Page p = namespace_page(262144, 0, 0);
    put_lbaf(p, 0, 0, 9);
    auto r = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value().blocks, 262144u);
    EXPECT_EQ(r.value().lba_shift, 9);
    EXPECT_EQ(r.value().metadata, 0);
    EXPECT_FALSE(r.value().extended);
}

TEST(NvmeIdentifyNamespace, Parses4096ByteFormatSelectedByFlbas) {
    // Two formats (NLBAF is 0's based): 512 B and 4 KiB; FLBAS picks the second.
    Page p = namespace_page(65536, 1, 1);
    put_lbaf(p, 0, 0, 9);
    put_lbaf(p, 1, 0, 12, 2);  // RP (relative performance) must not leak into LBADS
    auto r = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value().blocks, 65536u);
    EXPECT_EQ(r.value().lba_shift, 12);
    EXPECT_EQ(r.value().metadata, 0);

    p[kFlbas] = 0;  // the same page with the first format in use
    auto first = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first.value().lba_shift, 9);
}

TEST(NvmeIdentifyNamespace, NszeIsAll64Bits) {
    Page p = namespace_page(0x0102030405060708ull, 0, 0);
    put_lbaf(p, 0, 0, 9);
    auto r = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().blocks, 0x0102030405060708ull);

    // Only the top byte set: still an active namespace.
    Page high = namespace_page(u64{1} << 56, 0, 0);
    put_lbaf(high, 0, 0, 9);
    auto h = nvme::parse_identify_namespace(high.data());
    ASSERT_TRUE(h.ok()) << status_name(h.status());
    EXPECT_EQ(h.value().blocks, u64{1} << 56);
}

TEST(NvmeIdentifyNamespace, MetadataFields) {
    // Four formats; the fourth has 8 bytes of metadata, transferred as part
    // of an extended LBA (FLBAS bit 4).
    Page p = namespace_page(1000, 3, 0x10 | 3);
    put_lbaf(p, 0, 0, 9);
    put_lbaf(p, 1, 8, 9);
    put_lbaf(p, 2, 0, 12);
    put_lbaf(p, 3, 8, 12);
    auto r = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value().lba_shift, 12);
    EXPECT_EQ(r.value().metadata, 8);
    EXPECT_TRUE(r.value().extended);

    // Metadata in a separate buffer (bit 4 clear), both MS bytes used.
    p[kFlbas] = 1;
    put_lbaf(p, 1, 0x0140, 9);
    auto sep = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(sep.ok());
    EXPECT_EQ(sep.value().lba_shift, 9);
    EXPECT_EQ(sep.value().metadata, 0x0140);
    EXPECT_FALSE(sep.value().extended);
}

TEST(NvmeIdentifyNamespace, LastOfSixteenFormats) {
    // NLBAF 15 (16 formats), FLBAS 15: the format at byte 128 + 60.
    Page p = namespace_page(8, 15, 15);
    for (u32 i = 0; i < 15; i++) put_lbaf(p, i, 0, 9);
    put_lbaf(p, 15, 16, 16);  // 64 KiB blocks, the largest we accept
    auto r = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value().lba_shift, 16);
    EXPECT_EQ(r.value().metadata, 16);
}

// NVMe 2.0: up to 64 formats; FLBAS bits 6:5 are the index's top two bits.
TEST(NvmeIdentifyNamespace, FormatIndexAbove16UsesFlbasBits6To5) {
    Page p = namespace_page(100, 63, 0x60 | 0x0f);  // 64 formats, index 63
    for (u32 i = 0; i < 63; i++) put_lbaf(p, i, 0, 9);
    put_lbaf(p, 63, 0, 12);  // the last, at byte 128 + 252
    auto r = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value().lba_shift, 12);

    Page q = namespace_page(100, 40, 0x20 | 0x10 | 0x02);  // index 18, extended metadata (bit 4)
    for (u32 i = 0; i <= 40; i++) put_lbaf(q, i, 0, 9);
    put_lbaf(q, 18, 8, 13);
    auto e = nvme::parse_identify_namespace(q.data());
    ASSERT_TRUE(e.ok()) << status_name(e.status());
    EXPECT_EQ(e.value().lba_shift, 13) << "not format 2, which the low bits alone name";
    EXPECT_EQ(e.value().metadata, 8);
    EXPECT_TRUE(e.value().extended);

    q[kFlbas] = 0x20 | 0x0a;  // index 26: a 512 B format
    EXPECT_EQ(nvme::parse_identify_namespace(q.data()).value().lba_shift, 9);
    q[kFlbas] = 0x40 | 0x0a;  // index 42 > NLBAF 40
    EXPECT_EQ(nvme::parse_identify_namespace(q.data()).status(), Status::Malformed);
}

TEST(NvmeIdentifyNamespace, FlbasBits6To5AreIgnoredWithSixteenFormatsOrFewer) {
    Page p = namespace_page(100, 3, 0x20 | 1);  // 4 formats: bits 6:5 are no part of the index
    put_lbaf(p, 0, 0, 9);
    put_lbaf(p, 1, 0, 12);
    auto r = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value().lba_shift, 12);
    p[kNlbaf] = 15;
    p[kFlbas] = 0x60 | 15;
    put_lbaf(p, 15, 0, 16);
    EXPECT_EQ(nvme::parse_identify_namespace(p.data()).value().lba_shift, 16);
}

TEST(NvmeIdentifyNamespace, SeventeenFormatsAmbiguousIndexMustAgree) {
    // NLBAF 16, FLBAS 0x20: format 16 (bits 6:5 read) or format 0 (ignored,
    // as NVMe 2.0's text says for NLBAF <= 16). Different block sizes: no guess.
    Page p = namespace_page(100, 16, 0x20);
    for (u32 i = 0; i <= 16; i++) put_lbaf(p, i, 0, 9);
    put_lbaf(p, 16, 0, 12);
    EXPECT_EQ(nvme::parse_identify_namespace(p.data()).status(), Status::Malformed);
    // The same format either way: taken.
    put_lbaf(p, 16, 0, 9);
    auto same = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(same.ok());
    EXPECT_EQ(same.value().lba_shift, 9);
    // Bits 6:5 that would name no format (index 32): only the low bits can be meant.
    p[kFlbas] = 0x40 | 1;
    put_lbaf(p, 1, 0, 12);
    auto low = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(low.ok()) << status_name(low.status());
    EXPECT_EQ(low.value().lba_shift, 12);
}

TEST(NvmeIdentifyNamespace, ZeroNszeIsAnInactiveNamespace) {
    // §5.15.2.1: an inactive NSID reads as all zeros.
    Page zero = blank_page();
    EXPECT_EQ(nvme::parse_identify_namespace(zero.data()).status(), Status::NotFound);
    // NSZE 0 decides even when the rest looks valid.
    Page p = namespace_page(0, 0, 0);
    put64(p, 8, 100);
    put_lbaf(p, 0, 0, 9);
    EXPECT_EQ(nvme::parse_identify_namespace(p.data()).status(), Status::NotFound);
}

TEST(NvmeIdentifyNamespace, FormatIndexBeyondNlbafIsMalformed) {
    Page p = namespace_page(100, 1, 2);  // two formats, FLBAS names a third
    put_lbaf(p, 0, 0, 9);
    put_lbaf(p, 1, 0, 12);
    put_lbaf(p, 2, 0, 12);  // present in the page, but not declared
    EXPECT_EQ(nvme::parse_identify_namespace(p.data()).status(), Status::Malformed);

    Page q = namespace_page(100, 0, 15);
    put_lbaf(q, 0, 0, 9);
    EXPECT_EQ(nvme::parse_identify_namespace(q.data()).status(), Status::Malformed);

    // The same page with the index at NLBAF: the last declared format.
    p[kFlbas] = 1;
    auto r = nvme::parse_identify_namespace(p.data());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().lba_shift, 12);
}

TEST(NvmeIdentifyNamespace, BlockSizesOutside512To64KiBAreUnsupported) {
    for (u8 lbads : {u8{0}, u8{8}, u8{17}, u8{31}, u8{255}}) {
        Page p = namespace_page(100, 0, 0);
        put_lbaf(p, 0, 0, lbads);
        EXPECT_EQ(nvme::parse_identify_namespace(p.data()).status(), Status::Unsupported) << "LBADS " << int{lbads};
    }
    for (u8 lbads = 9; lbads <= 16; lbads++) {
        Page p = namespace_page(100, 0, 0);
        put_lbaf(p, 0, 0, lbads);
        auto r = nvme::parse_identify_namespace(p.data());
        ASSERT_TRUE(r.ok()) << "LBADS " << int{lbads};
        EXPECT_EQ(r.value().lba_shift, lbads);
    }
}

// ---- Active Namespace ID list (CNS 02h) ------------------------------------------

Page active_list(std::initializer_list<u32> ids) {
    Page p = blank_page();
    u32 at = 0;
    for (u32 id : ids) {
        put32(p, at, id);
        at += 4;
    }
    return p;
}

constexpr u32 kSentinel = 0xdeadbeef;

TEST(NvmeActiveNamespaces, AscendingListIsCopied) {
    Page p = active_list({1, 2, 5, 0x01020304});
    u32 out[8];
    std::fill(std::begin(out), std::end(out), kSentinel);
    auto r = nvme::parse_active_namespaces(p.data(), out, 8);
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    ASSERT_EQ(r.value(), 4u);
    EXPECT_EQ(out[0], 1u);
    EXPECT_EQ(out[1], 2u);
    EXPECT_EQ(out[2], 5u);
    EXPECT_EQ(out[3], 0x01020304u);
    EXPECT_EQ(out[4], kSentinel);
}

TEST(NvmeActiveNamespaces, EmptyList) {
    Page p = blank_page();
    u32 out[4] = {kSentinel, kSentinel, kSentinel, kSentinel};
    auto r = nvme::parse_active_namespaces(p.data(), out, 4);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), 0u);
    EXPECT_EQ(out[0], kSentinel);
}

TEST(NvmeActiveNamespaces, StopsAtTheFirstZero) {
    // Whatever follows the terminating 0 is not list data, not even a
    // decreasing value.
    Page p = active_list({3, 4, 0, 2, 0xffffffff});
    u32 out[8];
    auto r = nvme::parse_active_namespaces(p.data(), out, 8);
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    ASSERT_EQ(r.value(), 2u);
    EXPECT_EQ(out[0], 3u);
    EXPECT_EQ(out[1], 4u);
}

TEST(NvmeActiveNamespaces, RepeatsAndDecreasesAreMalformed) {
    u32 out[8];
    Page repeat = active_list({1, 2, 2, 3});
    EXPECT_EQ(nvme::parse_active_namespaces(repeat.data(), out, 8).status(), Status::Malformed);
    Page decrease = active_list({1, 5, 4});
    EXPECT_EQ(nvme::parse_active_namespaces(decrease.data(), out, 8).status(), Status::Malformed);
    Page first_repeats = active_list({7, 7});
    EXPECT_EQ(nvme::parse_active_namespaces(first_repeats.data(), out, 8).status(), Status::Malformed);
}

TEST(NvmeActiveNamespaces, BroadcastNsidIsMalformed) {
    // FFFFFFFFh is the broadcast NSID, never an active namespace;
    // FFFFFFFEh is the largest valid one.
    u32 out[8];
    Page broadcast = active_list({1, 0xffffffff});
    EXPECT_EQ(nvme::parse_active_namespaces(broadcast.data(), out, 8).status(), Status::Malformed);
    Page only = active_list({0xffffffff});
    EXPECT_EQ(nvme::parse_active_namespaces(only.data(), out, 8).status(), Status::Malformed);

    Page largest = active_list({1, 0xfffffffe});
    auto r = nvme::parse_active_namespaces(largest.data(), out, 8);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value(), 2u);
    EXPECT_EQ(out[1], 0xfffffffeu);
}

TEST(NvmeActiveNamespaces, TruncatesAtMaxButValidatesTheRest) {
    Page p = active_list({1, 2, 3, 4, 5, 6});
    u32 out[4];
    std::fill(std::begin(out), std::end(out), kSentinel);
    auto r = nvme::parse_active_namespaces(p.data(), out, 3);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value(), 3u);
    EXPECT_EQ(out[0], 1u);
    EXPECT_EQ(out[2], 3u);
    EXPECT_EQ(out[3], kSentinel);  // nothing written past max

    // A disorder past `max` still makes the whole list Malformed.
    Page bad_tail = active_list({1, 2, 3, 4, 3});
    EXPECT_EQ(nvme::parse_active_namespaces(bad_tail.data(), out, 2).status(), Status::Malformed);
    Page broadcast_tail = active_list({1, 2, 0xffffffff});
    EXPECT_EQ(nvme::parse_active_namespaces(broadcast_tail.data(), out, 1).status(), Status::Malformed);

    // max 0: nothing copied, still validated.
    auto none = nvme::parse_active_namespaces(p.data(), out, 0);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none.value(), 0u);
    EXPECT_EQ(nvme::parse_active_namespaces(bad_tail.data(), out, 0).status(), Status::Malformed);
}

TEST(NvmeActiveNamespaces, FullListOf1024WithoutTerminator) {
    // 1024 entries fill the page; the parser must stop at its end (ASan
    // checks it reads no further).
    Page p = blank_page();
    for (u32 i = 0; i < 1024; i++) put32(p, 4 * i, 10 + 3 * i);
    std::vector<u32> out(1024, kSentinel);
    auto r = nvme::parse_active_namespaces(p.data(), out.data(), 1024);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value(), 1024u);
    EXPECT_EQ(out[0], 10u);
    EXPECT_EQ(out[1023], 10u + 3 * 1023);
}

}  // namespace
