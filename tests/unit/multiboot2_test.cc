// Unit tests for lib/boot/multiboot2: a builder assembles boot information
// the way GRUB lays it out (Multiboot2 §3.6), then the parser is checked
// field by field and against truncated, corrupted and malformed variants.
#include "boot/multiboot2.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

static void PrintTo(Status s, std::ostream* os) { *os << status_name(s); }

namespace {

using namespace boot;

std::string str(ByteView v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size()); }

// Assembles a boot information structure. Tags are appended in call order,
// each padded to 8 bytes; finish() adds the end tag (unless told not to)
// and writes total_size.
class Mb2Builder {
public:
    Mb2Builder() { put32(0), put32(0); }

    Mb2Builder& raw_tag(u32 type, const std::vector<u8>& payload, i64 size_override = -1) {
        m_tag_offsets.push_back(m_bytes.size());
        put32(type);
        put32(size_override >= 0 ? static_cast<u32>(size_override) : static_cast<u32>(8 + payload.size()));
        m_bytes.insert(m_bytes.end(), payload.begin(), payload.end());
        pad();
        return *this;
    }
    Mb2Builder& string_tag(u32 type, const std::string& s) {
        std::vector<u8> p(s.begin(), s.end());
        p.push_back(0);
        return raw_tag(type, p);
    }
    Mb2Builder& cmdline(const std::string& s) { return string_tag(kTagCmdline, s); }
    Mb2Builder& loader_name(const std::string& s) { return string_tag(kTagBootloaderName, s); }
    Mb2Builder& module(u32 start, u32 end, const std::string& name) {
        std::vector<u8> p;
        append32(p, start);
        append32(p, end);
        p.insert(p.end(), name.begin(), name.end());
        p.push_back(0);
        return raw_tag(kTagModule, p);
    }
    Mb2Builder& basic_meminfo(u32 lower, u32 upper) {
        std::vector<u8> p;
        append32(p, lower);
        append32(p, upper);
        return raw_tag(kTagBasicMeminfo, p);
    }
    struct E {
        u64 base, length;
        u32 type;
    };
    Mb2Builder& mmap(const std::vector<E>& entries, u32 entry_size = 24) {
        std::vector<u8> p;
        append32(p, entry_size);
        append32(p, 0);
        for (const E& e : entries) {
            std::vector<u8> one;
            append64(one, e.base);
            append64(one, e.length);
            append32(one, e.type);
            one.resize(entry_size, 0);
            p.insert(p.end(), one.begin(), one.end());
        }
        return raw_tag(kTagMemoryMap, p);
    }
    Mb2Builder& elf_sections(u32 num, u32 entsize, u32 shndx, usize table_bytes) {
        std::vector<u8> p;
        append32(p, num);
        append32(p, entsize);
        append32(p, shndx);
        for (usize i = 0; i < table_bytes; i++) p.push_back(static_cast<u8>(i));
        return raw_tag(kTagElfSections, p);
    }
    Mb2Builder& rsdp_v1() {
        // "RSD PTR ", checksum, "BOCHS ", revision 0, RSDT address.
        std::vector<u8> p = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' ', 0x00, 'B', 'O', 'C', 'H', 'S', ' ', 0x00};
        append32(p, 0x07FE14D5);
        return raw_tag(kTagAcpiOldRsdp, p);
    }
    Mb2Builder& u64_tag(u32 type, u64 v) {
        std::vector<u8> p;
        append64(p, v);
        return raw_tag(type, p);
    }
    Mb2Builder& u32_tag(u32 type, u32 v) {
        std::vector<u8> p;
        append32(p, v);
        return raw_tag(type, p);
    }

    std::vector<u8> finish(bool end_tag = true) {
        if (end_tag) raw_tag(kTagEnd, {});
        std::vector<u8> out = m_bytes;
        const u32 total = static_cast<u32>(out.size());
        std::memcpy(out.data(), &total, 4);
        return out;
    }

    usize tag_offset(usize i) const { return m_tag_offsets.at(i); }

    static void append32(std::vector<u8>& v, u32 x) {
        for (int i = 0; i < 4; i++) v.push_back(static_cast<u8>(x >> (8 * i)));
    }
    static void append64(std::vector<u8>& v, u64 x) {
        for (int i = 0; i < 8; i++) v.push_back(static_cast<u8>(x >> (8 * i)));
    }

private:
    void put32(u32 x) { append32(m_bytes, x); }
    void pad() {
        while (m_bytes.size() % 8) m_bytes.push_back(0);
    }

    std::vector<u8> m_bytes;
    std::vector<usize> m_tag_offsets;
};

void set32(std::vector<u8>& b, usize off, u32 v) { std::memcpy(b.data() + off, &v, 4); }

ByteView view_of(const std::vector<u8>& b) { return ByteView(b.data(), b.size()); }

// The SeaBIOS e820 map QEMU gives a 128 MiB guest.
const std::vector<Mb2Builder::E> kQemuE820 = {
    {0x0, 0x9FC00, 1},        {0x9FC00, 0x400, 2},     {0xF0000, 0x10000, 2},
    {0x100000, 0x7EE0000, 1}, {0x7FE0000, 0x20000, 2}, {0xFFFC0000, 0x40000, 2},
};

// Roughly what GRUB hands a Sluice kernel under QEMU: cmdline, loader
// name, two modules, the e820 map, RSDP v1 and the kernel's ELF sections.
Mb2Builder full_builder() {
    Mb2Builder b;
    b.cmdline("console=serial loglevel=debug")
        .loader_name("GRUB 2.06")
        .module(0x200000, 0x212345, "/boot/init init")
        .module(0x213000, 0x213000, "")  // empty module, empty name
        .basic_meminfo(639, 130944)
        .mmap(kQemuE820)
        .rsdp_v1()
        .elf_sections(12, 64, 11, 12 * 64);
    return b;
}

// Checks that everything a successful parse returns stays inside `data`.
void expect_consistent(const BootInfo& info, const u8* data, usize size) {
    auto inside = [&](ByteView v) {
        if (v.size() == 0) return true;
        return v.data() >= data && v.data() + v.size() <= data + size;
    };
    EXPECT_LE(info.total_size, size);
    EXPECT_TRUE(inside(info.cmdline));
    EXPECT_TRUE(inside(info.bootloader_name));
    EXPECT_TRUE(inside(info.elf_sections));
    EXPECT_TRUE(inside(info.rsdp_v1));
    EXPECT_TRUE(inside(info.rsdp_v2));
    EXPECT_TRUE(inside(info.efi_mmap));
    ASSERT_LE(info.module_count, kMaxModules);
    ASSERT_LE(info.mmap_count, kMaxMmapEntries);
    for (u32 i = 0; i < info.module_count; i++) {
        EXPECT_TRUE(inside(info.modules[i].name));
        EXPECT_LE(info.modules[i].start, info.modules[i].end);
    }
    EXPECT_EQ(u64{info.elf_num} * info.elf_entsize, info.elf_sections.size());
}

// Parses `bytes` from an exactly sized heap copy, so ASan flags any read
// past the end.
Status parse_exact(const std::vector<u8>& bytes, usize len) {
    std::unique_ptr<u8[]> copy(new u8[len ? len : 1]);
    if (len) std::memcpy(copy.get(), bytes.data(), len);
    auto r = parse_multiboot2(ByteView(copy.get(), len));
    if (r.ok()) expect_consistent(r.value(), copy.get(), len);
    return r.status();
}

// ------------------------------------------------------------- happy path

TEST(Multiboot2Parse, FullInfoEveryField) {
    const std::vector<u8> bytes = full_builder().finish();
    auto r = parse_multiboot2(view_of(bytes));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const BootInfo& info = r.value();

    EXPECT_EQ(info.total_size, bytes.size());
    EXPECT_EQ(str(info.cmdline), "console=serial loglevel=debug");
    EXPECT_EQ(str(info.bootloader_name), "GRUB 2.06");

    ASSERT_EQ(info.module_count, 2u);
    EXPECT_FALSE(info.modules_truncated);
    EXPECT_EQ(info.modules[0].start, 0x200000u);
    EXPECT_EQ(info.modules[0].end, 0x212345u);
    EXPECT_EQ(str(info.modules[0].name), "/boot/init init");
    EXPECT_EQ(info.modules[1].start, 0x213000u);
    EXPECT_EQ(info.modules[1].end, 0x213000u);
    EXPECT_EQ(info.modules[1].name.size(), 0u);

    EXPECT_TRUE(info.has_basic_meminfo);
    EXPECT_EQ(info.mem_lower_kib, 639u);
    EXPECT_EQ(info.mem_upper_kib, 130944u);

    EXPECT_TRUE(info.has_mmap);
    ASSERT_EQ(info.mmap_count, kQemuE820.size());
    EXPECT_FALSE(info.mmap_truncated);
    for (usize i = 0; i < kQemuE820.size(); i++) {
        EXPECT_EQ(info.mmap[i].base, kQemuE820[i].base) << i;
        EXPECT_EQ(info.mmap[i].length, kQemuE820[i].length) << i;
        EXPECT_EQ(info.mmap[i].type, kQemuE820[i].type) << i;
    }

    ASSERT_EQ(info.rsdp_v1.size(), 20u);
    EXPECT_EQ(std::memcmp(info.rsdp_v1.data(), "RSD PTR ", 8), 0);
    EXPECT_EQ(info.rsdp_v2.size(), 0u);

    EXPECT_TRUE(info.has_elf_sections);
    EXPECT_EQ(info.elf_num, 12u);
    EXPECT_EQ(info.elf_entsize, 64u);
    EXPECT_EQ(info.elf_shndx, 11u);
    ASSERT_EQ(info.elf_sections.size(), 12u * 64);
    EXPECT_EQ(info.elf_sections.data()[0], 0);
    EXPECT_EQ(info.elf_sections.data()[100], 100);

    EXPECT_FALSE(info.has_efi64_system_table);
    EXPECT_FALSE(info.efi_mmap_present);
    EXPECT_FALSE(info.efi_boot_services_not_terminated);
    EXPECT_FALSE(info.has_image_load_base);

    // Views point into the caller's buffer: no copies.
    EXPECT_GE(info.cmdline.data(), bytes.data());
    EXPECT_LT(info.cmdline.data(), bytes.data() + bytes.size());
}

TEST(Multiboot2Parse, IntoCallerStorageResetsFirst) {
    static BootInfo info;  // static, as the kernel would keep it
    std::memset(static_cast<void*>(&info), 0xA5, sizeof(info));
    const std::vector<u8> bytes = full_builder().finish();
    ASSERT_TRUE(parse_multiboot2(view_of(bytes), info).ok());
    EXPECT_EQ(str(info.cmdline), "console=serial loglevel=debug");
    EXPECT_EQ(info.module_count, 2u);
    EXPECT_EQ(info.mmap_count, kQemuE820.size());
    EXPECT_FALSE(info.has_efi64_system_table);  // was 0xA5 garbage
    EXPECT_FALSE(info.modules_truncated);
    EXPECT_EQ(info.rsdp_v2.size(), 0u);

    Mb2Builder bad;
    bad.cmdline("one").cmdline("two");
    EXPECT_EQ(parse_multiboot2(view_of(bad.finish()), info).status(), Status::Malformed);
}

TEST(Multiboot2Parse, UefiTags) {
    Mb2Builder b;
    std::vector<u8> efi_mmap;
    Mb2Builder::append32(efi_mmap, 48);  // descriptor size (OVMF)
    Mb2Builder::append32(efi_mmap, 1);   // descriptor version
    efi_mmap.resize(8 + 3 * 48, 0xAB);
    std::vector<u8> rsdp2(36, 0x52);
    b.u64_tag(kTagEfi64SystemTable, 0x7F9EE018)
        .raw_tag(kTagEfiMemoryMap, efi_mmap)
        .raw_tag(kTagEfiBootServicesNotTerminated, {})
        .raw_tag(kTagAcpiNewRsdp, rsdp2)
        .u32_tag(kTagImageLoadBase, 0x200000)
        .u64_tag(kTagEfi64ImageHandle, 0x7E1D2B18);
    const std::vector<u8> bytes = b.finish();
    auto r = parse_multiboot2(view_of(bytes));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const BootInfo& info = r.value();
    EXPECT_TRUE(info.has_efi64_system_table);
    EXPECT_EQ(info.efi64_system_table, 0x7F9EE018u);
    EXPECT_TRUE(info.efi_mmap_present);
    EXPECT_EQ(info.efi_mmap_descriptor_size, 48u);
    EXPECT_EQ(info.efi_mmap_descriptor_version, 1u);
    EXPECT_EQ(info.efi_mmap.size(), 3u * 48);
    EXPECT_TRUE(info.efi_boot_services_not_terminated);
    EXPECT_EQ(info.rsdp_v2.size(), 36u);
    EXPECT_TRUE(info.has_image_load_base);
    EXPECT_EQ(info.image_load_base, 0x200000u);
    EXPECT_FALSE(info.has_mmap);
    EXPECT_EQ(info.cmdline.size(), 0u);
}

TEST(Multiboot2Parse, MinimalInfoIsHeaderAndEndTag) {
    const std::vector<u8> bytes = Mb2Builder().finish();
    ASSERT_EQ(bytes.size(), 16u);
    auto r = parse_multiboot2(view_of(bytes));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().module_count, 0u);
    EXPECT_FALSE(r.value().has_mmap);
}

TEST(Multiboot2Parse, UnknownAndIgnoredTagsAreSkipped) {
    Mb2Builder b;
    b.raw_tag(99, {1, 2, 3})  // unknown, size 11: padded
        .raw_tag(kTagFramebuffer, std::vector<u8>(23, 0xEE))
        .raw_tag(kTagSmbios, std::vector<u8>(40, 0))
        .cmdline("x");
    auto r = parse_multiboot2(view_of(b.finish()));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value().cmdline.size(), 1u);
}

TEST(Multiboot2Parse, EmptyStringsAndStopAtFirstNul) {
    Mb2Builder b;
    b.cmdline("").raw_tag(kTagBootloaderName, {'a', 0, 'b', 0});
    const std::vector<u8> bytes = b.finish();
    auto r = parse_multiboot2(view_of(bytes));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().cmdline.size(), 0u);
    EXPECT_EQ(str(r.value().bootloader_name), "a");
}

TEST(Multiboot2Parse, BytesAfterEndTagAreIgnored) {
    std::vector<u8> bytes = full_builder().finish();
    const usize real = bytes.size();
    bytes.resize(real + 64, 0xCC);
    set32(bytes, 0, static_cast<u32>(bytes.size()));
    auto r = parse_multiboot2(view_of(bytes));
    ASSERT_TRUE(r.ok());
    // And a view larger than total_size is fine too.
    std::vector<u8> exact = full_builder().finish();
    exact.resize(real + 4096, 0xCC);
    EXPECT_TRUE(parse_multiboot2(view_of(exact)).ok());
}

TEST(Multiboot2Parse, BothRsdpVersions) {
    Mb2Builder b;
    b.rsdp_v1().raw_tag(kTagAcpiNewRsdp, std::vector<u8>(36, 1));
    auto r = parse_multiboot2(view_of(b.finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().rsdp_v1.size(), 20u);
    EXPECT_EQ(r.value().rsdp_v2.size(), 36u);
}

// ------------------------------------------------------------ robustness

TEST(Multiboot2Robustness, EveryPrefixIsTruncated) {
    const std::vector<u8> bytes = full_builder().finish();
    for (usize len = 0; len < bytes.size(); len++) {
        EXPECT_EQ(parse_exact(bytes, len), Status::Truncated) << "prefix " << len;
    }
    EXPECT_EQ(parse_exact(bytes, bytes.size()), Status::Ok);
}

TEST(Multiboot2Robustness, EveryPrefixWithMatchingTotalSizeFailsCleanly) {
    // total_size rewritten to the prefix length, so the parser walks into
    // the cut. Every cut lands inside a tag or before the end tag.
    const std::vector<u8> full = full_builder().finish();
    for (usize len = 8; len < full.size(); len++) {
        std::vector<u8> bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
        set32(bytes, 0, static_cast<u32>(len));
        const Status s = parse_exact(bytes, len);
        EXPECT_TRUE(s == Status::Truncated || s == Status::Malformed) << "prefix " << len << ": " << status_name(s);
    }
}

TEST(Multiboot2Robustness, EveryByteCorruptedNeverCrashes) {
    const std::vector<u8> full = full_builder().finish();
    usize ok = 0;
    for (usize at = 0; at < full.size(); at++) {
        for (u8 v : {u8{0x00}, u8{0xFF}, u8{0x07}, u8{0x80}}) {
            std::vector<u8> bytes = full;
            bytes[at] = v;
            if (parse_exact(bytes, bytes.size()) == Status::Ok) ok++;
        }
    }
    // Most single-byte changes land in payload bytes and still parse.
    EXPECT_GT(ok, 0u);
}

TEST(Multiboot2Robustness, ShortViewsAndBadTotalSize) {
    u8 tiny[8] = {16, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(parse_multiboot2(ByteView()).status(), Status::Truncated);
    EXPECT_EQ(parse_multiboot2(ByteView(tiny, 7)).status(), Status::Truncated);
    EXPECT_EQ(parse_multiboot2(ByteView(tiny, 8)).status(), Status::Truncated);  // total 16 > 8
    tiny[0] = 4;
    EXPECT_EQ(parse_multiboot2(ByteView(tiny, 8)).status(), Status::Malformed);  // total < header
    tiny[0] = 8;
    EXPECT_EQ(parse_multiboot2(ByteView(tiny, 8)).status(), Status::Truncated);  // no end tag
    std::vector<u8> big = full_builder().finish();
    set32(big, 0, 0xFFFFFFFF);
    EXPECT_EQ(parse_multiboot2(view_of(big)).status(), Status::Truncated);
}

TEST(Multiboot2Robustness, TagSizeBelowHeaderIsMalformed) {
    for (u32 size : {0u, 4u, 7u}) {
        Mb2Builder b;
        b.cmdline("abc").raw_tag(99, {}, size);
        EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed) << size;
    }
}

TEST(Multiboot2Robustness, TagOverrunningTotalSizeIsMalformed) {
    Mb2Builder b;
    b.cmdline("abc").raw_tag(99, std::vector<u8>(8, 0), 0x1000);
    EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed);
    Mb2Builder c;
    c.raw_tag(99, {}, 0xFFFFFFFF);
    EXPECT_EQ(parse_multiboot2(view_of(c.finish())).status(), Status::Malformed);
}

TEST(Multiboot2Robustness, MissingEndTagIsTruncated) {
    EXPECT_EQ(parse_multiboot2(view_of(full_builder().finish(false))).status(), Status::Truncated);
    // Padding of the last tag reaches exactly total_size.
    Mb2Builder b;
    b.cmdline("abc");
    EXPECT_EQ(parse_multiboot2(view_of(b.finish(false))).status(), Status::Truncated);
}

TEST(Multiboot2Robustness, EndTagWithWrongSizeIsMalformed) {
    Mb2Builder b;
    b.raw_tag(kTagEnd, std::vector<u8>(8, 0));
    EXPECT_EQ(parse_multiboot2(view_of(b.finish(false))).status(), Status::Malformed);
}

TEST(Multiboot2Robustness, UnterminatedStringsAreMalformed) {
    {
        Mb2Builder b;
        b.raw_tag(kTagCmdline, {'a', 'b', 'c'});  // padding zeros follow, but outside the tag
        EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed);
    }
    {
        Mb2Builder b;
        b.raw_tag(kTagBootloaderName, {'G', 'R', 'U', 'B', '!', '!', '!', '!'});
        EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed);
    }
    {
        Mb2Builder b;
        b.raw_tag(kTagCmdline, {});  // no room for even the NUL
        EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed);
    }
    {
        std::vector<u8> p;
        Mb2Builder::append32(p, 0x100000);
        Mb2Builder::append32(p, 0x101000);
        p.push_back('m');
        Mb2Builder b;
        b.raw_tag(kTagModule, p);
        EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed);
    }
}

TEST(Multiboot2Robustness, ShortFixedFieldsAreMalformed) {
    const u32 types[] = {kTagModule,           kTagBasicMeminfo, kTagMemoryMap,    kTagElfSections,
                         kTagEfi64SystemTable, kTagEfiMemoryMap, kTagImageLoadBase};
    for (u32 type : types) {
        Mb2Builder b;
        b.raw_tag(type, {0, 0, 0});
        EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed) << type;
    }
}

TEST(Multiboot2Robustness, ModuleEndBeforeStartIsMalformed) {
    Mb2Builder b;
    b.module(0x300000, 0x2FFFFF, "bad");
    EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed);
}

TEST(Multiboot2Robustness, DuplicateSingletonTagIsMalformed) {
    Mb2Builder b;
    b.cmdline("one").cmdline("two");
    EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed);
    Mb2Builder m;
    m.mmap(kQemuE820).mmap(kQemuE820);
    EXPECT_EQ(parse_multiboot2(view_of(m.finish())).status(), Status::Malformed);
}

TEST(Multiboot2Mmap, EntrySize16IsMalformed) {
    Mb2Builder b;
    b.mmap({{0, 0x9FC00, 1}}, 24);
    std::vector<u8> bytes = b.finish();
    set32(bytes, b.tag_offset(0) + 8, 16);  // entry_size field
    EXPECT_EQ(parse_multiboot2(view_of(bytes)).status(), Status::Malformed);
}

TEST(Multiboot2Mmap, EntrySizeNotMultipleOf8IsMalformed) {
    for (u32 entry_size : {0u, 20u, 28u, 25u}) {
        Mb2Builder b;
        b.mmap({{0, 0x9FC00, 1}, {0x100000, 0x1000, 1}}, 24);
        std::vector<u8> bytes = b.finish();
        set32(bytes, b.tag_offset(0) + 8, entry_size);
        EXPECT_EQ(parse_multiboot2(view_of(bytes)).status(), Status::Malformed) << entry_size;
    }
}

TEST(Multiboot2Mmap, LargerEntrySizeIsHonoured) {
    // A future entry_version may append fields; the stride is entry_size.
    Mb2Builder b;
    b.mmap(kQemuE820, 40);
    auto r = parse_multiboot2(view_of(b.finish()));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    ASSERT_EQ(r.value().mmap_count, kQemuE820.size());
    EXPECT_EQ(r.value().mmap[3].base, 0x100000u);
    EXPECT_EQ(r.value().mmap[5].type, 2u);
}

TEST(Multiboot2Mmap, PartialTrailingEntryIsMalformed) {
    Mb2Builder b;
    std::vector<u8> p;
    Mb2Builder::append32(p, 24);
    Mb2Builder::append32(p, 0);
    p.resize(8 + 24 + 12, 0);
    b.raw_tag(kTagMemoryMap, p);
    EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed);
}

TEST(Multiboot2Mmap, EmptyMapIsPresentWithNoEntries) {
    Mb2Builder b;
    b.mmap({});
    auto r = parse_multiboot2(view_of(b.finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.value().has_mmap);
    EXPECT_EQ(r.value().mmap_count, 0u);
}

TEST(Multiboot2Mmap, MoreThanCapacityIsFlaggedNotSilent) {
    std::vector<Mb2Builder::E> many;
    for (u64 i = 0; i < kMaxMmapEntries + 44; i++) many.push_back({i * 0x2000, 0x1000, 1});
    Mb2Builder b;
    b.mmap(many);
    auto r = parse_multiboot2(view_of(b.finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().mmap_count, kMaxMmapEntries);
    EXPECT_TRUE(r.value().mmap_truncated);
    EXPECT_EQ(r.value().mmap[kMaxMmapEntries - 1].base, (kMaxMmapEntries - 1) * u64{0x2000});
}

TEST(Multiboot2Modules, MoreThanCapacityIsFlaggedNotSilent) {
    Mb2Builder b;
    for (u32 i = 0; i < kMaxModules + 3; i++) b.module(0x100000 + i * 0x1000, 0x100800 + i * 0x1000, "m");
    auto r = parse_multiboot2(view_of(b.finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().module_count, kMaxModules);
    EXPECT_TRUE(r.value().modules_truncated);
}

TEST(Multiboot2Elf, SectionTableLargerThanTagIsMalformed) {
    Mb2Builder b;
    b.elf_sections(12, 64, 11, 11 * 64);
    EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed);
    Mb2Builder huge;
    huge.elf_sections(0xFFFFFFFF, 0xFFFFFFFF, 0, 64);  // product overflows u32
    EXPECT_EQ(parse_multiboot2(view_of(huge.finish())).status(), Status::Malformed);
}

TEST(Multiboot2Elf, StringTableIndexOutOfRangeIsMalformed) {
    Mb2Builder b;
    b.elf_sections(12, 64, 12, 12 * 64);
    EXPECT_EQ(parse_multiboot2(view_of(b.finish())).status(), Status::Malformed);
}

TEST(Multiboot2Elf, ViewIsTrimmedToNumTimesEntsize) {
    Mb2Builder b;
    b.elf_sections(2, 64, 1, 2 * 64 + 5);  // trailing bytes in the tag
    auto r = parse_multiboot2(view_of(b.finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().elf_sections.size(), 128u);
    Mb2Builder none;
    none.elf_sections(0, 64, 0, 0);
    auto e = parse_multiboot2(view_of(none.finish()));
    ASSERT_TRUE(e.ok());
    EXPECT_TRUE(e.value().has_elf_sections);
    EXPECT_EQ(e.value().elf_sections.size(), 0u);
}

}  // namespace
