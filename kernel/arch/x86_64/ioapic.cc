#include "arch/x86_64/ioapic.h"

#include "console/log.h"
#include "mm/paging.h"

namespace ioapic {
namespace {

volatile u32* g_regs;
u32 g_gsi_base;
u32 g_entries;

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

Result<void> route(const Route& r, u8 vector, u32 apic_id) {
    if (!g_regs || r.gsi < g_gsi_base || r.gsi - g_gsi_base >= g_entries) return Status::OutOfBounds;
    u32 pin = r.gsi - g_gsi_base;
    u32 low = vector | (r.active_low ? 1u << 13 : 0) | (r.level ? 1u << 15 : 0);
    write(0x11 + 2 * pin, apic_id << 24);
    write(0x10 + 2 * pin, low);
    return {};
}

}  // namespace ioapic
