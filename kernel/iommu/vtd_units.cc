#include "iommu/vtd_units.h"

#include "acpi/system_tables.h"
#include "arch/x86_64/mmio.h"
#include "console/log.h"
#include "mm/paging.h"

namespace vtd_units {

namespace {

constexpr u32 kMaxUnits = 8;
Unit g_units[kMaxUnits];
u32 g_count;

}  // namespace

void probe() {
    const acpi::DmarInfo* dmar = kacpi::dmar();
    if (!dmar) return;
    for (u32 i = 0; i < dmar->unit_count && g_count < kMaxUnits; i++) {
        Unit& u = g_units[g_count];
        u.base = dmar->units[i].register_base;
        u.dmar_index = i;
        auto regs = paging::map_mmio(u.base, 4096);
        if (!regs.ok()) {
            LOG_WARN("vtd: unit %u at 0x%llx: its registers cannot be mapped: %s", i,
                     static_cast<unsigned long long>(u.base), status_name(regs.status()));
            continue;
        }
        u.regs = static_cast<volatile u8*>(regs.value());
        u.version = mmio::read<u32>(u.regs, vtd::reg::kVersion);
        u.cap = vtd::Capability{mmio::read<u64>(u.regs, vtd::reg::kCapability)};
        u.ecap = vtd::ExtCapability{mmio::read<u64>(u.regs, vtd::reg::kExtCapability)};
        // The fewest levels reaching the platform's host address width (a
        // device may address all of memory), else whatever the unit has.
        auto wide = vtd::second_level_levels(u.cap, dmar->host_address_width);
        auto least = vtd::second_level_levels(u.cap, 39);
        u.levels = wide.ok() ? wide.value() : least.ok() ? least.value() : 0;
        const u32 status = mmio::read<u32>(u.regs, vtd::reg::kGlobalStatus);
        LOG_INFO(
            "vtd: unit %u at 0x%llx: version %u.%u, second level %u levels (%u-bit; SAGAW 0x%x, MGAW %u), %u domains, "
            "%u fault record(s) at 0x%x, queued invalidation %s, interrupt remapping %s, page walks %s, "
            "translation %s",
            i, static_cast<unsigned long long>(u.base), (u.version >> 4) & 0xf, u.version & 0xf, u.levels,
            u.levels ? vtd::iova_bits(u.cap, u.levels) : 0, u.cap.sagaw(), u.cap.mgaw(), u.cap.domains(),
            u.cap.fault_records(), u.cap.fault_record_offset(), u.ecap.queued_invalidation() ? "yes" : "no",
            u.ecap.interrupt_remapping() ? "yes" : "no", u.ecap.coherent() ? "coherent" : "not coherent",
            (status >> 31) & 1 ? "on" : "off");
        g_count++;
    }
}

u32 count() { return g_count; }
const Unit* unit(u32 i) { return i < g_count ? &g_units[i] : nullptr; }

}  // namespace vtd_units
