// One error vocabulary for the whole system (CONVENTIONS.md "Errors").
// Codes are specific: a caller must be able to tell *why* something failed.
#pragma once

#include "util/types.h"

enum class Status : i32 {
    Ok = 0,
    InvalidArgument,  // a value that can never be right (bad flag, bad enum)
    OutOfBounds,      // an offset/length outside the object it refers to
    Truncated,        // input ends before a structure it declares
    BadChecksum,      // integrity check failed
    Malformed,        // structure is internally inconsistent (loops, bad lengths)
    NotFound,
    Unsupported,
    NoMemory,
    Stale,    // handle names a closed or reused slot
    Revoked,  // handle's grant was revoked
    NoRights,
    QuotaExceeded,
    Busy,
    Timeout,
    WrongType,    // handle names an object of a different type than the call needs
    BadHandle,    // value can never be a handle (0, slot outside the space, generation 0)
    NotOwner,     // the object belongs to another device, pool or queue than the call names
    Forbidden,    // a policy allow-list refuses it (a broker opcode, a register)
    TornDown,     // the device binding it belongs to was torn down (DESIGN §5)
    DeviceError,  // the device failed or refused a command (no finer meaning known)
    MediaError,   // the device could not read or write the medium (unrecovered read, write fault)
    ReadOnly,     // the target is write protected
    NoSpace,      // the device has no capacity left (thin provisioning)
};
// The highest value: tables indexed by Status size themselves with it.
inline constexpr Status kLastStatus = Status::NoSpace;

// Stable, lowercase names for logs and test output.
constexpr const char* status_name(Status s) {
    switch (s) {
        case Status::Ok: return "ok";
        case Status::InvalidArgument: return "invalid-argument";
        case Status::OutOfBounds: return "out-of-bounds";
        case Status::Truncated: return "truncated";
        case Status::BadChecksum: return "bad-checksum";
        case Status::Malformed: return "malformed";
        case Status::NotFound: return "not-found";
        case Status::Unsupported: return "unsupported";
        case Status::NoMemory: return "no-memory";
        case Status::Stale: return "stale";
        case Status::Revoked: return "revoked";
        case Status::NoRights: return "no-rights";
        case Status::QuotaExceeded: return "quota-exceeded";
        case Status::Busy: return "busy";
        case Status::Timeout: return "timeout";
        case Status::WrongType: return "wrong-type";
        case Status::BadHandle: return "bad-handle";
        case Status::NotOwner: return "not-owner";
        case Status::Forbidden: return "forbidden";
        case Status::TornDown: return "torn-down";
        case Status::DeviceError: return "device-error";
        case Status::MediaError: return "media-error";
        case Status::ReadOnly: return "read-only";
        case Status::NoSpace: return "no-space";
    }
    return "unknown";
}
