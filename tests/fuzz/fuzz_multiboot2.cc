// Fuzzes parse_multiboot2 and then feeds what it returns into a MemoryMap
// the way the kernel does at boot (firmware entries, then reservations for
// the modules and the boot information itself). Crashes, sanitizer reports
// and invariant violations (trap) are findings.
#include <stddef.h>
#include <stdint.h>

#include "boot/memory_map.h"
#include "boot/multiboot2.h"

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool inside(ByteView v, const uint8_t* data, size_t size) {
    return v.size() == 0 ||
           (v.data() >= data && v.size() <= size && v.data() - data <= static_cast<ptrdiff_t>(size - v.size()));
}

void check_map(const boot::MemoryMap& map, bool normalized) {
    u64 usable = 0;
    for (u32 i = 0; i < map.count(); i++) {
        const boot::MemoryRange r = map.range(i);
        check(r.length > 0);
        check(r.length <= boot::MemoryMap::kMaxEnd - r.base);
        if (r.type == boot::RegionType::Usable) {
            usable += r.length;
            if (normalized) check(r.base % kPage == 0 && r.length % kPage == 0);
        }
        if (i > 0) {
            const boot::MemoryRange p = map.range(i - 1);
            check(p.end() <= r.base);
            check(p.end() != r.base || p.type != r.type);
        }
    }
    check(usable == map.usable_bytes());
    check(map.count() == 0 || map.highest_address() == map.range(map.count() - 1).end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto r = boot::parse_multiboot2(ByteView(data, size));
    if (!r.ok()) return 0;
    const boot::BootInfo& info = r.value();

    check(info.total_size <= size);
    check(inside(info.cmdline, data, size) && inside(info.bootloader_name, data, size));
    check(inside(info.elf_sections, data, size) && inside(info.efi_mmap, data, size));
    check(inside(info.rsdp_v1, data, size) && inside(info.rsdp_v2, data, size));
    check(info.module_count <= boot::kMaxModules && info.mmap_count <= boot::kMaxMmapEntries);
    check(u64{info.elf_num} * info.elf_entsize == info.elf_sections.size());

    static boot::MemoryMap map;
    map = boot::MemoryMap();
    for (u32 i = 0; i < info.mmap_count; i++) {
        const boot::MemoryMapEntry& e = info.mmap[i];
        const Result<void> added = map.add(e.base, e.length, boot::region_type_from_multiboot2(e.type));
        check(added.ok() || added.status() == Status::Malformed || added.status() == Status::NoMemory);
        check_map(map, false);
    }
    for (u32 i = 0; i < info.module_count; i++) {
        const boot::Module& m = info.modules[i];
        check(inside(m.name, data, size) && m.start <= m.end);
        const Result<void> reserved = map.reserve(m.start, m.end - m.start);
        check(reserved.ok() || reserved.status() == Status::NoMemory);
    }
    (void)map.reserve(0, 0x100000);
    map.normalize();
    check_map(map, true);
    return 0;
}
