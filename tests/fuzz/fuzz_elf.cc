// Arbitrary bytes into the ELF validator: it must never read outside the
// input (ASan), and whatever it accepts must satisfy its documented rules.
#include <stddef.h>
#include <stdint.h>

#include <cstdlib>

#include "elf/elf64.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    constexpr elf::Policy policy{0x400000, 0x0000800000000000ull};
    const char* reason = nullptr;
    auto r = elf::parse_executable(ByteView(data, size), policy, &reason);
    if (!r.ok()) {
        if (!reason) std::abort();  // every refusal names its reason
        return 0;
    }
    const elf::Image& img = r.value();
    bool entry_in_exec = false;
    for (u32 i = 0; i < img.segment_count; i++) {
        const elf::Segment& s = img.segments[i];
        if (s.write && s.exec) std::abort();
        if (s.vaddr < policy.min_vaddr || s.vaddr + s.memsz > policy.max_vaddr) std::abort();
        if (s.filesz > s.memsz || s.file_offset + s.filesz > size) std::abort();
        if (s.exec && img.entry >= s.vaddr && img.entry < s.vaddr + s.memsz) entry_in_exec = true;
    }
    if (!entry_in_exec) std::abort();
    return 0;
}
