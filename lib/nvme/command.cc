#include "nvme/command.h"

namespace nvme {
namespace {

// Generic command status, SCT 0 (§4.6.1.2.1): 00h..21h are command-set
// independent, 80h.. are NVM command set specific.
const char* generic_text(u8 sc) {
    switch (sc) {
        case 0x00: return "success";
        case 0x01: return "invalid opcode";
        case 0x02: return "invalid field";
        case 0x03: return "command id conflict";
        case 0x04: return "data transfer error";
        case 0x05: return "aborted: power loss";
        case 0x06: return "internal error";
        case 0x07: return "aborted: requested";
        case 0x08: return "aborted: SQ deleted";
        case 0x09: return "aborted: failed fused command";
        case 0x0A: return "aborted: missing fused command";
        case 0x0B: return "invalid namespace or format";
        case 0x0C: return "command sequence error";
        case 0x0D: return "invalid SGL segment descriptor";
        case 0x0E: return "invalid number of SGL descriptors";
        case 0x0F: return "data SGL length invalid";
        case 0x10: return "metadata SGL length invalid";
        case 0x11: return "SGL descriptor type invalid";
        case 0x12: return "invalid use of controller memory buffer";
        case 0x13: return "PRP offset invalid";
        case 0x14: return "atomic write unit exceeded";
        case 0x15: return "operation denied";
        case 0x16: return "SGL offset invalid";
        case 0x18: return "host identifier inconsistent format";
        case 0x19: return "keep alive timer expired";
        case 0x1A: return "keep alive timeout invalid";
        case 0x1B: return "aborted: preempt and abort";
        case 0x1C: return "sanitize failed";
        case 0x1D: return "sanitize in progress";
        case 0x1E: return "SGL data block granularity invalid";
        case 0x1F: return "command not supported for queue in CMB";
        case 0x20: return "namespace is write protected";
        case 0x21: return "command interrupted";
        case 0x22: return "transient transport error";
        case 0x80: return "LBA out of range";
        case 0x81: return "capacity exceeded";
        case 0x82: return "namespace not ready";
        case 0x83: return "reservation conflict";
        case 0x84: return "format in progress";
    }
    return nullptr;
}

// Command specific status, SCT 1 (§4.6.1.2.2): what Create/Delete queue,
// Abort, AER, Firmware, Get Log Page, Features and Format report.
const char* command_specific_text(u8 sc) {
    switch (sc) {
        case 0x00: return "completion queue invalid";
        case 0x01: return "invalid queue identifier";
        case 0x02: return "invalid queue size";
        case 0x03: return "abort command limit exceeded";
        case 0x05: return "async event request limit exceeded";
        case 0x06: return "invalid firmware slot";
        case 0x07: return "invalid firmware image";
        case 0x08: return "invalid interrupt vector";
        case 0x09: return "invalid log page";
        case 0x0A: return "invalid format";
        case 0x0B: return "firmware activation requires conventional reset";
        case 0x0C: return "invalid queue deletion";
        case 0x0D: return "feature not saveable";
        case 0x0E: return "feature not changeable";
        case 0x0F: return "feature not namespace specific";
        case 0x10: return "firmware activation requires subsystem reset";
        case 0x11: return "firmware activation requires controller reset";
        case 0x12: return "firmware activation requires maximum time violation";
        case 0x13: return "firmware activation prohibited";
        case 0x14: return "overlapping range";
        case 0x15: return "namespace insufficient capacity";
        case 0x16: return "namespace identifier unavailable";
        case 0x18: return "namespace already attached";
        case 0x19: return "namespace is private";
        case 0x1A: return "namespace not attached";
        case 0x1B: return "thin provisioning not supported";
        case 0x1C: return "controller list invalid";
        case 0x1D: return "device self-test in progress";
        case 0x1E: return "boot partition write prohibited";
        case 0x1F: return "invalid controller identifier";
        case 0x20: return "invalid secondary controller state";
        case 0x21: return "invalid number of controller resources";
        case 0x22: return "invalid resource identifier";
        case 0x23: return "sanitize prohibited while PMR enabled";
        case 0x24: return "ANA group identifier invalid";
        case 0x25: return "ANA attach failed";
        case 0x80: return "conflicting attributes";
        case 0x81: return "invalid protection information";
        case 0x82: return "write to read only range";
    }
    return nullptr;
}

// Media and data integrity errors, SCT 2 (§4.6.1.2.3).
const char* media_text(u8 sc) {
    switch (sc) {
        case 0x80: return "write fault";
        case 0x81: return "unrecovered read error";
        case 0x82: return "end-to-end guard check error";
        case 0x83: return "end-to-end application tag check error";
        case 0x84: return "end-to-end reference tag check error";
        case 0x85: return "compare failure";
        case 0x86: return "access denied";
        case 0x87: return "deallocated or unwritten logical block";
    }
    return nullptr;
}

// Path related status, SCT 3 (§4.6.1.2.4).
const char* path_text(u8 sc) {
    switch (sc) {
        case 0x00: return "internal path error";
        case 0x01: return "asymmetric access persistent loss";
        case 0x02: return "asymmetric access inaccessible";
        case 0x03: return "asymmetric access transition";
        case 0x60: return "controller pathing error";
        case 0x70: return "host pathing error";
        case 0x71: return "aborted by host";
    }
    return nullptr;
}

}  // namespace

const char* status_text(u16 status_field_without_phase) {
    u8 sc = status_sc(status_field_without_phase);
    const char* text = nullptr;
    switch (status_sct(status_field_without_phase)) {
        case kSctGeneric: text = generic_text(sc); break;
        case kSctCommandSpecific: text = command_specific_text(sc); break;
        case kSctMediaError: text = media_text(sc); break;
        case kSctPath: text = path_text(sc); break;
        case kSctVendor: text = "vendor specific status"; break;
    }
    return text ? text : "unknown status";
}

Status io_status(u16 status) {
    u8 sc = status_sc(status);
    switch (status_sct(status)) {
        case kSctGeneric:
            switch (sc) {
                case 0x00: return Status::Ok;
                case 0x01: return Status::Unsupported;      // invalid opcode
                case 0x02: return Status::InvalidArgument;  // invalid field
                case 0x05:                                  // aborted: power loss
                case 0x07:                                  // aborted: requested
                case 0x08:                                  // aborted: SQ deleted
                case 0x1B:                                  // aborted: preempt and abort
                case 0x1D:                                  // sanitize in progress
                case 0x21:                                  // command interrupted
                case 0x22:                                  // transient transport error
                case 0x82:                                  // namespace not ready
                case 0x84: return Status::Busy;             // format in progress
                case 0x0B: return Status::NotFound;         // invalid namespace or format
                case 0x15: return Status::Forbidden;        // operation denied
                case 0x20: return Status::ReadOnly;         // namespace is write protected
                case 0x80: return Status::OutOfBounds;      // LBA out of range
                case 0x81: return Status::NoSpace;          // capacity exceeded
                case 0x83: return Status::Forbidden;        // reservation conflict
            }
            break;
        case kSctCommandSpecific:
            switch (sc) {
                case 0x15: return Status::NoSpace;          // namespace insufficient capacity
                case 0x80: return Status::InvalidArgument;  // conflicting attributes
                case 0x81: return Status::BadChecksum;      // invalid protection information
                case 0x82: return Status::ReadOnly;         // write to read only range
            }
            break;
        case kSctMediaError:
            switch (sc) {
                case 0x80:                              // write fault
                case 0x81:                              // unrecovered read error
                case 0x87: return Status::MediaError;   // deallocated or unwritten block
                case 0x82:                              // end-to-end guard check
                case 0x83:                              // end-to-end application tag check
                case 0x84: return Status::BadChecksum;  // end-to-end reference tag check
                case 0x86: return Status::Forbidden;    // access denied
            }
            break;
        case kSctPath:
            switch (sc) {
                case 0x03:                       // asymmetric access transition
                case 0x71: return Status::Busy;  // aborted by host
            }
            break;
    }
    return Status::DeviceError;
}

u32 cdw0(u8 opcode, u16 cid) { return u32{opcode} | (u32{cid} << 16); }

void identify_string(const u8* data, u32 offset, u32 len, char* out) {
    u32 n = 0;
    for (u32 i = 0; i < len; i++) {
        u8 c = data[offset + i];
        out[n++] = c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
    }
    while (n && out[n - 1] == ' ') n--;
    out[n] = 0;
}

}  // namespace nvme
