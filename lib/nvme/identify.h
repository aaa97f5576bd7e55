// The parts of Identify data (NVMe 1.4 §5.15.2) the broker and the NVMe
// provider act on. Identify data is written by the device, so every value is
// range-checked here before anyone sizes a transfer or a loop with it.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace nvme {

inline constexpr u32 kIdentifyBytes = 4096;

// Identify Controller (CNS 01h).
struct ControllerInfo {
    char serial[21];   // SN, bytes 23:04, padding dropped
    char model[41];    // MN, bytes 63:24
    char firmware[9];  // FR, bytes 71:64
    u8 mdts;           // byte 77: max transfer = 2^mdts pages of CAP.MPSMIN; 0 = no limit
    u16 oacs;          // bytes 257:256, optional admin commands
    u32 nn;            // bytes 519:516, number of namespaces (highest NSID)
    u16 oncs;          // bytes 521:520, optional NVM commands
    u8 vwc;            // byte 525, volatile write cache
};
inline constexpr u16 kOacsDoorbellBufferConfig = 1u << 8;
inline constexpr u16 kOncsDsm = 1u << 2;
inline constexpr u16 kOncsWriteZeroes = 1u << 3;
inline constexpr u8 kVwcPresent = 1u << 0;

ControllerInfo parse_identify_controller(const u8* data);

// The largest transfer MDTS allows, in bytes, for 4 KiB memory pages; capped
// at `cap` (0 = no limit reported, so `cap` applies).
u64 max_transfer_bytes(u8 mdts, u64 cap);

// Identify Namespace (CNS 00h), the in-use LBA format only.
struct NamespaceInfo {
    u64 blocks;     // NSZE: size in logical blocks
    u8 lba_shift;   // LBADS of the format FLBAS selects: log2 of the block size
    u16 metadata;   // MS of that format (bytes of metadata per block)
    bool extended;  // FLBAS bit 4: metadata transferred inside the data buffer
};

// The namespace's in-use format.
//   NotFound     NSZE 0: the NSID is inactive (§5.15.2.1: an inactive
//                namespace's structure is all zero)
//   Malformed    FLBAS names a format past NLBAF, or (NLBAF 16) two
//                different formats depending on how bits 6:5 are read
//   The format index is FLBAS bits 3:0, with bits 6:5 above them when
//   the namespace has more than 16 formats (NVMe 2.0; identify.cc).
//   Unsupported  a block size outside 512 B .. 64 KiB (LBADS 9..16)
Result<NamespaceInfo> parse_identify_namespace(const u8* data);

// The Active Namespace ID list (CNS 02h): up to 1024 NSIDs in increasing
// order, ended by the first 0. Copies at most `max` into `out`, each checked
// to increase (a device that repeats or reorders is Malformed), and returns
// the count.
Result<u32> parse_active_namespaces(const u8* data, u32* out, u32 max);

}  // namespace nvme
