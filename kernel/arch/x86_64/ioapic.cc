#include "arch/x86_64/ioapic.h"

#include "console/log.h"
#include "iommu/vtd.h"
#include "mm/paging.h"

namespace ioapic {
namespace {

volatile u32* g_regs;
u32 g_gsi_base;
u32 g_entries;
EntryFor g_entry_for;  // interrupt remapping on: every route names an entry

// What each pin was routed to (for rewriting it when remapping comes on).
constexpr u32 kMaxPins = 240;
struct Pin {
    bool routed;
    u8 vector;
    bool active_low;
    bool level;
    u32 apic_id;
};
Pin g_pins[kMaxPins];

u32 read(u32 reg) {
    g_regs[0] = reg;
    return g_regs[4];
}
void write(u32 reg, u32 v) {
    g_regs[0] = reg;
    g_regs[4] = v;
}

}  // namespace

Result<void> init(u64 phys_base, u32 gsi_base) {
    g_regs = static_cast<volatile u32*>(TRY(paging::map_mmio(phys_base, 4096)));
    g_gsi_base = gsi_base;
    g_entries = ((read(0x01) >> 16) & 0xff) + 1;
    for (u32 i = 0; i < g_entries; i++) {
        write(0x10 + 2 * i, 1u << 16);  // masked
        write(0x11 + 2 * i, 0);
    }
    LOG_INFO("ioapic: base 0x%llx gsi %u-%u", static_cast<unsigned long long>(phys_base), gsi_base,
             gsi_base + g_entries - 1);
    return {};
}

namespace {

Result<void> program(u32 pin, const Pin& p) {
    if (g_entry_for) {
        // Remappable format (VT-d §5.1.5.1): masked while both halves change.
        const u16 handle = TRY(g_entry_for(p.vector, p.apic_id, p.level));
        const u64 entry =
            vtd::remappable_ioapic_entry(handle, p.vector, p.level, false) | (p.active_low ? 1u << 13 : 0);
        write(0x10 + 2 * pin, 1u << 16);
        write(0x11 + 2 * pin, static_cast<u32>(entry >> 32));
        write(0x10 + 2 * pin, static_cast<u32>(entry));
        return {};
    }
    u32 low = p.vector | (p.active_low ? 1u << 13 : 0) | (p.level ? 1u << 15 : 0);
    write(0x11 + 2 * pin, p.apic_id << 24);
    write(0x10 + 2 * pin, low);
    return {};
}

}  // namespace

Result<void> route(const Route& r, u8 vector, u32 apic_id) {
    if (!g_regs || r.gsi < g_gsi_base || r.gsi - g_gsi_base >= g_entries || r.gsi - g_gsi_base >= kMaxPins)
        return Status::OutOfBounds;
    u32 pin = r.gsi - g_gsi_base;
    Pin p{true, vector, r.active_low, r.level, apic_id};
    TRY(program(pin, p));
    g_pins[pin] = p;
    return {};
}

Result<u32> use_remapping(EntryFor entry_for) {
    g_entry_for = entry_for;
    u32 n = 0;
    for (u32 pin = 0; pin < g_entries && pin < kMaxPins; pin++) {
        if (!g_pins[pin].routed) continue;
        TRY(program(pin, g_pins[pin]));
        n++;
    }
    return n;
}

}  // namespace ioapic
