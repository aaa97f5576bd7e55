// What a process finds at startup: RDI points to a read-only StartupBlock
// naming the handles it was given, its arguments and its identity.
#pragma once

#include "util/types.h"

namespace abi {

constexpr u32 kStartupMagic = 0x534c5355;  // "USLS"
constexpr u32 kStartupHandles = 16;
constexpr u32 kHandleNameBytes = 24;
constexpr u32 kArgsBytes = 256;

struct StartupHandle {
    char name[kHandleNameBytes];  // NUL-terminated
    u32 handle;                   // in the new process's space
    // SpawnRequest: for a copied handle, the rights the child gets (a subset
    // of the caller's; 0 = the same). StartupBlock: the rights it has.
    u32 rights;
};

struct StartupBlock {
    u32 magic;
    u32 pid;
    u32 handle_count;
    u32 reserved;
    char name[32];
    char args[kArgsBytes];
    StartupHandle handles[kStartupHandles];
    // The monotonic clock (ClockGet) without a system call: ns =
    // util::tsc_to_ns(rdtsc - tsc_base, tsc_hz) (lib/util/tsc_clock.h), the
    // kernel's own arithmetic. Written by the kernel for every process;
    // tsc_hz = 0: not calibrated, use ClockGet.
    u64 tsc_hz;
    u64 tsc_base;
};
static_assert(sizeof(StartupBlock) <= 4096);

// A spawned process's kernel memory limit when its spawner asks for none
// (SpawnRequest::kernel_memory = 0) — also the manifest's default
// (`kernel_memory`, docs/manifest.md). What the kernel holds for a process
// (image, stack, page tables, capability space, threads, MemoryObjects —
// so its heap —, mappings, kernel objects) is charged against it;
// docs/syscalls.md "Kernel memory".
constexpr u64 kDefaultKernelMemory = u64{16} << 20;

// ProcessSpawn: which module to run and which of the caller's handles the
// child receives (moved, or copied when bit i of copy_mask is set), under
// which names.
struct SpawnRequest {
    char module[32];
    u32 module_len;
    u32 priority;  // 0..31
    u32 handle_count;
    u32 copy_mask;
    StartupHandle handles[kStartupHandles];  // handle = the caller's handle
    char args[kArgsBytes];
    // The child's kernel memory limit in bytes: 0 = kDefaultKernelMemory
    // (or the caller's own limit, if smaller); more than the caller's own
    // limit is QuotaExceeded.
    u64 kernel_memory;
};

// A boot file handed over as a MemoryObject (init's "manifest"): a u64
// byte count, then exactly that many bytes. Everyone who reads it (init,
// devmgr) sees the same text; padding is never mistaken for content.
struct BootFileHeader {
    u64 length;
};
static_assert(sizeof(BootFileHeader) == 8);

// SystemInfo kinds.
enum class SystemInfoKind : u32 {
    Processes = 1,  // out: SystemProcess[]; returns how many were written
    Memory = 2,     // out: SystemMemory; returns 1
    Caps = 3,       // out: SystemCap[] of the process whose pid is the argument
    Log = 4,        // out: the newest bytes of the kernel log; returns how many
    // Test builds of the address audit only (kernel command line
    // `test.addr_audit`; otherwise Unsupported): `out` is *read* — u64
    // words the caller read through a device mapping, at most
    // kAuditWordsMax — and each is checked like a kernel copy-out: a device
    // address panics the kernel. Returns how many were checked.
    AuditWords = 5,
};
constexpr u64 kAuditWordsMax = 512;

struct SystemProcess {
    u32 pid;
    u32 threads;
    u32 live_caps;
    u32 state;  // ExitKind
    u64 frames;
    char name[32];
    // Its kernel memory account: bytes charged now, the limit, the most
    // ever charged, and how many charges the limit refused.
    u64 kmem_used;
    u64 kmem_limit;
    u64 kmem_peak;
    u64 kmem_refused;
};

struct SystemMemory {
    u64 total_frames;
    u64 free_frames;
    u64 used_frames;
    u64 reserved_frames;
    u64 heap_bytes;
    u64 kernel_stacks;
    u64 cap_nodes_used;
    u64 cap_nodes_total;
    u64 dma_quarantined_frames;  // never reused: a device's stop could not be confirmed (DESIGN §5)
};

struct SystemCap {
    u32 handle;
    u32 state;  // 1 live, 2 revoked
    u32 type;
    u32 rights;
    u32 derived;
    u32 children;
};

}  // namespace abi
