#include "irq/msi_vectors.h"

#include "arch/x86_64/idt.h"
#include "arch/x86_64/lapic.h"
#include "console/log.h"
#include "iommu/interrupt_remapping.h"
#include "iommu/vtd.h"
#include "object/pci_function.h"
#include "pci/msix.h"

namespace irq {
namespace {

// Vectors 0x30..0xEF for devices: below are exceptions, the timer and the
// ISA range; above, the spurious vector.
constexpr u8 kFirstVector = 0x30;
constexpr u8 kLastVector = 0xEF;

struct Route {
    bool used;
    bool kernel;  // reserve_kernel_vector's: no function, no entry to mask
    bool msi;     // MSI (the fallback), not MSI-X
    u32 function;
    u16 index;
    Sink sink;
    u32 remap_handle;  // its interrupt remapping entry, or intremap::kNoHandle
};
Route g_routes[256];
bool g_msix_enabled[256];  // per pci_enum function

Result<volatile pci::MsixTableEntry*> entry_of(u32 function, u16 index) {
    const pci_enum::Function& f = pci_enum::function(function);
    if (!f.has_msix) return Status::Unsupported;
    if (index >= f.msix.table_size) return Status::OutOfBounds;
    volatile u8* bar = TRY(object::PciFunction::kernel_view(function, f.msix.table_bir));
    return reinterpret_cast<volatile pci::MsixTableEntry*>(bar + f.msix.table_offset) + index;
}

// Once per function: every entry masked, then MSI-X on (which also turns
// INTx off, PCI 3.0 §6.8.2.3) and the function mask cleared.
Result<void> enable_msix(u32 function) {
    if (g_msix_enabled[function]) return {};
    const pci_enum::Function& f = pci_enum::function(function);
    for (u16 i = 0; i < f.msix.table_size; i++) {
        auto* e = TRY(entry_of(function, i));
        e->vector_control = e->vector_control | pci::kMsixVectorControlMasked;
    }
    u16 control_at = f.msix.cap_offset + 2;
    u16 control = TRY(ecam::read16(f.address, control_at));
    control = (control | pci::kMsixControlEnable) & ~pci::kMsixControlFunctionMask;
    TRY(ecam::write16(f.address, control_at, control));
    g_msix_enabled[function] = true;
    return {};
}

// MSI, the fallback for functions without MSI-X (PCI 3.0 §6.8.1): one
// message (multiple-message blocks are not granted), programmed through
// configuration space. With per-vector masking the mask bit masks it (the
// device holds the pending bit); without, the only off switch is MSI
// Enable, and messages sent while it is off are lost (INTx stays off: the
// kernel sets Interrupt Disable in the command register).
constexpr u16 kCommandInterruptDisable = 1u << 10;

u16 msi_control_offset(const pci::MsiInfo& m) { return static_cast<u16>(m.address_offset - 2); }

Result<void> msi_set_enabled(u32 function, bool on) {
    const pci_enum::Function& f = pci_enum::function(function);
    u16 at = msi_control_offset(f.msi);
    u16 control = TRY(ecam::read16(f.address, at));
    control = on ? control | pci::kMsiControlEnable : control & ~pci::kMsiControlEnable;
    return ecam::write16(f.address, at, control);
}

void msi_set_masked(u32 function, bool masked) {
    const pci_enum::Function& f = pci_enum::function(function);
    if (f.msi.per_vector_masking) {
        auto bits = ecam::read32(f.address, f.msi.mask_offset);
        if (bits.ok())
            (void)ecam::write32(f.address, f.msi.mask_offset, masked ? bits.value() | 1 : bits.value() & ~1u);
    } else {
        (void)msi_set_enabled(function, !masked);
    }
}

Result<void> msi_program(u32 function, const intremap::Message& m) {
    const pci_enum::Function& f = pci_enum::function(function);
    TRY(msi_set_enabled(function, false));
    u16 command = TRY(ecam::read16(f.address, 0x04));
    TRY(ecam::write16(f.address, 0x04, command | kCommandInterruptDisable));
    TRY(ecam::write32(f.address, f.msi.address_offset, m.address));
    if (f.msi.is_64bit) TRY(ecam::write32(f.address, f.msi.upper_address_offset, 0));
    u32 data = TRY(ecam::read32(f.address, f.msi.data_offset & ~3));
    u32 shift = (f.msi.data_offset & 2) * 8;
    data = (data & ~(0xffffu << shift)) | ((m.data & 0xffffu) << shift);
    TRY(ecam::write32(f.address, f.msi.data_offset & ~3, data));
    u16 at = msi_control_offset(f.msi);
    u16 control = TRY(ecam::read16(f.address, at));
    control &= ~(pci::kMsiControlMultipleMessageMask << pci::kMsiControlMultipleMessageEnableShift);  // one message
    TRY(ecam::write16(f.address, at, control));
    if (f.msi.per_vector_masking) msi_set_masked(function, true);
    return msi_set_enabled(function, true);
}

void deliver(InterruptFrame& frame) {
    Route& r = g_routes[frame.vector & 0xff];
    if (!r.used) return;
    r.sink.fire(r.sink.ctx);
}

}  // namespace

Result<u8> route(u32 function, u16 index, Sink sink) {
    if (function >= pci_enum::count() || function >= 256) return Status::InvalidArgument;
    const pci_enum::Function& f = pci_enum::function(function);
    for (const Route& r : g_routes)
        if (r.used && !r.kernel && r.function == function && r.index == index) return Status::Busy;
    u32 v = kFirstVector;
    while (v <= kLastVector && g_routes[v].used) v++;
    if (v > kLastVector) return Status::NoMemory;
    if (!f.has_msix && !f.has_msi) return Status::Unsupported;
    if (!f.has_msix && index != 0) return Status::OutOfBounds;  // one MSI message per function
    // With interrupt remapping on, the message names an entry that only
    // this function may use.
    const intremap::Message m = TRY(intremap::message(function, static_cast<u8>(v), lapic::id()));
    if (!f.has_msix) {
        if (auto programmed = msi_program(function, m); !programmed.ok()) {
            intremap::release(m.handle);
            return programmed.status();
        }
        g_routes[v] = Route{true, false, true, function, index, sink, m.handle};
        idt::set_handler(static_cast<u8>(v), deliver);
        return static_cast<u8>(v);
    }
    auto e = entry_of(function, index);
    auto enabled = e.ok() ? enable_msix(function) : Result<void>{e.status()};
    if (!enabled.ok()) {
        intremap::release(m.handle);
        return enabled.status();
    }
    e.value()->vector_control = e.value()->vector_control | pci::kMsixVectorControlMasked;
    e.value()->message_address = m.address;
    e.value()->message_upper_address = 0;
    e.value()->message_data = m.data;
    g_routes[v] = Route{true, false, false, function, index, sink, m.handle};
    idt::set_handler(static_cast<u8>(v), deliver);
    return static_cast<u8>(v);
}

u32 msi_address() { return vtd::compatible_msi_address(static_cast<u8>(lapic::id())); }

Result<u8> reserve_kernel_vector(void (*handler)(InterruptFrame&)) {
    u32 v = kFirstVector;
    while (v <= kLastVector && g_routes[v].used) v++;
    if (v > kLastVector) return Status::NoMemory;
    g_routes[v] = Route{true, true, false, ~0u, 0, Sink{}, intremap::kNoHandle};
    idt::set_handler(static_cast<u8>(v), handler);
    return static_cast<u8>(v);
}

void set_masked(u8 vector, bool masked) {
    Route& r = g_routes[vector];
    if (!r.used || r.kernel) return;
    if (r.msi) return msi_set_masked(r.function, masked);
    auto e = entry_of(r.function, r.index);
    if (!e.ok()) return;
    u32 control = e.value()->vector_control;
    e.value()->vector_control =
        masked ? control | pci::kMsixVectorControlMasked : control & ~pci::kMsixVectorControlMasked;
}

bool hold_back(u8 vector) {
    Route& r = g_routes[vector];
    if (!r.used || r.kernel) return false;
    if (r.msi && !pci_enum::function(r.function).msi.per_vector_masking) return false;
    set_masked(vector, true);
    return true;
}

void unroute(u8 vector) {
    Route& r = g_routes[vector];
    if (!r.used || r.kernel) return;
    set_masked(vector, true);
    if (r.msi) {
        (void)msi_set_enabled(r.function, false);
    } else if (auto e = entry_of(r.function, r.index); e.ok()) {
        e.value()->message_address = 0;
        e.value()->message_data = 0;
    }
    idt::set_handler(vector, nullptr);
    intremap::release(r.remap_handle);  // after the entry is masked and cleared: nothing can name it now
    r = Route{};
}

u32 mask_function(u32 function) {
    u32 n = 0;
    for (u32 v = kFirstVector; v <= kLastVector; v++) {
        Route& r = g_routes[v];
        if (!r.used || r.kernel || r.function != function) continue;
        set_masked(static_cast<u8>(v), true);
        r.sink.torn_down(r.sink.ctx);
        n++;
    }
    return n;
}

}  // namespace irq
