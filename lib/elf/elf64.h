// Validation of user program images (ELF-64, x86_64, static executables)
// before the kernel maps a single byte of them. The kernel refuses an image
// with the reason this returns; it never maps "what it can" of a bad one.
// Layouts: System V ABI, "ELF-64 Object File Format" v1.5 §§3-4 and the
// x86-64 psABI.
#pragma once

#include "util/byte_view.h"
#include "util/page.h"
#include "util/result.h"
#include "util/types.h"

namespace elf {

struct [[gnu::packed]] FileHeader {
    u8 ident[16];
    u16 type;
    u16 machine;
    u32 version;
    u64 entry;
    u64 phoff;
    u64 shoff;
    u32 flags;
    u16 ehsize;
    u16 phentsize;
    u16 phnum;
    u16 shentsize;
    u16 shnum;
    u16 shstrndx;
};
static_assert(sizeof(FileHeader) == 64);

struct [[gnu::packed]] ProgramHeader {
    u32 type;
    u32 flags;
    u64 offset;
    u64 vaddr;
    u64 paddr;
    u64 filesz;
    u64 memsz;
    u64 align;
};
static_assert(sizeof(ProgramHeader) == 56);

inline constexpr u16 kTypeExec = 2;
inline constexpr u16 kTypeDyn = 3;
inline constexpr u16 kMachineX86_64 = 62;
inline constexpr u32 kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3, kPtTls = 7;
inline constexpr u32 kPfExec = 1, kPfWrite = 2, kPfRead = 4;

struct Segment {
    u64 vaddr;
    u64 memsz;
    u64 file_offset;
    u64 filesz;
    bool read, write, exec;
};

inline constexpr u32 kMaxSegments = 16;

struct Image {
    u64 entry = 0;
    u32 segment_count = 0;
    Segment segments[kMaxSegments] = {};
};

// Where user images may live: [min_vaddr, max_vaddr). The kernel passes its
// user address-space bounds (the lower canonical half minus guard areas).
struct Policy {
    u64 min_vaddr;
    u64 max_vaddr;
};

// Validates `file` and describes its loadable segments. On error `*reason`
// (if non-null) names the first problem in words, e.g. "segment overlaps
// another". Refused: not ELF-64 LE x86_64 version 1; not a static
// executable (ET_DYN, PT_INTERP, PT_DYNAMIC, PT_TLS); program headers
// outside the file; a segment whose file bytes leave the file, whose
// filesz exceeds memsz, whose address range wraps or leaves the policy
// window, whose offset and address disagree modulo the page size, that is
// both writable and executable, or that shares a page with another; more
// than kMaxSegments loads; no loads; an entry point outside every
// executable segment.
Result<Image> parse_executable(ByteView file, const Policy& policy, const char** reason);

}  // namespace elf
