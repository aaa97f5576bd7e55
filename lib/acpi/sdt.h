// ACPI root pointer, system description table header and root tables
// (RSDT/XSDT). Every function reads untrusted firmware bytes through a
// ByteView and refuses anything outside it.
//
// Threading/lifetime: all functions are pure; they keep no pointer into the
// view after returning (results are copied out), so the caller may unmap the
// table as soon as the call returns.
#pragma once

#include <stddef.h>

#include "util/byte_view.h"
#include "util/result.h"
#include "util/types.h"

namespace acpi {

// ---------------------------------------------------------------------------
// Spec layouts. Used only for sizes and offsetof(); untrusted bytes are read
// with ByteView::read_le, never through a cast pointer.

// ACPI 6.5 §5.2.5.3, Table 5.3 "RSDP Structure".
struct [[gnu::packed]] RsdpLayout {
    char signature[8];  // "RSD PTR "
    u8 checksum;        // bytes 0..19 sum to zero
    char oem_id[6];
    u8 revision;  // 0 = ACPI 1.0 (20-byte RSDP), 2 = ACPI 2.0+
    u32 rsdt_address;
    // --- ACPI 2.0+ only below ---
    u32 length;  // of the whole RSDP
    u64 xsdt_address;
    u8 extended_checksum;  // the whole `length` bytes sum to zero
    u8 reserved[3];
};
static_assert(sizeof(RsdpLayout) == 36);
inline constexpr usize kRsdpV1Length = offsetof(RsdpLayout, length);  // 20
inline constexpr usize kRsdpV2Length = sizeof(RsdpLayout);            // 36

// ACPI 6.5 §5.2.6, Table 5.4 "DESCRIPTION_HEADER Fields".
struct [[gnu::packed]] SdtHeaderLayout {
    char signature[4];
    u32 length;  // whole table including this header
    u8 revision;
    u8 checksum;  // the whole table sums to zero
    char oem_id[6];
    char oem_table_id[8];
    u32 oem_revision;
    u32 creator_id;
    u32 creator_revision;
};
static_assert(sizeof(SdtHeaderLayout) == 36);
inline constexpr u32 kSdtHeaderLength = sizeof(SdtHeaderLayout);

// ---------------------------------------------------------------------------
// RSDP

struct RsdpInfo {
    u8 revision = 0;
    bool use_xsdt = false;  // root_address names an XSDT (else an RSDT)
    u64 root_address = 0;
    char oem_id[7] = {};  // NUL-terminated copy (may contain inner NULs)
};

// Parses an RSDP found by the caller (EBDA/BIOS scan or the multiboot2/UEFI
// copy). `bytes` must start at the signature; it may be longer than the RSDP.
//   NotFound     the signature is not "RSD PTR " (lets a memory scan move on)
//   Truncated    fewer than 20 bytes, or revision >= 2 and fewer than 36
//                bytes / fewer than the RSDP's own length field
//   BadChecksum  the ACPI 1.0 checksum (20 bytes) or, for revision >= 2,
//                the extended checksum (`length` bytes) does not sum to 0
//   Malformed    no usable root table address
// A revision >= 2 RSDP whose length field is < 36 is treated as ACPI 1.0
// (its extended part cannot be trusted) and its RSDT is used.
[[nodiscard]] Result<RsdpInfo> parse_rsdp(ByteView bytes);

// ---------------------------------------------------------------------------
// System description table header

struct SdtHeader {
    char signature[5] = {};
    u32 length = 0;
    u8 revision = 0;
    char oem_id[7] = {};
    char oem_table_id[9] = {};
};

// Reads the length field from a table's first 36 bytes so the caller knows
// how much to map before calling validate_table.
//   Truncated  fewer than 36 bytes;  Malformed  length < 36
[[nodiscard]] Result<u32> table_length(ByteView first36);

// Checks a whole table: the view must cover the length the header claims
// (it may be longer, e.g. page-rounded), and those bytes must sum to zero.
//   Truncated    view shorter than 36 bytes or than the length field
//   Malformed    length field < 36
//   BadChecksum  the `length` bytes do not sum to zero
[[nodiscard]] Result<SdtHeader> validate_table(ByteView table);

bool signature_is(const SdtHeader& header, const char (&sig)[5]);

// validate_table + signature check; returns a view of exactly `length`
// bytes (header included) so body parsers never see trailing page bytes.
//   InvalidArgument  the table is valid but carries another signature
[[nodiscard]] Result<ByteView> open_table(ByteView table, const char (&sig)[5]);

// 8-bit sum of all bytes (ACPI checksums make this zero).
u8 checksum8(ByteView bytes);

// ---------------------------------------------------------------------------
// RSDT (ACPI 6.5 §5.2.7, 32-bit entries) / XSDT (§5.2.8, 64-bit entries).
// XSDT entries start at offset 36 and are therefore only 4-byte aligned.
// Both functions validate the table (checksum, signature "RSDT"/"XSDT"
// matching `xsdt`) on every call; root tables are a few hundred bytes.
//   Malformed  the entry area is not a whole number of entries
//   OutOfBounds  index >= root_entry_count
[[nodiscard]] Result<u32> root_entry_count(ByteView table, bool xsdt);
[[nodiscard]] Result<u64> root_entry(ByteView table, bool xsdt, u32 index);

}  // namespace acpi
