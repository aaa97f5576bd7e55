#include "nvme/policy.h"

#include "nvme/command.h"
#include "nvme/identify.h"

namespace nvme {
namespace {

// The feature identifiers NVMe 1.4 §5.21.1 defines for a PCIe controller.
// Not: reserved ones, NVMe-MI (78h..7Fh) and vendor specific (C0h..FFh):
// we cannot know what their data holds.
bool feature_defined(u8 fid) {
    return (fid >= kFeatureArbitration && fid <= kFeatureEnduranceGroupEventConfig) ||
           (fid >= kFeatureSoftwareProgressMarker && fid <= kFeatureNamespaceWriteProtection);
}

// Features a provider may read: every defined one except Host Memory
// Buffer: Get Features 0Dh returns the Host Memory Buffer Attributes, whose
// HMDLAL/HMDLAU fields are the descriptor list's host physical address.
bool feature_readable(u8 fid) { return feature_defined(fid) && fid != kFeatureHostMemoryBuffer; }

// Features a provider may change: the readable ones, minus those the broker
// owns and Namespace Write Protection Config (84h), which can put a
// namespace in the Permanent Write Protect state: as irreversible as the
// Format NVM and Sanitize commands we also refuse.
bool feature_writable(u8 fid) {
    return feature_readable(fid) && !feature_owned_by_broker(fid) && fid != kFeatureNamespaceWriteProtection;
}

Result<void> admin_allowed(u8 opcode, u32 cdw10) {
    switch (opcode) {
        case kAdminIdentify:
        case kAdminGetLogPage:
        case kAdminAbort:
        case kAdminKeepAlive:
        case kAdminAsyncEvent: return {};
        case kAdminGetFeatures:
            if (feature_readable(feature_id(cdw10))) return {};
            return Status::Forbidden;
        case kAdminSetFeatures:
            if (feature_writable(feature_id(cdw10))) return {};
            return Status::Forbidden;
        // Create/Delete I/O SQ/CQ and Doorbell Buffer Config: the broker
        // builds them from its ledger. Format NVM, Sanitize, Firmware,
        // Namespace Management/Attachment, Security, Directives,
        // Virtualization, NVMe-MI, Get LBA Status, Device Self-test, vendor
        // specific and anything unknown: default deny.
        default: return Status::Forbidden;
    }
}

Result<void> io_allowed(u8 opcode) {
    switch (opcode) {
        case kIoFlush:
        case kIoWrite:
        case kIoRead:
        case kIoWriteZeroes:
        case kIoDsm:
        case kIoCompare: return {};
        // Reservations, Write Uncorrectable, Verify, Zoned Namespace
        // commands, vendor specific and unknown: default deny.
        default: return Status::Forbidden;
    }
}

}  // namespace

bool feature_owned_by_broker(u8 fid) { return fid == kFeatureNumberOfQueues || fid == kFeatureHostMemoryBuffer; }

Result<void> command_allowed(QueueKind q, u8 opcode, u32 cdw10) {
    switch (q) {
        case QueueKind::Admin: return admin_allowed(opcode, cdw10);
        case QueueKind::Io: return io_allowed(opcode);
    }
    return Status::Forbidden;
}

Result<u32> feature_data_bytes(u8 fid, u32 cdw11) {
    switch (fid) {
        case kFeatureLbaRangeType: return 4096u;
        case kFeatureAutonomousPowerState: return 256u;
        case kFeatureHostMemoryBuffer: return 4096u;
        case kFeatureTimestamp: return 8u;
        case kFeaturePredictableLatencyConfig: return 512u;
        case kFeatureHostBehaviorSupport: return 512u;
        case kFeatureHostIdentifier: return (cdw11 & 1u) ? 16u : 8u;
    }
    if (!feature_defined(fid)) return Status::Unsupported;
    return 0u;
}

Result<u64> admin_transfer_bytes(u8 opcode, u32 cdw10, u32 cdw11) {
    switch (opcode) {
        case kAdminIdentify: return u64{kIdentifyBytes};
        case kAdminGetLogPage: return ((u64{cdw11 & 0xffff} << 16 | (cdw10 >> 16)) + 1) * 4;
        case kAdminSetFeatures:
        case kAdminGetFeatures: return u64{TRY(feature_data_bytes(feature_id(cdw10), cdw11))};
        default: return u64{0};
    }
}

Result<u64> io_transfer_bytes(u8 opcode, u32 cdw10, u32 cdw12, u8 lba_shift) {
    switch (opcode) {
        case kIoRead:
        case kIoWrite:
        case kIoCompare: return (u64{cdw12 & 0xffff} + 1) << lba_shift;
        case kIoDsm: return (u64{cdw10 & 0xff} + 1) * 16;
        case kIoFlush:
        case kIoWriteZeroes: return u64{0};
        default: return Status::Forbidden;
    }
}

bool command_uses_data(QueueKind q, u8 opcode) {
    if (q == QueueKind::Io) {
        switch (opcode) {
            case kIoWrite:
            case kIoRead:
            case kIoCompare:
            case kIoDsm:  // the range list
            case kIoReservationRegister:
            case kIoReservationReport:
            case kIoReservationAcquire:
            case kIoReservationRelease: return true;
            default: return false;  // Flush, Write Zeroes, Write Uncorrectable, Verify, unknown
        }
    }
    switch (opcode) {
        case kAdminGetLogPage:
        case kAdminIdentify:
        case kAdminSetFeatures:
        case kAdminGetFeatures:
        case kAdminCreateSq:  // PRP1 is the queue itself
        case kAdminCreateCq:
        case kAdminDoorbellBufferConfig:  // PRP1 shadow doorbells, PRP2 EventIdx buffer
        case kAdminNamespaceManagement:
        case kAdminFirmwareDownload:
        case kAdminNamespaceAttachment:
        case kAdminDirectiveSend:
        case kAdminDirectiveReceive:
        case kAdminNvmeMiSend:
        case kAdminNvmeMiReceive:
        case kAdminSecuritySend:
        case kAdminSecurityReceive:
        case kAdminGetLbaStatus: return true;
        // Delete queues, Abort, AER, Keep Alive, Firmware Commit, Device
        // Self-test, Virtualization Management, Format NVM, Sanitize, unknown.
        default: return false;
    }
}

}  // namespace nvme
