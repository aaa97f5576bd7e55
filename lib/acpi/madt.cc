#include "acpi/madt.h"

namespace acpi {

namespace {

constexpr u32 kLapicEnabled = 1u << 0;  // ACPI 6.5 Table 5.23 "Local APIC Flags"

void add_cpu(MadtInfo& info, u32 apic_id, u32 flags) {
    // A processor that is not Enabled is either unusable or hot-pluggable
    // (Online Capable); either way it cannot be started at boot.
    if ((flags & kLapicEnabled) == 0) return;
    if (info.lapic_count == kMaxCpus) {
        info.truncated_lists = true;
        return;
    }
    info.lapic_ids[info.lapic_count++] = apic_id;
}

// One interrupt controller structure; `entry` covers exactly `length` bytes
// and its length has been checked against the type's spec size.
Result<void> parse_entry(MadtInfo& info, u8 type, ByteView entry) {
    switch (type) {
        case kMadtLocalApic: {
            const u8 id = TRY(entry.read_le<u8>(offsetof(MadtLocalApicLayout, apic_id)));
            const u32 flags = TRY(entry.read_le<u32>(offsetof(MadtLocalApicLayout, flags)));
            add_cpu(info, id, flags);
            break;
        }
        case kMadtLocalX2Apic: {
            const u32 id = TRY(entry.read_le<u32>(offsetof(MadtLocalX2ApicLayout, x2apic_id)));
            const u32 flags = TRY(entry.read_le<u32>(offsetof(MadtLocalX2ApicLayout, flags)));
            add_cpu(info, id, flags);
            break;
        }
        case kMadtIoApic: {
            if (info.ioapic_count == kMaxIoApics) {
                info.truncated_lists = true;
                break;
            }
            MadtInfo::IoApic& io = info.ioapics[info.ioapic_count++];
            io.id = TRY(entry.read_le<u8>(offsetof(MadtIoApicLayout, id)));
            io.address = TRY(entry.read_le<u32>(offsetof(MadtIoApicLayout, address)));
            io.gsi_base = TRY(entry.read_le<u32>(offsetof(MadtIoApicLayout, gsi_base)));
            break;
        }
        case kMadtInterruptOverride: {
            if (info.override_count == kMaxOverrides) {
                info.truncated_lists = true;
                break;
            }
            MadtInfo::Override& o = info.overrides[info.override_count++];
            o.bus = TRY(entry.read_le<u8>(offsetof(MadtOverrideLayout, bus)));
            o.source = TRY(entry.read_le<u8>(offsetof(MadtOverrideLayout, source)));
            o.gsi = TRY(entry.read_le<u32>(offsetof(MadtOverrideLayout, gsi)));
            o.flags = TRY(entry.read_le<u16>(offsetof(MadtOverrideLayout, flags)));
            break;
        }
        case kMadtLocalApicAddressOverride:
            info.lapic_address_override = TRY(entry.read_le<u64>(offsetof(MadtLapicOverrideLayout, address)));
            break;
        default: break;  // NMI wiring, SAPIC, GIC, ...: not used on this platform
    }
    return {};
}

// Spec size of the structure types we read; 2 (just the header) otherwise.
usize min_entry_length(u8 type) {
    switch (type) {
        case kMadtLocalApic: return sizeof(MadtLocalApicLayout);
        case kMadtIoApic: return sizeof(MadtIoApicLayout);
        case kMadtInterruptOverride: return sizeof(MadtOverrideLayout);
        case kMadtLocalApicAddressOverride: return sizeof(MadtLapicOverrideLayout);
        case kMadtLocalX2Apic: return sizeof(MadtLocalX2ApicLayout);
        default: return 2;
    }
}

}  // namespace

Result<MadtInfo> parse_madt(ByteView table) {
    const ByteView madt = TRY(open_table(table, "APIC"));
    if (madt.size() < sizeof(MadtLayout)) return Status::Truncated;

    MadtInfo info;
    info.lapic_address = TRY(madt.read_le<u32>(offsetof(MadtLayout, local_apic_address)));
    info.flags = TRY(madt.read_le<u32>(offsetof(MadtLayout, flags)));

    // Each iteration advances by length >= 2 inside a table of at most
    // 4 GiB, so the walk terminates.
    usize offset = sizeof(MadtLayout);
    while (offset < madt.size()) {
        if (!madt.contains(offset, 2)) return Status::Malformed;  // a lone trailing byte
        const u8 type = TRY(madt.read_le<u8>(offset));
        const u8 length = TRY(madt.read_le<u8>(offset + 1));
        if (length < 2 || !madt.contains(offset, length)) return Status::Malformed;
        // Longer than the spec size is allowed (later revisions append
        // fields); shorter would make us read the next structure's bytes.
        if (length < min_entry_length(type)) return Status::Malformed;
        TRY(parse_entry(info, type, TRY(madt.sub(offset, length))));
        offset += length;
    }
    return info;
}

}  // namespace acpi
