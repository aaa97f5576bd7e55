#include "mm/paging.h"

#include "arch/x86_64/cpu.h"
#include "console/log.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"

extern "C" char __kernel_text_start[], __kernel_text_end[], __kernel_rodata_start[], __kernel_rodata_end[],
    __kernel_data_start[], __kernel_data_end[];

namespace direct_map {
namespace {
u64 g_limit = 4ull << 30;  // what boot.S maps
}
u64 limit() { return g_limit; }
void set_limit(u64 bytes) { g_limit = bytes; }
}  // namespace direct_map

namespace paging {
namespace {

constexpr u64 kKernelVirtBase = 0xffffffff80000000ull;
constexpr u64 kMmioBase = 0xffffc00000000000ull;
constexpr u64 kMmioLimit = 0xffffc08000000000ull;  // 512 GiB of window space

u64 g_pml4_phys;
u64 g_nx;  // kNoExecute when EFER.NXE is on, else 0
u64 g_mmio_next = kMmioBase;

u64* table(u64 phys) { return direct_map::to_virt<u64>(phys); }

Result<u64> new_table() {
    u64 phys = TRY(frames::alloc());
    u64* t = table(phys);
    for (int i = 0; i < 512; i++) t[i] = 0;
    return phys;
}

// Returns the entry for `virt` at `level` (3 = PDPT entry ... 1 = PT entry),
// creating intermediate tables.
Result<u64*> walk_create(u64 virt, int level) {
    u64 phys = g_pml4_phys;
    for (int l = 4; l > level; l--) {
        u64 idx = (virt >> (12 + 9 * (l - 1))) & 511;
        u64& e = table(phys)[idx];
        if (!(e & kPresent)) e = TRY(new_table()) | kPresent | kWritable;
        if (e & kHuge) return Status::Busy;
        phys = e & kAddressMask;
    }
    return &table(phys)[(virt >> (12 + 9 * (level - 1))) & 511];
}

Result<void> map_4k(u64 virt, u64 phys, u64 flags) {
    u64* e = TRY(walk_create(virt, 1));
    *e = phys | flags | kPresent;
    return {};
}

Result<void> map_2m(u64 virt, u64 phys, u64 flags) {
    u64* e = TRY(walk_create(virt, 2));
    *e = phys | flags | kPresent | kHuge;
    return {};
}

Result<void> map_kernel_section(const char* start, const char* end, u64 flags) {
    u64 s = reinterpret_cast<u64>(start) & ~0xfffull;
    u64 e = (reinterpret_cast<u64>(end) + 0xfff) & ~0xfffull;
    for (u64 v = s; v < e; v += 4096) TRY(map_4k(v, v - kKernelVirtBase, flags | kGlobal));
    return {};
}

}  // namespace

Result<void> init(u64 phys_limit) {
    g_nx = (cpu::rdmsr(cpu::kMsrEfer) & (1 << 11)) ? kNoExecute : 0;
    g_pml4_phys = TRY(new_table());

    constexpr u64 k2M = 2ull << 20;
    u64 limit = phys_limit < (4ull << 30) ? (4ull << 30) : phys_limit;
    limit = (limit + k2M - 1) & ~(k2M - 1);
    for (u64 p = 0; p < limit; p += k2M) TRY(map_2m(direct_map::kBase + p, p, kWritable | kGlobal | g_nx));

    TRY(map_kernel_section(__kernel_text_start, __kernel_text_end, 0));
    TRY(map_kernel_section(__kernel_rodata_start, __kernel_rodata_end, g_nx));
    TRY(map_kernel_section(__kernel_data_start, __kernel_data_end, kWritable | g_nx));

    // Every kernel-half PML4 slot gets its PDPT now, so user address spaces
    // can share the kernel half by copying these 256 entries once and later
    // kernel mappings appear in every address space.
    for (u64 idx = 256; idx < 512; idx++) {
        u64& e = table(g_pml4_phys)[idx];
        if (!(e & kPresent)) e = TRY(new_table()) | kPresent | kWritable;
    }

    cpu::write_cr3(g_pml4_phys);
    direct_map::set_limit(limit);
    LOG_INFO("paging: direct map %llu MiB, kernel text %llu KiB, nx %s", static_cast<unsigned long long>(limit >> 20),
             static_cast<unsigned long long>((__kernel_text_end - __kernel_text_start) >> 10), g_nx ? "on" : "off");
    return {};
}

Result<volatile void*> map_mmio(u64 phys, u64 size) {
    if (size == 0) return Status::InvalidArgument;
    u64 first = phys & ~0xfffull;
    u64 last = (phys + size + 0xfff) & ~0xfffull;
    if (last < first) return Status::OutOfBounds;
    u64 span = last - first;
    if (span > kMmioLimit - g_mmio_next) return Status::NoMemory;
    u64 virt = g_mmio_next;
    g_mmio_next += span + 4096;  // unmapped guard page between windows
    for (u64 off = 0; off < span; off += 4096)
        TRY(map_4k(virt + off, first + off, kWritable | kCacheDisable | kWriteThrough | kGlobal | g_nx));
    return reinterpret_cast<volatile void*>(virt + (phys - first));
}

u64 kernel_root() { return g_pml4_phys; }

Result<void> map_kernel_page(u64 virt, u64 phys, bool writable) {
    return map_4k(virt, phys, (writable ? kWritable : 0) | kGlobal | g_nx);
}

Result<u64> unmap_kernel_page(u64 virt) {
    u64* e = TRY(walk_create(virt, 1));
    if (!(*e & kPresent)) return Status::NotFound;
    u64 phys = *e & kAddressMask;
    *e = 0;
    cpu::invlpg(virt);
    return phys;
}
u64 nx_bit() { return g_nx; }

}  // namespace paging
