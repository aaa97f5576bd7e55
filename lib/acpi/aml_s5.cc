#include "acpi/aml_s5.h"

#include "acpi/util.h"

namespace acpi {

namespace {

constexpr u64 kMaxSleepType = 7;  // SLP_TYPx is PM1_CNT bits 12:10

// DataRefObject integer constants (ACPI 6.5 §20.2.3). `pkg` ends where the
// package ends, so running off it means the package length lied.
Result<u64> read_integer(ByteView pkg, usize pos) {
    const auto op = pkg.read_le<u8>(pos);
    if (!op.ok()) return Status::Malformed;
    switch (op.value()) {
        case kAmlZeroOp: return u64{0};
        case kAmlOneOp: return u64{1};
        case kAmlOnesOp: return ~u64{0};
        case kAmlBytePrefix: {
            auto b = pkg.read_le<u8>(pos + 1);
            if (!b.ok()) return Status::Malformed;
            return u64{b.value()};
        }
        case kAmlWordPrefix: {
            auto w = pkg.read_le<u16>(pos + 1);
            if (!w.ok()) return Status::Malformed;
            return u64{w.value()};
        }
        case kAmlDWordPrefix: {
            auto d = pkg.read_le<u32>(pos + 1);
            if (!d.ok()) return Status::Malformed;
            return u64{d.value()};
        }
        case kAmlQWordPrefix: {
            auto q = pkg.read_le<u64>(pos + 1);
            if (!q.ok()) return Status::Malformed;
            return q.value();
        }
        default: return Status::Unsupported;  // a name reference, method call, ...
    }
}

// Decodes the package that should follow "NameOp _S5_" at `pos`.
Result<u8> parse_s5_package(ByteView aml, usize pos) {
    const auto op = aml.read_le<u8>(pos);
    if (!op.ok()) return Status::Truncated;
    if (op.value() != kAmlPackageOp) return Status::Malformed;

    // PkgLength (ACPI 6.5 §20.2.4): bits 7:6 of the lead byte count the
    // bytes that follow it; the length counts from the lead byte itself.
    const usize pkg_start = pos + 1;
    const auto lead = aml.read_le<u8>(pkg_start);
    if (!lead.ok()) return Status::Truncated;
    const usize extra = lead.value() >> 6;
    if (!aml.contains(pkg_start, 1 + extra)) return Status::Truncated;
    usize length = 0;
    if (extra == 0) {
        length = lead.value() & 0x3F;
    } else {
        length = lead.value() & 0x0F;
        for (usize i = 0; i < extra; i++) length |= usize{aml.data()[pkg_start + 1 + i]} << (4 + 8 * i);
    }
    if (length < 1 + extra + 1) return Status::Malformed;  // must hold NumElements
    const usize end = pkg_start + length;                  // length < 2^28: no overflow
    if (end > aml.size()) return Status::Truncated;
    const ByteView pkg = TRY(aml.sub(0, end));

    const usize num_pos = pkg_start + 1 + extra;
    const u8 num_elements = TRY(pkg.read_le<u8>(num_pos));
    if (num_elements == 0) return Status::Malformed;
    const u64 slp_typ_a = TRY(read_integer(pkg, num_pos + 1));
    if (slp_typ_a > kMaxSleepType) return Status::Malformed;
    return static_cast<u8>(slp_typ_a);
}

}  // namespace

Result<u8> find_s5_sleep_type_in_aml(ByteView aml) {
    Status first_error = Status::NotFound;
    for (usize i = 1; i + 4 <= aml.size(); i++) {
        if (!detail::bytes_equal(aml, i, "_S5_", 4)) continue;
        // NameOp, then the NameString: optional '\' or '^' prefixes. Prefix
        // runs before different candidates are disjoint, so the whole scan
        // stays linear.
        usize j = i;
        while (j > 0 && (aml.data()[j - 1] == kAmlRootChar || aml.data()[j - 1] == kAmlParentPrefix)) j--;
        if (j == 0 || aml.data()[j - 1] != kAmlNameOp) continue;  // a reference, not a definition

        auto r = parse_s5_package(aml, i + 4);
        if (r.ok()) return r.value();
        if (first_error == Status::NotFound) first_error = r.status();
    }
    return first_error;
}

Result<u8> find_s5_sleep_type(ByteView dsdt) {
    // ACPI 6.5 §5.2.11.1: the DSDT is a header followed by AML.
    const ByteView table = TRY(open_table(dsdt, "DSDT"));
    return find_s5_sleep_type_in_aml(TRY(table.tail(kSdtHeaderLength)));
}

}  // namespace acpi
