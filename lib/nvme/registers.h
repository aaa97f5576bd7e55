// NVMe controller registers (NVMe 1.4 §3.1): offsets in BAR0, field
// decoding for what the kernel reads, and the values it writes.
//
// Pure functions: they never touch MMIO. The queue broker reads and writes
// the registers through its typed accessors and uses these to interpret
// them. Values read from the device (CAP, CSTS) are decoded as-is;
// check_cap() says whether they describe a controller we can drive.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace nvme {

// Register offsets in BAR0 (§3.1).
inline constexpr u32 kRegCap = 0x00;          // Controller Capabilities, 64-bit (§3.1.1)
inline constexpr u32 kRegVs = 0x08;           // Version (§3.1.2)
inline constexpr u32 kRegIntms = 0x0C;        // Interrupt Mask Set (§3.1.3)
inline constexpr u32 kRegIntmc = 0x10;        // Interrupt Mask Clear (§3.1.4)
inline constexpr u32 kRegCc = 0x14;           // Controller Configuration (§3.1.5)
inline constexpr u32 kRegCsts = 0x1C;         // Controller Status (§3.1.6)
inline constexpr u32 kRegAqa = 0x24;          // Admin Queue Attributes (§3.1.8)
inline constexpr u32 kRegAsq = 0x28;          // Admin SQ Base Address, 64-bit (§3.1.9)
inline constexpr u32 kRegAcq = 0x30;          // Admin CQ Base Address, 64-bit (§3.1.10)
inline constexpr u32 kDoorbellBase = 0x1000;  // SQ0TDBL (§3.1.24)

// CAP, decoded (§3.1.1).
struct Cap {
    // MQES + 1: entries an I/O queue may hold. MQES is 0-based and at least
    // 1, so a conforming device reports 2..65536; 65536 does not fit and is
    // reported as 65535 (a smaller queue is always allowed).
    u16 mqes_plus_one;
    u8 dstrd;        // doorbell stride: 4 << dstrd bytes (bits 35:32)
    u32 timeout_ms;  // CAP.TO * 500: the longest CSTS.RDY may take to follow CC.EN (bits 31:24)
    u8 mpsmin;       // smallest memory page size: 2^(12 + mpsmin) (bits 51:48)
    u8 mpsmax;       // largest memory page size: 2^(12 + mpsmax) (bits 55:52)
    bool css_nvm;    // CAP.CSS bit 0 (bit 37): the NVM command set
};

Cap decode_cap(u64 cap);

// Can we drive this controller with cc_enable_value()? We use the NVM
// command set and 4 KiB memory pages (CC.MPS = 0), so CSS must offer NVM
// and MPSMIN must be 0.
//   Unsupported      no NVM command set, or 4 KiB pages not supported
//   InvalidArgument  MQES = 0 (reserved: a queue holds at least 2 entries) or
//                    MPSMIN > MPSMAX
Result<void> check_cap(const Cap& cap);

// VS (§3.1.2): MJR 31:16, MNR 15:8, TER 7:0. 1.4.0 reads 0x00010400.
struct Version {
    u16 major;
    u8 minor;
    u8 tertiary;
};
Version decode_vs(u32 vs);

// CC (§3.1.5).
inline constexpr u32 kCcEnable = 1u << 0;      // EN
inline constexpr u32 kCcShnNormal = 1u << 14;  // SHN = 01b, normal shutdown
inline constexpr u32 kCcShnMask = 3u << 14;
inline constexpr u32 kCcIosqesShift = 16;  // IOSQES 19:16, log2 of the SQ entry size
inline constexpr u32 kCcIocqesShift = 20;  // IOCQES 23:20, log2 of the CQ entry size
inline constexpr u32 kSqEntryLog2 = 6;     // 64-byte submission entries (§4.2)
inline constexpr u32 kCqEntryLog2 = 4;     // 16-byte completion entries (§4.6)

// The full CC value that enables the controller: EN = 1, CSS = 000b (NVM),
// MPS = 0 (4 KiB pages), AMS = 000b (round robin), SHN = 0, IOSQES = 6,
// IOCQES = 4. The entry sizes are set here rather than later because they
// must be valid before the first Create I/O SQ/CQ (§7.6.1, initialization).
u32 cc_enable_value();

// CSTS (§3.1.6).
inline constexpr u32 kCstsReady = 1u << 0;         // RDY
inline constexpr u32 kCstsFatal = 1u << 1;         // CFS
inline constexpr u32 kCstsShstMask = 3u << 2;      // SHST
inline constexpr u32 kCstsShstComplete = 2u << 2;  // shutdown processing complete

// Doorbells (§3.1.24, §3.1.25): BAR0 offsets of queue `qid`'s SQ tail and
// CQ head doorbells. dstrd is CAP.DSTRD (only its 4 bits are used). The
// caller checks the result lies inside BAR0 before writing it.
u64 sq_tail_doorbell(u16 qid, u8 dstrd);  // 0x1000 + (2 * qid) * (4 << dstrd)
u64 cq_head_doorbell(u16 qid, u8 dstrd);  // 0x1000 + (2 * qid + 1) * (4 << dstrd)

// AQA (§3.1.8) for admin queues of `sq_entries` and `cq_entries` entries.
// The register holds 0-based sizes (ASQS 11:0, ACQS 27:16), so each count
// must be 2..4096 (kAdminQueueMin..kAdminQueueMax); otherwise the result is
// 0, which is never a valid AQA (ASQS = 0 is a one-entry queue).
inline constexpr u16 kAdminQueueMin = 2;
inline constexpr u16 kAdminQueueMax = 4096;
u32 aqa_value(u16 sq_entries, u16 cq_entries);

}  // namespace nvme
