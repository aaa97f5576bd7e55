#include "elf/elf64.h"

namespace elf {
namespace {

struct Refusal {
    Status status;
    const char* reason;
};

u64 page_down(u64 v) { return v & ~(kPage - 1); }

// Page-granular end, or 0 on overflow.
u64 page_up(u64 v) {
    if (v > ~u64{0} - (kPage - 1)) return 0;
    return (v + kPage - 1) & ~(kPage - 1);
}

Result<ProgramHeader> read_phdr(ByteView file, u64 offset) {
    ProgramHeader p;
    p.type = TRY(file.read_le<u32>(offset));
    p.flags = TRY(file.read_le<u32>(offset + 4));
    p.offset = TRY(file.read_le<u64>(offset + 8));
    p.vaddr = TRY(file.read_le<u64>(offset + 16));
    p.paddr = TRY(file.read_le<u64>(offset + 24));
    p.filesz = TRY(file.read_le<u64>(offset + 32));
    p.memsz = TRY(file.read_le<u64>(offset + 40));
    p.align = TRY(file.read_le<u64>(offset + 48));
    return p;
}

// Returns a refusal, or {Ok, nullptr} when the segment is acceptable.
Refusal check_load(ByteView file, const ProgramHeader& p, const Policy& policy) {
    if (p.filesz > p.memsz) return {Status::Malformed, "segment file size exceeds its memory size"};
    if (!file.contains(p.offset, p.filesz)) return {Status::OutOfBounds, "segment bytes lie outside the file"};
    if (p.memsz == 0) return {Status::Ok, nullptr};
    if (p.vaddr > ~u64{0} - p.memsz) return {Status::OutOfBounds, "segment address range wraps"};
    if (p.vaddr < policy.min_vaddr || p.vaddr + p.memsz > policy.max_vaddr)
        return {Status::OutOfBounds, "segment outside the user address window"};
    if (page_up(p.vaddr + p.memsz) == 0) return {Status::OutOfBounds, "segment address range wraps"};
    if ((p.vaddr % kPage) != (p.offset % kPage))
        return {Status::Malformed, "segment offset and address disagree modulo the page size"};
    if ((p.flags & kPfWrite) && (p.flags & kPfExec)) return {Status::Unsupported, "segment is writable and executable"};
    return {Status::Ok, nullptr};
}

Result<Image> refuse(Refusal r, const char** reason) {
    if (reason) *reason = r.reason;
    return r.status;
}

}  // namespace

Result<Image> parse_executable(ByteView file, const Policy& policy, const char** reason) {
    if (reason) *reason = nullptr;
    if (file.size() < sizeof(FileHeader)) return refuse({Status::Truncated, "shorter than an ELF-64 header"}, reason);
    const u8* id = file.data();
    if (id[0] != 0x7f || id[1] != 'E' || id[2] != 'L' || id[3] != 'F')
        return refuse({Status::Malformed, "not an ELF file"}, reason);
    if (id[4] != 2) return refuse({Status::Unsupported, "not ELF-64"}, reason);
    if (id[5] != 1) return refuse({Status::Unsupported, "not little-endian"}, reason);
    if (id[6] != 1) return refuse({Status::Unsupported, "unknown ELF version"}, reason);
    u16 type = file.read_le<u16>(16).value();
    u16 machine = file.read_le<u16>(18).value();
    u64 entry = file.read_le<u64>(24).value();
    u64 phoff = file.read_le<u64>(32).value();
    u16 phentsize = file.read_le<u16>(54).value();
    u16 phnum = file.read_le<u16>(56).value();
    if (machine != kMachineX86_64) return refuse({Status::Unsupported, "not an x86_64 program"}, reason);
    if (type == kTypeDyn)
        return refuse({Status::Unsupported, "position-independent or shared object (static executables only)"}, reason);
    if (type != kTypeExec) return refuse({Status::Unsupported, "not an executable"}, reason);
    if (phentsize != sizeof(ProgramHeader))
        return refuse({Status::Malformed, "unexpected program header size"}, reason);
    if (phnum == 0) return refuse({Status::Malformed, "no program headers"}, reason);
    if (!file.contains(phoff, u64(phnum) * sizeof(ProgramHeader)))
        return refuse({Status::OutOfBounds, "program headers lie outside the file"}, reason);

    Image image;
    image.entry = entry;
    for (u16 i = 0; i < phnum; i++) {
        auto ph = read_phdr(file, phoff + u64(i) * sizeof(ProgramHeader));
        if (!ph.ok()) return refuse({ph.status(), "program header unreadable"}, reason);
        const ProgramHeader& p = ph.value();
        if (p.type == kPtInterp || p.type == kPtDynamic)
            return refuse({Status::Unsupported, "dynamically linked"}, reason);
        if (p.type == kPtTls) return refuse({Status::Unsupported, "thread-local storage is not supported"}, reason);
        if (p.type != kPtLoad) continue;
        Refusal r = check_load(file, p, policy);
        if (r.status != Status::Ok) return refuse(r, reason);
        if (p.memsz == 0) continue;
        if (image.segment_count == kMaxSegments)
            return refuse({Status::NoMemory, "too many loadable segments"}, reason);
        for (u32 k = 0; k < image.segment_count; k++) {
            const Segment& o = image.segments[k];
            u64 a0 = page_down(p.vaddr), a1 = page_up(p.vaddr + p.memsz);
            u64 b0 = page_down(o.vaddr), b1 = page_up(o.vaddr + o.memsz);
            if (a0 < b1 && b0 < a1) return refuse({Status::Malformed, "segment overlaps another"}, reason);
        }
        image.segments[image.segment_count++] = Segment{p.vaddr,
                                                        p.memsz,
                                                        p.offset,
                                                        p.filesz,
                                                        (p.flags & kPfRead) != 0,
                                                        (p.flags & kPfWrite) != 0,
                                                        (p.flags & kPfExec) != 0};
    }
    if (image.segment_count == 0) return refuse({Status::Malformed, "nothing to load"}, reason);
    bool entry_ok = false;
    for (u32 k = 0; k < image.segment_count; k++) {
        const Segment& s = image.segments[k];
        if (s.exec && entry >= s.vaddr && entry - s.vaddr < s.memsz) entry_ok = true;
    }
    if (!entry_ok) return refuse({Status::Malformed, "entry point outside every executable segment"}, reason);
    return image;
}

}  // namespace elf
