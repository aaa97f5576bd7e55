// Device authority: listing and opening PCI functions (DeviceRoot),
// checked configuration reads (PciFunction), and register windows
// (DeviceMmio). No call returns a physical or device-visible address.
#include "abi/device.h"
#include "acpi/system_tables.h"
#include "arch/x86_64/user_copy.h"
#include "debug/address_audit.h"
#include "dma/session.h"
#include "object/device_mmio.h"
#include "object/device_root.h"
#include "syscall/common.h"

namespace sys {
namespace {

// DeviceEvents reads at most this many at once (kernel stack).
constexpr u64 kEventsPerCall = 16;

// Secondary/subordinate bus numbers of a bridge, for DMAR scope paths
// through bridges (VT-d §8.3.1).
Result<acpi::PciBridgeBuses> bridge_buses(void*, u16 segment, u8 bus, u8 device, u8 function) {
    ecam::Address a{segment, bus, device, function};
    u32 v = TRY(ecam::read32(a, 0x18));  // primary, secondary, subordinate bus
    return acpi::PciBridgeBuses{static_cast<u8>(v >> 8), static_cast<u8>(v >> 16)};
}

u8 remapping_of(const pci_enum::Function& f) {
    const acpi::DmarInfo* dmar = kacpi::dmar();
    if (!dmar) return abi::kRemappingNone;
    acpi::PciBridgeResolver resolver{bridge_buses, nullptr};
    auto unit =
        acpi::dmar_find_unit(*dmar, f.address.segment, f.address.bus, f.address.device, f.address.function, &resolver);
    if (unit.ok()) return abi::kRemappingCovered;
    return unit.status() == Status::NotFound ? abi::kRemappingNone : abi::kRemappingUnknown;
}

abi::DeviceInfo describe(u32 index) {
    const pci_enum::Function& f = pci_enum::function(index);
    abi::DeviceInfo d{};
    d.bus = f.address.bus;
    d.device = f.address.device;
    d.function = f.address.function;
    d.header_type = f.header.header_type;
    d.vendor = f.header.vendor;
    d.device_id = f.header.device;
    d.class_code = f.header.class_code;
    d.subclass = f.header.subclass;
    d.prog_if = f.header.prog_if;
    d.revision = f.header.revision;
    d.msix_vectors = f.has_msix ? f.msix.table_size : 0;
    d.msi_vectors = f.has_msi ? f.msi.vectors_capable : 0;
    d.remapping = remapping_of(f);
    d.dma = kdma::usage_of(kdma::active_session(index));
    for (u32 i = 0; i < 6; i++) {
        d.bars[i].kind = static_cast<u8>(f.bars[i].kind);
        d.bars[i].prefetchable = f.bars[i].prefetchable;
        d.bars[i].size = f.bars[i].size;
    }
    return d;
}

}  // namespace

Result<u64> device_list(u64 root, u64 out, u64 max) {
    TRY(kcap::lookup<object::DeviceRoot>(self(), handle_arg(root), cap::kRightInspect));
    u32 n = pci_enum::count();
    if (max < n) n = static_cast<u32>(max);
    for (u32 i = 0; i < n; i++) {
        abi::DeviceInfo d = describe(i);
        audit::check_copy(&d, sizeof d, "DeviceList");
        TRY(user::copy_to(out + i * sizeof d, &d, sizeof d));
    }
    return n;
}

Result<u64> device_open(u64 root, u64 bdf) {
    TRY(kcap::lookup<object::DeviceRoot>(self(), handle_arg(root), cap::kRightManage));
    for (u32 i = 0; i < pci_enum::count(); i++) {
        const auto& a = pci_enum::function(i).address;
        if (abi::pci_bdf(a.bus, a.device, a.function) != bdf) continue;
        auto charge = TRY(charge_new<object::PciFunction>());
        auto fn = object::RefPtr<object::PciFunction>::adopt(new (std::nothrow) object::PciFunction(i));
        if (!fn) return Status::NoMemory;
        fn->adopt_charge(std::move(charge));
        return TRY(kcap::install(self(), std::move(fn)));
    }
    return Status::NotFound;
}

Result<u64> device_events(u64 root, u64 out, u64 max) {
    TRY(kcap::lookup<object::DeviceRoot>(self(), handle_arg(root), cap::kRightInspect));
    if (max == 0 || max > kEventsPerCall) return Status::InvalidArgument;
    // The buffer is checked before anything is taken: an event is never
    // lost to a bad pointer.
    TRY(user::zero(out, max * sizeof(abi::RefusalEvent)));
    abi::RefusalEvent events[kEventsPerCall];
    u32 n = refusals::drain(events, static_cast<u32>(max));
    audit::check_copy(events, n * sizeof events[0], "DeviceEvents");
    TRY(user::copy_to(out, events, n * sizeof events[0]));
    return n;
}

Result<u64> pci_config_read(u64 h, u64 offset, u64 width) {
    auto fn = TRY(kcap::lookup<object::PciFunction>(self(), handle_arg(h), cap::kRightInspect));
    if (offset >= 4096 || width > 4) return Status::InvalidArgument;
    return TRY(fn->config_read(static_cast<u16>(offset), static_cast<u32>(width)));
}

Result<u64> mmio_create(u64 h, u64 bar, u64 offset, u64 length, u64 flags) {
    auto fn = TRY(kcap::lookup<object::PciFunction>(self(), handle_arg(h), cap::kRightManage));
    if (bar >= 6 || (flags & ~abi::kMmioFiltered)) return Status::InvalidArgument;
    auto charge = TRY(charge_new<object::DeviceMmio>());
    auto m = TRY(object::DeviceMmio::create(fn, static_cast<u8>(bar), offset, length, flags & abi::kMmioFiltered));
    m->adopt_charge(std::move(charge));
    // The window is minted from the PciFunction capability (DESIGN §2: a
    // narrower view derived from it), so revoking that capability revokes
    // — and unmaps — every window made from it, wherever they went.
    return TRY(kcap::mint(self(), handle_arg(h), std::move(m)));
}

Result<u64> mmio_map(u64 h) {
    // As for memory objects: mapping needs map and read, and a writable
    // mapping also write — a copy minted without write maps read-only.
    auto m = TRY(kcap::lookup<object::DeviceMmio>(self(), handle_arg(h), cap::kRightMap | cap::kRightRead));
    bool writable = kcap::lookup<object::DeviceMmio>(self(), handle_arg(h), cap::kRightWrite).ok();
    return TRY(m->map(self(), self()->pid(), handle_arg(h), writable));
}

Result<u64> mmio_write(u64 h, u64 offset, u64 width, u64 value) {
    auto m = TRY(kcap::lookup<object::DeviceMmio>(self(), handle_arg(h), cap::kRightWrite));
    if (width > 8) return Status::OutOfBounds;  // before it is narrowed
    TRY(m->write(self(), offset, static_cast<u32>(width), value));
    return 0;
}

Result<u64> mmio_read(u64 h, u64 offset, u64 width, u64 out) {
    auto m = TRY(kcap::lookup<object::DeviceMmio>(self(), handle_arg(h), cap::kRightRead));
    if (width > 8) return Status::OutOfBounds;
    // The output must be writable before the device is read: some reads
    // have effects (virtio's ISR status clears when read), and a read
    // whose value is then lost would be one the caller never saw. One CPU,
    // kernel not preemptible: the mapping cannot change in between.
    u64 value = 0;
    TRY(user::copy_to(out, &value, sizeof value));
    value = TRY(m->read(self(), offset, static_cast<u32>(width)));
    audit::check_copy(&value, sizeof value, "MmioRead");
    TRY(user::copy_to(out, &value, sizeof value));
    return 0;
}

}  // namespace sys
