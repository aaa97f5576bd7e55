#include "acpi/dmar.h"

namespace acpi {

namespace {

constexpr usize kRmrrMinLength = 24;  // VT-d §8.4: header, reserved, segment, base, limit
constexpr usize kAtsrMinLength = 8;   // VT-d §8.5: header, flags, reserved, segment

// Walks the device scopes of one DRHD (VT-d §8.3.1). With unit == nullptr
// the scopes are only checked (the unit did not fit in DmarInfo).
Result<void> parse_scopes(ByteView drhd, DmarUnit* unit, bool& truncated) {
    usize offset = sizeof(DmarDrhdLayout);
    while (offset < drhd.size()) {
        if (!drhd.contains(offset, 2)) return Status::Malformed;
        const u8 length = TRY(drhd.read_le<u8>(offset + offsetof(DmarScopeLayout, length)));
        if (length < sizeof(DmarScopeLayout) || !drhd.contains(offset, length)) return Status::Malformed;
        if ((length - sizeof(DmarScopeLayout)) % 2 != 0) return Status::Malformed;
        const ByteView s = TRY(drhd.sub(offset, length));
        offset += length;  // length >= 6: the walk always advances

        if (unit == nullptr) continue;
        if (unit->scope_count == kMaxDmarScopes) {
            truncated = true;
            continue;
        }
        DmarScope& scope = unit->scopes[unit->scope_count++];
        scope.type = TRY(s.read_le<u8>(offsetof(DmarScopeLayout, type)));
        scope.enumeration_id = TRY(s.read_le<u8>(offsetof(DmarScopeLayout, enumeration_id)));
        scope.start_bus = TRY(s.read_le<u8>(offsetof(DmarScopeLayout, start_bus)));
        const usize hops = (length - sizeof(DmarScopeLayout)) / 2;
        scope.path_truncated = hops > kMaxDmarPath;
        scope.path_count = static_cast<u8>(scope.path_truncated ? kMaxDmarPath : hops);
        for (usize i = 0; i < scope.path_count; i++) {
            scope.path[i].device = TRY(s.read_le<u8>(sizeof(DmarScopeLayout) + 2 * i));
            scope.path[i].function = TRY(s.read_le<u8>(sizeof(DmarScopeLayout) + 2 * i + 1));
        }
    }
    return {};
}

Result<void> parse_drhd(ByteView drhd, DmarInfo& info) {
    if (drhd.size() < sizeof(DmarDrhdLayout)) return Status::Malformed;
    DmarUnit* unit = nullptr;
    if (info.unit_count < kMaxDmarUnits) {
        unit = &info.units[info.unit_count++];
        *unit = DmarUnit{};
        unit->flags = TRY(drhd.read_le<u8>(offsetof(DmarDrhdLayout, flags)));
        unit->size = TRY(drhd.read_le<u8>(offsetof(DmarDrhdLayout, size)));
        unit->segment = TRY(drhd.read_le<u16>(offsetof(DmarDrhdLayout, segment)));
        unit->register_base = TRY(drhd.read_le<u64>(offsetof(DmarDrhdLayout, register_base)));
    } else {
        info.truncated_lists = true;
    }
    return parse_scopes(drhd, unit, info.truncated_lists);
}

}  // namespace

Result<void> parse_dmar_into(ByteView table, DmarInfo& info) {
    info = DmarInfo{};
    const ByteView dmar = TRY(open_table(table, "DMAR"));
    if (dmar.size() < sizeof(DmarLayout)) return Status::Truncated;

    const u8 haw = TRY(dmar.read_le<u8>(offsetof(DmarLayout, host_address_width)));
    if (haw > 63) return Status::Malformed;  // an address width above 64 bits is nonsense
    info.host_address_width = static_cast<u8>(haw + 1);
    info.flags = TRY(dmar.read_le<u8>(offsetof(DmarLayout, flags)));

    usize offset = sizeof(DmarLayout);
    while (offset < dmar.size()) {
        if (!dmar.contains(offset, sizeof(DmarStructHeaderLayout))) return Status::Malformed;
        const u16 type = TRY(dmar.read_le<u16>(offset + offsetof(DmarStructHeaderLayout, type)));
        const u16 length = TRY(dmar.read_le<u16>(offset + offsetof(DmarStructHeaderLayout, length)));
        if (length < sizeof(DmarStructHeaderLayout) || !dmar.contains(offset, length)) return Status::Malformed;
        const ByteView s = TRY(dmar.sub(offset, length));
        offset += length;  // length >= 4: the walk always advances

        switch (type) {
            case kDmarTypeDrhd: TRY(parse_drhd(s, info)); break;
            case kDmarTypeRmrr:
                if (length < kRmrrMinLength) return Status::Malformed;
                info.rmrr_count++;
                break;
            case kDmarTypeAtsr:
                if (length < kAtsrMinLength) return Status::Malformed;
                info.atsr_count++;
                break;
            default: break;  // RHSA, ANDD, SATC, SIDP, ...: skipped by length
        }
    }
    return {};
}

Result<DmarInfo> parse_dmar(ByteView table) {
    DmarInfo info;
    TRY(parse_dmar_into(table, info));
    return info;
}

// ---------------------------------------------------------------------------
// Device-to-unit matching

namespace {

enum class Match { No, Yes, Unknown };

struct Bdf {
    u8 bus, device, function;
};

// Does `scope` name (or, for a sub-hierarchy scope, contain) `dev`?
// Bus-numbering assumption used to answer "No" without config space:
// every bus behind a bridge is numbered above the bridge's own bus (true of
// any depth-first enumeration, which is what firmware does).
Match match_scope(const DmarScope& scope, u16 segment, Bdf dev, const PciBridgeResolver* resolver) {
    if (scope.type != kScopePciEndpoint && scope.type != kScopePciSubHierarchy) return Match::No;
    if (scope.path_count == 0) return Match::No;  // names nothing
    if (scope.path_truncated) return Match::Unknown;

    // Follow the path: all but the last hop are bridges (VT-d §8.3.1).
    u8 bus = scope.start_bus;
    if (scope.path_count > 1) {
        if (dev.bus <= scope.start_bus) return Match::No;  // everything named lies behind hop 0
        if (resolver == nullptr || resolver->lookup == nullptr) return Match::Unknown;
        for (u32 i = 0; i + 1 < scope.path_count; i++) {
            auto r = resolver->lookup(resolver->ctx, segment, bus, scope.path[i].device, scope.path[i].function);
            if (!r.ok() || r.value().secondary <= bus) return Match::Unknown;
            bus = r.value().secondary;
        }
    }
    const DmarScope::Hop& last = scope.path[scope.path_count - 1];
    if (dev.bus == bus && dev.device == last.device && dev.function == last.function) return Match::Yes;
    if (scope.type == kScopePciEndpoint) return Match::No;

    // Sub-hierarchy: also everything on the bridge's secondary..subordinate.
    if (dev.bus <= bus) return Match::No;
    if (resolver == nullptr || resolver->lookup == nullptr) return Match::Unknown;
    auto r = resolver->lookup(resolver->ctx, segment, bus, last.device, last.function);
    if (!r.ok() || r.value().secondary > r.value().subordinate) return Match::Unknown;
    return dev.bus >= r.value().secondary && dev.bus <= r.value().subordinate ? Match::Yes : Match::No;
}

// Yes if a scope of `unit` names dev; Unknown if none does but one might.
Match match_unit_scopes(const DmarUnit& unit, u16 segment, Bdf dev, const PciBridgeResolver* resolver) {
    Match result = Match::No;
    const u32 count = unit.scope_count < kMaxDmarScopes ? unit.scope_count : kMaxDmarScopes;
    for (u32 i = 0; i < count; i++) {
        const Match m = match_scope(unit.scopes[i], segment, dev, resolver);
        if (m == Match::Yes) return Match::Yes;
        if (m == Match::Unknown) result = Match::Unknown;
    }
    return result;
}

}  // namespace

bool dmar_unit_covers(const DmarUnit& unit, u16 segment, u8 bus, u8 device, u8 function,
                      const PciBridgeResolver* resolver) {
    if (unit.segment != segment) return false;
    if (match_unit_scopes(unit, segment, Bdf{bus, device, function}, resolver) == Match::Yes) return true;
    return (unit.flags & kDrhdIncludePciAll) != 0;
}

Result<u32> dmar_find_unit(const DmarInfo& info, u16 segment, u8 bus, u8 device, u8 function,
                           const PciBridgeResolver* resolver) {
    // A dropped unit or scope might be the one that lists this device.
    if (info.truncated_lists) return Status::Unsupported;
    const u32 count = info.unit_count < kMaxDmarUnits ? info.unit_count : kMaxDmarUnits;
    bool unknown = false;
    bool found = false;
    u32 found_index = 0;
    for (u32 i = 0; i < count; i++) {
        if (info.units[i].segment != segment) continue;
        const Match m = match_unit_scopes(info.units[i], segment, Bdf{bus, device, function}, resolver);
        if (m == Match::Unknown) unknown = true;
        if (m != Match::Yes) continue;
        // VT-d §8.3.1: a device is reported under at most one unit.
        if (found) return Status::Malformed;
        found = true;
        found_index = i;
    }
    if (found) return found_index;
    // VT-d §8.3: an INCLUDE_PCI_ALL unit claims only the devices no other
    // unit on the segment lists, so an undecided scope blocks the fallback.
    if (unknown) return Status::Unsupported;
    for (u32 i = 0; i < count; i++)
        if (info.units[i].segment == segment && (info.units[i].flags & kDrhdIncludePciAll) != 0) return i;
    return Status::NotFound;
}

}  // namespace acpi
