#include "acpi/sdt.h"

#include "acpi/util.h"

namespace acpi {

u8 checksum8(ByteView bytes) {
    u8 sum = 0;
    for (usize i = 0; i < bytes.size(); i++) sum = static_cast<u8>(sum + bytes.data()[i]);
    return sum;
}

Result<RsdpInfo> parse_rsdp(ByteView bytes) {
    if (bytes.size() < kRsdpV1Length) return Status::Truncated;
    if (!detail::bytes_equal(bytes, offsetof(RsdpLayout, signature), "RSD PTR ", 8)) return Status::NotFound;
    // ACPI 6.5 §5.2.5.3: the first 20 bytes carry their own checksum so an
    // ACPI 1.0 OS can validate without knowing the extended fields.
    if (checksum8(TRY(bytes.sub(0, kRsdpV1Length))) != 0) return Status::BadChecksum;

    RsdpInfo info;
    info.revision = TRY(bytes.read_le<u8>(offsetof(RsdpLayout, revision)));
    detail::copy_chars(bytes, offsetof(RsdpLayout, oem_id), 6, info.oem_id);
    const u32 rsdt = TRY(bytes.read_le<u32>(offsetof(RsdpLayout, rsdt_address)));

    if (info.revision >= 2) {
        if (bytes.size() < kRsdpV2Length) return Status::Truncated;
        const u32 length = TRY(bytes.read_le<u32>(offsetof(RsdpLayout, length)));
        if (length >= kRsdpV2Length) {
            if (length > bytes.size()) return Status::Truncated;
            if (checksum8(TRY(bytes.sub(0, length))) != 0) return Status::BadChecksum;
            const u64 xsdt = TRY(bytes.read_le<u64>(offsetof(RsdpLayout, xsdt_address)));
            if (xsdt != 0) {
                info.use_xsdt = true;
                info.root_address = xsdt;
                return info;
            }
        }
        // length < 36 (extended part unusable) or a zero XSDT address:
        // fall back to the RSDT like an ACPI 1.0 OS would.
    }
    if (rsdt == 0) return Status::Malformed;
    info.root_address = rsdt;
    return info;
}

Result<u32> table_length(ByteView first36) {
    if (first36.size() < kSdtHeaderLength) return Status::Truncated;
    const u32 length = TRY(first36.read_le<u32>(offsetof(SdtHeaderLayout, length)));
    if (length < kSdtHeaderLength) return Status::Malformed;
    return length;
}

Result<SdtHeader> validate_table(ByteView table) {
    const u32 length = TRY(table_length(table));
    if (length > table.size()) return Status::Truncated;
    // ACPI 6.5 §5.2.6: "the entire table, including the checksum field,
    // must add to zero to be considered valid".
    if (checksum8(TRY(table.sub(0, length))) != 0) return Status::BadChecksum;

    SdtHeader header;
    detail::copy_chars(table, offsetof(SdtHeaderLayout, signature), 4, header.signature);
    header.length = length;
    header.revision = TRY(table.read_le<u8>(offsetof(SdtHeaderLayout, revision)));
    detail::copy_chars(table, offsetof(SdtHeaderLayout, oem_id), 6, header.oem_id);
    detail::copy_chars(table, offsetof(SdtHeaderLayout, oem_table_id), 8, header.oem_table_id);
    return header;
}

bool signature_is(const SdtHeader& header, const char (&sig)[5]) {
    for (usize i = 0; i < 4; i++)
        if (header.signature[i] != sig[i]) return false;
    return true;
}

Result<ByteView> open_table(ByteView table, const char (&sig)[5]) {
    const SdtHeader header = TRY(validate_table(table));
    if (!signature_is(header, sig)) return Status::InvalidArgument;
    return table.sub(0, header.length);
}

namespace {

// The entry area of a validated RSDT/XSDT.
Result<ByteView> root_entries(ByteView table, bool xsdt) {
    const ByteView whole = TRY(open_table(table, xsdt ? "XSDT" : "RSDT"));
    const ByteView entries = TRY(whole.tail(kSdtHeaderLength));
    if (entries.size() % (xsdt ? 8 : 4) != 0) return Status::Malformed;
    return entries;
}

}  // namespace

Result<u32> root_entry_count(ByteView table, bool xsdt) {
    const ByteView entries = TRY(root_entries(table, xsdt));
    return static_cast<u32>(entries.size() / (xsdt ? 8 : 4));
}

Result<u64> root_entry(ByteView table, bool xsdt, u32 index) {
    const ByteView entries = TRY(root_entries(table, xsdt));
    const usize width = xsdt ? 8 : 4;
    if (index >= entries.size() / width) return Status::OutOfBounds;
    // read_le assembles bytes one at a time, so the XSDT's 4-byte-aligned
    // 64-bit entries need no special handling.
    if (xsdt) return entries.read_le<u64>(usize{index} * 8);
    const u32 address = TRY(entries.read_le<u32>(usize{index} * 4));
    return u64{address};
}

}  // namespace acpi
