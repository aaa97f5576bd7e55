#include "iommu/remapping.h"

#include "acpi/system_tables.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/mmio.h"
#include "boot/cmdline.h"
#include "console/log.h"
#include "iommu/faults.h"
#include "iommu/interrupt_remapping.h"
#include "iommu/vtd_units.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"
#include "pci/ecam.h"
#include "pci/enumerate.h"
#include "sched/device_wait.h"

namespace remapping {
namespace {

constexpr u32 kMaxUnits = 8;
constexpr u32 kQueueEntries = 256;  // one page of 16-byte descriptors (IQA.QS = 0)
// How long a unit gets to confirm a command or an invalidation. QEMU's
// answers at once; hardware within microseconds.
constexpr u64 kConfirmNs = sched::kMaxDeviceSpinNs;

struct State {
    bool on = false;
    const vtd_units::Unit* unit = nullptr;
    vtd::RootEntry* root = nullptr;  // 256 entries, one per bus
    vtd::ContextEntry* context[256] = {};
    // Queued invalidation (null: registers).
    vtd::Descriptor* queue = nullptr;
    u32 tail = 0;
    volatile u32* wait_word = nullptr;  // where the unit writes a finished wait's number
    u32 wait_number = 0;
    u32 domain_limit = 0;
    u8 domains_used[kMaxDomains / 8] = {};
};
State g_units[kMaxUnits];

u32 read32(const State& s, u32 reg) { return mmio::read<u32>(s.unit->regs, reg); }
void write32(const State& s, u32 reg, u32 v) { mmio::write<u32>(s.unit->regs, reg, v); }
u64 read64(const State& s, u32 reg) { return mmio::read<u64>(s.unit->regs, reg); }
void write64(const State& s, u32 reg, u64 v) { mmio::write<u64>(s.unit->regs, reg, v); }

// Sets or clears one GCMD bit and waits for GSTS to follow.
Result<void> command(State& s, u32 bit, bool on) {
    write32(s, vtd::reg::kGlobalCommand, vtd::global::command(read32(s, vtd::reg::kGlobalStatus), bit, on));
    auto done = sched::wait_until(kConfirmNs, sched::WaitHow::Spin,
                                  [&] { return ((read32(s, vtd::reg::kGlobalStatus) & bit) != 0) == on; });
    return done.ok() ? Result<void>{} : Result<void>{Status::Timeout};
}

// A zeroed frame for the unit to read, flushed as it is.
Result<void*> zeroed_table(u32 unit) {
    u64 phys = TRY(frames::alloc());
    auto* p = direct_map::to_virt<u64>(phys);
    for (u32 i = 0; i < 512; i++) p[i] = 0;
    flush(unit, p, frames::kFrameSize);
    return static_cast<void*>(p);
}

// Queued invalidation: the descriptors, then a wait descriptor whose status
// write says the unit got past all of them.
Result<void> submit(State& s, const vtd::Descriptor* list, u32 count) {
    if (!s.queue) return Status::Unsupported;
    const u32 index = static_cast<u32>(&s - g_units);
    const u32 number = ++s.wait_number;
    auto put = [&](const vtd::Descriptor& d) {
        s.queue[s.tail] = d;
        flush(index, &s.queue[s.tail], sizeof d);
        s.tail = (s.tail + 1) % kQueueEntries;
    };
    for (u32 i = 0; i < count; i++) put(list[i]);
    put(vtd::invalidate::wait(direct_map::to_phys(const_cast<u32*>(s.wait_word)), number));
    write64(s, vtd::reg::kInvalidationQueueTail, u64{s.tail} * sizeof(vtd::Descriptor));
    auto done = sched::wait_until(kConfirmNs, sched::WaitHow::Spin, [&] {
        return *s.wait_word == number || (read32(s, vtd::reg::kFaultStatus) &
                                          (vtd::fault_status::kQueueError | vtd::fault_status::kTimeoutError));
    });
    if (done.ok() && *s.wait_word == number) return {};
    const u32 fsts = read32(s, vtd::reg::kFaultStatus);
    LOG_ERROR("vtd: unit %u: invalidation %s (fault status 0x%x, queue head 0x%llx tail 0x%llx)", index,
              done.ok() ? "refused" : "not confirmed", fsts,
              static_cast<unsigned long long>(read64(s, vtd::reg::kInvalidationQueueHead)),
              static_cast<unsigned long long>(read64(s, vtd::reg::kInvalidationQueueTail)));
    return done.ok() ? Status::Malformed : Status::Timeout;
}

// Register-based invalidation: writes the command and waits for the unit to
// clear its busy bit.
Result<void> register_command(State& s, u32 reg, u64 value) {
    write64(s, reg, value);
    auto done = sched::wait_until(kConfirmNs, sched::WaitHow::Spin,
                                  [&] { return (read64(s, reg) & vtd::register_invalidate::kBusy) == 0; });
    return done.ok() ? Result<void>{} : Result<void>{Status::Timeout};
}

u32 iotlb_register(const State& s) { return s.unit->ecap.iotlb_register_offset() + vtd::reg::kIotlbCommand; }

Result<void> invalidate_all(State& s) {
    if (s.queue) {
        const vtd::Descriptor all[] = {vtd::invalidate::context_global(), vtd::invalidate::iotlb_global()};
        return submit(s, all, 2);
    }
    TRY(register_command(s, vtd::reg::kContextCommand, vtd::register_invalidate::context_global()));
    return register_command(s, iotlb_register(s), vtd::register_invalidate::iotlb_global());
}

Result<void> enable(u32 index) {
    State& s = g_units[index];
    const vtd_units::Unit& u = *s.unit;
    if (!u.levels) return Status::Unsupported;
    const u32 status = read32(s, vtd::reg::kGlobalStatus);
    // Whatever firmware left running goes first: its tables are not ours.
    if (status & vtd::global::kTranslation) {
        LOG_WARN("vtd: unit %u: firmware left translation on; turning it off to take over", index);
        TRY(command(s, vtd::global::kTranslation, false));
    }
    if (status & vtd::global::kQueuedInvalidation) TRY(command(s, vtd::global::kQueuedInvalidation, false));

    s.root = static_cast<vtd::RootEntry*>(TRY(zeroed_table(index)));
    write64(s, vtd::reg::kRootTable, direct_map::to_phys(s.root));
    TRY(command(s, vtd::global::kSetRootTable, true));

    if (u.ecap.queued_invalidation()) {
        s.queue = static_cast<vtd::Descriptor*>(TRY(zeroed_table(index)));
        u64 word_phys = TRY(frames::alloc());
        s.wait_word = direct_map::to_virt<u32>(word_phys);
        *s.wait_word = 0;
        s.tail = 0;
        write64(s, vtd::reg::kInvalidationQueueTail, 0);
        write64(s, vtd::reg::kInvalidationQueueAddress, direct_map::to_phys(s.queue));  // QS 0: 256 entries
        TRY(command(s, vtd::global::kQueuedInvalidation, true));
    }
    TRY(invalidate_all(s));
    if (u.cap.required_write_buffer_flush()) {
        write32(s, vtd::reg::kGlobalCommand,
                vtd::global::command(read32(s, vtd::reg::kGlobalStatus), vtd::global::kWriteBufferFlush, true));
        auto done = sched::wait_until(kConfirmNs, sched::WaitHow::Spin, [&] {
            return (read32(s, vtd::reg::kGlobalStatus) & vtd::global::kWriteBufferFlush) == 0;
        });
        if (!done.ok()) return Status::Timeout;
    }
    s.domain_limit = u.cap.domains() < kMaxDomains ? u.cap.domains() : kMaxDomains;
    s.domains_used[0] = 1;  // domain 0: reserved
    TRY(faults::init(index));
    TRY(command(s, vtd::global::kTranslation, true));
    s.on = true;
    return {};
}

const char* interrupt_remapping_absent(u32 index) {
    const vtd_units::Unit& u = *g_units[index].unit;
    const acpi::DmarInfo* dmar = kacpi::dmar();
    if (!u.ecap.interrupt_remapping()) return "the unit cannot remap interrupts";
    if (!dmar || !(dmar->flags & acpi::kDmarFlagIntrRemap)) return "the DMAR does not offer it (INTR_REMAP clear)";
    if (!g_units[index].queue) return "it needs queued invalidation";
    return nullptr;
}

u32 covered_functions(u32 index) {
    u32 n = 0;
    for (u32 f = 0; f < pci_enum::count(); f++) {
        auto unit = unit_of(f);
        if (unit.ok() && unit.value() == index) n++;
    }
    return n;
}

Result<acpi::PciBridgeBuses> bridge_buses(void*, u16 segment, u8 bus, u8 device, u8 function) {
    ecam::Address a{segment, bus, device, function};
    u32 v = TRY(ecam::read32(a, 0x18));  // primary, secondary, subordinate bus
    return acpi::PciBridgeBuses{static_cast<u8>(v >> 8), static_cast<u8>(v >> 16)};
}

// A function's context entry changed: the unit's cached copy of it and the
// domain's translations are dropped (returns once the unit confirms).
Result<void> invalidate_function(State& s, u16 domain, u16 sid) {
    if (s.queue) {
        const vtd::Descriptor d[] = {vtd::invalidate::context_device(domain, sid),
                                     vtd::invalidate::iotlb_domain(domain)};
        return submit(s, d, 2);
    }
    TRY(register_command(s, vtd::reg::kContextCommand, vtd::register_invalidate::context_device(domain, sid)));
    return register_command(s, iotlb_register(s), vtd::register_invalidate::iotlb_domain(domain));
}

State* state_of(u32 unit) { return unit < vtd_units::count() && g_units[unit].on ? &g_units[unit] : nullptr; }

}  // namespace

void init() {
    if (vtd_units::count() == 0) return;
    if (cmdline::is("iommu", "off")) {
        LOG_WARN("vtd: iommu=off: translation left off; every device reaches all memory (brokered lane only)");
        return;
    }
    const acpi::DmarInfo* dmar = kacpi::dmar();
    if (dmar && dmar->rmrr_count) {
        LOG_WARN("vtd: the DMAR lists %u RMRR region(s), whose identity maps are not built yet: translation left off",
                 dmar->rmrr_count);
        return;
    }
    for (u32 i = 0; i < vtd_units::count() && i < kMaxUnits; i++) {
        g_units[i].unit = vtd_units::unit(i);
        auto on = enable(i);
        if (!on.ok()) {
            LOG_ERROR("vtd: unit %u: translation not turned on: %s", i, status_name(on.status()));
            continue;
        }
        LOG_INFO(
            "vtd: unit %u: translation on (%s invalidation, fault event vector 0x%x): %u function(s) behind it, each "
            "blocked until a DMA grant gives it a domain",
            i, g_units[i].queue ? "queued" : "register", faults::vector(i), covered_functions(i));
        if (const char* why = interrupt_remapping_absent(i)) {
            LOG_WARN("vtd: unit %u: no interrupt remapping: %s", i, why);
        } else if (auto ir = intremap::enable(i); !ir.ok() && ir.status() != Status::Unsupported) {
            LOG_ERROR("vtd: unit %u: interrupt remapping not turned on: %s", i, status_name(ir.status()));
        }
    }
}

bool active() {
    for (u32 i = 0; i < vtd_units::count() && i < kMaxUnits; i++)
        if (g_units[i].on) return true;
    return false;
}

Result<u32> unit_of(u32 function) {
    if (function >= pci_enum::count()) return Status::InvalidArgument;
    const acpi::DmarInfo* dmar = kacpi::dmar();
    if (!dmar) return Status::NotFound;
    const pci_enum::Function& f = pci_enum::function(function);
    acpi::PciBridgeResolver resolver{bridge_buses, nullptr};
    u32 dmar_index = TRY(
        acpi::dmar_find_unit(*dmar, f.address.segment, f.address.bus, f.address.device, f.address.function, &resolver));
    for (u32 i = 0; i < vtd_units::count() && i < kMaxUnits; i++)
        if (g_units[i].on && g_units[i].unit->dmar_index == dmar_index) return i;
    return Status::NotFound;
}

Result<u16> allocate_domain(u32 unit) {
    State* s = state_of(unit);
    if (!s) return Status::InvalidArgument;
    for (u32 d = 1; d < s->domain_limit; d++) {
        if (s->domains_used[d / 8] & (1u << (d % 8))) continue;
        s->domains_used[d / 8] |= static_cast<u8>(1u << (d % 8));
        return static_cast<u16>(d);
    }
    return Status::NoMemory;
}

void free_domain(u32 unit, u16 domain) {
    State* s = state_of(unit);
    if (!s || domain == 0 || domain >= s->domain_limit) return;
    s->domains_used[domain / 8] &= static_cast<u8>(~(1u << (domain % 8)));
}

u16 source_id(u32 function) {
    const ecam::Address& a = pci_enum::function(function).address;
    return static_cast<u16>(a.bus << 8 | a.device << 3 | a.function);
}

Result<void> attach(u32 unit, u32 function, u16 domain, u64 table, u32 levels) {
    State* s = state_of(unit);
    if (!s) return Status::InvalidArgument;
    const u16 sid = source_id(function);
    const u8 bus = static_cast<u8>(sid >> 8), devfn = static_cast<u8>(sid);
    if (!s->context[bus]) {
        s->context[bus] = static_cast<vtd::ContextEntry*>(TRY(zeroed_table(unit)));
        s->root[bus] = vtd::root_entry(direct_map::to_phys(s->context[bus]));
        flush(unit, &s->root[bus], sizeof(vtd::RootEntry));
    }
    vtd::ContextEntry& e = s->context[bus][devfn];
    if (e.low & 1) return Status::Busy;  // another domain holds the function
    const vtd::ContextEntry entry = TRY(vtd::context_entry(table, levels, domain));
    // The high half first: the entry is present only once both are right.
    e.high = entry.high;
    e.low = entry.low;
    flush(unit, &e, sizeof e);
    // Not-present entries are cached where CAP.CM says so (QEMU's may):
    // the function's is invalidated, so the unit reads the new one.
    return invalidate_function(*s, domain, sid);
}

Result<void> detach(u32 unit, u32 function, u16 domain) {
    State* s = state_of(unit);
    if (!s) return Status::InvalidArgument;
    const u16 sid = source_id(function);
    const u8 bus = static_cast<u8>(sid >> 8), devfn = static_cast<u8>(sid);
    if (!s->context[bus]) return Status::NotFound;
    vtd::ContextEntry& e = s->context[bus][devfn];
    // Present bit first: a half-cleared entry is never present.
    e.low = 0;
    e.high = 0;
    flush(unit, &e, sizeof e);
    return invalidate_function(*s, domain, sid);
}

Result<void> invalidate(u32 unit, u16 domain, u64 iova, u64 bytes) {
    State* s = state_of(unit);
    if (!s) return Status::InvalidArgument;
    const vtd_units::Unit& u = *s->unit;
    auto order = vtd::invalidation_order(iova, bytes, u.cap.max_invalidation_order());
    const bool pages = u.cap.page_selective_invalidation() && order.ok();
    if (s->queue) {
        const u64 block = pages ? iova & ~((1ull << (order.value() + 12)) - 1) : 0;
        const vtd::Descriptor d =
            pages ? vtd::invalidate::iotlb_pages(domain, block, order.value()) : vtd::invalidate::iotlb_domain(domain);
        return submit(*s, &d, 1);
    }
    // Registers: the domain (page-selective through IVA_REG is not worth
    // the second register on units this old).
    return register_command(*s, iotlb_register(*s), vtd::register_invalidate::iotlb_domain(domain));
}

Result<void> queue(u32 unit, const vtd::Descriptor* list, u32 count) {
    if (unit >= kMaxUnits || !g_units[unit].unit) return Status::InvalidArgument;
    return submit(g_units[unit], list, count);
}

Result<void> set_global(u32 unit, u32 bit, bool on) {
    if (unit >= kMaxUnits || !g_units[unit].unit) return Status::InvalidArgument;
    return command(g_units[unit], bit, on);
}

void flush(u32 unit, const void* p, u64 bytes) {
    const vtd_units::Unit* u = vtd_units::unit(unit);
    if (u && !u->ecap.coherent()) cpu::flush_to_memory(p, bytes);
}

}  // namespace remapping
