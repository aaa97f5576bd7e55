#include "iommu/interrupt_remapping.h"

#include "acpi/system_tables.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/mmio.h"
#include "boot/cmdline.h"
#include "console/log.h"
#include "iommu/remapping.h"
#include "iommu/vtd_units.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"

namespace intremap {
namespace {

constexpr u32 kSizeLog2 = 8;  // 256 entries: one page
constexpr u32 kEntries = 1u << kSizeLog2;

bool g_on;
u32 g_unit;
vtd::InterruptEntry* g_table;
u8 g_used[kEntries / 8];
u16 g_ioapic_source;

// The I/O APIC's source id, from the unit's DMAR scope (type 3, one hop).
Result<u16> ioapic_source(u32 unit) {
    const acpi::DmarInfo* dmar = kacpi::dmar();
    if (!dmar) return Status::NotFound;
    const acpi::DmarUnit& u = dmar->units[vtd_units::unit(unit)->dmar_index];
    for (u32 i = 0; i < u.scope_count; i++) {
        const acpi::DmarScope& s = u.scopes[i];
        if (s.type != acpi::kScopeIoApic || s.path_count != 1 || s.path_truncated) continue;
        return static_cast<u16>(s.start_bus << 8 | s.path[0].device << 3 | s.path[0].function);
    }
    return Status::NotFound;
}

Result<u16> allocate(const vtd::InterruptEntry& entry) {
    for (u32 i = 0; i < kEntries; i++) {
        if (g_used[i / 8] & (1u << (i % 8))) continue;
        g_used[i / 8] |= static_cast<u8>(1u << (i % 8));
        vtd::InterruptEntry& e = g_table[i];
        // The high half (source validation) first: present only once whole.
        e.high = entry.high;
        e.low = entry.low;
        remapping::flush(g_unit, &e, sizeof e);
        // Not-present entries are never cached (§6.2.3), yet a unit may
        // have cached this one before an earlier release: invalidated.
        const vtd::Descriptor d = vtd::invalidate::interrupt_entry(static_cast<u16>(i));
        if (auto told = remapping::queue(g_unit, &d, 1); !told.ok()) {
            // Not handed out, and not present: whatever the unit cached of
            // it is unknown, so the slot stays taken for good.
            e.low = 0;
            remapping::flush(g_unit, &e, sizeof e);
            return told.status();
        }
        return static_cast<u16>(i);
    }
    return Status::NoMemory;
}

// The I/O APIC's routes, rewritten in remappable format.
Result<u16> ioapic_entry(u8 vector, u32 apic_id, bool level) {
    return allocate(vtd::interrupt_entry(vector, static_cast<u8>(apic_id), g_ioapic_source, level));
}

}  // namespace

Result<void> enable(u32 unit) {
    const vtd_units::Unit& u = *vtd_units::unit(unit);
    const acpi::DmarInfo* dmar = kacpi::dmar();
    if (cmdline::is("intremap", "off")) {
        LOG_WARN(
            "vtd: unit %u: intremap=off: interrupt remapping left off; a device that can write addresses can "
            "raise any interrupt",
            unit);
        return Status::Unsupported;
    }
    if (!u.ecap.interrupt_remapping() || !dmar || !(dmar->flags & acpi::kDmarFlagIntrRemap)) return Status::Unsupported;
    if (g_on) return Status::Busy;  // one unit's table only (every QEMU and cloud guest has one)
    auto source = ioapic_source(unit);
    if (!source.ok()) {
        LOG_ERROR("vtd: unit %u: the DMAR names no I/O APIC behind it: interrupt remapping left off", unit);
        return Status::Unsupported;
    }
    g_ioapic_source = source.value();
    u64 phys = TRY(frames::alloc());
    g_table = direct_map::to_virt<vtd::InterruptEntry>(phys);
    for (u32 i = 0; i < kEntries; i++) g_table[i] = {};
    g_unit = unit;
    remapping::flush(unit, g_table, frames::kFrameSize);
    mmio::write<u64>(u.regs, vtd::reg::kInterruptRemapTable, vtd::interrupt_table_register(phys, kSizeLog2));
    TRY(remapping::set_global(unit, vtd::global::kSetInterruptTable, true));
    const vtd::Descriptor all = vtd::invalidate::interrupt_entries_all();
    TRY(remapping::queue(unit, &all, 1));
    // Routes already made (COM1) are rewritten before compatibility-format
    // requests stop being honoured.
    const u32 routes = TRY(ioapic::use_remapping(ioapic_entry));
    TRY(remapping::set_global(unit, vtd::global::kInterruptRemapping, true));
    g_on = true;
    LOG_INFO(
        "vtd: unit %u: interrupt remapping on (%u entries, source-validated; compatibility-format interrupts "
        "blocked): %u I/O APIC route(s) rewritten, the I/O APIC as %02x:%02x.%x",
        unit, kEntries, routes, g_ioapic_source >> 8, (g_ioapic_source >> 3) & 0x1f, g_ioapic_source & 7);
    return {};
}

bool active() { return g_on; }

bool covers(u32 function) {
    if (!g_on) return false;
    auto unit = remapping::unit_of(function);
    return unit.ok() && unit.value() == g_unit;
}

Result<Message> message(u32 function, u8 vector, u32 apic_id) {
    if (!covers(function)) return Message{vtd::compatible_msi_address(static_cast<u8>(apic_id)), vector, kNoHandle};
    u16 handle =
        TRY(allocate(vtd::interrupt_entry(vector, static_cast<u8>(apic_id), remapping::source_id(function), false)));
    return Message{vtd::remappable_msi_address(handle), 0, handle};
}

void release(u32 handle) {
    if (!g_on || handle >= kEntries) return;
    vtd::InterruptEntry& e = g_table[handle];
    e.low = 0;  // present bit first
    e.high = 0;
    remapping::flush(g_unit, &e, sizeof e);
    const vtd::Descriptor d = vtd::invalidate::interrupt_entry(static_cast<u16>(handle));
    if (!remapping::queue(g_unit, &d, 1).ok()) {
        LOG_ERROR("vtd: interrupt entry %u: its invalidation was not confirmed: the entry stays allocated", handle);
        return;
    }
    g_used[handle / 8] &= static_cast<u8>(~(1u << (handle % 8)));
}

u32 unused_handle() {
    for (u32 i = kEntries; i-- > 0;)
        if (!(g_used[i / 8] & (1u << (i % 8)))) return i;
    return kNoHandle;
}

}  // namespace intremap
