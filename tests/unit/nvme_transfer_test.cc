// nvme::io_transfer_bytes and admin_transfer_bytes (lib/nvme/policy.h): how
// many bytes a command makes the device move, from the command itself.
#include <gtest/gtest.h>

#include "nvme/command.h"
#include "nvme/policy.h"

namespace {

u64 bytes(u8 opcode, u32 cdw10, u32 cdw12, u8 lba_shift) {
    auto r = nvme::io_transfer_bytes(opcode, cdw10, cdw12, lba_shift);
    EXPECT_TRUE(r.ok()) << "opcode " << int{opcode} << ": " << status_name(r.status());
    return r.value_or(~u64{0});
}

constexpr u8 kBlockIo[] = {nvme::kIoRead, nvme::kIoWrite, nvme::kIoCompare};

TEST(NvmeTransferBytes, ReadWriteCompareNlbIsZeroBased) {
    for (u8 op : kBlockIo) {
        EXPECT_EQ(bytes(op, 0, 0, 9), 512u) << "opcode " << int{op};
        EXPECT_EQ(bytes(op, 0, 0, 12), 4096u) << "opcode " << int{op};
        EXPECT_EQ(bytes(op, 0, 7, 9), 8u * 512) << "opcode " << int{op};
        EXPECT_EQ(bytes(op, 0, 7, 12), 8u * 4096) << "opcode " << int{op};
    }
}

TEST(NvmeTransferBytes, LargestNlb) {
    for (u8 op : kBlockIo) {
        EXPECT_EQ(bytes(op, 0, 0xffff, 9), u64{65536} * 512) << "opcode " << int{op};
        EXPECT_EQ(bytes(op, 0, 0xffff, 12), u64{65536} * 4096) << "opcode " << int{op};
        // 64 KiB blocks: 4 GiB, which no longer fits 32 bits.
        EXPECT_EQ(bytes(op, 0, 0xffff, 16), u64{1} << 32) << "opcode " << int{op};
    }
}

TEST(NvmeTransferBytes, UpperCdw12BitsIgnored) {
    // CDW12 31:16 holds LR, FUA, PRINFO, DTYPE: none change the length.
    for (u8 op : kBlockIo) {
        EXPECT_EQ(bytes(op, 0, 0xffff0000u, 9), 512u) << "opcode " << int{op};
        EXPECT_EQ(bytes(op, 0, 0x80000003u, 12), 4u * 4096) << "opcode " << int{op};
        EXPECT_EQ(bytes(op, 0, 0x40010002u, 9), 3u * 512) << "opcode " << int{op};
    }
}

TEST(NvmeTransferBytes, StartingLbaDoesNotMatter) {
    // CDW10 is SLBA's low half for Read/Write/Compare.
    for (u8 op : kBlockIo) EXPECT_EQ(bytes(op, 0xffffffffu, 1, 9), 1024u) << "opcode " << int{op};
}

TEST(NvmeTransferBytes, DatasetManagementRanges) {
    // NR (CDW10 7:0) is 0's based; each range is 16 bytes (§6.7).
    EXPECT_EQ(bytes(nvme::kIoDsm, 0, 0, 9), 16u);
    EXPECT_EQ(bytes(nvme::kIoDsm, 1, 0, 9), 32u);
    EXPECT_EQ(bytes(nvme::kIoDsm, 255, 0, 9), 4096u);
    // Bits above NR, CDW12 and the block size do not count.
    EXPECT_EQ(bytes(nvme::kIoDsm, 0xffffff00u, 0xffff, 12), 16u);
    EXPECT_EQ(bytes(nvme::kIoDsm, 0x00000104u, 0, 16), 5u * 16);
}

TEST(NvmeTransferBytes, FlushAndWriteZeroesMoveNothing) {
    EXPECT_EQ(bytes(nvme::kIoFlush, 0, 0, 9), 0u);
    EXPECT_EQ(bytes(nvme::kIoFlush, 0xffffffffu, 0xffffffffu, 12), 0u);
    // Write Zeroes carries an NLB but no data pointer.
    EXPECT_EQ(bytes(nvme::kIoWriteZeroes, 0, 0xffff, 12), 0u);
    EXPECT_EQ(bytes(nvme::kIoWriteZeroes, 0, 0, 9), 0u);
}

TEST(NvmeTransferBytes, ForbiddenOpcodes) {
    const u8 forbidden[] = {
        nvme::kIoWriteUncorrectable,
        nvme::kIoVerify,
        nvme::kIoReservationRegister,
        nvme::kIoReservationReport,
        nvme::kIoReservationAcquire,
        nvme::kIoReservationRelease,
        0x03,
        0x7f,
        0x80,
        0xff,
    };
    for (u8 op : forbidden)
        EXPECT_EQ(nvme::io_transfer_bytes(op, 0, 0, 9).status(), Status::Forbidden) << "opcode " << int{op};
}

TEST(NvmeTransferBytes, AgreesWithTheIoAllowList) {
    // A command the broker lets through always has a known length, and one
    // it refuses has none.
    for (u32 op = 0; op <= 0xff; op++) {
        bool allowed = nvme::command_allowed(nvme::QueueKind::Io, static_cast<u8>(op), 0).ok();
        auto r = nvme::io_transfer_bytes(static_cast<u8>(op), 0, 0, 9);
        EXPECT_EQ(r.ok(), allowed) << "opcode " << op;
        if (!allowed) EXPECT_EQ(r.status(), Status::Forbidden) << "opcode " << op;
    }
}

// Admin commands (moved from the kernel broker into lib with the queue pair).
TEST(NvmeAdminTransferBytes, SizedFromTheCommand) {
    auto admin = [](u8 opcode, u32 cdw10, u32 cdw11) {
        auto r = nvme::admin_transfer_bytes(opcode, cdw10, cdw11);
        return r.ok() ? r.value() : ~u64{0};
    };
    EXPECT_EQ(admin(nvme::kAdminIdentify, nvme::kIdentifyController, 0), 4096u);
    EXPECT_EQ(admin(nvme::kAdminIdentify, nvme::kIdentifyNamespace, 0xffffffff), 4096u) << "whatever CNS says";
    // Get Log Page: NUMDU (CDW11 15:0) : NUMDL (CDW10 31:16), 0's based dwords.
    EXPECT_EQ(admin(nvme::kAdminGetLogPage, 0, 0), 4u);
    EXPECT_EQ(admin(nvme::kAdminGetLogPage, 127u << 16, 0), 512u);
    EXPECT_EQ(admin(nvme::kAdminGetLogPage, 0xffffu << 16 | 0xff, 0xffff0001), (u64{0x1ffff} + 1) * 4)
        << "CDW10 15:0 and CDW11 31:16 are not part of NUMD";
    EXPECT_EQ(admin(nvme::kAdminGetFeatures, nvme::kFeatureTemperatureThreshold, 0), 0u);
    EXPECT_EQ(admin(nvme::kAdminSetFeatures, nvme::kFeatureTimestamp, 0), 8u);
    EXPECT_EQ(admin(nvme::kAdminGetFeatures, nvme::kFeatureHostIdentifier, 1), 16u);
    EXPECT_EQ(admin(nvme::kAdminKeepAlive, 0, 0), 0u);
    EXPECT_EQ(nvme::admin_transfer_bytes(nvme::kAdminGetFeatures, 0xC1, 0).status(), Status::Unsupported);
}

}  // namespace
