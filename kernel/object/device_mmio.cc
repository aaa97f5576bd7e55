#include "object/device_mmio.h"

#include "arch/x86_64/mmio.h"
#include "console/log.h"
#include "dma/session.h"
#include "events/refusals.h"
#include "object/process.h"
#include "virtio/pci_layout.h"

namespace object {

Result<RefPtr<DeviceMmio>> DeviceMmio::create(PciFunction* fn, u8 bar, u64 offset, u64 length, bool filtered) {
    const pci_enum::Function& f = fn->function();
    if (bar >= 6 || bar >= f.header.bar_count) return Status::OutOfBounds;
    const pci::Bar& b = f.bars[bar];
    TRY(devices::check_window(b, bar, f.has_msix ? &f.msix : nullptr, offset, length));
    if (b.address == 0) return Status::Unsupported;  // never assigned by firmware
    // A window made while the function's grant is on the remapped lane
    // belongs to that grant: its relaxed rules (below, write()) end with it,
    // whoever still holds the window.
    kdma::Session* grant = kdma::active_session(fn->index());
    if (grant && (!grant->active() || !grant->remapped())) grant = nullptr;
    if (!filtered && !devices::direct_window_allowed(fn->registers(), bar, offset, length)) {
        // The remapped lane: doorbells (pages without an address register)
        // directly, for the life of the grant.
        if (!grant || !devices::filtered_map_allowed(fn->registers(), bar, offset, length)) return Status::NoRights;
    }
    auto m = RefPtr<DeviceMmio>::adopt(new (std::nothrow) DeviceMmio());
    if (!m) return Status::NoMemory;
    if (grant) m->m_grant = util::RefPtr<kdma::Session>::share(grant);
    m->m_function = DeferredRef<PciFunction>::share(fn);
    m->m_bar = bar;
    m->m_offset = offset;
    m->m_length = length;
    m->m_phys = b.address + offset;
    m->m_filtered = filtered;
    if (filtered) m->m_kernel_view = TRY(PciFunction::kernel_view(fn->index(), bar)) + offset;
    return m;
}

DeviceMmio::~DeviceMmio() {
    // (The kernel view is per function and BAR and stays mapped.)
}

namespace {

bool access_in_window(u64 length, u64 offset, u32 width) {
    return (width == 1 || width == 2 || width == 4 || width == 8) && offset <= length && width <= length - offset &&
           !(offset & (width - 1));
}

}  // namespace

Result<u64> DeviceMmio::map(Process* process, u32 space_id, u32 handle, bool writable) {
    // A mapping cannot filter reads: a filtered window is mappable only when
    // none of its pages holds a register that carries an address.
    if (m_filtered && !devices::filtered_map_allowed(m_function->registers(), m_bar, m_offset, m_length)) {
        const auto& a = m_function->function().address;
        refusals::record(process, abi::RefusalKind::RegisterRead, m_function->index(), Status::NoRights, m_offset,
                         log::Level::Warn,
                         "device: refused to map %02x:%02x.%x bar%u+0x%llx len 0x%llx for pid %u '%s' (filtered window "
                         "over address registers: read them with MmioRead)",
                         a.bus, a.device, a.function, m_bar, static_cast<unsigned long long>(m_offset),
                         static_cast<unsigned long long>(m_length), process->pid(), process->name());
        return Status::NoRights;
    }
    if (m_grant && !m_grant->active()) return Status::TornDown;  // its grant ended: the window with it
    auto phys_of = [](const void* self, u64 i) { return static_cast<const DeviceMmio*>(self)->m_phys + i * 4096; };
    return m_mappings.map(this, process, 0, m_length / 4096, phys_of, this,
                          mm::MapFlags{!m_filtered && writable, false, true}, space_id, handle);
}

Result<u64> DeviceMmio::read(Process* reader, u64 offset, u32 width) {
    if (!access_in_window(m_length, offset, width)) return Status::OutOfBounds;
    u64 bar_offset = m_offset + offset;
    if (!devices::filtered_read_allowed(m_function->registers(), m_bar, bar_offset, width)) {
        const auto& a = m_function->function().address;
        refusals::record(reader, abi::RefusalKind::RegisterRead, m_function->index(), Status::NoRights, bar_offset,
                         log::Level::Warn,
                         "device: refused read of %u bytes at %02x:%02x.%x bar%u+0x%llx by pid %u '%s' (address "
                         "register)",
                         width, a.bus, a.device, a.function, m_bar, static_cast<unsigned long long>(bar_offset),
                         reader->pid(), reader->name());
        return Status::NoRights;
    }
    // A direct window gets the kernel's view of its BAR on its first
    // MmioRead only (a large BAR mapped directly may never need it).
    if (!m_kernel_view) m_kernel_view = TRY(PciFunction::kernel_view(m_function->index(), m_bar)) + m_offset;
    switch (width) {
        case 1: return u64{mmio::read<u8>(m_kernel_view, offset)};
        case 2: return u64{mmio::read<u16>(m_kernel_view, offset)};
        case 4: return u64{mmio::read<u32>(m_kernel_view, offset)};
        default: return mmio::read64_halves(m_kernel_view, offset);
    }
}

Result<void> DeviceMmio::write(Process* writer, u64 offset, u32 width, u64 value) {
    if (!access_in_window(m_length, offset, width)) return Status::OutOfBounds;
    if (!m_filtered) return Status::InvalidArgument;  // direct windows are written through the mapping
    u64 bar_offset = m_offset + offset;
    const auto& a = m_function->function().address;
    // The remapped lane (Model B), while the window's own grant lasts:
    // every address its device is given reaches only its domain, so any
    // register may be written (NVMe AQA/ASQ/ACQ and CC, the doorbells;
    // virtio's queue addresses and status) — the kernel still owns
    // configuration space, the MSI-X table and the teardown reset. Reads of
    // address registers stay refused on both lanes: one may still hold a
    // physical address an earlier brokered grant wrote.
    if (m_grant && m_grant->active()) return write_register(offset, width, value);
    if (!devices::filtered_write_allowed(m_function->registers(), m_bar, bar_offset, width)) {
        refusals::record(
            writer, abi::RefusalKind::RegisterWrite, m_function->index(), Status::NoRights, bar_offset,
            log::Level::Warn,
            "device: refused write of 0x%llx to %02x:%02x.%x bar%u+0x%llx by pid %u '%s' (filtered register)",
            static_cast<unsigned long long>(value), a.bus, a.device, a.function, m_bar,
            static_cast<unsigned long long>(bar_offset), writer->pid(), writer->name());
        return Status::NoRights;
    }
    const devices::RegisterMap& map = m_function->registers();
    if (map.kind == devices::RegisterMap::Kind::Virtio && m_bar == map.bar &&
        bar_offset == map.offset + devices::kVirtioDriverFeature) {
        // The value matters here: which word is being written is in the
        // device's own driver_feature_select.
        auto select_view = PciFunction::kernel_view(m_function->index(), map.bar);
        u32 select = select_view.ok()
                         ? mmio::read<u32>(select_view.value(), map.offset + devices::kVirtioDriverFeatureSelect)
                         : ~0u;
        // Nor may the features change once the device accepted them
        // (FEATURES_OK; virtio 1.1 §3.1.1: only a reset starts over). The
        // broker drives a queue by what it reads back here when the queue
        // is created (EVENT_IDX, INDIRECT_DESC, the net header size;
        // object::VirtQueue::create, which needs FEATURES_OK), and QEMU
        // would read back a later write while going on with the set it
        // accepted. Live queues are checked as well as the bit: the status
        // register is the provider's to write (below: no bit of it may be
        // cleared under live queues, so the bit cannot be dropped and set
        // again around a features write).
        u8 status = select_view.ok() ? mmio::read<u8>(select_view.value(), map.offset + devices::kVirtioDeviceStatus)
                                     : u8{0xff};
        kdma::Session* live = kdma::active_session(m_function->index());
        if ((status & virtio::status::kFeaturesOk) || (live && live->live_virtqueues)) {
            refusals::record(writer, abi::RefusalKind::RegisterWrite, m_function->index(), Status::Busy, bar_offset,
                             log::Level::Warn,
                             "device: refused driver features for %02x:%02x.%x by pid %u '%s': the device accepted its "
                             "features already (reset it to negotiate again)",
                             a.bus, a.device, a.function, writer->pid(), writer->name());
            return Status::Busy;
        }
        if (!select_view.ok() || !devices::virtio_driver_features_allowed(select, static_cast<u32>(value))) {
            refusals::record(writer, abi::RefusalKind::RegisterWrite, m_function->index(), Status::NoRights, bar_offset,
                             log::Level::Warn,
                             "device: refused driver features 0x%llx (word %u) for %02x:%02x.%x by pid %u '%s' (the "
                             "virtqueue broker cannot serve them)",
                             static_cast<unsigned long long>(value), select, a.bus, a.device, a.function, writer->pid(),
                             writer->name());
            return Status::NoRights;
        }
    }
    if (map.kind == devices::RegisterMap::Kind::Virtio && m_bar == map.bar &&
        bar_offset == map.offset + devices::kVirtioDeviceStatus) {
        // Under live queues the status only gains bits (DRIVER_OK, FAILED):
        // a reset (0) makes the device forget queues the broker still
        // describes (and closing one resets the device again, killing what
        // the provider set up since), and clearing FEATURES_OK without a
        // reset would let features change under queues the broker sized
        // for the old ones (virtio 1.1 §3.1.1: only a reset starts over).
        // Queues are the broker's: closing them resets the device.
        kdma::Session* s = kdma::active_session(m_function->index());
        auto view = PciFunction::kernel_view(m_function->index(), map.bar);
        u8 now = view.ok() ? mmio::read<u8>(view.value(), map.offset + devices::kVirtioDeviceStatus) : u8{0xff};
        if (s && s->live_virtqueues && (now & ~static_cast<u8>(value)) != 0) {
            refusals::record(writer, abi::RefusalKind::RegisterWrite, m_function->index(), Status::Busy, bar_offset,
                             log::Level::Warn,
                             "device: refused status 0x%02x (from 0x%02x) for %02x:%02x.%x by pid %u '%s': %u "
                             "virtqueues are live (no bit may be cleared under them; closing them resets the device)",
                             static_cast<u8>(value), now, a.bus, a.device, a.function, writer->pid(), writer->name(),
                             s->live_virtqueues);
            return Status::Busy;
        }
    }
    return write_register(offset, width, value);
}

Result<void> DeviceMmio::write_register(u64 offset, u32 width, u64 value) {
    switch (width) {
        case 1: mmio::write<u8>(m_kernel_view, offset, static_cast<u8>(value)); break;
        case 2: mmio::write<u16>(m_kernel_view, offset, static_cast<u16>(value)); break;
        case 4: mmio::write<u32>(m_kernel_view, offset, static_cast<u32>(value)); break;
        default: mmio::write<u64>(m_kernel_view, offset, value); break;
    }
    return {};
}

u32 unmap_grant_windows(const kdma::Session* session) {
    return MappingList::unmap_where(
        [](const Object* owner, const void* ctx) {
            return owner->type() == Type::DeviceMmio && static_cast<const DeviceMmio*>(owner)->grant() == ctx;
        },
        session);
}

}  // namespace object
