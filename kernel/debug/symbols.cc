#include "debug/symbols.h"

#include "mm/direct_map.h"
#include "util/demangle.h"
#include "util/format.h"

namespace symbols {
namespace {

// ELF-64 Object File Format 1.5, "Sections" and "Symbol Table".
constexpr u32 kShtSymtab = 2;
constexpr usize kShdrSize = 64;
constexpr usize kSymSize = 24;
constexpr u8 kSttFunc = 2;

u64 g_symtab_phys, g_symtab_size, g_strtab_phys, g_strtab_size;

}  // namespace

bool init(u32 count, u32 entry_size, ByteView headers) {
    if (entry_size < kShdrSize) return false;
    for (u32 i = 0; i < count; i++) {
        usize off = usize(i) * entry_size;
        auto type = headers.read_le<u32>(off + 4);
        if (!type.ok() || type.value() != kShtSymtab) continue;
        auto addr = headers.read_le<u64>(off + 16);
        auto size = headers.read_le<u64>(off + 32);
        auto link = headers.read_le<u32>(off + 40);
        if (!addr.ok() || !size.ok() || !link.ok() || link.value() >= count) return false;
        usize str_off = usize(link.value()) * entry_size;
        auto str_addr = headers.read_le<u64>(str_off + 16);
        auto str_size = headers.read_le<u64>(str_off + 32);
        if (!str_addr.ok() || !str_size.ok()) return false;
        g_symtab_phys = addr.value();
        g_symtab_size = size.value();
        g_strtab_phys = str_addr.value();
        g_strtab_size = str_size.value();
        return g_symtab_phys != 0 && g_strtab_phys != 0;
    }
    return false;
}

void table_ranges(u64* symtab_base, u64* symtab_len, u64* strtab_base, u64* strtab_len) {
    *symtab_base = g_symtab_phys;
    *symtab_len = g_symtab_size;
    *strtab_base = g_strtab_phys;
    *strtab_len = g_strtab_size;
}

bool describe(u64 addr, char* out, usize cap) {
    if (!g_symtab_phys || !direct_map::covers(g_symtab_phys, g_symtab_size) ||
        !direct_map::covers(g_strtab_phys, g_strtab_size))
        return false;
    ByteView syms(direct_map::to_virt<const u8>(g_symtab_phys), g_symtab_size);
    ByteView strs(direct_map::to_virt<const u8>(g_strtab_phys), g_strtab_size);
    u64 best_value = 0;
    u32 best_name = 0;
    bool found = false;
    for (usize off = 0; off + kSymSize <= syms.size(); off += kSymSize) {
        u8 info = syms.data()[off + 4];
        if ((info & 0xf) != kSttFunc) continue;
        u64 value = syms.read_le<u64>(off + 8).value_or(0);
        u64 size = syms.read_le<u64>(off + 16).value_or(0);
        if (value > addr || value < best_value) continue;
        if (size && addr >= value + size) continue;
        best_value = value;
        best_name = syms.read_le<u32>(off).value_or(0);
        found = true;
    }
    if (!found || best_name >= strs.size()) return false;
    const char* name = reinterpret_cast<const char*>(strs.data() + best_name);
    usize len = 0;
    while (best_name + len < strs.size() && name[len]) len++;
    char readable[160];
    demangle(name, len, readable, sizeof readable);
    format(out, cap, "%s+0x%llx", readable, static_cast<unsigned long long>(addr - best_value));
    return true;
}

}  // namespace symbols
