#include "boot/multiboot2.h"

#include <stddef.h>

#include <new>
#include <type_traits>

namespace boot {

namespace {

// The bytes of a NUL-terminated string that must end inside `payload`;
// the returned view stops before the first NUL.
Result<ByteView> c_string(ByteView payload) {
    for (usize i = 0; i < payload.size(); i++) {
        if (payload.data()[i] == 0) return payload.sub(0, i);
    }
    return Status::Malformed;
}

// Translates a ByteView bounds failure inside a tag into Malformed: the tag
// header said the tag was big enough, its contents say otherwise.
template <typename T>
Result<T> field(ByteView tag, usize offset) {
    auto r = tag.read_le<T>(offset);
    if (!r.ok()) return Status::Malformed;
    return r.release_value();
}

Result<void> require_size(ByteView tag, usize min) {
    if (tag.size() < min) return Status::Malformed;
    return {};
}

Result<void> parse_module(ByteView tag, BootInfo& out) {
    // The fixed fields plus at least the name's NUL.
    TRY(require_size(tag, sizeof(ModuleTag) + 1));
    Module m{};
    m.start = TRY(field<u32>(tag, offsetof(ModuleTag, mod_start)));
    m.end = TRY(field<u32>(tag, offsetof(ModuleTag, mod_end)));
    if (m.end < m.start) return Status::Malformed;
    m.name = TRY(c_string(TRY(tag.tail(sizeof(ModuleTag)))));
    if (out.module_count == kMaxModules) {
        out.modules_truncated = true;
        return {};
    }
    out.modules[out.module_count++] = m;
    return {};
}

Result<void> parse_memory_map(ByteView tag, BootInfo& out) {
    TRY(require_size(tag, sizeof(MemoryMapTag)));
    const u32 entry_size = TRY(field<u32>(tag, offsetof(MemoryMapTag, entry_size)));
    if (entry_size < kMinMmapEntrySize || entry_size % 8 != 0) return Status::Malformed;
    const ByteView entries = TRY(tag.tail(sizeof(MemoryMapTag)));
    if (entries.size() % entry_size != 0) return Status::Malformed;

    out.has_mmap = true;
    const usize count = entries.size() / entry_size;
    for (usize i = 0; i < count; i++) {
        if (out.mmap_count == kMaxMmapEntries) {
            out.mmap_truncated = true;
            break;
        }
        const usize at = i * entry_size;
        MemoryMapEntry e{};
        e.base = TRY(field<u64>(entries, at + offsetof(MemoryMapEntryLayout, base_addr)));
        e.length = TRY(field<u64>(entries, at + offsetof(MemoryMapEntryLayout, length)));
        e.type = TRY(field<u32>(entries, at + offsetof(MemoryMapEntryLayout, type)));
        out.mmap[out.mmap_count++] = e;
    }
    return {};
}

Result<void> parse_elf_sections(ByteView tag, BootInfo& out) {
    TRY(require_size(tag, sizeof(ElfSectionsTag)));
    out.elf_num = TRY(field<u32>(tag, offsetof(ElfSectionsTag, num)));
    out.elf_entsize = TRY(field<u32>(tag, offsetof(ElfSectionsTag, entsize)));
    out.elf_shndx = TRY(field<u32>(tag, offsetof(ElfSectionsTag, shndx)));
    const ByteView table = TRY(tag.tail(sizeof(ElfSectionsTag)));
    // u32 * u32 fits in u64 without overflow.
    const u64 bytes = u64{out.elf_num} * out.elf_entsize;
    if (bytes > table.size()) return Status::Malformed;
    if (out.elf_num > 0 && out.elf_shndx >= out.elf_num) return Status::Malformed;
    out.elf_sections = TRY(table.sub(0, static_cast<usize>(bytes)));
    out.has_elf_sections = true;
    return {};
}

Result<void> parse_efi_memory_map(ByteView tag, BootInfo& out) {
    TRY(require_size(tag, sizeof(EfiMemoryMapTag)));
    out.efi_mmap_descriptor_size = TRY(field<u32>(tag, offsetof(EfiMemoryMapTag, descriptor_size)));
    out.efi_mmap_descriptor_version = TRY(field<u32>(tag, offsetof(EfiMemoryMapTag, descriptor_version)));
    out.efi_mmap = TRY(tag.tail(sizeof(EfiMemoryMapTag)));
    out.efi_mmap_present = true;
    return {};
}

// Tags that may appear at most once; a second copy is ambiguous (which one
// is right?) so it is refused rather than silently preferring one.
bool is_singleton(u32 type) {
    switch (type) {
        case kTagCmdline:
        case kTagBootloaderName:
        case kTagBasicMeminfo:
        case kTagMemoryMap:
        case kTagElfSections:
        case kTagEfi64SystemTable:
        case kTagAcpiOldRsdp:
        case kTagAcpiNewRsdp:
        case kTagEfiMemoryMap:
        case kTagEfiBootServicesNotTerminated:
        case kTagImageLoadBase: return true;
        default: return false;
    }
}

Result<void> parse_tag(u32 type, ByteView tag, BootInfo& out) {
    switch (type) {
        case kTagCmdline: out.cmdline = TRY(c_string(TRY(tag.tail(sizeof(TagHeader))))); return {};
        case kTagBootloaderName: out.bootloader_name = TRY(c_string(TRY(tag.tail(sizeof(TagHeader))))); return {};
        case kTagModule: return parse_module(tag, out);
        case kTagBasicMeminfo:
            TRY(require_size(tag, sizeof(BasicMeminfoTag)));
            out.mem_lower_kib = TRY(field<u32>(tag, offsetof(BasicMeminfoTag, mem_lower)));
            out.mem_upper_kib = TRY(field<u32>(tag, offsetof(BasicMeminfoTag, mem_upper)));
            out.has_basic_meminfo = true;
            return {};
        case kTagMemoryMap: return parse_memory_map(tag, out);
        case kTagElfSections: return parse_elf_sections(tag, out);
        case kTagEfi64SystemTable:
            TRY(require_size(tag, sizeof(Efi64SystemTableTag)));
            out.efi64_system_table = TRY(field<u64>(tag, offsetof(Efi64SystemTableTag, pointer)));
            out.has_efi64_system_table = true;
            return {};
        case kTagAcpiOldRsdp: out.rsdp_v1 = TRY(tag.tail(sizeof(TagHeader))); return {};
        case kTagAcpiNewRsdp: out.rsdp_v2 = TRY(tag.tail(sizeof(TagHeader))); return {};
        case kTagEfiMemoryMap: return parse_efi_memory_map(tag, out);
        case kTagEfiBootServicesNotTerminated: out.efi_boot_services_not_terminated = true; return {};
        case kTagImageLoadBase:
            TRY(require_size(tag, sizeof(ImageLoadBaseTag)));
            out.image_load_base = TRY(field<u32>(tag, offsetof(ImageLoadBaseTag, load_base_addr)));
            out.has_image_load_base = true;
            return {};
        default:
            // Framebuffer, VBE, APM, SMBIOS, network, boot device, EFI
            // 32-bit tables and image handles, and future types: not used.
            return {};
    }
}

}  // namespace

Result<void> parse_multiboot2(ByteView view, BootInfo& out) {
    // Value-initialize in place (zeroes every field) rather than assigning
    // a 7 KiB temporary, which unoptimized builds put on the stack.
    static_assert(std::is_trivially_destructible_v<BootInfo>);
    new (&out) BootInfo();
    if (view.size() < sizeof(InfoHeader)) return Status::Truncated;
    const u32 total_size = TRY(view.read_le<u32>(offsetof(InfoHeader, total_size)));
    if (total_size < sizeof(InfoHeader)) return Status::Malformed;
    if (total_size > view.size()) return Status::Truncated;
    const ByteView info = TRY(view.sub(0, total_size));

    out.total_size = total_size;
    u32 seen = 0;  // bit per singleton tag type already parsed (all types < 32)

    usize offset = sizeof(InfoHeader);
    while (true) {
        // Ran out of tags without meeting the end tag.
        if (!info.contains(offset, sizeof(TagHeader))) return Status::Truncated;
        const u32 type = TRY(info.read_le<u32>(offset + offsetof(TagHeader, type)));
        const u32 size = TRY(info.read_le<u32>(offset + offsetof(TagHeader, size)));
        if (size < sizeof(TagHeader)) return Status::Malformed;
        if (!info.contains(offset, size)) return Status::Malformed;
        const ByteView tag = TRY(info.sub(offset, size));

        if (type == kTagEnd) {
            if (size != sizeof(TagHeader)) return Status::Malformed;
            return {};
        }
        if (is_singleton(type)) {
            const u32 bit = 1u << type;
            if (seen & bit) return Status::Malformed;
            seen |= bit;
        }
        TRY(parse_tag(type, tag, out));

        // Next tag starts at the next 8-byte boundary (§3.6.1). offset and
        // size are both <= total_size < 2^32, so this cannot overflow usize.
        offset += (static_cast<usize>(size) + kTagAlignment - 1) & ~(kTagAlignment - 1);
    }
}

Result<BootInfo> parse_multiboot2(ByteView view) {
    BootInfo out{};
    TRY(parse_multiboot2(view, out));
    return out;
}

}  // namespace boot
