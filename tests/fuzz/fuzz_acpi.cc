// libFuzzer target for lib/acpi.
//
// Input byte 0 selects the mode:
//   bit 7 clear: the rest of the input goes, unchanged, to every parser.
//   bit 7 set:   "fixup" mode -- the rest becomes a table whose signature
//                is chosen by bits 2:0, whose length field is forced to the
//                input size when bit 6 is set, and whose checksum(s) are
//                then made valid, so mutations reach the body parsers
//                instead of dying at the checksum.
// The buffer handed to the parsers is a heap copy of exactly the view's
// size, so ASan catches any read past the view.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "acpi/acpi.h"

namespace {

// Crash (so libFuzzer reports) when a parser breaks a documented promise.
void check(bool ok) {
    if (!ok) __builtin_trap();
}

// Bridge bus numbers invented from the BDF, some of them nonsense
// (secondary <= bus, secondary > subordinate), to exercise both the happy
// and the refusing paths of the scope walk.
Result<acpi::PciBridgeBuses> fake_bridge(void* ctx, u16 segment, u8 bus, u8 device, u8 function) {
    const u8 salt = *static_cast<const u8*>(ctx);
    if (((device ^ salt) & 3) == 0) return Status::NotFound;
    const u8 secondary = static_cast<u8>(bus + 1 + ((device + salt) & 7));
    const u8 subordinate = static_cast<u8>(secondary + (function ^ salt));
    return acpi::PciBridgeBuses{secondary, subordinate};
}

void exercise_dmar(const acpi::DmarInfo& d, u8 salt) {
    check(d.unit_count <= acpi::kMaxDmarUnits);
    u8 ctx = salt;
    const acpi::PciBridgeResolver resolver{fake_bridge, &ctx};
    for (u32 i = 0; i < d.unit_count; i++) {
        const acpi::DmarUnit& u = d.units[i];
        check(u.scope_count <= acpi::kMaxDmarScopes);
        for (u32 s = 0; s < u.scope_count; s++) check(u.scopes[s].path_count <= acpi::kMaxDmarPath);
        // Probe the BDFs the table itself names, plus a few around them.
        for (u32 s = 0; s < u.scope_count; s++) {
            const acpi::DmarScope& sc = u.scopes[s];
            const u8 dev = sc.path_count ? sc.path[0].device : 0;
            const u8 fn = sc.path_count ? sc.path[0].function : 0;
            for (u8 bus : {sc.start_bus, static_cast<u8>(sc.start_bus + 1), static_cast<u8>(sc.start_bus + 2)}) {
                (void)acpi::dmar_unit_covers(u, u.segment, bus, dev, fn);
                (void)acpi::dmar_unit_covers(u, u.segment, bus, dev, fn, &resolver);
                auto a = acpi::dmar_find_unit(d, u.segment, bus, dev, fn);
                auto b = acpi::dmar_find_unit(d, u.segment, bus, dev, fn, &resolver);
                if (a.ok()) check(a.value() < d.unit_count);
                if (b.ok()) check(b.value() < d.unit_count);
                // Without a resolver we may only know less, never decide
                // differently.
                if (a.ok() && b.ok()) check(a.value() == b.value());
            }
        }
    }
    (void)acpi::dmar_find_unit(d, 0, 0, 0, 0);
}

void exercise_all(ByteView v, u8 salt) {
    (void)acpi::parse_rsdp(v);
    (void)acpi::table_length(v);
    (void)acpi::validate_table(v);

    for (bool xsdt : {false, true}) {
        auto n = acpi::root_entry_count(v, xsdt);
        if (!n.ok()) continue;
        const u32 limit = n.value() < 64 ? n.value() : 64;
        for (u32 i = 0; i < limit; i++) check(acpi::root_entry(v, xsdt, i).ok());
        check(acpi::root_entry(v, xsdt, n.value()).status() == Status::OutOfBounds);
    }

    if (auto m = acpi::parse_madt(v); m.ok()) {
        check(m.value().lapic_count <= acpi::kMaxCpus);
        check(m.value().ioapic_count <= acpi::kMaxIoApics);
        check(m.value().override_count <= acpi::kMaxOverrides);
    }
    if (auto m = acpi::parse_mcfg(v); m.ok()) {
        check(m.value().count <= acpi::kMaxMcfgEntries);
        for (u32 i = 0; i < m.value().count; i++) check(m.value().entries[i].start_bus <= m.value().entries[i].end_bus);
    }
    static acpi::DmarInfo dmar;  // ~2.8 KiB: keep it off the stack, as the kernel would
    if (acpi::parse_dmar_into(v, dmar).ok()) {
        check(dmar.host_address_width >= 1 && dmar.host_address_width <= 64);
        exercise_dmar(dmar, salt);
    }
    (void)acpi::parse_dmar(v);
    (void)acpi::parse_fadt(v);
    if (auto s5 = acpi::find_s5_sleep_type(v); s5.ok()) check(s5.value() <= 7);
    if (auto s5 = acpi::find_s5_sleep_type_in_aml(v); s5.ok()) check(s5.value() <= 7);
}

constexpr const char* kSignatures[8] = {"RSDT", "XSDT", "APIC", "MCFG", "DMAR", "FACP", "DSDT", "RSD PTR "};
constexpr usize kMaxTable = 1 << 16;

void put32(std::vector<u8>& b, usize off, u32 v) {
    for (int i = 0; i < 4; i++) b[off + i] = static_cast<u8>(v >> (8 * i));
}

u32 get32(const std::vector<u8>& b, usize off) {
    u32 v = 0;
    for (int i = 0; i < 4; i++) v |= u32{b[off + i]} << (8 * i);
    return v;
}

u8 sum(const std::vector<u8>& b, usize n) {
    u8 s = 0;
    for (usize i = 0; i < n && i < b.size(); i++) s = static_cast<u8>(s + b[i]);
    return s;
}

void fixup(std::vector<u8>& b, u8 mode) {
    const char* sig = kSignatures[mode & 7];
    const bool force_length = (mode & 0x40) != 0;
    if (b.size() < 36) b.resize(36, 0);
    if ((mode & 7) == 7) {  // RSDP
        memcpy(b.data(), sig, 8);
        if (force_length) put32(b, 20, static_cast<u32>(b.size()));
        b[8] = 0;
        b[8] = static_cast<u8>(-sum(b, 20));
        const u32 length = get32(b, 20);
        if (length >= 36 && length <= b.size()) {
            b[32] = 0;
            b[32] = static_cast<u8>(-sum(b, length));
            // b[32] lies outside the first 20 bytes: the v1 sum is intact.
        }
        return;
    }
    memcpy(b.data(), sig, 4);
    if (force_length) put32(b, 4, static_cast<u32>(b.size()));
    const u32 length = get32(b, 4);
    b[9] = 0;
    b[9] = static_cast<u8>(-sum(b, length));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0 || size > kMaxTable) return 0;
    const u8 mode = data[0];
    std::vector<u8> buf(data + 1, data + size);
    if (mode & 0x80) fixup(buf, mode);
    // An exact-size heap block: one byte past the view is a redzone.
    u8* exact = new u8[buf.size() ? buf.size() : 1];
    if (!buf.empty()) memcpy(exact, buf.data(), buf.size());
    exercise_all(ByteView(exact, buf.size()), mode);
    delete[] exact;
    return 0;
}
