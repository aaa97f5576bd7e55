#include "acpi/system_tables.h"

#include "acpi/aml_s5.h"
#include "acpi/fadt.h"
#include "acpi/sdt.h"
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "console/log.h"
#include "mm/direct_map.h"

namespace kacpi {
namespace {

// A table larger than this is treated as corrupt rather than mapped.
constexpr u32 kMaxTableLength = 4u << 20;

acpi::MadtInfo g_madt;
acpi::McfgInfo g_mcfg;
acpi::DmarInfo g_dmar;
acpi::FadtInfo g_fadt;
bool g_have_madt, g_have_mcfg, g_have_dmar, g_have_fadt;
u8 g_s5_type;
bool g_have_s5;

// A view of the table at `phys`, sized by its own header, or an error when
// the header or its length cannot be trusted.
Result<ByteView> table_at(u64 phys) {
    if (!direct_map::covers(phys, acpi::kSdtHeaderLength)) return Status::OutOfBounds;
    ByteView head(direct_map::to_virt<const u8>(phys), acpi::kSdtHeaderLength);
    u32 len = TRY(acpi::table_length(head));
    if (len > kMaxTableLength || !direct_map::covers(phys, len)) return Status::OutOfBounds;
    return ByteView(direct_map::to_virt<const u8>(phys), len);
}

void note_rejected(const char* what, u64 phys, Status s) {
    LOG_WARN("acpi: %s at 0x%llx rejected: %s (skipped, not trusted)", what, static_cast<unsigned long long>(phys),
             status_name(s));
}

bool g_dump;

// acpi.dump: hex dump of every table, so real firmware tables can be
// captured as unit-test data (scripts/capture_acpi.py turns the log back
// into binary files).
void dump(const char* sig, ByteView t) {
    if (!g_dump) return;
    log::raw("acpidump %s %zu\n", sig, t.size());
    for (usize off = 0; off < t.size(); off += 32) {
        char line[80];
        usize n = 0;
        for (usize i = off; i < t.size() && i < off + 32; i++) {
            const char* hex = "0123456789abcdef";
            line[n++] = hex[t.data()[i] >> 4];
            line[n++] = hex[t.data()[i] & 15];
        }
        line[n] = '\0';
        log::raw("acpidump %s\n", line);
    }
}

void load_dsdt_s5(u64 phys) {
    auto view = table_at(phys);
    if (!view.ok()) return note_rejected("DSDT", phys, view.status());
    auto hdr = acpi::validate_table(view.value());
    if (!hdr.ok()) return note_rejected("DSDT", phys, hdr.status());
    dump("DSDT", view.value());
    auto s5 = acpi::find_s5_sleep_type(view.value());
    if (!s5.ok()) {
        LOG_WARN("acpi: DSDT has no usable \\_S5 (%s); power-off unavailable", status_name(s5.status()));
        return;
    }
    g_s5_type = s5.value();
    g_have_s5 = true;
}

void report_dmar() {
    LOG_INFO("acpi: DMAR haw %u units %u flags 0x%x rmrr %u", g_dmar.host_address_width, g_dmar.unit_count,
             g_dmar.flags, g_dmar.rmrr_count);
    for (u32 i = 0; i < g_dmar.unit_count; i++) {
        const auto& u = g_dmar.units[i];
        LOG_INFO("dmar: unit %u base 0x%llx segment %u%s scopes %u", i,
                 static_cast<unsigned long long>(u.register_base), u.segment, (u.flags & 1) ? " include-all" : "",
                 u.scope_count);
        for (u32 s = 0; s < u.scope_count; s++) {
            const auto& sc = u.scopes[s];
            const char* kinds[] = {"?", "endpoint", "bridge", "ioapic", "hpet", "acpi-namespace"};
            LOG_INFO("dmar:   scope %s id %u bus %02x path %02x.%x%s", sc.type <= 5 ? kinds[sc.type] : "?",
                     sc.enumeration_id, sc.start_bus, sc.path_count ? sc.path[0].device : 0,
                     sc.path_count ? sc.path[0].function : 0, sc.path_count > 1 ? " (+more hops)" : "");
        }
    }
    if (g_dmar.truncated_lists) LOG_WARN("acpi: DMAR lists truncated; devices will not be matched to units");
}

void consider(u64 phys) {
    auto view = table_at(phys);
    if (!view.ok()) return note_rejected("table", phys, view.status());
    auto hdr = acpi::validate_table(view.value());
    if (!hdr.ok()) return note_rejected("table", phys, hdr.status());
    const auto& h = hdr.value();
    LOG_INFO("acpi: table %s at 0x%llx len %u rev %u oem %s", h.signature, static_cast<unsigned long long>(phys),
             h.length, h.revision, h.oem_id);
    ByteView t = view.value();
    dump(h.signature, t);
    bool* have = acpi::signature_is(h, "APIC")   ? &g_have_madt
                 : acpi::signature_is(h, "MCFG") ? &g_have_mcfg
                 : acpi::signature_is(h, "DMAR") ? &g_have_dmar
                 : acpi::signature_is(h, "FACP") ? &g_have_fadt
                                                 : nullptr;
    if (have && *have) {
        // Firmware should list each of these once; the first valid copy wins
        // so a later (possibly injected) table cannot replace it.
        LOG_WARN("acpi: duplicate %s at 0x%llx ignored", h.signature, static_cast<unsigned long long>(phys));
        return;
    }
    if (acpi::signature_is(h, "APIC")) {
        auto r = acpi::parse_madt(t);
        if (!r.ok()) return note_rejected("MADT", phys, r.status());
        g_madt = r.value();
        g_have_madt = true;
    } else if (acpi::signature_is(h, "MCFG")) {
        auto r = acpi::parse_mcfg(t);
        if (!r.ok()) return note_rejected("MCFG", phys, r.status());
        g_mcfg = r.value();
        g_have_mcfg = true;
    } else if (acpi::signature_is(h, "DMAR")) {
        auto r = acpi::parse_dmar_into(t, g_dmar);
        if (!r.ok()) return note_rejected("DMAR", phys, r.status());
        g_have_dmar = true;
    } else if (acpi::signature_is(h, "FACP")) {
        auto r = acpi::parse_fadt(t);
        if (!r.ok()) return note_rejected("FADT", phys, r.status());
        g_fadt = r.value();
        g_have_fadt = true;
    }
}

}  // namespace

Result<void> init(ByteView rsdp_bytes, bool dump_tables) {
    g_dump = dump_tables;
    dump("RSDP", rsdp_bytes);
    auto rsdp = acpi::parse_rsdp(rsdp_bytes);
    if (!rsdp.ok()) {
        LOG_ERROR("acpi: RSDP rejected: %s", status_name(rsdp.status()));
        return rsdp.status();
    }
    const auto& r = rsdp.value();
    LOG_INFO("acpi: RSDP rev %u oem %s %s at 0x%llx", r.revision, r.oem_id, r.use_xsdt ? "XSDT" : "RSDT",
             static_cast<unsigned long long>(r.root_address));
    auto root = table_at(r.root_address);
    if (!root.ok()) {
        note_rejected(r.use_xsdt ? "XSDT" : "RSDT", r.root_address, root.status());
        return root.status();
    }
    auto root_hdr = acpi::validate_table(root.value());
    if (!root_hdr.ok()) {
        note_rejected(r.use_xsdt ? "XSDT" : "RSDT", r.root_address, root_hdr.status());
        return root_hdr.status();
    }
    u32 n = TRY(acpi::root_entry_count(root.value(), r.use_xsdt));
    for (u32 i = 0; i < n; i++) {
        auto phys = acpi::root_entry(root.value(), r.use_xsdt, i);
        if (phys.ok()) consider(phys.value());
    }
    if (g_have_fadt) load_dsdt_s5(g_fadt.x_dsdt ? g_fadt.x_dsdt : g_fadt.dsdt);
    if (g_have_dmar)
        report_dmar();
    else
        LOG_INFO("acpi: no DMAR (no DMA remapping hardware)");
    return {};
}

const acpi::MadtInfo* madt() { return g_have_madt ? &g_madt : nullptr; }
const acpi::McfgInfo* mcfg() { return g_have_mcfg ? &g_mcfg : nullptr; }
const acpi::DmarInfo* dmar() { return g_have_dmar ? &g_dmar : nullptr; }

void poweroff() {
    if (!g_have_fadt || !g_have_s5 || !g_fadt.pm1a_cnt_blk) {
        LOG_ERROR("acpi: power-off unavailable (FADT %s, \\_S5 %s)", g_have_fadt ? "ok" : "missing",
                  g_have_s5 ? "ok" : "missing");
        return;
    }
    constexpr u16 kSlpEn = 1u << 13;
    u16 value = static_cast<u16>((g_s5_type & 7) << 10) | kSlpEn;
    LOG_INFO("acpi: entering S5 (power off)");
    cpu::outw(static_cast<u16>(g_fadt.pm1a_cnt_blk), value);
    if (g_fadt.pm1b_cnt_blk) cpu::outw(static_cast<u16>(g_fadt.pm1b_cnt_blk), value);
    clock::delay_ns(1000000000);
    LOG_ERROR("acpi: still running after S5 request");
}

}  // namespace kacpi
