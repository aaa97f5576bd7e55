#include "iommu/faults.h"

#include "arch/x86_64/mmio.h"
#include "console/log.h"
#include "dma/session.h"
#include "events/refusals.h"
#include "iommu/remapping.h"
#include "iommu/vtd_units.h"
#include "irq/msi_vectors.h"
#include "object/process.h"
#include "pci/enumerate.h"
#include "util/format.h"

namespace faults {
namespace {

constexpr u32 kMaxUnits = 8;
constexpr u32 kMaxFunctions = 256;

struct UnitState {
    u8 vector = 0;
    u32 this_tick = 0;  // faults read since the last tick
    bool masked = false;
};
UnitState g_units[kMaxUnits];
u64 g_total;
Fault g_newest;

volatile u8* regs_of(u32 unit) { return vtd_units::unit(unit)->regs; }

// The pci_enum function with this source id, or refusals::kNoFunction.
u32 function_of(u16 source) {
    for (u32 f = 0; f < pci_enum::count() && f < kMaxFunctions; f++)
        if (remapping::source_id(f) == source) return f;
    return refusals::kNoFunction;
}

void report(u32 unit, const vtd::FaultRecord& r) {
    g_total++;
    g_newest = Fault{r.address, r.source, r.reason, r.read};
    const u32 function = function_of(r.source);
    // The provider holding the function's DMA grant answers for it.
    object::Process* who = nullptr;
    u64 detail = 0;
    if (function != refusals::kNoFunction) {
        if (kdma::Session* s = kdma::active_session(function)) {
            who = object::find_process(s->owner_pid());
            // The event names the IOVA on the remapped lane; on the brokered
            // lane a domain's addresses are physical ones, which never reach
            // user space (the address audit): 0. The kernel's log says it.
            if (s->remapped()) detail = r.address;
        }
    }
    char holder[48] = "";
    if (who) format(holder, sizeof holder, " (pid %u '%s')", who->pid(), who->name());
    refusals::record(who, abi::RefusalKind::DmaFault, function, Status::Forbidden, detail, log::Level::Warn,
                     "vtd: unit %u: fault: %02x:%02x.%x%s %s at 0x%llx refused (reason 0x%x%s%s)", unit, r.source >> 8,
                     (r.source >> 3) & 0x1f, r.source & 7, holder, r.read ? "read" : "write",
                     static_cast<unsigned long long>(r.address), r.reason, *reason_name(r.reason) ? ": " : "",
                     reason_name(r.reason));
}

// Reads (and clears) every fault recording register holding a fault.
void drain(u32 unit) {
    volatile u8* regs = regs_of(unit);
    const vtd_units::Unit& u = *vtd_units::unit(unit);
    UnitState& st = g_units[unit];
    const u32 records = u.cap.fault_records();
    const u32 first = vtd::fault_status::first_record(mmio::read<u32>(regs, vtd::reg::kFaultStatus));
    for (u32 k = 0; k < records; k++) {
        const u32 at = u.cap.fault_record_offset() + 16 * ((first + k) % records);
        auto r = vtd::fault_record(mmio::read<u64>(regs, at), mmio::read<u64>(regs, at + 8));
        if (!r.ok()) continue;
        mmio::write<u32>(regs, at + 12, 1u << 31);  // F is write-1-to-clear: the register takes the next fault
        report(unit, r.value());
        st.this_tick++;
    }
    const u32 fsts = mmio::read<u32>(regs, vtd::reg::kFaultStatus);
    if (fsts & vtd::fault_status::kOverflow) {
        refusals::note(nullptr, log::Level::Warn, "vtd: unit %u: faults lost (its recording registers were full)",
                       unit);
        mmio::write<u32>(regs, vtd::reg::kFaultStatus, vtd::fault_status::kOverflow);
    }
    if (st.this_tick >= kStormPerTick && !st.masked) {
        st.masked = true;
        mmio::write<u32>(regs, vtd::reg::kFaultEventControl, vtd::fault_status::kInterruptMask);
        refusals::note(nullptr, log::Level::Warn,
                       "vtd: unit %u: %u faults in one tick: fault events masked until the next", unit, st.this_tick);
    }
}

void on_fault_event(InterruptFrame& frame) {
    for (u32 i = 0; i < vtd_units::count() && i < kMaxUnits; i++)
        if (g_units[i].vector == frame.vector) drain(i);
}

}  // namespace

Result<void> init(u32 unit) {
    if (unit >= kMaxUnits) return Status::InvalidArgument;
    const vtd_units::Unit& u = *vtd_units::unit(unit);
    // The recording registers must lie in the page the kernel mapped.
    if (u.cap.fault_record_offset() + 16 * u.cap.fault_records() > 4096) return Status::Unsupported;
    volatile u8* regs = u.regs;
    mmio::write<u32>(regs, vtd::reg::kFaultEventControl, vtd::fault_status::kInterruptMask);
    u8 v = TRY(irq::reserve_kernel_vector(on_fault_event));
    g_units[unit].vector = v;
    // Faults left from before (firmware's) are read and cleared first.
    drain(unit);
    mmio::write<u32>(regs, vtd::reg::kFaultEventData, v);
    mmio::write<u32>(regs, vtd::reg::kFaultEventAddress, irq::msi_address());
    mmio::write<u32>(regs, vtd::reg::kFaultEventUpperAddress, 0);
    mmio::write<u32>(regs, vtd::reg::kFaultEventControl, 0);
    return {};
}

u8 vector(u32 unit) { return unit < kMaxUnits ? g_units[unit].vector : 0; }

void tick() {
    for (u32 i = 0; i < vtd_units::count() && i < kMaxUnits; i++) {
        UnitState& st = g_units[i];
        st.this_tick = 0;
        if (!st.masked) continue;
        st.masked = false;
        // Faults recorded meanwhile raise the event now (FECTL.IP).
        mmio::write<u32>(regs_of(i), vtd::reg::kFaultEventControl, 0);
    }
}

u64 total() { return g_total; }
Fault newest() { return g_newest; }

const char* reason_name(u8 reason) {
    switch (reason) {
        case 0x1: return "root entry not present";
        case 0x2: return "context entry not present";
        case 0x3: return "invalid context entry";
        case 0x4: return "address beyond the domain's width";
        case 0x5: return "no write permission";
        case 0x6: return "no read permission";
        case 0x7: return "invalid paging entry";
        case 0xa:
        case 0xb:
        case 0xc: return "reserved bits set";
        default: return "";
    }
}

}  // namespace faults
