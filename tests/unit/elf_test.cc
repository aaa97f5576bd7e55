#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "elf/elf64.h"

namespace {

constexpr elf::Policy kPolicy{0x400000, 0x0000800000000000ull};

struct Seg {
    u32 flags;
    u64 offset, vaddr, filesz, memsz;
    u32 type = elf::kPtLoad;
};

// Builds an ELF-64 executable: header, program headers, then zero padding
// up to `file_size`.
std::vector<u8> build(const std::vector<Seg>& segs, u64 entry, usize file_size = 0x3000, u16 type = elf::kTypeExec) {
    std::vector<u8> f(file_size, 0);
    elf::FileHeader h{};
    std::memcpy(h.ident,
                "\x7f"
                "ELF\x02\x01\x01",
                7);
    h.type = type;
    h.machine = elf::kMachineX86_64;
    h.version = 1;
    h.entry = entry;
    h.phoff = 64;
    h.ehsize = 64;
    h.phentsize = sizeof(elf::ProgramHeader);
    h.phnum = static_cast<u16>(segs.size());
    std::memcpy(f.data(), &h, sizeof h);
    for (usize i = 0; i < segs.size(); i++) {
        elf::ProgramHeader p{segs[i].type,  segs[i].flags,  segs[i].offset, segs[i].vaddr,
                             segs[i].vaddr, segs[i].filesz, segs[i].memsz,  0x1000};
        std::memcpy(f.data() + 64 + i * sizeof p, &p, sizeof p);
    }
    return f;
}

const std::vector<Seg> kTextData = {
    {elf::kPfRead | elf::kPfExec, 0x1000, 0x401000, 0x800, 0x800},
    {elf::kPfRead | elf::kPfWrite, 0x2000, 0x402000, 0x100, 0x5000},  // .data + .bss
};

std::string refusal(const std::vector<u8>& f, Status expect) {
    const char* reason = nullptr;
    auto r = elf::parse_executable(ByteView(f.data(), f.size()), kPolicy, &reason);
    EXPECT_EQ(r.status(), expect);
    return reason ? reason : "";
}

TEST(Elf, ValidStaticExecutable) {
    auto f = build(kTextData, 0x401010);
    auto r = elf::parse_executable(ByteView(f.data(), f.size()), kPolicy, nullptr);
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value().entry, 0x401010u);
    ASSERT_EQ(r.value().segment_count, 2u);
    EXPECT_TRUE(r.value().segments[0].exec);
    EXPECT_FALSE(r.value().segments[0].write);
    EXPECT_EQ(r.value().segments[1].memsz, 0x5000u);
}

TEST(Elf, RefusesWithSpecificReasons) {
    auto f = build(kTextData, 0x401010);
    f[1] = 'X';
    EXPECT_EQ(refusal(f, Status::Malformed), "not an ELF file");

    EXPECT_EQ(refusal(build(kTextData, 0x401010, 0x3000, elf::kTypeDyn), Status::Unsupported),
              "position-independent or shared object (static executables only)");
    EXPECT_EQ(refusal(build(kTextData, 0x402010), Status::Malformed), "entry point outside every executable segment");

    auto wx = kTextData;
    wx[0].flags |= elf::kPfWrite;
    EXPECT_EQ(refusal(build(wx, 0x401010), Status::Unsupported), "segment is writable and executable");

    auto outside = kTextData;
    outside[1].filesz = 0x2000;  // 0x2000 + 0x2000 > file size 0x3000
    EXPECT_EQ(refusal(build(outside, 0x401010), Status::OutOfBounds), "segment bytes lie outside the file");

    auto kernel_addr = kTextData;
    kernel_addr[1].vaddr = 0xffffffff80002000ull;
    EXPECT_EQ(refusal(build(kernel_addr, 0x401010), Status::OutOfBounds), "segment outside the user address window");

    auto wraps = kTextData;
    wraps[1].vaddr = 0xfffffffffffff000ull;
    wraps[1].memsz = 0x2000;
    EXPECT_EQ(refusal(build(wraps, 0x401010), Status::OutOfBounds), "segment address range wraps");

    auto overlap = kTextData;
    overlap[1].vaddr = 0x401800;
    overlap[1].offset = 0x2800;
    overlap[1].filesz = 0x10;
    EXPECT_EQ(refusal(build(overlap, 0x401010), Status::Malformed), "segment overlaps another");

    auto misaligned = kTextData;
    misaligned[1].offset = 0x2010;
    EXPECT_EQ(refusal(build(misaligned, 0x401010), Status::Malformed),
              "segment offset and address disagree modulo the page size");

    auto bigfile = kTextData;
    bigfile[1].filesz = 0x6000;
    EXPECT_EQ(refusal(build(bigfile, 0x401010, 0x9000), Status::Malformed),
              "segment file size exceeds its memory size");

    auto interp = kTextData;
    interp.push_back({elf::kPfRead, 0x100, 0, 0x10, 0x10, elf::kPtInterp});
    EXPECT_EQ(refusal(build(interp, 0x401010), Status::Unsupported), "dynamically linked");
}

TEST(Elf, ProgramHeadersOutsideTheFile) {
    auto f = build(kTextData, 0x401010);
    f[56] = 0xff;  // phnum = 0xff02: headers run past the end
    EXPECT_EQ(refusal(f, Status::OutOfBounds), "program headers lie outside the file");
}

TEST(Elf, EveryTruncationIsRefusedWithoutReadingPastTheEnd) {
    auto f = build(kTextData, 0x401010);
    for (usize len = 0; len < 0x2100; len++) {
        auto r = elf::parse_executable(ByteView(f.data(), len), kPolicy, nullptr);
        EXPECT_FALSE(r.ok()) << "accepted at length " << len;
    }
}

}  // namespace
