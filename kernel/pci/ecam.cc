#include "pci/ecam.h"

#include "console/log.h"
#include "mm/paging.h"

namespace ecam {
namespace {

constexpr u64 kBusBytes = 1ull << 20;  // 32 devices x 8 functions x 4 KiB

struct Region {
    u64 base;
    u16 segment;
    u8 start_bus, end_bus;
    volatile u8* bus_windows[256];  // mapped lazily, one MiB per bus
};

Region g_regions[8];
u32 g_region_count;

Result<volatile u32*> locate(const Address& a, u16 offset) {
    if (offset >= 4096 || (offset & 3) || a.device >= 32 || a.function >= 8) return Status::InvalidArgument;
    for (u32 i = 0; i < g_region_count; i++) {
        Region& r = g_regions[i];
        if (r.segment != a.segment || a.bus < r.start_bus || a.bus > r.end_bus) continue;
        volatile u8*& window = r.bus_windows[a.bus];
        if (!window) {
            u64 phys = r.base + u64(a.bus - r.start_bus) * kBusBytes;
            window = static_cast<volatile u8*>(TRY(paging::map_mmio(phys, kBusBytes)));
        }
        u64 off = (u64(a.device) << 15) | (u64(a.function) << 12) | offset;
        return reinterpret_cast<volatile u32*>(window + off);
    }
    return Status::NotFound;
}

}  // namespace

Result<void> init(const acpi::McfgInfo& mcfg) {
    for (u32 i = 0; i < mcfg.count && g_region_count < 8; i++) {
        const auto& e = mcfg.entries[i];
        Region& r = g_regions[g_region_count++];
        r.base = e.base;
        r.segment = e.segment;
        r.start_bus = e.start_bus;
        r.end_bus = e.end_bus;
        LOG_INFO("pci: ECAM segment %u buses %02x-%02x at 0x%llx", e.segment, e.start_bus, e.end_bus,
                 static_cast<unsigned long long>(e.base));
    }
    return g_region_count ? Result<void>() : Result<void>(Status::NotFound);
}

bool available() { return g_region_count > 0; }
u8 start_bus() { return g_region_count ? g_regions[0].start_bus : 0; }
u8 end_bus() { return g_region_count ? g_regions[0].end_bus : 0; }

Result<u32> read32(const Address& a, u16 offset) {
    u32 v = *TRY(locate(a, offset));
    return v;
}

Result<void> write32(const Address& a, u16 offset, u32 value) {
    *TRY(locate(a, offset)) = value;
    return {};
}

Result<u16> read16(const Address& a, u16 offset) {
    u32 v = TRY(read32(a, offset & ~3));
    return static_cast<u16>(v >> ((offset & 2) * 8));
}

Result<void> write16(const Address& a, u16 offset, u16 value) {
    // Read-modify-write of the containing dword. For the command register
    // (offset 4) the neighbouring status register is RW1C: writing back the
    // bits we read would clear them, so the status half is written as 0.
    u32 v = TRY(read32(a, offset & ~3));
    u32 shift = (offset & 2) * 8;
    v = (v & ~(0xffffu << shift)) | (u32(value) << shift);
    if ((offset & ~3) == 4) v &= 0x0000ffffu | (u32(value) << shift);
    return write32(a, offset & ~3, v);
}

}  // namespace ecam
