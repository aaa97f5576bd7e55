#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "nvme/command.h"
#include "nvme/completion.h"
#include "nvme/policy.h"
#include "nvme/prp.h"
#include "nvme/registers.h"

namespace {

// ---- registers.h -----------------------------------------------------------

// A CAP like QEMU 7.2's: MQES 0x7ff, CQR, TO 15 (7.5 s), DSTRD 0, CSS NVM
// (bit 37) plus CSS bit 6 (bit 43), MPSMIN 0, MPSMAX 4.
constexpr u64 kQemuLikeCap = 0x7ffull | (1ull << 16) | (0xfull << 24) | (1ull << 37) | (1ull << 43) | (4ull << 52);

TEST(NvmeRegisters, DecodesCapFields) {
    auto cap = nvme::decode_cap(kQemuLikeCap);
    EXPECT_EQ(cap.mqes_plus_one, 2048);
    EXPECT_EQ(cap.dstrd, 0);
    EXPECT_EQ(cap.timeout_ms, 7500u);
    EXPECT_EQ(cap.mpsmin, 0);
    EXPECT_EQ(cap.mpsmax, 4);
    EXPECT_TRUE(cap.css_nvm);
    EXPECT_TRUE(nvme::check_cap(cap).ok());
}

TEST(NvmeRegisters, DecodesCapAtFieldEdges) {
    // MQES 0xFFFF (65536 entries) saturates; TO 0xFF; DSTRD 0xF; MPS 0xF/0xF;
    // every CSS bit but NVM's; NSSRS (bit 36) and CMBS (bit 57) are ignored.
    u64 raw = 0xffffull | (0xffull << 24) | (0xfull << 32) | (1ull << 36) | (0xfeull << 37) | (0xfull << 48) |
              (0xfull << 52) | (1ull << 57);
    auto cap = nvme::decode_cap(raw);
    EXPECT_EQ(cap.mqes_plus_one, 65535);
    EXPECT_EQ(cap.timeout_ms, 127500u);
    EXPECT_EQ(cap.dstrd, 15);
    EXPECT_EQ(cap.mpsmin, 15);
    EXPECT_EQ(cap.mpsmax, 15);
    EXPECT_FALSE(cap.css_nvm);
    // DSTRD 2 lands in bits 35:32 only.
    EXPECT_EQ(nvme::decode_cap(2ull << 32).dstrd, 2);
    EXPECT_EQ(nvme::decode_cap(2ull << 32).mqes_plus_one, 1);
}

TEST(NvmeRegisters, CheckCapRefusesWhatWeCannotDrive) {
    auto good = nvme::decode_cap(kQemuLikeCap);
    auto no_nvm = good;
    no_nvm.css_nvm = false;
    EXPECT_EQ(nvme::check_cap(no_nvm).status(), Status::Unsupported);
    auto big_pages = good;
    big_pages.mpsmin = 1;  // 8 KiB minimum: our 4 KiB CC.MPS would be invalid
    EXPECT_EQ(nvme::check_cap(big_pages).status(), Status::Unsupported);
    auto mqes_zero = nvme::decode_cap(kQemuLikeCap & ~0xffffull);
    EXPECT_EQ(mqes_zero.mqes_plus_one, 1);
    EXPECT_EQ(nvme::check_cap(mqes_zero).status(), Status::InvalidArgument);
    auto inverted = good;
    inverted.mpsmax = 0;
    inverted.mpsmin = 0;
    EXPECT_TRUE(nvme::check_cap(inverted).ok());
    inverted.mpsmin = 3;
    EXPECT_EQ(nvme::check_cap(inverted).status(), Status::InvalidArgument);
}

TEST(NvmeRegisters, DecodesVersion) {
    nvme::Version v = nvme::decode_vs(0x00010400);
    EXPECT_EQ(v.major, 1);
    EXPECT_EQ(v.minor, 4);
    EXPECT_EQ(v.tertiary, 0);
    v = nvme::decode_vs(0x00020001);
    EXPECT_EQ(v.major, 2);
    EXPECT_EQ(v.minor, 0);
    EXPECT_EQ(v.tertiary, 1);
}

TEST(NvmeRegisters, CcEnableValue) {
    u32 cc = nvme::cc_enable_value();
    EXPECT_EQ(cc, 0x00460001u);
    EXPECT_EQ(cc & nvme::kCcEnable, 1u);
    EXPECT_EQ((cc >> 4) & 0x7, 0u);   // CSS: NVM
    EXPECT_EQ((cc >> 7) & 0xf, 0u);   // MPS: 4 KiB
    EXPECT_EQ((cc >> 11) & 0x7, 0u);  // AMS: round robin
    EXPECT_EQ(cc & nvme::kCcShnMask, 0u);
    EXPECT_EQ((cc >> 16) & 0xf, 6u);  // IOSQES: 64 bytes
    EXPECT_EQ((cc >> 20) & 0xf, 4u);  // IOCQES: 16 bytes
}

TEST(NvmeRegisters, RegisterOffsets) {
    EXPECT_EQ(nvme::kRegCap, 0x00u);
    EXPECT_EQ(nvme::kRegVs, 0x08u);
    EXPECT_EQ(nvme::kRegIntms, 0x0Cu);
    EXPECT_EQ(nvme::kRegIntmc, 0x10u);
    EXPECT_EQ(nvme::kRegCc, 0x14u);
    EXPECT_EQ(nvme::kRegCsts, 0x1Cu);
    EXPECT_EQ(nvme::kRegAqa, 0x24u);
    EXPECT_EQ(nvme::kRegAsq, 0x28u);
    EXPECT_EQ(nvme::kRegAcq, 0x30u);
    EXPECT_EQ(nvme::kCstsReady, 1u);
    EXPECT_EQ(nvme::kCstsFatal, 2u);
}

TEST(NvmeRegisters, DoorbellOffsets) {
    // Stride 4 (DSTRD 0): admin SQ/CQ, then I/O queue 1.
    EXPECT_EQ(nvme::sq_tail_doorbell(0, 0), 0x1000u);
    EXPECT_EQ(nvme::cq_head_doorbell(0, 0), 0x1004u);
    EXPECT_EQ(nvme::sq_tail_doorbell(1, 0), 0x1008u);
    EXPECT_EQ(nvme::cq_head_doorbell(1, 0), 0x100Cu);
    EXPECT_EQ(nvme::sq_tail_doorbell(64, 0), 0x1200u);
    // Stride 16 (DSTRD 2).
    EXPECT_EQ(nvme::sq_tail_doorbell(1, 2), 0x1020u);
    EXPECT_EQ(nvme::cq_head_doorbell(1, 2), 0x1030u);
    // The largest: no overflow of the 64-bit offset.
    EXPECT_EQ(nvme::sq_tail_doorbell(0xFFFF, 15), 0x1000ull + 2ull * 0xFFFF * 0x20000);
    EXPECT_EQ(nvme::cq_head_doorbell(0xFFFF, 15), 0x1000ull + (2ull * 0xFFFF + 1) * 0x20000);
    // Only DSTRD's 4 bits count.
    EXPECT_EQ(nvme::sq_tail_doorbell(1, 0x12), nvme::sq_tail_doorbell(1, 2));
}

TEST(NvmeRegisters, AqaIsZeroBased) {
    EXPECT_EQ(nvme::aqa_value(32, 32), 0x001F001Fu);
    EXPECT_EQ(nvme::aqa_value(2, 4096), 0x0FFF0001u);
    EXPECT_EQ(nvme::aqa_value(64, 16), 0x000F003Fu);
    // Out of range (a queue holds 2..4096 entries): 0, never a valid AQA.
    EXPECT_EQ(nvme::aqa_value(1, 32), 0u);
    EXPECT_EQ(nvme::aqa_value(32, 0), 0u);
    EXPECT_EQ(nvme::aqa_value(4097, 32), 0u);
    EXPECT_EQ(nvme::aqa_value(32, 0xFFFF), 0u);
}

// ---- command.h -------------------------------------------------------------

TEST(NvmeCommand, Cdw0CarriesOpcodeAndCidOnly) {
    u32 v = nvme::cdw0(nvme::kIoRead, 0xBEEF);
    EXPECT_EQ(v, 0xBEEF0002u);
    EXPECT_EQ(v & 0x0300, 0u);  // FUSE
    EXPECT_EQ(v & 0xC000, 0u);  // PSDT: PRP
    EXPECT_EQ(nvme::cdw0_opcode(v), 0x02);
    EXPECT_EQ(nvme::cdw0_cid(v), 0xBEEF);
    EXPECT_EQ(nvme::cdw0(0xFF, 0), 0x000000FFu);
    // A provider's CDW0 with PSDT = SGL and FUSE set, rebuilt: both gone.
    u32 hostile = 0x1234C301;
    EXPECT_EQ(nvme::cdw0(nvme::cdw0_opcode(hostile), nvme::cdw0_cid(hostile)), 0x12340001u);
}

TEST(NvmeCommand, SqeLayout) {
    unsigned char bytes[64] = {};
    nvme::Sqe s{};
    s.cdw0 = 0x00010006;
    s.nsid = 0xAABBCCDD;
    s.prp1 = 0x1122334455667788ull;
    s.prp2 = 0x99;
    s.cdw10 = 1;
    s.cdw15 = 0xF0F0F0F0;
    std::memcpy(bytes, &s, sizeof s);
    EXPECT_EQ(bytes[0], 0x06);
    EXPECT_EQ(bytes[2], 0x01);
    EXPECT_EQ(bytes[4], 0xDD);
    EXPECT_EQ(bytes[24], 0x88);
    EXPECT_EQ(bytes[31], 0x11);
    EXPECT_EQ(bytes[32], 0x99);
    EXPECT_EQ(bytes[40], 0x01);
    EXPECT_EQ(bytes[60], 0xF0);
}

TEST(NvmeCommand, CqeLayoutPhaseAndStatus) {
    // As the device writes it: DW0 = 0x11223344, DW1 = 0, SQHD = 5, SQID = 1,
    // CID = 0x42, status word = phase 1 | (Invalid Command Opcode << 1).
    const unsigned char raw[16] = {0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0, 0x05, 0x00, 0x01, 0x00, 0x42, 0x00, 0x03, 0x00};
    nvme::Cqe c{};
    std::memcpy(&c, raw, sizeof c);
    EXPECT_EQ(c.dw0, 0x11223344u);
    EXPECT_EQ(c.sq_head, 5);
    EXPECT_EQ(c.sq_id, 1);
    EXPECT_EQ(c.cid, 0x42);
    EXPECT_TRUE(nvme::cqe_phase(c));
    EXPECT_EQ(nvme::cqe_status_code(c), 0x0001);
    EXPECT_STREQ(nvme::status_text(nvme::cqe_status_code(c)), "invalid opcode");

    // LBA Out of Range with DNR, phase 0: field 0x4080.
    c.status = 0x8100;
    EXPECT_FALSE(nvme::cqe_phase(c));
    EXPECT_EQ(nvme::cqe_status_code(c), 0x4080);
    EXPECT_EQ(nvme::status_sc(0x4080), 0x80);
    EXPECT_EQ(nvme::status_sct(0x4080), nvme::kSctGeneric);
    EXPECT_NE(nvme::cqe_status_code(c) & nvme::kStatusDoNotRetry, 0);
    c.status = 0xFFFF;
    EXPECT_TRUE(nvme::cqe_phase(c));
    EXPECT_EQ(nvme::cqe_status_code(c), 0x7FFF);
}

TEST(NvmeCommand, StatusText) {
    EXPECT_STREQ(nvme::status_text(0x000), "success");
    EXPECT_STREQ(nvme::status_text(0x001), "invalid opcode");
    EXPECT_STREQ(nvme::status_text(0x002), "invalid field");
    EXPECT_STREQ(nvme::status_text(0x004), "data transfer error");
    EXPECT_STREQ(nvme::status_text(0x00B), "invalid namespace or format");
    EXPECT_STREQ(nvme::status_text(0x013), "PRP offset invalid");
    EXPECT_STREQ(nvme::status_text(0x080), "LBA out of range");
    EXPECT_STREQ(nvme::status_text(0x082), "namespace not ready");
    // Command specific: QEMU's answer to Set Features 08h; queue creation.
    EXPECT_STREQ(nvme::status_text(0x10E), "feature not changeable");
    EXPECT_STREQ(nvme::status_text(0x101), "invalid queue identifier");
    EXPECT_STREQ(nvme::status_text(0x102), "invalid queue size");
    EXPECT_STREQ(nvme::status_text(0x109), "invalid log page");
    // Media errors.
    EXPECT_STREQ(nvme::status_text(0x281), "unrecovered read error");
    EXPECT_STREQ(nvme::status_text(0x285), "compare failure");
    EXPECT_STREQ(nvme::status_text(0x300), "internal path error");
    // CRD, More and DNR do not change the text.
    EXPECT_STREQ(nvme::status_text(0x4002), "invalid field");
    EXPECT_STREQ(nvme::status_text(0x7880), "LBA out of range");
    EXPECT_STREQ(nvme::status_text(0x7C3), "vendor specific status");
    // Unknown: reserved codes, reserved code types.
    EXPECT_STREQ(nvme::status_text(0x017), "unknown status");
    EXPECT_STREQ(nvme::status_text(0x0FF), "unknown status");
    EXPECT_STREQ(nvme::status_text(0x104), "unknown status");
    EXPECT_STREQ(nvme::status_text(0x200), "unknown status");
    EXPECT_STREQ(nvme::status_text(0x400), "unknown status");
    EXPECT_STREQ(nvme::status_text(0x6FF), "unknown status");
}

// What a consumer is told: each status maps to the Status that says what
// happened to its request; the bits around SC/SCT do not change it.
TEST(NvmeCommand, IoStatusMapping) {
    struct Case {
        u16 field;
        Status want;
    };
    const Case cases[] = {
        {0x000, Status::Ok},
        {0x001, Status::Unsupported},       // invalid opcode
        {0x4002, Status::InvalidArgument},  // invalid field, DNR
        {0x004, Status::DeviceError},       // data transfer error
        {0x006, Status::DeviceError},       // internal error
        {0x008, Status::Busy},              // aborted: SQ deleted
        {0x00B, Status::NotFound},          // invalid namespace
        {0x020, Status::ReadOnly},          // namespace write protected
        {0x4080, Status::OutOfBounds},      // LBA out of range, DNR
        {0x081, Status::NoSpace},           // capacity exceeded
        {0x082, Status::Busy},              // namespace not ready
        {0x083, Status::Forbidden},         // reservation conflict
        {0x182, Status::ReadOnly},          // write to read only range
        {0x181, Status::BadChecksum},       // invalid protection information
        {0x280, Status::MediaError},        // write fault (QEMU: a failed host write)
        {0x281, Status::MediaError},        // unrecovered read error (QEMU: a failed host read)
        {0x6281, Status::MediaError},       // ... with More and DNR
        {0x282, Status::BadChecksum},       // guard check
        {0x285, Status::DeviceError},       // compare failure: not a medium fault
        {0x286, Status::Forbidden},         // access denied
        {0x287, Status::MediaError},        // deallocated or unwritten block
        {0x303, Status::Busy},              // ANA transition
        {0x300, Status::DeviceError},       // internal path error
        {0x7C3, Status::DeviceError},       // vendor specific
        {0x017, Status::DeviceError},       // reserved code
        {0x400, Status::DeviceError},       // reserved type
    };
    for (const Case& c : cases)
        EXPECT_EQ(nvme::io_status(c.field), c.want)
            << std::hex << "field 0x" << c.field << " -> " << status_name(nvme::io_status(c.field));
}

TEST(NvmeCommand, MayRetryFollowsDoNotRetry) {
    EXPECT_FALSE(nvme::may_retry(0x000));   // success: nothing to retry
    EXPECT_TRUE(nvme::may_retry(0x281));    // QEMU's unrecovered read: DNR clear
    EXPECT_TRUE(nvme::may_retry(0x2281));   // More set, DNR clear
    EXPECT_FALSE(nvme::may_retry(0x4080));  // LBA out of range with DNR
    EXPECT_FALSE(nvme::may_retry(0x7FFF));
}

TEST(NvmeCommand, OpcodeValues) {
    EXPECT_EQ(nvme::kAdminDeleteSq, 0x00);
    EXPECT_EQ(nvme::kAdminCreateSq, 0x01);
    EXPECT_EQ(nvme::kAdminGetLogPage, 0x02);
    EXPECT_EQ(nvme::kAdminDeleteCq, 0x04);
    EXPECT_EQ(nvme::kAdminCreateCq, 0x05);
    EXPECT_EQ(nvme::kAdminIdentify, 0x06);
    EXPECT_EQ(nvme::kAdminAbort, 0x08);
    EXPECT_EQ(nvme::kAdminSetFeatures, 0x09);
    EXPECT_EQ(nvme::kAdminGetFeatures, 0x0A);
    EXPECT_EQ(nvme::kAdminAsyncEvent, 0x0C);
    EXPECT_EQ(nvme::kAdminKeepAlive, 0x18);
    EXPECT_EQ(nvme::kAdminDoorbellBufferConfig, 0x7C);
    EXPECT_EQ(nvme::kAdminFormatNvm, 0x80);
    EXPECT_EQ(nvme::kAdminSanitize, 0x84);
    EXPECT_EQ(nvme::kIoFlush, 0x00);
    EXPECT_EQ(nvme::kIoWrite, 0x01);
    EXPECT_EQ(nvme::kIoRead, 0x02);
    EXPECT_EQ(nvme::kIoCompare, 0x05);
    EXPECT_EQ(nvme::kIoWriteZeroes, 0x08);
    EXPECT_EQ(nvme::kIoDsm, 0x09);
    EXPECT_EQ(nvme::kFeatureNumberOfQueues, 0x07);
    EXPECT_EQ(nvme::kFeatureHostMemoryBuffer, 0x0D);
    EXPECT_EQ(nvme::feature_id(0x8000010D), 0x0D);
}

// ---- policy.h --------------------------------------------------------------

std::set<int> allowed_opcodes(nvme::QueueKind q, u32 cdw10) {
    std::set<int> out;
    for (int op = 0; op < 256; op++) {
        auto r = nvme::command_allowed(q, static_cast<u8>(op), cdw10);
        if (r.ok()) {
            out.insert(op);
        } else {
            EXPECT_EQ(r.status(), Status::Forbidden) << op;
        }
    }
    return out;
}

TEST(NvmePolicy, AdminAllowListIsExact) {
    // With an innocuous feature (Volatile Write Cache) in CDW10.
    EXPECT_EQ(allowed_opcodes(nvme::QueueKind::Admin, nvme::kFeatureVolatileWriteCache),
              (std::set<int>{0x02, 0x06, 0x08, 0x09, 0x0A, 0x0C, 0x18}));
    // With Host Memory Buffer in CDW10, Get and Set Features drop out.
    EXPECT_EQ(allowed_opcodes(nvme::QueueKind::Admin, nvme::kFeatureHostMemoryBuffer),
              (std::set<int>{0x02, 0x06, 0x08, 0x0C, 0x18}));
}

TEST(NvmePolicy, AdminRefusesBrokerAndDestructiveCommands) {
    using nvme::QueueKind;
    for (u8 op : {nvme::kAdminDeleteSq,
                  nvme::kAdminCreateSq,
                  nvme::kAdminDeleteCq,
                  nvme::kAdminCreateCq,
                  nvme::kAdminDoorbellBufferConfig,
                  nvme::kAdminFormatNvm,
                  nvme::kAdminSanitize,
                  nvme::kAdminFirmwareDownload,
                  nvme::kAdminFirmwareCommit,
                  nvme::kAdminNamespaceManagement,
                  nvme::kAdminNamespaceAttachment,
                  nvme::kAdminSecuritySend,
                  nvme::kAdminSecurityReceive,
                  nvme::kAdminDirectiveSend,
                  nvme::kAdminDirectiveReceive,
                  nvme::kAdminVirtualizationManagement,
                  nvme::kAdminNvmeMiSend,
                  nvme::kAdminNvmeMiReceive,
                  nvme::kAdminGetLbaStatus,
                  nvme::kAdminDeviceSelfTest,
                  nvme::kAdminFabrics,
                  u8{0xC0},
                  u8{0xFF},
                  u8{0x03},
                  u8{0x7B}})
        EXPECT_EQ(nvme::command_allowed(QueueKind::Admin, op, 0).status(), Status::Forbidden) << int(op);
}

TEST(NvmePolicy, FeaturesByIdentifier) {
    using nvme::QueueKind;
    auto set = [](u32 cdw10) { return nvme::command_allowed(QueueKind::Admin, nvme::kAdminSetFeatures, cdw10); };
    auto get = [](u32 cdw10) { return nvme::command_allowed(QueueKind::Admin, nvme::kAdminGetFeatures, cdw10); };
    // Host Memory Buffer: Set carries the descriptor list address, Get returns it.
    EXPECT_EQ(set(0x0D).status(), Status::Forbidden);
    EXPECT_EQ(get(0x0D).status(), Status::Forbidden);
    // Number of Queues: the broker's to set; anyone may read it.
    EXPECT_EQ(set(0x07).status(), Status::Forbidden);
    EXPECT_TRUE(get(0x07).ok());
    // Namespace Write Protection Config: readable, never set (permanent protect).
    EXPECT_EQ(set(0x84).status(), Status::Forbidden);
    EXPECT_TRUE(get(0x84).ok());
    // Ordinary features.
    for (u32 fid : {0x01u, 0x02u, 0x04u, 0x06u, 0x08u, 0x09u, 0x0Bu, 0x0Eu, 0x0Fu, 0x18u, 0x80u, 0x81u, 0x83u}) {
        EXPECT_TRUE(set(fid).ok()) << fid;
        EXPECT_TRUE(get(fid).ok()) << fid;
    }
    // Reserved, NVMe-MI, vendor specific: unknown contents, refused.
    for (u32 fid : {0x00u, 0x19u, 0x77u, 0x78u, 0x7Fu, 0x85u, 0xBFu, 0xC0u, 0xFFu}) {
        EXPECT_EQ(set(fid).status(), Status::Forbidden) << fid;
        EXPECT_EQ(get(fid).status(), Status::Forbidden) << fid;
    }
    // Only CDW10 bits 7:0 name the feature: SV (bit 31) and SEL (10:8) don't
    // change the answer, and high bits cannot smuggle 0Dh past the check.
    EXPECT_TRUE(set(0x80000006u).ok());
    EXPECT_TRUE(get(0x00000306u).ok());
    EXPECT_EQ(set(0x8000010Du).status(), Status::Forbidden);
    EXPECT_EQ(get(0xFFFFFF0Du).status(), Status::Forbidden);
    EXPECT_EQ(set(0x00000107u).status(), Status::Forbidden);
    EXPECT_TRUE(nvme::feature_owned_by_broker(0x07));
    EXPECT_TRUE(nvme::feature_owned_by_broker(0x0D));
    EXPECT_FALSE(nvme::feature_owned_by_broker(0x06));
}

TEST(NvmePolicy, FeatureDataBytes) {
    auto bytes = [](u8 fid, u32 cdw11 = 0) {
        auto r = nvme::feature_data_bytes(fid, cdw11);
        return r.ok() ? i64{r.value()} : -1;
    };
    EXPECT_EQ(bytes(nvme::kFeatureLbaRangeType), 4096);
    EXPECT_EQ(bytes(nvme::kFeatureAutonomousPowerState), 256);
    EXPECT_EQ(bytes(nvme::kFeatureTimestamp), 8);
    EXPECT_EQ(bytes(nvme::kFeaturePredictableLatencyConfig), 512);
    EXPECT_EQ(bytes(nvme::kFeatureHostBehaviorSupport), 512);
    EXPECT_EQ(bytes(nvme::kFeatureHostIdentifier), 8);
    EXPECT_EQ(bytes(nvme::kFeatureHostIdentifier, 1), 16);  // EXHID
    EXPECT_EQ(bytes(nvme::kFeatureHostMemoryBuffer), 4096);
    // Register-style features: everything in the command dwords.
    for (u8 fid : {nvme::kFeatureArbitration, nvme::kFeatureVolatileWriteCache, nvme::kFeatureNumberOfQueues,
                   nvme::kFeatureInterruptCoalescing, nvme::kFeatureKeepAliveTimer, nvme::kFeatureHostThermalManagement,
                   nvme::kFeatureEnduranceGroupEventConfig, nvme::kFeatureSoftwareProgressMarker,
                   nvme::kFeatureNamespaceWriteProtection})
        EXPECT_EQ(bytes(fid), 0) << int(fid);
    for (u8 fid : {u8{0x00}, u8{0x19}, u8{0x78}, u8{0x85}, u8{0xC0}, u8{0xFF}})
        EXPECT_EQ(nvme::feature_data_bytes(fid, 0).status(), Status::Unsupported) << int(fid);
    // Every feature a provider may read or set has a known size.
    for (int fid = 0; fid < 256; fid++) {
        bool allowed = nvme::command_allowed(nvme::QueueKind::Admin, nvme::kAdminGetFeatures, u32(fid)).ok() ||
                       nvme::command_allowed(nvme::QueueKind::Admin, nvme::kAdminSetFeatures, u32(fid)).ok();
        if (allowed) EXPECT_TRUE(nvme::feature_data_bytes(static_cast<u8>(fid), 0).ok()) << fid;
    }
}

TEST(NvmePolicy, IoAllowListIsExact) {
    EXPECT_EQ(allowed_opcodes(nvme::QueueKind::Io, 0), (std::set<int>{0x00, 0x01, 0x02, 0x05, 0x08, 0x09}));
    // CDW10 (the starting LBA for I/O) plays no part.
    EXPECT_EQ(allowed_opcodes(nvme::QueueKind::Io, 0x0D), (std::set<int>{0x00, 0x01, 0x02, 0x05, 0x08, 0x09}));
    for (u8 op : {nvme::kIoWriteUncorrectable, nvme::kIoVerify, nvme::kIoReservationRegister,
                  nvme::kIoReservationReport, nvme::kIoReservationAcquire, nvme::kIoReservationRelease, u8{0x79},
                  u8{0x7A}, u8{0x7D}, nvme::kIoVendorFirst, u8{0xFF}})
        EXPECT_EQ(nvme::command_allowed(nvme::QueueKind::Io, op, 0).status(), Status::Forbidden) << int(op);
}

TEST(NvmePolicy, QueueKindMatters) {
    // 0x06 is Identify on the admin queue, nothing on an I/O queue; 0x09 is
    // Set Features vs Dataset Management; 0x01 Create I/O SQ vs Write.
    EXPECT_TRUE(nvme::command_allowed(nvme::QueueKind::Admin, 0x06, 1).ok());
    EXPECT_EQ(nvme::command_allowed(nvme::QueueKind::Io, 0x06, 1).status(), Status::Forbidden);
    EXPECT_TRUE(nvme::command_allowed(nvme::QueueKind::Io, 0x09, 0x0D).ok());
    EXPECT_EQ(nvme::command_allowed(nvme::QueueKind::Admin, 0x09, 0x0D).status(), Status::Forbidden);
    EXPECT_TRUE(nvme::command_allowed(nvme::QueueKind::Io, 0x01, 0).ok());
    EXPECT_EQ(nvme::command_allowed(nvme::QueueKind::Admin, 0x01, 0).status(), Status::Forbidden);
}

TEST(NvmePolicy, CommandUsesData) {
    using nvme::QueueKind;
    for (u8 op : {nvme::kIoRead, nvme::kIoWrite, nvme::kIoCompare, nvme::kIoDsm, nvme::kIoReservationReport})
        EXPECT_TRUE(nvme::command_uses_data(QueueKind::Io, op)) << int(op);
    for (u8 op : {nvme::kIoFlush, nvme::kIoWriteZeroes, nvme::kIoWriteUncorrectable, nvme::kIoVerify, u8{0x80},
                  u8{0xFF}, u8{0x06}})
        EXPECT_FALSE(nvme::command_uses_data(QueueKind::Io, op)) << int(op);
    for (u8 op : {nvme::kAdminIdentify, nvme::kAdminGetLogPage, nvme::kAdminGetFeatures, nvme::kAdminSetFeatures,
                  nvme::kAdminCreateSq, nvme::kAdminCreateCq, nvme::kAdminDoorbellBufferConfig,
                  nvme::kAdminFirmwareDownload, nvme::kAdminSecurityReceive})
        EXPECT_TRUE(nvme::command_uses_data(QueueKind::Admin, op)) << int(op);
    for (u8 op :
         {nvme::kAdminAbort, nvme::kAdminKeepAlive, nvme::kAdminAsyncEvent, nvme::kAdminDeleteSq, nvme::kAdminDeleteCq,
          nvme::kAdminFormatNvm, nvme::kAdminSanitize, nvme::kAdminFirmwareCommit, u8{0xC0}, u8{0x03}})
        EXPECT_FALSE(nvme::command_uses_data(QueueKind::Admin, op)) << int(op);
    // The same byte means different commands on the two kinds of queue:
    // 06h is Identify (data) on the admin queue and nothing on an I/O queue;
    // 0Eh is Reservation Report (data) on an I/O queue and nothing on admin.
    EXPECT_TRUE(nvme::command_uses_data(QueueKind::Admin, 0x06));
    EXPECT_FALSE(nvme::command_uses_data(QueueKind::Io, 0x06));
    EXPECT_TRUE(nvme::command_uses_data(QueueKind::Io, 0x0E));
    EXPECT_FALSE(nvme::command_uses_data(QueueKind::Admin, 0x0E));
}

// ---- prp.h -----------------------------------------------------------------

// The plan, or all-ones fields (which no assertion below expects) on error.
nvme::PrpPlan plan(u64 address, u64 length) {
    auto r = nvme::plan_prps(address, length);
    EXPECT_TRUE(r.ok()) << status_name(r.status());
    return r.ok() ? r.value() : nvme::PrpPlan{~u64{0}, ~u64{0}, ~u32{0}};
}

// The entry count, or -1 on error.
i64 fill(u64 address, u64 length, u64* out, u32 max) {
    auto r = nvme::fill_prp_list(address, length, out, max);
    EXPECT_TRUE(r.ok()) << status_name(r.status());
    return r.ok() ? i64{r.value()} : -1;
}

TEST(NvmePrp, OnePage) {
    auto p = plan(0x10000, 4096);
    EXPECT_EQ(p.prp1, 0x10000u);
    EXPECT_EQ(p.prp2, 0u);
    EXPECT_EQ(p.list_entries, 0u);
    // Inside one page at an offset.
    p = plan(0x10800, 0x800);
    EXPECT_EQ(p.prp1, 0x10800u);
    EXPECT_EQ(p.prp2, 0u);
    EXPECT_EQ(p.list_entries, 0u);
    p = plan(0x10FFC, 4);
    EXPECT_EQ(p.prp1, 0x10FFCu);
    EXPECT_EQ(p.prp2, 0u);
    EXPECT_EQ(p.list_entries, 0u);
}

TEST(NvmePrp, TwoPagesUsePrp2AsData) {
    auto p = plan(0x10000, 8192);
    EXPECT_EQ(p.prp1, 0x10000u);
    EXPECT_EQ(p.prp2, 0x11000u);
    EXPECT_EQ(p.list_entries, 0u);
    // One page's worth at an offset crosses one boundary: PRP2 is page aligned.
    p = plan(0x10800, 4096);
    EXPECT_EQ(p.prp1, 0x10800u);
    EXPECT_EQ(p.prp2, 0x11000u);
    EXPECT_EQ(p.list_entries, 0u);
    // Eight bytes straddling a boundary.
    p = plan(0x10FFC, 8);
    EXPECT_EQ(p.prp1, 0x10FFCu);
    EXPECT_EQ(p.prp2, 0x11000u);
    EXPECT_EQ(p.list_entries, 0u);
}

TEST(NvmePrp, ThreeOrMorePagesNeedAList) {
    auto p = plan(0x10000, 12288);
    EXPECT_EQ(p.prp1, 0x10000u);
    EXPECT_EQ(p.prp2, 0u);  // the caller points it at its list page
    EXPECT_EQ(p.list_entries, 2u);
    u64 list[4] = {0xAA, 0xAA, 0xAA, 0xAA};
    EXPECT_EQ(fill(0x10000, 12288, list, 4), 2);
    EXPECT_EQ(list[0], 0x11000u);
    EXPECT_EQ(list[1], 0x12000u);
    EXPECT_EQ(list[2], 0xAAu);  // nothing past the count
    // 8 KiB + 4 bytes at an offset: pages 0x10, 0x11, 0x12.
    p = plan(0x10FFC, 8196);
    EXPECT_EQ(p.prp1, 0x10FFCu);
    EXPECT_EQ(p.list_entries, 2u);
    EXPECT_EQ(fill(0x10FFC, 8196, list, 2), 2);
    EXPECT_EQ(list[0], 0x11000u);
    EXPECT_EQ(list[1], 0x12000u);
}

TEST(NvmePrp, TwoMebibytesFitOneListPage) {
    static u64 list[513];
    // Page aligned 2 MiB: 512 pages, 511 list entries.
    EXPECT_EQ(plan(0x40000000, 2u << 20).list_entries, 511u);
    // At an offset it spans 513 pages: 512 entries, the whole list page,
    // no chain pointer since nothing follows.
    EXPECT_EQ(plan(0x40000200, 2u << 20).list_entries, 512u);
    list[512] = 0x5A;
    EXPECT_EQ(fill(0x40000200, 2u << 20, list, 513), 512);
    EXPECT_EQ(list[0], 0x40001000u);
    EXPECT_EQ(list[511], 0x40200000u);
    EXPECT_EQ(list[512], 0x5Au);
    // One page more would need a second list page (a chain): refused.
    EXPECT_EQ(nvme::plan_prps(0x40000000, (2u << 20) + 4097).status(), Status::Unsupported);
    EXPECT_EQ(nvme::plan_prps(0x40000200, (2u << 20) + 0xE01).status(), Status::Unsupported);
    EXPECT_EQ(plan(0x40000200, (2u << 20) + 0xE00).list_entries, 512u);
    EXPECT_EQ(nvme::fill_prp_list(0x40000000, 4u << 20, list, 513).status(), Status::Unsupported);
    EXPECT_EQ(nvme::plan_prps(0x1000, ~u64{0} >> 1).status(), Status::Unsupported);
}

TEST(NvmePrp, RejectsBadRegions) {
    EXPECT_EQ(nvme::plan_prps(0x10000, 0).status(), Status::InvalidArgument);
    EXPECT_EQ(nvme::plan_prps(0x10002, 512).status(), Status::InvalidArgument);  // not dword aligned
    EXPECT_EQ(nvme::plan_prps(0x10001, 512).status(), Status::InvalidArgument);
    EXPECT_TRUE(nvme::plan_prps(0x10004, 512).ok());
    // The very last dword of the address space is fine; one byte more wraps.
    EXPECT_EQ(plan(~u64{0} - 3, 4).prp1, ~u64{0} - 3);
    EXPECT_EQ(nvme::plan_prps(~u64{0} - 3, 5).status(), Status::InvalidArgument);
    EXPECT_EQ(nvme::plan_prps(~u64{0} - 0xFFF, ~u64{0}).status(), Status::InvalidArgument);
    u64 list[2];
    EXPECT_EQ(nvme::fill_prp_list(0x10000, 0, list, 2).status(), Status::InvalidArgument);
    EXPECT_EQ(nvme::fill_prp_list(0x10002, 12288, list, 2).status(), Status::InvalidArgument);
}

TEST(NvmePrp, FillRespectsMax) {
    u64 list[3] = {7, 7, 7};
    EXPECT_EQ(nvme::fill_prp_list(0x10000, 4 * 4096, list, 2).status(), Status::OutOfBounds);
    EXPECT_EQ(list[0], 7u);  // nothing written on failure
    EXPECT_EQ(nvme::fill_prp_list(0x10000, 4 * 4096, nullptr, 3).status(), Status::OutOfBounds);
    EXPECT_EQ(fill(0x10000, 4 * 4096, list, 3), 3);
    EXPECT_EQ(list[0], 0x11000u);
    EXPECT_EQ(list[2], 0x13000u);
    // No list needed: zero entries, nothing written, no buffer required.
    list[0] = 7;
    EXPECT_EQ(fill(0x10000, 8192, list, 3), 0);
    EXPECT_EQ(list[0], 7u);
    EXPECT_EQ(fill(0x10000, 4096, nullptr, 0), 0);
}

// ---- completion.h ----------------------------------------------------------

nvme::Cqe completion(u16 cid, u16 sq_id, bool phase, u16 status_field = 0, u16 sq_head = 0) {
    nvme::Cqe c{};
    c.cid = cid;
    c.sq_id = sq_id;
    c.sq_head = sq_head;
    c.status = static_cast<u16>((status_field << 1) | (phase ? 1 : 0));
    return c;
}

// The CID, or -1 on error.
int accepted(const nvme::Cqe& c, bool phase, u16 sq, u16 depth, const u64* outstanding) {
    auto r = nvme::check_completion(c, phase, sq, depth, outstanding);
    EXPECT_TRUE(r.ok()) << status_name(r.status());
    return r.ok() ? r.value() : -1;
}

struct Outstanding {
    u64 bits[2] = {};
    void set(u16 cid) { bits[cid / 64] |= u64{1} << (cid % 64); }
};

TEST(NvmeCompletion, AcceptsAnOutstandingCid) {
    Outstanding o;
    o.set(3);
    o.set(70);
    EXPECT_EQ(accepted(completion(70, 1, true), true, 1, 100, o.bits), 70);
    // An error status is still a completion of that command.
    EXPECT_EQ(accepted(completion(3, 1, true, 0x4080), true, 1, 100, o.bits), 3);
    // Second pass through the queue: phase 0 is the new one.
    EXPECT_EQ(accepted(completion(3, 1, false), false, 1, 100, o.bits), 3);
}

TEST(NvmeCompletion, StalePhaseIsNothingNew) {
    Outstanding o;
    o.set(3);
    EXPECT_EQ(nvme::check_completion(completion(3, 1, false), true, 1, 100, o.bits).status(), Status::NotFound);
    EXPECT_EQ(nvme::check_completion(completion(3, 1, true), false, 1, 100, o.bits).status(), Status::NotFound);
    // Stale garbage in the other fields does not matter until the phase flips.
    EXPECT_EQ(nvme::check_completion(completion(0xFFFF, 9, false), true, 1, 100, o.bits).status(), Status::NotFound);
}

TEST(NvmeCompletion, RefusesCidsOutsideTheQueue) {
    Outstanding o;
    o.bits[0] = o.bits[1] = ~u64{0};
    EXPECT_EQ(nvme::check_completion(completion(100, 1, true), true, 1, 100, o.bits).status(), Status::OutOfBounds);
    EXPECT_EQ(nvme::check_completion(completion(0xFFFF, 1, true), true, 1, 100, o.bits).status(), Status::OutOfBounds);
    EXPECT_EQ(accepted(completion(99, 1, true), true, 1, 100, o.bits), 99);
}

TEST(NvmeCompletion, RefusesCidsNotOutstanding) {
    Outstanding o;
    o.set(5);
    EXPECT_EQ(nvme::check_completion(completion(4, 1, true), true, 1, 100, o.bits).status(), Status::InvalidArgument);
    EXPECT_EQ(nvme::check_completion(completion(69, 1, true), true, 1, 100, o.bits).status(),
              Status::InvalidArgument);  // bit 5 of word 1 is not bit 5 of word 0
    // A duplicate completion: once the caller clears the bit, a repeat is refused.
    ASSERT_TRUE(nvme::check_completion(completion(5, 1, true), true, 1, 100, o.bits).ok());
    o.bits[0] = 0;
    EXPECT_EQ(nvme::check_completion(completion(5, 1, true), true, 1, 100, o.bits).status(), Status::InvalidArgument);
}

TEST(NvmeCompletion, RefusesAnotherQueue) {
    Outstanding o;
    o.set(5);
    EXPECT_EQ(nvme::check_completion(completion(5, 2, true), true, 1, 100, o.bits).status(), Status::InvalidArgument);
    EXPECT_EQ(nvme::check_completion(completion(5, 0, true), true, 1, 100, o.bits).status(), Status::InvalidArgument);
    EXPECT_TRUE(nvme::check_completion(completion(5, 2, true), true, 2, 100, o.bits).ok());
}

TEST(NvmeCompletion, RefusesBadCallerState) {
    Outstanding o;
    o.set(0);
    EXPECT_EQ(nvme::check_completion(completion(0, 1, true), true, 1, 0, o.bits).status(), Status::InvalidArgument);
    EXPECT_EQ(nvme::check_completion(completion(0, 1, true), true, 1, 100, nullptr).status(), Status::InvalidArgument);
}

TEST(NvmeCompletion, SqHeadWithinTheQueue) {
    auto r = nvme::check_sq_head(completion(0, 1, true, 0, 63), 64);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), 63);
    EXPECT_EQ(nvme::check_sq_head(completion(0, 1, true, 0, 64), 64).status(), Status::OutOfBounds);
    EXPECT_EQ(nvme::check_sq_head(completion(0, 1, true, 0, 0), 0).status(), Status::OutOfBounds);
}

TEST(NvmeCommand, IdentifyStringsDropPaddingAndShowUnprintables) {
    u8 data[64] = {};
    const char serial[] = "sluice-nvme0        ";  // 20 bytes, space padded
    for (u32 i = 0; i < 20; i++) data[4 + i] = static_cast<u8>(serial[i]);
    char out[21];
    nvme::identify_string(data, 4, 20, out);
    EXPECT_STREQ(out, "sluice-nvme0");
    data[5] = 0x07;
    data[6] = 0xff;
    nvme::identify_string(data, 4, 20, out);
    EXPECT_STREQ(out, "s??ice-nvme0");
    nvme::identify_string(data, 40, 8, out);  // all zero: unprintable, not padding
    EXPECT_STREQ(out, "????????");
}

}  // namespace

// ---- I/O command encoding (block ranges, FUA, DSM) -------------------------------

TEST(NvmeIoEncoding, BlockRangeIsZeroBasedWithFuaInBit30) {
    auto r = nvme::block_range(0x1'2345'6789ull, 8, true);
    EXPECT_EQ(r.cdw10, 0x2345'6789u);
    EXPECT_EQ(r.cdw11, 0x1u);
    EXPECT_EQ(r.cdw12, 7u | (1u << 30));  // FUA: CDW12 bit 30
    EXPECT_EQ(nvme::block_range(5, 1, false).cdw12, 0u);
    EXPECT_EQ(nvme::block_range(5, nvme::kMaxBlocksPerCommand, false).cdw12, 0xffffu);
    // FUA never spills into NLB, nor NLB into the control bits.
    EXPECT_EQ(nvme::block_range(0, nvme::kMaxBlocksPerCommand, true).cdw12, 0xffffu | nvme::kCdw12Fua);
}

TEST(NvmeIoEncoding, DsmRangeIsLengthThenLbaLittleEndian) {
    u8 range[nvme::kDsmRangeBytes];
    std::memset(range, 0xee, sizeof range);
    nvme::dsm_range(0x0102'0304'0506'0708ull, 0x0a0b0c0du, range);
    const u8 want[16] = {0, 0, 0, 0, 0x0d, 0x0c, 0x0b, 0x0a, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    EXPECT_EQ(std::memcmp(range, want, 16), 0);
}
