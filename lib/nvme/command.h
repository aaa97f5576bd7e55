// NVMe command and completion formats (NVMe 1.4 §4.2, §4.6) and the opcode,
// feature and status names the broker and the providers share.
//
// Layouts are little-endian as in device memory (we only run on x86-64).
#pragma once

#include <stddef.h>

#include "util/status.h"
#include "util/types.h"

namespace nvme {

// Submission queue entry, common command format (§4.2).
struct Sqe {
    u32 cdw0;  // opcode 7:0, FUSE 9:8, PSDT 15:14, CID 31:16
    u32 nsid;
    u32 cdw2;
    u32 cdw3;
    u64 mptr;  // metadata pointer: a device-visible address
    u64 prp1;  // data pointer (DPTR), PRP entry 1 (§4.3)
    u64 prp2;  // PRP entry 2: a data page or a PRP list pointer
    u32 cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
static_assert(sizeof(Sqe) == 64);
static_assert(offsetof(Sqe, mptr) == 16);
static_assert(offsetof(Sqe, prp1) == 24);
static_assert(offsetof(Sqe, prp2) == 32);
static_assert(offsetof(Sqe, cdw10) == 40);
static_assert(offsetof(Sqe, cdw15) == 60);

// Completion queue entry (§4.6).
struct Cqe {
    u32 dw0;      // command specific
    u32 dw1;      // reserved
    u16 sq_head;  // how far the controller has consumed the SQ
    u16 sq_id;    // the SQ the command came from
    u16 cid;
    u16 status;  // bit 0: phase tag; 15:1 the status field (§4.6.1)
};
static_assert(sizeof(Cqe) == 16);
static_assert(offsetof(Cqe, sq_head) == 8);
static_assert(offsetof(Cqe, cid) == 12);
static_assert(offsetof(Cqe, status) == 14);

// The phase tag flips each pass through the CQ: an entry is new when its
// phase equals the one the host expects (§4.6, §7.4.3).
inline bool cqe_phase(const Cqe& c) { return (c.status & 1u) != 0; }

// The status field without the phase: SC 7:0, SCT 10:8, CRD 12:11, M 13,
// DNR 14 (§4.6.1). Zero is success.
inline u16 cqe_status_code(const Cqe& c) { return static_cast<u16>((c.status >> 1) & 0x7FFF); }

// Parts of a status field (as cqe_status_code() returns it).
inline constexpr u16 kStatusScMask = 0x00FF;
inline constexpr u16 kStatusSctShift = 8;
inline constexpr u16 kStatusSctMask = 0x0700;
inline constexpr u16 kStatusMore = 1u << 13;        // M: more in the Error Information log
inline constexpr u16 kStatusDoNotRetry = 1u << 14;  // DNR
inline u8 status_sc(u16 status) { return static_cast<u8>(status & kStatusScMask); }
inline u8 status_sct(u16 status) { return static_cast<u8>((status & kStatusSctMask) >> kStatusSctShift); }

// Status code types (§4.6.1.1).
inline constexpr u8 kSctGeneric = 0;
inline constexpr u8 kSctCommandSpecific = 1;
inline constexpr u8 kSctMediaError = 2;
inline constexpr u8 kSctPath = 3;
inline constexpr u8 kSctVendor = 7;

// A short lowercase description of a status field (phase excluded) for log
// lines; CRD, M and DNR are ignored. Never null; "unknown status" for codes
// we do not name. The string is static.
const char* status_text(u16 status_field_without_phase);

// What a failed command's status means to the one who asked for the I/O
// (the BlockDevice Status a consumer gets; the raw field travels beside
// it). The mapping follows what each code says about the request, not the
// device: LBA out of range -> OutOfBounds, an unknown namespace ->
// NotFound, write protection -> ReadOnly, unrecovered read / write fault /
// deallocated block -> MediaError, an end-to-end tag check -> BadChecksum,
// reservation conflict or access denied -> Forbidden, capacity exceeded ->
// NoSpace, "not ready", "in progress" and aborts -> Busy (try again later);
// invalid opcode -> Unsupported, invalid field -> InvalidArgument; anything
// else, vendor codes included -> DeviceError. Success -> Ok.
Status io_status(u16 status_field_without_phase);

// Whether a failed command may be submitted again: the controller left
// Do Not Retry clear (§4.6.1). Tells nothing about whether it will help.
inline bool may_retry(u16 status_field_without_phase) {
    return status_field_without_phase != 0 && !(status_field_without_phase & kStatusDoNotRetry);
}

// CDW0 for a command we issue: opcode 7:0, CID 31:16. FUSE (9:8) is 0: no
// fused operations. PSDT (15:14) is 0, PRPs: an SGL would be a list of
// device-visible addresses the broker would have to build and check, and a
// provider's PSDT bits must never reach the device (DESIGN §4).
u32 cdw0(u8 opcode, u16 cid);
inline u8 cdw0_opcode(u32 cdw0_value) { return static_cast<u8>(cdw0_value & 0xFF); }
inline u16 cdw0_cid(u32 cdw0_value) { return static_cast<u16>(cdw0_value >> 16); }

// Admin command set opcodes (§5, "Opcodes for Admin Commands").
inline constexpr u8 kAdminDeleteSq = 0x00;
inline constexpr u8 kAdminCreateSq = 0x01;
inline constexpr u8 kAdminGetLogPage = 0x02;
inline constexpr u8 kAdminDeleteCq = 0x04;
inline constexpr u8 kAdminCreateCq = 0x05;
inline constexpr u8 kAdminIdentify = 0x06;
inline constexpr u8 kAdminAbort = 0x08;
inline constexpr u8 kAdminSetFeatures = 0x09;
inline constexpr u8 kAdminGetFeatures = 0x0A;
inline constexpr u8 kAdminAsyncEvent = 0x0C;
inline constexpr u8 kAdminNamespaceManagement = 0x0D;
inline constexpr u8 kAdminFirmwareCommit = 0x10;
inline constexpr u8 kAdminFirmwareDownload = 0x11;
inline constexpr u8 kAdminDeviceSelfTest = 0x14;
inline constexpr u8 kAdminNamespaceAttachment = 0x15;
inline constexpr u8 kAdminKeepAlive = 0x18;
inline constexpr u8 kAdminDirectiveSend = 0x19;
inline constexpr u8 kAdminDirectiveReceive = 0x1A;
inline constexpr u8 kAdminVirtualizationManagement = 0x1C;
inline constexpr u8 kAdminNvmeMiSend = 0x1D;
inline constexpr u8 kAdminNvmeMiReceive = 0x1E;
inline constexpr u8 kAdminDoorbellBufferConfig = 0x7C;
inline constexpr u8 kAdminFabrics = 0x7F;  // NVMe over Fabrics only
inline constexpr u8 kAdminFormatNvm = 0x80;
inline constexpr u8 kAdminSecuritySend = 0x81;
inline constexpr u8 kAdminSecurityReceive = 0x82;
inline constexpr u8 kAdminSanitize = 0x84;
inline constexpr u8 kAdminGetLbaStatus = 0x86;
inline constexpr u8 kAdminVendorFirst = 0xC0;  // C0h..FFh vendor specific

// NVM command set I/O opcodes (§6, "Opcodes for NVM Commands").
inline constexpr u8 kIoFlush = 0x00;
inline constexpr u8 kIoWrite = 0x01;
inline constexpr u8 kIoRead = 0x02;
inline constexpr u8 kIoWriteUncorrectable = 0x04;
inline constexpr u8 kIoCompare = 0x05;
inline constexpr u8 kIoWriteZeroes = 0x08;
inline constexpr u8 kIoDsm = 0x09;
inline constexpr u8 kIoVerify = 0x0C;
inline constexpr u8 kIoReservationRegister = 0x0D;
inline constexpr u8 kIoReservationReport = 0x0E;
inline constexpr u8 kIoReservationAcquire = 0x11;
inline constexpr u8 kIoReservationRelease = 0x15;
inline constexpr u8 kIoVendorFirst = 0x80;  // 80h..FFh vendor specific

// The block range of Read, Write and Write Zeroes (NVMe 1.4 §6, the three
// commands' CDW10-12): CDW10/11 the starting LBA, CDW12 bits 15:0 the number of blocks
// (0's based, so 1..65536) and bit 30 Force Unit Access — the command
// completes only once the data is on non-volatile media.
inline constexpr u32 kCdw12Fua = 1u << 30;
inline constexpr u32 kMaxBlocksPerCommand = 65536;  // NLB: 16 bits, 0's based
struct BlockRange {
    u32 cdw10, cdw11, cdw12;
};
// blocks: 1..kMaxBlocksPerCommand (the caller splits larger ranges).
constexpr BlockRange block_range(u64 lba, u32 blocks, bool fua) {
    return BlockRange{static_cast<u32>(lba), static_cast<u32>(lba >> 32),
                      ((blocks - 1) & 0xffffu) | (fua ? kCdw12Fua : 0u)};
}

// Dataset Management (§6.7): CDW10 bits 7:0 the number of ranges (0's
// based), CDW11 bit 2 Attribute Deallocate; the data is a list of 16-byte
// ranges (context attributes, length in blocks, starting LBA; little
// endian). One range per command here.
inline constexpr u32 kDsmCdw11Deallocate = 1u << 2;
inline constexpr u32 kDsmRangeBytes = 16;
inline void dsm_range(u64 lba, u32 blocks, u8 out[kDsmRangeBytes]) {
    for (u32 k = 0; k < 4; k++) out[k] = 0;
    for (u32 k = 0; k < 4; k++) out[4 + k] = static_cast<u8>(blocks >> (8 * k));
    for (u32 k = 0; k < 8; k++) out[8 + k] = static_cast<u8>(lba >> (8 * k));
}

// Feature identifiers for Get/Set Features (§5.21.1, "Feature Identifiers").
// The FID is CDW10 bits 7:0 of both commands.
inline constexpr u8 kFeatureArbitration = 0x01;
inline constexpr u8 kFeaturePowerManagement = 0x02;
inline constexpr u8 kFeatureLbaRangeType = 0x03;
inline constexpr u8 kFeatureTemperatureThreshold = 0x04;
inline constexpr u8 kFeatureErrorRecovery = 0x05;
inline constexpr u8 kFeatureVolatileWriteCache = 0x06;
inline constexpr u8 kFeatureNumberOfQueues = 0x07;
inline constexpr u8 kFeatureInterruptCoalescing = 0x08;
inline constexpr u8 kFeatureInterruptVectorConfig = 0x09;
inline constexpr u8 kFeatureWriteAtomicity = 0x0A;
inline constexpr u8 kFeatureAsyncEventConfig = 0x0B;
inline constexpr u8 kFeatureAutonomousPowerState = 0x0C;
inline constexpr u8 kFeatureHostMemoryBuffer = 0x0D;
inline constexpr u8 kFeatureTimestamp = 0x0E;
inline constexpr u8 kFeatureKeepAliveTimer = 0x0F;
inline constexpr u8 kFeatureHostThermalManagement = 0x10;
inline constexpr u8 kFeatureNonOpPowerStateConfig = 0x11;
inline constexpr u8 kFeatureReadRecoveryLevel = 0x12;
inline constexpr u8 kFeaturePredictableLatencyConfig = 0x13;
inline constexpr u8 kFeaturePredictableLatencyWindow = 0x14;
inline constexpr u8 kFeatureLbaStatusReportInterval = 0x15;
inline constexpr u8 kFeatureHostBehaviorSupport = 0x16;
inline constexpr u8 kFeatureSanitizeConfig = 0x17;
inline constexpr u8 kFeatureEnduranceGroupEventConfig = 0x18;
inline constexpr u8 kFeatureSoftwareProgressMarker = 0x80;
inline constexpr u8 kFeatureHostIdentifier = 0x81;
inline constexpr u8 kFeatureReservationNotificationMask = 0x82;
inline constexpr u8 kFeatureReservationPersistence = 0x83;
inline constexpr u8 kFeatureNamespaceWriteProtection = 0x84;
inline constexpr u8 kFeatureVendorFirst = 0xC0;
inline u8 feature_id(u32 cdw10) { return static_cast<u8>(cdw10 & 0xFF); }

// Identify CNS values (§5.15.1, CDW10 bits 7:0).
inline constexpr u8 kIdentifyNamespace = 0x00;
inline constexpr u8 kIdentifyController = 0x01;
inline constexpr u8 kIdentifyActiveNamespaces = 0x02;

// An ASCII field of an Identify data structure (serial number: bytes 4..23,
// model: 24..63, firmware: 64..71 of Identify Controller, NVMe 1.4 §5.15.2),
// space-padded by the controller: copied to `out` (len + 1 bytes) with the
// padding dropped and anything unprintable shown as '?' (device data is
// never trusted).
void identify_string(const u8* data, u32 offset, u32 len, char* out);

}  // namespace nvme
