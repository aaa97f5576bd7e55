// Multiboot2 boot information parsing (Multiboot2 Specification 2.0 §3.6).
//
// The boot loader leaves a boot information structure in memory and its
// physical address in EBX (§3.3). The kernel wraps it in a ByteView (it does
// not know the size until it has read total_size, so it first views 8 bytes,
// reads total_size, then views that many) and calls parse_multiboot2().
//
// The result does not copy strings or tables: every ByteView in BootInfo
// points into the caller's buffer, so that buffer must outlive the BootInfo
// (in the kernel: keep the boot information region reserved, or copy what
// you need before reusing it). Fixed-size values are copied out.
//
// Nothing in the structure is trusted: lengths are checked against the tag
// that contains them and the tag against total_size, so a hostile or corrupt
// structure yields an error, never an out-of-bounds read. Pure function of
// the bytes; safe from any context, no allocation.
#pragma once

#include "util/byte_view.h"
#include "util/result.h"
#include "util/types.h"

namespace boot {

// Value the boot loader leaves in EAX (§3.3).
inline constexpr u32 kMultiboot2BootloaderMagic = 0x36D76289;

// Tag types (§3.6.3 – §3.6.23).
inline constexpr u32 kTagEnd = 0;
inline constexpr u32 kTagCmdline = 1;
inline constexpr u32 kTagBootloaderName = 2;
inline constexpr u32 kTagModule = 3;
inline constexpr u32 kTagBasicMeminfo = 4;
inline constexpr u32 kTagBootDevice = 5;
inline constexpr u32 kTagMemoryMap = 6;
inline constexpr u32 kTagVbe = 7;
inline constexpr u32 kTagFramebuffer = 8;
inline constexpr u32 kTagElfSections = 9;
inline constexpr u32 kTagApm = 10;
inline constexpr u32 kTagEfi32SystemTable = 11;
inline constexpr u32 kTagEfi64SystemTable = 12;
inline constexpr u32 kTagSmbios = 13;
inline constexpr u32 kTagAcpiOldRsdp = 14;
inline constexpr u32 kTagAcpiNewRsdp = 15;
inline constexpr u32 kTagNetwork = 16;
inline constexpr u32 kTagEfiMemoryMap = 17;
inline constexpr u32 kTagEfiBootServicesNotTerminated = 18;
inline constexpr u32 kTagEfi32ImageHandle = 19;
inline constexpr u32 kTagEfi64ImageHandle = 20;
inline constexpr u32 kTagImageLoadBase = 21;

// Fixed header of the whole structure (§3.6.1).
struct InfoHeader {
    u32 total_size;
    u32 reserved;
};
static_assert(sizeof(InfoHeader) == 8);

// Every tag starts with this and begins on an 8-byte boundary (§3.6.1);
// `size` counts the header but not the padding to the next tag.
struct TagHeader {
    u32 type;
    u32 size;
};
static_assert(sizeof(TagHeader) == 8);
inline constexpr usize kTagAlignment = 8;

// §3.6.3
struct BasicMeminfoTag {
    u32 type;
    u32 size;
    u32 mem_lower;  // KiB
    u32 mem_upper;  // KiB
};
static_assert(sizeof(BasicMeminfoTag) == 16);

// §3.6.6; a NUL-terminated name follows.
struct ModuleTag {
    u32 type;
    u32 size;
    u32 mod_start;
    u32 mod_end;
};
static_assert(sizeof(ModuleTag) == 16);

// §3.6.7. The specification text draws num/entsize/shndx as u16 followed by
// a reserved u16; GRUB (the reference implementation, include/multiboot2.h)
// writes three u32s, and that is what boot loaders produce. We follow GRUB.
struct ElfSectionsTag {
    u32 type;
    u32 size;
    u32 num;
    u32 entsize;
    u32 shndx;
};
static_assert(sizeof(ElfSectionsTag) == 20);

// §3.6.8
struct MemoryMapTag {
    u32 type;
    u32 size;
    u32 entry_size;     // >= 24 and a multiple of 8; later versions may grow it
    u32 entry_version;  // 0; later versions stay backward compatible
};
static_assert(sizeof(MemoryMapTag) == 16);

struct MemoryMapEntryLayout {
    u64 base_addr;
    u64 length;
    u32 type;  // 1 available, 3 ACPI reclaimable, 4 ACPI NVS, 5 bad; else reserved
    u32 reserved;
};
static_assert(sizeof(MemoryMapEntryLayout) == 24);

// §3.6.14
struct Efi64SystemTableTag {
    u32 type;
    u32 size;
    u64 pointer;
};
static_assert(sizeof(Efi64SystemTableTag) == 16);

// §3.6.19; EFI memory descriptors (UEFI 2.x §7.2 GetMemoryMap) follow.
struct EfiMemoryMapTag {
    u32 type;
    u32 size;
    u32 descriptor_size;
    u32 descriptor_version;
};
static_assert(sizeof(EfiMemoryMapTag) == 16);

// §3.6.23
struct ImageLoadBaseTag {
    u32 type;
    u32 size;
    u32 load_base_addr;
};
static_assert(sizeof(ImageLoadBaseTag) == 12);

inline constexpr u32 kMaxModules = 32;
inline constexpr u32 kMaxMmapEntries = 256;
inline constexpr u32 kMinMmapEntrySize = sizeof(MemoryMapEntryLayout);

struct Module {
    u32 start;      // physical address of the first byte
    u32 end;        // physical address one past the last byte (GRUB's convention)
    ByteView name;  // the module's command line, without its NUL
};

struct MemoryMapEntry {
    u64 base;
    u64 length;
    u32 type;  // raw multiboot2 / e820 type; see boot::region_type_from_multiboot2
};

// Everything the kernel uses from the boot information. Absent tags leave
// their fields zero / empty and their has_* flag false.
// Note: about 7 KiB (the memory map array dominates); keep it static or in a
// frame, not on a small boot stack.
struct BootInfo {
    u32 total_size;

    ByteView cmdline;          // tag 1, without NUL; empty when absent
    ByteView bootloader_name;  // tag 2, without NUL; empty when absent

    // Tag 3, in tag order. More than kMaxModules: the first kMaxModules are
    // kept and modules_truncated is set.
    u32 module_count;
    Module modules[kMaxModules];
    bool modules_truncated;

    // Tag 4 (§3.6.3): KiB below 1 MiB and above 1 MiB up to the first hole.
    bool has_basic_meminfo;
    u32 mem_lower_kib;
    u32 mem_upper_kib;

    // Tag 6. More than kMaxMmapEntries: the first kMaxMmapEntries are kept
    // and mmap_truncated is set.
    bool has_mmap;
    u32 mmap_count;
    MemoryMapEntry mmap[kMaxMmapEntries];
    bool mmap_truncated;

    // Tag 9: the kernel image's ELF section header table.
    // elf_sections is exactly elf_num * elf_entsize bytes.
    bool has_elf_sections;
    u32 elf_num;
    u32 elf_entsize;
    u32 elf_shndx;
    ByteView elf_sections;

    // Tag 12.
    bool has_efi64_system_table;
    u64 efi64_system_table;

    // Tag 17. The descriptors are kept raw and not validated here: whoever
    // walks efi_mmap must check efi_mmap_descriptor_size itself.
    bool efi_mmap_present;
    u32 efi_mmap_descriptor_size;
    u32 efi_mmap_descriptor_version;
    ByteView efi_mmap;

    // Tag 18: ExitBootServices() has not been called (§3.6.20).
    bool efi_boot_services_not_terminated;

    // Tags 14 and 15: copies of the RSDP (the tag payload after the 8-byte
    // tag header), unvalidated; the ACPI library checks signature/checksum.
    ByteView rsdp_v1;
    ByteView rsdp_v2;

    // Tag 21: physical load address of a relocatable image.
    bool has_image_load_base;
    u32 image_load_base;
};

// Parses a boot information structure.
//   Truncated  the view is shorter than 8 bytes or than total_size, or the
//              tags run out before an end tag
//   Malformed  total_size < 8; a tag with size < 8 or running past
//              total_size; an end tag whose size is not 8; a known tag too
//              short for its fixed fields; a string (cmdline, loader name,
//              module name) with no NUL inside its tag; a module with
//              end < start; a memory map entry_size below 24 or not a
//              multiple of 8, or entries not filling the tag exactly; ELF
//              sections num * entsize larger than the tag, or shndx >= num
//              (when num > 0); a second copy of a tag that may appear once
// Unknown tag types are skipped. Bytes after the end tag are ignored.
//
// Returns BootInfo by value (about 7 KiB; TRY() adds a copy). For a small
// boot stack use the overload below, which fills caller-provided storage.
[[nodiscard]] Result<BootInfo> parse_multiboot2(ByteView info);

// Same, writing into `out` (e.g. a static BootInfo). `out` is reset first;
// on error its contents are unspecified and must not be used.
[[nodiscard]] Result<void> parse_multiboot2(ByteView info, BootInfo& out);

}  // namespace boot
