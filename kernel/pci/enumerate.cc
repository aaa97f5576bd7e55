#include "pci/enumerate.h"

#include "console/log.h"
#include "devices/virtio_pci.h"
#include "mm/heap.h"
#include "pci/bar.h"
#include "pci/capabilities.h"

namespace pci_enum {
namespace {

constexpr u32 kMaxFunctions = 256;
Function* g_functions;
u32 g_count;
u32 g_bus_count;
u32 g_bus_masters_stopped;
bool g_bus_seen[256];

// Snapshot of one function's config space: lib/pci parses only this copy,
// so a device changing its registers mid-parse cannot confuse the parser.
u8 g_snapshot[4096];

ByteView snapshot(const ecam::Address& a) {
    for (u16 off = 0; off < 4096; off += 4) {
        u32 v = ecam::read32(a, off).value_or(0xffffffff);
        g_snapshot[off] = v & 0xff;
        g_snapshot[off + 1] = (v >> 8) & 0xff;
        g_snapshot[off + 2] = (v >> 16) & 0xff;
        g_snapshot[off + 3] = v >> 24;
    }
    return ByteView(g_snapshot, sizeof g_snapshot);
}

// Sizes BAR `index` (PCI 3.0 §6.2.5.1): decoding is switched off while the
// all-ones pattern is in the register, and every value is restored.
Result<pci::Bar> size_bar(const ecam::Address& a, u32 index, bool* consumed_next) {
    u16 off = pci::bar_offset(index);
    u16 command = TRY(ecam::read16(a, pci::kCommandOffset));
    TRY(ecam::write16(a, pci::kCommandOffset, command & ~(pci::kCommandIoSpace | pci::kCommandMemorySpace)));
    u32 low = TRY(ecam::read32(a, off));
    TRY(ecam::write32(a, off, 0xffffffff));
    u32 sized_low = TRY(ecam::read32(a, off));
    TRY(ecam::write32(a, off, low));
    u32 high = 0, sized_high = 0;
    bool is64 = !(low & 1) && ((low >> 1) & 3) == 2;
    if (is64 && index + 1 < 6) {
        u16 hi_off = pci::bar_offset(index + 1);
        high = TRY(ecam::read32(a, hi_off));
        TRY(ecam::write32(a, hi_off, 0xffffffff));
        sized_high = TRY(ecam::read32(a, hi_off));
        TRY(ecam::write32(a, hi_off, high));
    }
    TRY(ecam::write16(a, pci::kCommandOffset, command));
    *consumed_next = is64;
    return pci::decode_bar(low, high, sized_low, sized_high);
}

void log_function(const Function& f) {
    const auto& h = f.header;
    const auto& a = f.address;
    LOG_INFO("pci %02x:%02x.%x %04x:%04x class %02x.%02x.%02x rev %02x", a.bus, a.device, a.function, h.vendor,
             h.device, h.class_code, h.subclass, h.prog_if, h.revision);
    for (u32 i = 0; i < h.bar_count; i++) {
        const auto& b = f.bars[i];
        if (b.kind == pci::BarKind::None) continue;
        LOG_INFO("pci   bar%u %s%s addr 0x%0*llx size 0x%llx", i, pci::bar_kind_name(b.kind),
                 b.prefetchable ? " pref" : "", b.kind == pci::BarKind::Mem64 ? 16 : 8,
                 static_cast<unsigned long long>(b.address), static_cast<unsigned long long>(b.size));
    }
    if (f.has_msix)
        LOG_INFO("pci   msix vectors %u table bar%u+0x%x pba bar%u+0x%x", f.msix.table_size, f.msix.table_bir,
                 f.msix.table_offset, f.msix.pba_bir, f.msix.pba_offset);
    if (f.has_msi)
        LOG_INFO("pci   msi vectors %u %s%s", f.msi.vectors_capable, f.msi.is_64bit ? "64bit" : "32bit",
                 f.msi.per_vector_masking ? " maskable" : "");
}

void scan_bus(u8 bus);

void scan_function(const ecam::Address& a, const pci::FunctionHeader& header, ByteView cfg) {
    if (g_count >= kMaxFunctions) {
        LOG_WARN("pci: more than %u functions; %02x:%02x.%x ignored", kMaxFunctions, a.bus, a.device, a.function);
        return;
    }
    Function& f = g_functions[g_count++];
    f = Function{};
    f.address = a;
    f.header = header;
    for (u32 i = 0; i < header.bar_count; i++) {
        bool consumed_next = false;
        auto bar = size_bar(a, i, &consumed_next);
        if (!bar.ok()) {
            LOG_WARN("pci %02x:%02x.%x bar%u rejected: %s", a.bus, a.device, a.function, i, status_name(bar.status()));
            continue;
        }
        f.bars[i] = bar.value();
        if (consumed_next) i++;
    }
    auto caps = pci::walk_capabilities(cfg);
    if (!caps.ok()) {
        LOG_WARN("pci %02x:%02x.%x capability list rejected: %s", a.bus, a.device, a.function,
                 status_name(caps.status()));
    } else {
        for (u32 i = 0; i < caps.value().count; i++) {
            const auto& c = caps.value().caps[i];
            if (c.id == pci::kCapMsix) {
                auto m = pci::parse_msix(cfg, c.offset);
                if (m.ok()) f.msix = m.value(), f.has_msix = true;
            } else if (c.id == pci::kCapMsi) {
                auto m = pci::parse_msi(cfg, c.offset);
                if (m.ok()) f.msi = m.value(), f.has_msi = true;
            } else if (c.id == pci::kCapPciExpress) {
                f.is_pcie = true;
            }
        }
    }
    if (header.class_code == 0x01 && header.subclass == 0x08 && header.prog_if == 0x02) {
        f.registers = devices::nvme_register_map(f.bars[0].size);
    } else if (header.vendor == 0x1af4) {
        auto common = devices::find_virtio_common_cfg(cfg);
        if (common.ok())
            f.registers =
                devices::virtio_register_map(common.value().bar, common.value().offset, common.value().length);
        auto notify = devices::find_virtio_notify_cfg(cfg);
        if (notify.ok()) f.virtio_notify = notify.value(), f.has_virtio_notify = true;
        // A capability too short to hold pci_cfg_data has none to refuse.
        auto cfg_data = devices::find_virtio_pci_cfg_data(cfg);
        if (cfg_data.ok()) f.virtio_pci_cfg_data = cfg_data.value();
    }
    // DMA only with a grant: bus mastering off until the kernel turns it on
    // (PCI 3.0 §6.2.2). Bridges keep theirs: it gates what they forward.
    if (header.header_type != pci::kHeaderTypeBridge && (header.command & pci::kCommandBusMaster)) {
        if (ecam::write16(a, pci::kCommandOffset, header.command & ~pci::kCommandBusMaster).ok())
            g_bus_masters_stopped++;
    }
    log_function(f);
    if (header.header_type == pci::kHeaderTypeBridge && header.secondary_bus > a.bus) scan_bus(header.secondary_bus);
}

void scan_bus(u8 bus) {
    if (g_bus_seen[bus] || bus < ecam::start_bus() || bus > ecam::end_bus()) return;
    g_bus_seen[bus] = true;
    g_bus_count++;
    for (u8 dev = 0; dev < 32; dev++) {
        for (u8 fn = 0; fn < 8; fn++) {
            ecam::Address a{0, bus, dev, fn};
            auto vendor = ecam::read16(a, pci::kVendorIdOffset);
            if (!vendor.ok() || vendor.value() == pci::kInvalidVendorId) {
                if (fn == 0) break;
                continue;
            }
            ByteView cfg = snapshot(a);
            auto header = pci::parse_header(cfg);
            if (!header.ok()) {
                LOG_WARN("pci %02x:%02x.%x header rejected: %s", bus, dev, fn, status_name(header.status()));
                if (fn == 0) break;
                continue;
            }
            bool multifunction = header.value().multifunction;
            scan_function(a, header.value(), cfg);
            if (fn == 0 && !multifunction) break;
        }
    }
}

}  // namespace

Result<u32> enumerate() {
    if (!ecam::available()) {
        LOG_ERROR("pci: no ECAM (MCFG) region; PCI enumeration needs PCIe configuration access");
        return Status::Unsupported;
    }
    g_functions = static_cast<Function*>(heap::alloc(sizeof(Function) * kMaxFunctions));
    if (!g_functions) return Status::NoMemory;
    scan_bus(ecam::start_bus());
    LOG_INFO("pci: %u functions on %u buses", g_count, g_bus_count);
    LOG_INFO("pci: bus mastering switched off on %u functions (the kernel enables it only with a DMA grant)",
             g_bus_masters_stopped);
    return g_count;
}

u32 count() { return g_count; }
const Function& function(u32 index) { return g_functions[index]; }

}  // namespace pci_enum
