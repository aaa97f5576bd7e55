// Kernel symbol lookup for panic backtraces. GRUB's multiboot2 loader
// hands over the kernel's ELF section headers (boot info tag 9) and loads
// the non-allocated sections too, so .symtab/.strtab are in memory.
#pragma once

#include "util/byte_view.h"
#include "util/types.h"

namespace symbols {

// section_headers: the tag's headers; the section addresses they name are
// physical. Returns false (and lookups fail) when no symbol table exists.
bool init(u32 count, u32 entry_size, ByteView section_headers);
// Physical ranges of the symbol and string tables, to keep them out of the
// frame allocator. Empty ranges when absent.
void table_ranges(u64* symtab_base, u64* symtab_len, u64* strtab_base, u64* strtab_len);
// Writes "name+0xoff" (demangled) for addr into out; false if unknown.
bool describe(u64 addr, char* out, usize cap);

}  // namespace symbols
