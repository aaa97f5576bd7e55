// syscall_fuzz: random system calls against the kernel (DESIGN §2: "Every
// syscall validates every argument ... no user input panics the kernel").
//
// As init (no args) it is the supervisor: it runs a short warm-up worker,
// measures the kernel's memory, runs the real worker — this same program
// started with args "worker seed=... calls=..." — and checks afterwards that
// no process is left, that the worker's death gave back what it used (heap
// bytes, kernel stacks and capability nodes exactly; free frames within
// kFrameSlack) and that notifications, wait sets, endpoints, memory objects
// and spawning still work. If a worker hangs or dies, init prints its flight
// recorder: the last 16 calls with their arguments and results.
//
// The worker makes kCalls calls from a fixed seed (xorshift64*): every
// defined call (ProcessExit and ThreadExit only from threads that may end),
// with arguments drawn from pools — handles (its live capabilities of every
// type, revoked, closed and moved ones, mutated and forged values, 0, ~0,
// garbage in the upper 32 bits), pointers (scratch pages, a read-only page,
// its code and startup block, unmapped user pages, the page-crossing edge
// before a guard page, kernel, non-canonical and near-limit addresses,
// misaligned ones, memory it mapped), lengths (0, small, page-crossing,
// huge, ~0), rights, badges, signal masks, keys, sizes, fixed map addresses,
// PCI addresses, BARs, windows and registers — plus calls with raw random
// arguments and random undefined call numbers. Real counterparts make the
// valid paths run too:
//  - fuzz_peer's echo server answers EndpointCalls with differently shaped
//    replies (handles moved back, a bad handle, a refused reply first);
//  - ProcessSpawn starts short-lived fuzz_peer children with random grants,
//    some of which call one of the worker's endpoints, so EndpointReceive
//    and EndpointReply meet real callers;
//  - ThreadCreate starts stub threads that block (at most 2 ms) on the
//    notification, endpoint or wait set named by their argument while the
//    main thread closes, revokes and signals things;
//  - DeviceList/DeviceOpen learn the real PCI functions, so MmioCreate,
//    MmioMap, MmioWrite and MmioRead reach real BARs and NVMe's filtered
//    registers (MmioRead also the address registers it must refuse);
//  - DmaPoolCreate and InterruptCreate name those functions too (the NVMe
//    controller often; MSI-X entries in and out of range), DmaBufferCreate
//    draws from the pools it made, MemoryMap maps the buffers and WaitSetAdd
//    takes the interrupts; NvmeQueueCreate builds admin queues on NVMe pools
//    and NvmeSubmit sends them batches that mix what the broker allows
//    (Identify into 4 KiB of a buffer of the queue's pool, Get Features
//    Number of Queues, Get Log Page, features with data) with what it must
//    refuse (queue creation, vendor opcodes, broker-owned features, foreign
//    or missing buffers, wrong lengths and offsets, command ids in use or
//    out of range, garbage), and NvmeComplete and NvmeQueueMap consume and
//    show the completions. The upkeep often rebuilds a working NVMe chain
//    (function, pool, admin queue, buffer) that the fuzzing then closes and
//    revokes links of, so grants end with buffers, queues and interrupts
//    alive and the calls meet torn-down objects too;
//  - VirtQueueCreate builds virtqueues on the pools of virtio functions
//    (virtio-blk queue 0, virtio-net queues 0..2; indexes the device lacks
//    or that alias nothing, sizes that are no power of two or too big, MSI-X
//    entries in and out of range) and VirtQueueSubmit sends them batches of
//    chains that mix what the broker accepts (for virtio-blk a read request:
//    a 16-byte header the device reads, 512 bytes and a status byte it
//    writes; for virtio-net receive and transmit buffers) with what it must
//    refuse (a buffer of another pool or no buffer, out of bounds, 0 or
//    more segments than the queue takes, flags other than "device writes",
//    empty or 4 GiB segments, more descriptors than are free, segment
//    counts that do not add up, garbage and read-only arrays);
//    VirtQueueComplete and VirtQueueMap take the checked used entries and
//    show the used ring. The upkeep often brings a virtio device up the way a driver does
//    (device_status ACKNOWLEDGE, DRIVER, VERSION_1, FEATURES_OK, the queues,
//    DRIVER_OK through a filtered window on its common configuration), so
//    submitted requests really complete.
// Two phases exhaust a resource while the fuzzing goes on: all free memory
// (memory objects hog every frame) and the worker's capability space.
// At the end the main thread leaves with ThreadExit before its last thread.
//
// What the worker never does, so that it cannot hang or kill itself:
//  - ProcessExit or ThreadExit on its main thread (until the very end); it
//    holds no handle to itself, and ProcessKillPid never names itself,
//    init or the echo server;
//  - blocking calls (Sleep, EndpointReceive, NotificationWait, WaitSetWait,
//    ConsoleRead) get timeouts of at most 2 ms, never kForever;
//  - EndpointCall with a readable, valid message goes only to the echo
//    server, and only after ProcessInfo says the server is running; every
//    other EndpointCall gets a message that can never be read (an address
//    nothing can map) or is invalid, so it fails before it could block;
//  - ThreadCreate with a user entry point other than the stubs;
//  - the kernel never gets a pointer into the worker's writable data or
//    stack: writable targets are scratch pages (an unmapped guard page after
//    them) and memory objects it mapped itself; fixed map addresses keep off
//    the stack's neighbourhood;
//  - its own working capabilities (log, resource, console, devices, scratch
//    and recorder memory, the echo server's endpoint and process) are never
//    passed as arguments; the pool holds duplicates instead;
//  - LogWrite and ConsoleWrite print only printable text (and the console
//    at most 256 bytes of it).
// Every 32 calls it re-reads its capability space (SystemInfo Caps) so its
// pools know what is really there (handles arrive in replies, from callers
// and from calls that failed half-way), keeps one capability of each type,
// and closes or kills what exceeds a cap so it does not just hit quotas.
#include <stdarg.h>

#include "abi/device.h"
#include "abi/virtio.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/spawn.h"
#include "rt/sys.h"
#include "util/format.h"
#include "util/page.h"

#ifndef SYSCALL_FUZZ_SEED
#define SYSCALL_FUZZ_SEED 0x5eed0f00d5a1c0deull
#endif
// MmioWrite also tries queue_size (common configuration 0x18) while a queue
// is enabled. The filter refuses it now; it once allowed it, and QEMU
// applied the new size to the live queue: the device took stale
// available-ring slots naming descriptors of freed buffers, and DMA landed
// in frames the kernel had handed out again.
#ifndef SYSCALL_FUZZ_VIRTIO_QUEUE_SIZE
#define SYSCALL_FUZZ_VIRTIO_QUEUE_SIZE 1
#endif
// Log every call from this iteration on (reproducing a finding).
#ifndef SYSCALL_FUZZ_TRACE_FROM
#define SYSCALL_FUZZ_TRACE_FROM 0xffffffffffffffffull
#endif

namespace {

using S = abi::Syscall;

constexpr u64 kSeed = SYSCALL_FUZZ_SEED;
constexpr u64 kCalls = 100'000;
constexpr u64 kWarmupCalls = 3'000;
constexpr u64 kFrameSlack = 32;  // see supervise()
#ifndef SYSCALL_FUZZ_WORKER_TIMEOUT_S
#define SYSCALL_FUZZ_WORKER_TIMEOUT_S 150
#endif
constexpr u64 kWorkerTimeoutNs = SYSCALL_FUZZ_WORKER_TIMEOUT_S * 1'000'000'000ull;
constexpr char kServeArgs[] = "serve:7f3a";  // fuzz_peer's server mode

// --- the worker's address space ------------------------------------------
constexpr u64 kUserLimit = 0x0000800000000000ull;
constexpr u64 kStackTop = 0x00007ffffff00000ull;  // proc/lifecycle.h; the startup block is mapped here
// A window nothing is ever mapped into except what the worker puts there on
// purpose, so its unused addresses always fault.
constexpr u64 kQuietBase = 0x0000500000000000ull;
constexpr u64 kQuietEnd = 0x0000500100000000ull;
constexpr u64 kScratch = kQuietBase;  // RW, kScratchBytes, then an unmapped guard page
constexpr u64 kScratchBytes = 2 * kPage;
constexpr u64 kReadOnly = kQuietBase + 0x10000;    // 1 page mapped read-only
constexpr u64 kReadOnlyRw = kQuietBase + 0x20000;  // the same page, writable (to fill it)
constexpr u64 kRecorder = kQuietBase + 0x30000;    // the flight recorder shared with init
constexpr u64 kChainsRo = kQuietBase + 0x40000;    // 1 page mapped read-only: virtqueue chains the kernel
constexpr u64 kChainsRw = kQuietBase + 0x50000;    // can read but not write back (the same page, writable)
constexpr u64 kUnmapped = kQuietBase + 0x80000000ull;
// The program image (text, rodata, data, bss) lies in [kImageBase, kImageEnd).
constexpr u64 kImageBase = 0x400000;
constexpr u64 kImageEnd = 0x400000 + (64ull << 20);
constexpr u64 kStackWindow = kStackTop - (1ull << 30);  // fixed maps keep off the stack's neighbourhood

// --- random numbers --------------------------------------------------------
u64 g_state;

u64 splitmix64(u64& x) {
    u64 z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void seed(u64 s) {
    g_state = splitmix64(s);
    if (!g_state) g_state = 1;
}

u64 rnd() {  // xorshift64*
    g_state ^= g_state >> 12;
    g_state ^= g_state << 25;
    g_state ^= g_state >> 27;
    return g_state * 0x2545f4914f6cdd1dull;
}

u64 below(u64 n) { return n ? rnd() % n : 0; }
bool chance(u64 percent) { return below(100) < percent; }

template <typename T, usize N>
const T& pick(const T (&a)[N]) {
    return a[below(N)];
}

// --- the flight recorder: what the worker is doing, readable by init if
// the worker hangs or dies.
struct Recorded {
    u64 iteration;
    u64 number;
    u64 args[6];
    i64 result;
};
constexpr u32 kRecorded = 16;
struct Recorder {
    u64 magic;
    u64 calls;  // how many were made (the last kRecorded are in `last`)
    u64 done;
    Recorded last[kRecorded];
};
static_assert(sizeof(Recorder) <= 4096);
constexpr u64 kRecorderMagic = 0x7265636f72646572ull;

// --- status accounting -------------------------------------------------------
constexpr u32 kStatusCount = static_cast<u32>(kLastStatus) + 1;
constexpr u32 kSyscalls = static_cast<u32>(S::Count);

struct Counts {
    u64 by_status[kStatusCount + 1];  // [0] ok, [s] -s, [kStatusCount] anything else
    u64 calls[kSyscalls + 1];         // [kSyscalls]: undefined numbers
    u64 ok[kSyscalls + 1];
    u64 by_call_status[kSyscalls + 1][kStatusCount + 1];  // as by_status, per call
};
Counts g_counts;

void count(u64 number, i64 r) {
    u32 n = number < kSyscalls ? static_cast<u32>(number) : kSyscalls;
    g_counts.calls[n]++;
    g_counts.by_call_status[n][r >= 0 ? 0 : -r < kStatusCount ? -r : kStatusCount]++;
    if (r >= 0) {
        g_counts.by_status[0]++;
        g_counts.ok[n]++;
    } else if (-r < kStatusCount) {
        g_counts.by_status[-r]++;
    } else {
        g_counts.by_status[kStatusCount]++;
    }
}

// --- handle pools ------------------------------------------------------------
// Types as object::Type numbers them (SystemCap.type).
enum : u16 {
    kProcess = 1,
    kEndpoint = 3,
    kNotification = 4,
    kMemory = 5,
    kWaitSet = 6,
    kLog = 7,
    kResource = 8,
    kConsole = 9,
    kDeviceRoot = 10,
    kPciFunction = 11,
    kDeviceMmio = 12,
    kDmaPool = 13,
    kDmaBuffer = 14,
    kInterrupt = 15,
    kNvmeQueue = 16,
    kVirtQueue = 17,
};
constexpr u32 kTypes = 18;

constexpr u32 kPoolMax = 256;
constexpr u32 kPoolHigh = 160;  // above this, maintenance closes handles down to kPoolLow
constexpr u32 kPoolLow = 110;
constexpr u32 kMaxChildren = 5;

struct Cap {
    u32 handle;
    u16 type;
    u8 revoked;
};
Cap g_pool[kPoolMax];
u32 g_pool_count;

u32 g_dead[64];  // closed / moved handle values (Stale)
u32 g_dead_count, g_dead_next;

struct Map {
    u64 vaddr;
    u32 handle;  // the capability it was made through
};
Map g_maps[64];  // what the worker's MemoryMaps returned (may be unmapped by now)
u32 g_map_count, g_map_next;

u32 g_served[32];  // endpoint handles known to name the echo server's endpoint
u32 g_served_count;

// The worker's own working capabilities: never passed to the kernel by the
// fuzzing itself.
u32 g_protected[16];
u32 g_protected_count;

u32 g_log, g_resource, g_console, g_devices, g_server_ep, g_server_proc, g_scratch_mem, g_ro_mem, g_chains_mem;
// The PCI functions DeviceList reported, and what the worker's device
// capabilities name (so MmioCreate and MmioWrite can be aimed at real BARs
// and windows, not only rejected).
abi::DeviceInfo g_devs[32];
u32 g_dev_count;
struct PciCap {
    u32 handle;
    u32 dev;
};
PciCap g_pci[16];
u32 g_pci_next;
struct MmioCap {
    u32 handle;
    u64 length;
    i64 common;  // a virtio function's common configuration at this offset in the window; -1: none
};
MmioCap g_mmio[16];
u32 g_mmio_next;
// DMA pools, buffers, interrupts and NVMe queues the worker made, with what
// they belong to (so buffers come from live pools and NvmeSubmit can name a
// buffer of the queue's own pool — or deliberately another one).
struct DmaPoolCap {
    u32 handle;
    u32 dev;  // index into g_devs, ~0u if unknown
};
DmaPoolCap g_dma_pools[8];
u32 g_dma_pool_next;
struct DmaBufCap {
    u32 handle;
    u32 pool;  // the pool handle it was created through
    u64 bytes;
};
DmaBufCap g_dma_bufs[16];
u32 g_dma_buf_next;
struct QueueCap {
    u32 handle;
    u32 pool;
    u32 entries;
    u32 next_cid;  // command ids are handed out round-robin
};
QueueCap g_queues[4];
u32 g_queue_next;
u32 g_irqs[8];
u32 g_irq_next;
// Virtqueues the worker made, with their pool, function and geometry (so
// VirtQueueSubmit can build chains that fit the queue and its device).
struct VirtQueueCap {
    u32 handle;
    u32 pool;
    u32 dev;  // index into g_devs, ~0u if unknown
    u16 index;
    u16 size;
    u16 max_segments;  // as asked at VirtQueueCreate
};
VirtQueueCap g_vqs[6];
u32 g_vq_next;
// Where each virtio function's common configuration is (virtio 1.1
// §4.1.4.3, found through its vendor capabilities), and the filtered
// windows over it that the upkeep writes device_status and features through.
struct VirtioCfg {
    u8 state;  // 0 not looked up yet, 1 found, 2 the function has none
    u8 bar;
    u32 offset;
};
VirtioCfg g_vcfg[32];
struct VirtioWindow {
    u32 handle;
    u32 dev;
    u64 common;  // offset of the common configuration in the window
};
VirtioWindow g_vwins[4];
u32 g_vwin_next;
u32 g_called[8];  // endpoints handed to "call" children: a caller may be waiting there
u32 g_called_next;
u32 g_child_pids[16];  // pids of children the worker spawned
u32 g_child_pid_count, g_child_pid_next;
u32 g_pid, g_server_pid;
bool g_server_alive;
u64 g_untracked_found;  // handles the resync found that no call result told us about
u64 g_maintenance_calls;
bool g_purge;
// What mapped DMA buffers and completion queues showed, and what
// InterruptAck reported.
u64 g_dma_maps, g_dma_nonzero, g_map_cq, g_cq_phases, g_irq_deliveries;
// The virtqueue broker: chains accepted, used entries consumed, used-ring
// maps (and how many showed a used index past 0), devices brought up, heads
// written back that are not descriptor ids of the queue, and queues made
// for an index the device does not have.
u64 g_vq_chains, g_vq_consumed, g_vq_maps, g_vq_used_seen, g_vq_bringups, g_vq_bad_heads, g_vq_phantoms;

// Capabilities held only to exhaust a resource (the out-of-memory and
// full-space phases), by slot: the fuzzing never touches them.
u32 g_hog_by_slot[4096];
u32 g_hog_count;

bool is_hog(u32 h) {
    u32 slot = h & 0xfff;
    return g_hog_count && slot && g_hog_by_slot[slot] == h;
}

bool is_protected(u64 v) {
    u32 h = static_cast<u32>(v);
    for (u32 i = 0; i < g_protected_count; i++)
        if (g_protected[i] == h) return true;
    return is_hog(h);
}

void protect(u32 h) {
    if (h && g_protected_count < 16) g_protected[g_protected_count++] = h;
}

void add_dead(u32 h) {
    g_dead[g_dead_next] = h;
    g_dead_next = (g_dead_next + 1) % 64;
    if (g_dead_count < 64) g_dead_count++;
}

void add_map(u64 vaddr, u32 handle) {
    g_maps[g_map_next] = Map{vaddr, handle};
    g_map_next = (g_map_next + 1) % 64;
    if (g_map_count < 64) g_map_count++;
}

bool is_served(u32 h) {
    if (h == g_server_ep) return true;
    for (u32 i = 0; i < g_served_count; i++)
        if (g_served[i] == h) return true;
    return false;
}

void add_served(u32 h) {
    if (g_served_count < 32) g_served[g_served_count++] = h;
}

// A handle value that the kernel may or may not accept.
u64 any_handle_value() {
    switch (below(10)) {
        case 0: return 0;
        case 1: return 0xffffffffu;
        case 2: return pick({0xfffu, 0x1000u, 0x1001u, 0xfffff000u, 0x00000fffu, 0x7777777u, 0x80001001u});
        case 3: return static_cast<u32>(rnd());
        case 4: return rnd();
        default: return ((1 + below(4)) << 12) | (1 + below(300));  // forged: small generation, plausible slot
    }
}

u64 pool_handle(u16 want) {
    if (!g_pool_count) return any_handle_value();
    if (want && chance(70)) {
        u32 start = static_cast<u32>(below(g_pool_count));
        for (u32 k = 0; k < g_pool_count; k++) {
            const Cap& c = g_pool[(start + k) % g_pool_count];
            if (c.type == want) return c.handle;
        }
    }
    return g_pool[below(g_pool_count)].handle;
}

// A capability of `type` from the pool, else any handle argument.
u64 typed_pool_handle(u16 type);

u64 filtered(u64 v) {
    if (!is_protected(v)) return v;
    return g_dead_count ? g_dead[0] : 0;
}

// A handle argument: usually one of the worker's capabilities (of the type
// the call wants, 70%), else closed, mutated, forged or garbage values.
u64 handle_arg(u16 want) {
    u64 r = below(100);
    u64 v;
    if (r < 62) {
        v = pool_handle(want);
    } else if (r < 72) {
        v = g_dead_count ? g_dead[below(g_dead_count)] : any_handle_value();
    } else if (r < 84) {
        u64 base = pool_handle(want);
        switch (below(5)) {
            case 0: v = base ^ (1u << below(12)); break;                    // another slot
            case 1: v = base + 0x1000; break;                               // next generation
            case 2: v = base - 0x1000; break;                               // previous generation
            case 3: v = base | (rnd() << 32); break;                        // garbage upper half
            default: v = (base & 0xfffu) | (below(1u << 20) << 12); break;  // random generation
        }
    } else {
        v = any_handle_value();
    }
    return filtered(v);
}

u64 typed_pool_handle(u16 type) {
    u32 start = static_cast<u32>(below(g_pool_count ? g_pool_count : 1));
    for (u32 k = 0; k < g_pool_count; k++) {
        const Cap& c = g_pool[(start + k) % g_pool_count];
        if (c.type == type && !c.revoked) return c.handle;
    }
    return handle_arg(type);
}

// --- pointers and lengths ----------------------------------------------------
constexpr u64 kKernelAddresses[] = {
    0xffffffff80000000ull, 0xffffffff80200000ull, 0xffffffff80201000ull, 0xffff800000000000ull,
    0xffff800000001000ull, 0xffff800000100000ull, 0xffff8000000b8000ull, 0xfffffffffffff000ull,
    0xffffffffffffffffull, 0xffffffffffffff00ull, 0xffffff8000000000ull, 0xffffffff80000000ull - 8,
};
constexpr u64 kEdgeAddresses[] = {
    kUserLimit,         kUserLimit - 8,     kUserLimit - 1,      kUserLimit - 0x1000, kUserLimit - 0x68,
    0x00007fffffffff00, 0x8000000000000000, 0xffff7fffffffffff,  0x0000800000001000,  0x7fffffffffffffff,
    0x1234567812345678, kStackTop + 0x1000, kStackTop + 0x10000,
};
constexpr u64 kUnmappedAddresses[] = {
    0,
    1,
    8,
    0xfff,
    0x1000,
    0x2000,
    0x3ff000,
    kScratch + kScratchBytes,
    kScratch + kScratchBytes + 0x800,
    kUnmapped,
    kUnmapped + 0x1008,
    kQuietEnd - 0x1000,
    kStackTop - 17 * kPage,
    kStackTop - 17 * kPage + 0xff8,
};

bool pointer_ok_for_kernel_writes(u64 p) {
    // Never the worker's own writable memory (data, bss, stack).
    if (p >= kImageBase && p < kImageEnd) return false;
    if (p >= kStackWindow && p < kStackTop) return false;
    return true;
}

// Somewhere in the scratch pages; sometimes so close to the end that `len`
// bytes run into the guard page.
u64 scratch_ptr(u64 len) {
    switch (below(4)) {
        case 0: return kScratch + below(kScratchBytes);
        case 1: {
            u64 tail = len && len < kScratchBytes ? len : 64;
            return kScratch + kScratchBytes - 1 - below(tail);
        }
        default: return kScratch + (below(kScratchBytes / 8) * 8) % (kScratchBytes - 512);
    }
}

u64 pointer_arg(u64 len) {
    u64 r = below(100);
    if (r < 38) return scratch_ptr(len);
    if (r < 46 && g_map_count) {
        u64 p = g_maps[below(g_map_count)].vaddr + (chance(50) ? 0 : below(kPage));
        return pointer_ok_for_kernel_writes(p) ? p : kUnmapped;
    }
    if (r < 51) return kReadOnly + below(kPage);
    if (r < 55) return chance(50) ? kImageBase + below(kPage) : kStackTop + below(kPage);  // text / startup block
    if (r < 68) return pick(kKernelAddresses) + (chance(80) ? 0 : below(kPage));
    if (r < 80) return pick(kEdgeAddresses);
    if (r < 92) return pick(kUnmappedAddresses);
    if (r < 96) return rnd();
    u64 p = (rnd() % kUserLimit) & ~7ull;
    return pointer_ok_for_kernel_writes(p) ? p : kUnmapped;
}

u64 length_arg() {
    static constexpr u64 kLengths[] = {
        0,
        1,
        2,
        7,
        8,
        15,
        16,
        63,
        64,
        65,
        103,
        104,
        105,
        255,
        256,
        257,
        4095,
        4096,
        4097,
        8191,
        8192,
        8193,
        1u << 20,
        1ull << 31,
        1ull << 32,
        1ull << 47,
        kUserLimit - 1,
        ~0ull,
        ~0ull - 4095,
        ~0ull >> 1,
        0x8000000000000000ull,
    };
    if (chance(80)) return pick(kLengths);
    return chance(50) ? below(20000) : rnd();
}

// Short timeouts only: 0 (poll) mostly, never anything that could block
// for long.
u64 timeout_arg() {
    u64 r = below(100);
    if (r < 80) return 0;
    if (r < 88) return 1;
    if (r < 95) return 1000;
    if (r < 99) return 50'000;
    return 2'000'000;
}

u64 rights_arg() {
    switch (below(8)) {
        case 0: return cap::kSameRights;
        case 1: return rnd() & cap::kRightsAll;
        case 2: return 0;
        case 3: return cap::kRightsAll;
        case 4: return cap::kSameRights | (1u << below(13));
        case 5: return static_cast<u32>(rnd());
        case 6: return rnd();
        default:
            return pick({cap_rights::kCall, cap_rights::kCall | cap_rights::kDuplicate | cap_rights::kTransfer,
                         cap_rights::kWait, cap_rights::kSignal, cap_rights::kMap | cap_rights::kRead,
                         cap_rights::kRead | cap_rights::kWrite | cap_rights::kMap, cap_rights::kInspect,
                         cap_rights::kManage, cap_rights::kTransfer, cap_rights::kDuplicate});
    }
}

u64 signal_mask_arg() {
    switch (below(6)) {
        case 0: return abi::kSignalReady;
        case 1: return abi::kSignalReadable;
        case 2: return abi::kSignalDead;
        case 3: return abi::kSignalReady | abi::kSignalReadable | abi::kSignalDead;
        case 4: return pick({0ull, 8ull, 0x10ull, ~0ull, 1ull << 63});
        default: return rnd();
    }
}

u64 key_arg() { return chance(80) ? below(8) : rnd(); }

u64 memory_size_arg() {
    u64 r = below(1000);
    if (r < 700) return 1 + below(5 * kPage);
    if (r < 900) return pick({0ull, 1ull, 4095ull, 4096ull, 4097ull, 8192ull, 65536ull, 65537ull});
    if (r < 960) return pick({(64ull << 20) + 1, 1ull << 32, 1ull << 47, ~0ull, ~0ull - 4095, 0x8000000000000000ull});
    if (r < 995) return 1 + below(1 << 20);
    return pick({16ull << 20, 64ull << 20});  // rare: the largest objects
}

u64 fixed_map_address() {
    switch (below(10)) {
        case 0: return 0x1000;
        case 1: return pick({kImageBase, kScratch, kReadOnly, kStackTop - kPage, kStackTop, kUserLimit - kPage});
        case 2: return pick(kKernelAddresses) & ~0xfffull;
        case 3: return pick(kEdgeAddresses);
        case 4: return kScratch + 1 + below(kPage - 1);  // misaligned
        default: {
            // Random page in the upper user half, away from the quiet window
            // and the stack.
            u64 p = (0x0000200000000000ull + below(0x0000500000000000ull)) & ~0xfffull;
            if (p >= kQuietBase && p < kQuietEnd) p += kQuietEnd - kQuietBase;
            if (p >= kStackWindow) p -= 1ull << 32;
            return p;
        }
    }
}

u64 map_flags_arg() { return chance(85) ? below(2) : pick<u64>({2ull, 3ull, ~0ull, 1ull << 63, rnd()}); }

// --- structured inputs -----------------------------------------------------
// A message the kernel must refuse before it could block: unreadable, or
// readable and invalid. Returns its address.
u64 unusable_message() {
    // Only addresses nothing can ever map: the worker maps memory objects at
    // fixed user addresses too (any of kEdgeAddresses, 0x1000, ...).
    switch (below(6)) {
        case 0: return pick(kKernelAddresses);
        case 1:
            return pick<u64>({kUserLimit, kUserLimit - 8, kUserLimit - 1, 0x8000000000000000ull, 0xffff7fffffffffffull,
                              0x0000800000001000ull, 0x7fffffffffffffffull, 0x1234567812345678ull});
        case 2:
            return pick<u64>(
                {0ull, 1ull, 0xfffull, kUnmapped, kUnmapped + 0x1008, kScratch + kScratchBytes, kQuietEnd - 0x1000});
        case 3: return kScratch + kScratchBytes - 1 - below(sizeof(abi::Message) - 1);  // runs into the guard page
        default: {
            u64 at = kScratch + below((kScratchBytes - sizeof(abi::Message)) / 8) * 8;
            auto* m = reinterpret_cast<abi::Message*>(at);
            for (u32 i = 0; i < sizeof(abi::Message) / 8; i++) reinterpret_cast<u64*>(m)[i] = rnd();
            if (chance(50))
                m->length = abi::kMessageBytes + 1 + static_cast<u32>(below(1u << 31));
            else
                m->handle_count = abi::kMessageHandles + 1 + static_cast<u32>(below(1u << 31));
            return at;
        }
    }
}

// A valid message for the echo server, in scratch.
u64 server_message() {
    u64 at = kScratch + below((kScratchBytes - sizeof(abi::Message)) / 8) * 8;
    auto* m = reinterpret_cast<abi::Message*>(at);
    for (u32 i = 0; i < sizeof(abi::Message) / 8; i++) reinterpret_cast<u64*>(m)[i] = rnd();
    m->length = static_cast<u32>(chance(90) ? below(abi::kMessageBytes + 1) : 1 + below(8));
    if (m->length) m->data[0] = static_cast<u8>(below(6));
    m->handle_count = static_cast<u32>(chance(40) ? 0 : below(abi::kMessageHandles + 1));
    for (u32 i = 0; i < abi::kMessageHandles; i++) m->handles[i] = static_cast<u32>(handle_arg(0));
    m->copy_mask = static_cast<u32>(chance(70) ? below(16) : rnd());
    return at;
}

u32 g_pending_called;  // the endpoint the request being built hands to a "call" child

// A spawn request in scratch (sometimes running into the guard page).
u64 spawn_request(bool real) {
    u64 at = chance(90) ? kScratch + below((kScratchBytes - sizeof(abi::SpawnRequest)) / 8) * 8
                        : kScratch + kScratchBytes - 1 - below(sizeof(abi::SpawnRequest) - 1);
    u64 room = kScratch + kScratchBytes - at;
    abi::SpawnRequest req;
    auto* raw = reinterpret_cast<u64*>(&req);
    for (u32 i = 0; i < sizeof req / 8; i++) raw[i] = rnd();
    static constexpr const char* kModules[] = {"fuzz_peer", "fuzz_pee", "fuzz_peer2", "sleeper",
                                               "",          "init",     "\xff\xfe",   "fuzz_peer\0x"};
    const char* name = real ? "fuzz_peer" : pick(kModules);
    u32 len = 0;
    for (; name[len] && len < 32; len++) req.module[len] = name[len];
    for (u32 i = len; i < 32 && chance(80); i++) req.module[i] = 0;
    req.module_len = real || chance(60) ? len : static_cast<u32>(pick<u64>({0ull, 32ull, 33ull, ~0ull, rnd()}));
    req.priority = static_cast<u32>(real || chance(80) ? below(32) : pick<u64>({32ull, 33ull, ~0ull, rnd()}));
    req.handle_count = static_cast<u32>(real         ? (chance(50) ? 0 : below(4))
                                        : chance(80) ? below(abi::kStartupHandles + 1)
                                                     : pick<u64>({17ull, 32ull, ~0ull, rnd()}));
    req.copy_mask = static_cast<u32>(rnd());
    static constexpr const char* kNames[] = {"log", "resource", "ep", "x", "mem", "n"};
    for (u32 i = 0; i < abi::kStartupHandles; i++) {
        req.handles[i].handle = static_cast<u32>(handle_arg(0));
        u64 r = below(10);
        req.handles[i].rights = static_cast<u32>(r < 6 ? 0 : r < 8 ? rnd() & cap::kRightsAll : rnd());
        if (chance(70)) {
            const char* n = pick(kNames);
            u32 k = 0;
            for (; n[k]; k++) req.handles[i].name[k] = n[k];
            req.handles[i].name[k] = 0;
        }
    }
    if (real && chance(80)) {
        req.copy_mask = ~0u;
        for (u32 i = 0; i < abi::kStartupHandles; i++) req.handles[i].rights = 0;
    }
    // Never the echo server's args; sometimes a string without its NUL.
    if (chance(70)) req.args[0] = 'x';
    if (chance(50)) req.args[1 + below(abi::kArgsBytes - 1)] = 0;
    g_pending_called = 0;
    if (real && chance(50)) {
        // A child that calls one of our endpoints (fuzz_peer "call").
        __builtin_memcpy(req.args, "call", 5);
        __builtin_memcpy(req.handles[0].name, "ep", 3);
        req.handles[0].handle = static_cast<u32>(handle_arg(kEndpoint));
        g_pending_called = req.handles[0].handle;
        req.handles[0].rights = 0;
        req.copy_mask |= 1;
        req.priority = static_cast<u32>(17 + below(15));  // above ours: it calls before we go on
        if (!req.handle_count) req.handle_count = 1;
    }
    u64 n = sizeof req < room ? sizeof req : room;
    __builtin_memcpy(reinterpret_cast<void*>(at), &req, n);
    return at;
}

// --- making a call -----------------------------------------------------------
struct Call {
    u64 number;
    u64 a[6];
};

i64 do_call(const Call& c) {
    return rt::raw_syscall(static_cast<S>(c.number), c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5]);
}

bool server_running() {
    if (!g_server_alive) return false;
    abi::ProcessInfo info{};
    i64 r = rt::raw_syscall(S::ProcessInfo, g_server_proc, reinterpret_cast<u64>(&info));
    g_maintenance_calls++;
    if (r < 0 || info.kind != abi::ExitKind::Running) g_server_alive = false;
    return g_server_alive;
}

// Relative weights of the defined calls (ProcessExit: never). No default:
// a call added to lib/abi/syscalls.def without a weight here does not
// compile (-Wswitch) — give it one, and its arguments and safety rules
// (what must never happen to the fuzzer) in generate() and make_safe().
constexpr u32 weight(S call) {
    switch (call) {
        case S::LogWrite: return 25;
        case S::ProcessExit: return 0;
        case S::Yield: return 8;
        case S::ClockGet: return 8;
        case S::Sleep: return 8;
        case S::HandleClose: return 50;
        case S::HandleDuplicate: return 55;
        case S::HandleRevoke: return 35;
        case S::EndpointCreate: return 22;
        case S::EndpointMint: return 40;
        case S::EndpointCall: return 70;
        case S::EndpointReceive: return 35;
        case S::EndpointReply: return 15;
        case S::NotificationCreate: return 22;
        case S::NotificationSignal: return 40;
        case S::NotificationWait: return 35;
        case S::MemoryCreate: return 40;
        case S::MemoryMap: return 55;
        case S::MemoryUnmap: return 35;
        case S::WaitSetCreate: return 22;
        case S::WaitSetAdd: return 60;
        case S::WaitSetRemove: return 30;
        case S::WaitSetWait: return 40;
        case S::ProcessSpawn: return 22;
        case S::ProcessKill: return 25;
        case S::ProcessInfo: return 35;
        case S::SystemInfo: return 40;
        case S::ConsoleRead: return 15;
        case S::ConsoleWrite: return 10;
        case S::ProcessKillPid: return 15;
        case S::ThreadCreate: return 20;
        case S::ThreadExit: return 0;  // only the fuzzer's own short-lived threads make it
        case S::DeviceList: return 10;
        case S::DeviceOpen: return 15;
        case S::PciConfigRead: return 15;
        case S::MmioCreate: return 20;
        case S::MmioMap: return 12;
        case S::MmioWrite: return 12;
        case S::DmaPoolCreate: return 12;
        case S::DmaBufferCreate: return 18;
        case S::DmaPoolInfo: return 8;
        case S::InterruptCreate: return 10;
        case S::InterruptAck: return 8;
        case S::InterruptMask: return 6;
        case S::NvmeQueueCreate: return 10;
        case S::NvmeSubmit: return 25;
        case S::NvmeComplete: return 15;
        case S::NvmeQueueMap: return 6;
        case S::VirtQueueCreate: return 10;
        case S::VirtQueueSubmit: return 25;
        case S::VirtQueueComplete: return 15;
        case S::VirtQueueMap: return 6;
        case S::MmioRead: return 12;
        case S::DeviceEvents: return 8;
        case S::MemorySize: return 4;
        case S::DmaBufferAddress: return 6;
        case S::SyscallCount: return 2;
        case S::Count: break;
    }
    return 0;
}

struct WeightTable {
    u32 of[kSyscalls];
};
constexpr WeightTable kWeights = [] {
    WeightTable t{};
    for (u32 i = 0; i < kSyscalls; i++) t.of[i] = weight(static_cast<S>(i));
    return t;
}();

u64 weighted_call() {
    u32 total = 0;
    for (u32 w : kWeights.of) total += w;
    u32 r = static_cast<u32>(below(total));
    for (u32 i = 0; i < kSyscalls; i++) {
        if (r < kWeights.of[i]) return i;
        r -= kWeights.of[i];
    }
    return 0;
}

// Entry points for ThreadCreate. They never touch the stack (so any stack
// pointer is harmless), block at most 2 ms on the object whose handle is
// their argument (RDI) while the main thread goes on closing, revoking and
// signalling things, and end with ThreadExit. Out-pointers go to scratch.
extern "C" char fuzz_thread_exit[], fuzz_thread_yield_exit[], fuzz_thread_sleep[], fuzz_thread_wait[],
    fuzz_thread_receive[], fuzz_thread_waitset[];
static_assert(static_cast<u64>(S::ThreadExit) == 31 && static_cast<u64>(S::Yield) == 2 &&
              static_cast<u64>(S::Sleep) == 4 && static_cast<u64>(S::NotificationWait) == 15 &&
              static_cast<u64>(S::EndpointReceive) == 11 && static_cast<u64>(S::WaitSetWait) == 22);
static_assert(kScratch == 0x0000500000000000ull);
asm(R"(
    .text
fuzz_thread_end:
    mov $31, %eax
    syscall
    ud2
    .global fuzz_thread_exit
fuzz_thread_exit:
    jmp fuzz_thread_end
    .global fuzz_thread_yield_exit
fuzz_thread_yield_exit:
    mov $2, %eax
    syscall
    jmp fuzz_thread_end
    .global fuzz_thread_sleep
fuzz_thread_sleep:
    mov $1000000, %edi
    mov $4, %eax
    syscall
    jmp fuzz_thread_end
    .global fuzz_thread_wait
fuzz_thread_wait:
    mov $2000000, %esi
    mov $15, %eax
    syscall
    jmp fuzz_thread_end
    .global fuzz_thread_receive
fuzz_thread_receive:
    movabs $0x0000500000001000, %rsi
    mov $2000000, %edx
    mov $11, %eax
    syscall
    jmp fuzz_thread_end
    .global fuzz_thread_waitset
fuzz_thread_waitset:
    movabs $0x0000500000001800, %rsi
    mov $4, %edx
    mov $2000000, %r10d
    mov $22, %eax
    syscall
    jmp fuzz_thread_end
)");

const char* const kThreadStubs[] = {fuzz_thread_exit, fuzz_thread_yield_exit, fuzz_thread_sleep,
                                    fuzz_thread_wait, fuzz_thread_receive,    fuzz_thread_waitset};

u64 thread_entry_arg() {
    if (chance(80)) return reinterpret_cast<u64>(pick(kThreadStubs));
    return chance(50) ? pick(kKernelAddresses)
                      : pick<u64>({0ull, 1ull, 0xfffull, kUserLimit, kUserLimit + 0x1000, ~0ull});
}

bool is_thread_stub(u64 entry) {
    for (const char* stub : kThreadStubs)
        if (entry == reinterpret_cast<u64>(stub)) return true;
    return false;
}

// The argument for a stub: the handle it blocks on.
u64 thread_stub_arg(u64 entry) {
    if (entry == reinterpret_cast<u64>(fuzz_thread_wait)) return handle_arg(kNotification);
    if (entry == reinterpret_cast<u64>(fuzz_thread_waitset)) return handle_arg(kWaitSet);
    if (entry == reinterpret_cast<u64>(fuzz_thread_receive))
        return chance(30)                     ? g_called[(g_called_next + 7) % 8]
               : chance(30) && g_served_count ? g_served[0]
                                              : handle_arg(kEndpoint);
    return rnd();
}

// True unless `p` is known to be unmapped or outside the user half: the
// kernel might read real bytes there.
bool maybe_readable(u64 p) {
    if (p < 0x1000 || p >= kUserLimit) return false;
    if (p >= kScratch + kScratchBytes && p < kScratch + kScratchBytes + kPage) return false;
    return !(p >= kUnmapped && p < kQuietEnd);
}

u64 pid_arg() {
    switch (below(5)) {
        case 0: return g_pid;  // filtered: never itself
        case 1: return 1;      // filtered: never init
        case 2: return g_server_pid;
        case 3: return chance(50) ? rnd() : static_cast<u32>(rnd());
        default:
            if (g_child_pid_count && chance(70))
                return g_child_pids[(g_child_pid_next + 15 - (chance(60) ? 0 : below(g_child_pid_count))) % 16];
            return below(64);
    }
}

// --- devices, DMA and the NVMe and virtqueue brokers -------------------------
bool is_nvme_dev(u32 dev) { return dev < g_dev_count && g_devs[dev].class_code == 1 && g_devs[dev].subclass == 8; }

// virtio 1.1 §4.1.2.1: vendor 1af4, device 1000..103f (transitional: 1000
// net, 1001 block) or 1040 + the device type (1041 net, 1042 block).
enum class VirtioKind : u8 { None, Blk, Net, Other };
VirtioKind virtio_kind(u32 dev) {
    if (dev >= g_dev_count || g_devs[dev].vendor != 0x1af4) return VirtioKind::None;
    u16 id = g_devs[dev].device_id;
    if (id < 0x1000 || id > 0x107f) return VirtioKind::None;
    if (id == 0x1001 || id == 0x1042) return VirtioKind::Blk;
    if (id == 0x1000 || id == 0x1041) return VirtioKind::Net;
    return VirtioKind::Other;
}
bool is_virtio_dev(u32 dev) { return virtio_kind(dev) != VirtioKind::None; }

// The queues a device has (QEMU: virtio-blk with one CPU has request queue
// 0; virtio-net has receive 0, transmit 1 and the control queue 2), and
// the largest size the broker should ask for there.
u32 virtio_queues(VirtioKind kind) { return kind == VirtioKind::Blk ? 1 : kind == VirtioKind::Net ? 3 : 1; }
u16 virtio_queue_max(VirtioKind kind, u32 index) { return kind == VirtioKind::Net && index == 2 ? 64 : 256; }

// One of the PCI function capabilities DeviceOpen returned (perhaps closed
// by now; handle 0 before the first): the NVMe controller's `nvme_percent`
// of the time, else a virtio function's `virtio_percent`, when the worker
// has opened one.
const PciCap& real_pci(u64 nvme_percent, u64 virtio_percent) {
    const PciCap* chosen = &g_pci[below(16)];
    bool nvme = chance(nvme_percent);
    if (nvme || chance(virtio_percent)) {
        for (u32 k = 0; k < 16; k++) {
            const PciCap& p = g_pci[(g_pci_next + 15 - k) % 16];
            if (p.handle && (nvme ? is_nvme_dev(p.dev) : is_virtio_dev(p.dev))) {
                chosen = &p;
                break;
            }
        }
    }
    return *chosen;
}

// Newest first, each taken with `percent` chance (older ones are more
// likely closed by now).
template <typename T, usize N, typename Fit>
T* recent(T (&ring)[N], u32 next, u64 percent, Fit fit) {
    for (u32 k = 0; k < N; k++) {
        T& e = ring[(next + N - 1 - k) % N];
        if (fit(e) && chance(percent)) return &e;
    }
    for (u32 k = 0; k < N; k++) {
        T& e = ring[(next + N - 1 - k) % N];
        if (fit(e)) return &e;
    }
    return nullptr;
}

enum class PoolKind : u8 { Any, Nvme, Virtio };
PoolKind pool_kind_arg() { return pick({PoolKind::Any, PoolKind::Nvme, PoolKind::Virtio}); }

const DmaPoolCap* recent_pool(PoolKind kind) {
    return recent(g_dma_pools, g_dma_pool_next, 60, [&](const DmaPoolCap& p) {
        return p.handle &&
               (kind == PoolKind::Any || (kind == PoolKind::Nvme ? is_nvme_dev(p.dev) : is_virtio_dev(p.dev)));
    });
}

QueueCap* recent_queue() {
    return recent(g_queues, g_queue_next, 70, [](const QueueCap& q) { return q.handle != 0; });
}

// A buffer made through `pool` (0: any pool).
const DmaBufCap* recent_buffer(u32 pool) {
    return recent(g_dma_bufs, g_dma_buf_next, 50,
                  [&](const DmaBufCap& b) { return b.handle && (!pool || b.pool == pool); });
}

u64 pci_arg() {
    const PciCap& p = real_pci(45, 40);
    return p.handle && chance(75) ? p.handle : handle_arg(kPciFunction);
}

u64 dma_pool_arg(PoolKind kind) {
    if (chance(75))
        if (const DmaPoolCap* p = recent_pool(kind)) return p->handle;
    return chance(50) ? typed_pool_handle(kDmaPool) : handle_arg(kDmaPool);
}

u64 dma_buffer_arg() {
    if (chance(70))
        if (const DmaBufCap* b = recent_buffer(0)) return b->handle;
    return handle_arg(kDmaBuffer);
}

u64 interrupt_arg() {
    if (chance(65)) {
        u32 h = g_irqs[(g_irq_next + 7 - (chance(60) ? 0 : below(8))) % 8];
        if (h) return h;
    }
    return handle_arg(kInterrupt);
}

u64 queue_arg() {
    if (chance(75))
        if (const QueueCap* q = recent_queue()) return q->handle;
    return handle_arg(kNvmeQueue);
}

VirtQueueCap* recent_vq() {
    return recent(g_vqs, g_vq_next, 70, [](const VirtQueueCap& q) { return q.handle != 0; });
}

u64 vq_arg() {
    if (chance(75))
        if (const VirtQueueCap* q = recent_vq()) return q->handle;
    return handle_arg(kVirtQueue);
}

u64 dma_quota_arg() {
    u64 r = below(100);
    if (r < 50) return pick<u64>({kPage, 4 * kPage, 16 * kPage, 64 * kPage, 256 * kPage});
    if (r < 85) return (1 + below(64)) * kPage;
    if (r < 90) return 1 + below(1u << 20);  // not a page multiple
    return pick<u64>({0ull, 1ull, 256ull << 20, (256ull << 20) + 1, 1ull << 32, ~0ull, rnd()});
}

u64 dma_buffer_bytes_arg() {
    u64 r = below(100);
    if (r < 75) return 1 + below(3 * kPage);
    if (r < 88) return pick<u64>({kPage, 2 * kPage, 3 * kPage, 4095ull, 4097ull});
    if (r < 93) return pick<u64>({0ull, 2ull << 20, (2ull << 20) - 1});
    return pick<u64>({(2ull << 20) + 1, 4ull << 20, 1ull << 32, ~0ull, ~0ull - 4095, rnd()});
}

// Opcodes and fields (NVMe 1.4 §5): what the broker's admin allow-list
// accepts, and what it must refuse.
constexpr u8 kOpCreateIoSq = 0x01, kOpGetLogPage = 0x02, kOpIdentify = 0x06, kOpSetFeatures = 0x09,
             kOpGetFeatures = 0x0A, kOpVendor = 0xC0;
constexpr u32 kFidNumberOfQueues = 7, kFidHostMemoryBuffer = 0x0D, kFidTimestamp = 0x0E, kFidHostBehavior = 0x16;

// A command the broker accepts (given a buffer of the queue's pool):
// Identify Controller into 4 KiB of it, Get Features Number of Queues (no
// data), the SMART / Health log page (512 bytes), or a feature with a data
// structure (Timestamp: 8 bytes, Host Behavior Support: 512).
void allowed_command(abi::NvmeCommand& c, const DmaBufCap* own) {
    u64 r = below(100);
    if (r < 25 || !own) {
        c.opcode = kOpGetFeatures;
        c.cdw10 = kFidNumberOfQueues;
        return;
    }
    u64 room = (own->bytes + kPage - 1) / kPage * kPage;
    c.buffer = own->handle;
    if (r < 80) {
        c.opcode = kOpIdentify;
        c.cdw10 = 1;  // CNS 1: the controller
        c.length = kPage;
    } else if (r < 90) {
        c.opcode = kOpGetLogPage;
        c.nsid = 0xffffffffu;
        c.cdw10 = 0x02 | (127u << 16);  // SMART / Health, NUMDL = 128 dwords - 1
        c.length = 512;
    } else {
        c.opcode = chance(70) ? kOpGetFeatures : kOpSetFeatures;
        c.cdw10 = chance(50) ? kFidTimestamp : kFidHostBehavior;
        c.length = c.cdw10 == kFidTimestamp ? 8 : 512;
    }
    c.offset = chance(70) || room <= c.length ? 0 : below((room - c.length) / 4 + 1) * 4;
}

// A command the broker must refuse (the whole batch with it).
void refused_command(abi::NvmeCommand& c, const QueueCap* q, const DmaBufCap* own) {
    switch (below(11)) {
        case 0:  // Create I/O Submission Queue: its PRP1 would be a queue the provider chose
            c.opcode = kOpCreateIoSq;
            c.cdw10 = (15u << 16) | 1;
            c.cdw11 = (1u << 16) | 1;
            c.buffer = own ? own->handle : 0;
            c.length = chance(50) ? kPage : 0;
            break;
        case 1:  // vendor specific
            c.opcode = static_cast<u8>(kOpVendor + below(64));
            c.cdw10 = static_cast<u32>(rnd());
            break;
        case 2: {  // Identify into a buffer of another pool, or something that is no buffer
            c.opcode = kOpIdentify;
            c.cdw10 = 1;
            c.length = kPage;
            const DmaBufCap* other = recent(g_dma_bufs, g_dma_buf_next, 50,
                                            [&](const DmaBufCap& b) { return b.handle && (!q || b.pool != q->pool); });
            c.buffer = other && chance(60) ? other->handle : static_cast<u32>(handle_arg(kMemory));
            break;
        }
        case 3:  // Identify with a length that is not what the device moves
            c.opcode = kOpIdentify;
            c.cdw10 = 1;
            c.buffer = own ? own->handle : 0;
            c.length = pick<u64>({0ull, 512ull, 4095ull, 4097ull, 8192ull, ~0ull});
            break;
        case 4:  // Identify without a buffer: PRP1 would be 0
            c.opcode = kOpIdentify;
            c.cdw10 = 1;
            c.length = chance(50) ? kPage : 0;
            break;
        case 5:  // a command without data, given a buffer
            c.opcode = kOpGetFeatures;
            c.cdw10 = kFidNumberOfQueues;
            c.buffer = own ? own->handle : static_cast<u32>(handle_arg(kDmaBuffer));
            c.length = chance(50) ? kPage : 0;
            break;
        case 6:  // features the broker owns or that carry an address
            c.opcode = chance(50) ? kOpSetFeatures : kOpGetFeatures;
            c.cdw10 = c.opcode == kOpSetFeatures ? pick<u32>({kFidNumberOfQueues, kFidHostMemoryBuffer, 0x84u, 0xC1u})
                                                 : pick<u32>({kFidHostMemoryBuffer, 0xC1u, 0x7fu, 0x00u});
            break;
        case 7: {  // Identify past the buffer's end, or at an odd offset
            c.opcode = kOpIdentify;
            c.cdw10 = 1;
            c.length = kPage;
            c.buffer = own ? own->handle : 0;
            u64 room = own ? (own->bytes + kPage - 1) / kPage * kPage : kPage;
            c.offset = pick<u64>({room - kPage + 4, room, room + kPage, 2ull, 1ull, ~0ull - 4095, 1ull << 63});
            break;
        }
        case 8:  // a command id out of range
            allowed_command(c, own);
            c.cid = static_cast<u16>(q ? q->entries + below(0x10000 - q->entries) : 64 + below(0xffc0));
            break;
        case 9:  // a Get Log Page that needs a PRP list (more than two pages)
            c.opcode = kOpGetLogPage;
            c.nsid = 0xffffffffu;
            c.cdw10 = 0x02 | static_cast<u32>((3 * kPage / 4 - 1) << 16);  // NUMDL (NUMDU = 0)
            c.buffer = own ? own->handle : 0;
            c.length = 3 * kPage;
            break;
        default:  // bytes
            for (u32 i = 0; i < sizeof c / 8; i++) reinterpret_cast<u64*>(&c)[i] = rnd();
            break;
    }
}

// A batch of `count` commands for queue `q` (null: none known) in scratch;
// returns its address. Half the batches are clean, the others carry refused
// commands or a command id twice.
u64 nvme_batch(QueueCap* q, u32 count) {
    constexpr u64 kSize = sizeof(abi::NvmeCommand);
    u64 at = chance(95) ? kScratch + below((kScratchBytes - count * kSize) / 8 + 1) * 8
                        : kScratch + kScratchBytes - count * kSize + 8 * (1 + below(6));  // into the guard page
    u64 room = kScratch + kScratchBytes - at;
    abi::NvmeCommand cmds[abi::kNvmeMaxBatch];
    bool clean = chance(50);
    u32 cid = q ? q->next_cid : static_cast<u32>(below(64));
    for (u32 i = 0; i < count; i++) {
        abi::NvmeCommand& c = cmds[i];
        c = abi::NvmeCommand{};
        c.cid = static_cast<u16>(q ? cid++ % q->entries : below(64));
        const DmaBufCap* own = q && chance(92) ? recent_buffer(q->pool) : nullptr;
        if (clean || chance(60))
            allowed_command(c, own);
        else
            refused_command(c, q, own);
        if (!clean && i && chance(10)) c.cid = cmds[below(i)].cid;  // twice in one batch
    }
    if (q) q->next_cid = cid % q->entries;
    u64 n = count * kSize < room ? count * kSize : room;
    __builtin_memcpy(reinterpret_cast<void*>(at), cmds, n);
    return at;
}

// The bytes of a buffer a segment may name (buffers are whole pages).
u64 buffer_room(const DmaBufCap& b) { return (b.bytes + kPage - 1) / kPage * kPage; }

// A chain as generated: its header and its segments, which virtio_batch
// lays out as VirtQueueSubmit takes them (chains, then one segment array).
constexpr u32 kFuzzSegments = 8;
struct FuzzChain {
    abi::VirtioChain ch;
    abi::VirtioSegment segment[kFuzzSegments];
};

void add_segment(FuzzChain& fc, u32 buffer, u64 offset, u64 length, bool device_writes) {
    if (fc.ch.segments >= kFuzzSegments) return;
    fc.segment[fc.ch.segments++] =
        abi::VirtioSegment{buffer, device_writes ? abi::kVirtioSegmentDeviceWrites : 0u, offset, length};
}

// A chain the broker accepts when `own` is a buffer of the queue's pool,
// shaped like a real request of the queue's device.
void accepted_chain(FuzzChain& ch, const VirtQueueCap* q, const DmaBufCap& own) {
    const u32 b = own.handle;
    const u64 room = buffer_room(own);
    VirtioKind kind = q ? virtio_kind(q->dev) : VirtioKind::Other;
    u32 index = q ? q->index : 0;
    if (kind == VirtioKind::Blk && chance(85)) {
        // virtio 1.1 §5.2.6: le32 type, le32 reserved, le64 sector (at 0:
        // zeroed memory reads sector 0, or what the upkeep wrote), then the
        // data (a multiple of 512 bytes) and the status byte (the buffer's
        // last), both written by the device.
        add_segment(ch, b, 0, 16, false);
        u64 data = 512ull << below(3);
        if (data > 512 && chance(30)) {
            add_segment(ch, b, 512, 512, true);
            add_segment(ch, b, 1024, data - 512, true);
        } else {
            add_segment(ch, b, 512, data, true);
        }
        add_segment(ch, b, room - 1, 1, true);
    } else if (kind == VirtioKind::Net && index == 0 && chance(85)) {
        // Receive (virtio 1.1 §5.1.6.3): room for the 12-byte header and a
        // full frame, in one or two device-written segments.
        if (chance(60)) {
            add_segment(ch, b, 0, room < 2048 ? room : 2048, true);
        } else {
            add_segment(ch, b, 0, 12, true);
            add_segment(ch, b, 64, 1514, true);
        }
    } else if (kind == VirtioKind::Net && index == 1 && chance(85)) {
        // Transmit (§5.1.6.2): the header (zero: no offloads) and a frame,
        // both read by the device.
        u64 frame = 60 + below(1455);
        if (chance(50)) {
            add_segment(ch, b, 0, 12 + frame, false);
        } else {
            add_segment(ch, b, 0, 12, false);
            add_segment(ch, b, 64, frame, false);
        }
    } else if (kind == VirtioKind::Net && index == 2 && chance(85)) {
        // Control (§5.1.6.5): class and command, one byte of data, the ack.
        add_segment(ch, b, 0, 2, false);
        add_segment(ch, b, 2, 1, false);
        add_segment(ch, b, 16, 1, true);
    } else {
        // Any shape that fits the buffer, in segments no shorter than a
        // virtio-net header (12 bytes): QEMU 7.2 aborts (util/iov.c
        // iov_copy / iov_from_buf: assertion `offset == 0') on a transmit
        // chain with 1..11 readable bytes, or a receive chain with 1..11
        // writable ones, and this may be such a queue.
        constexpr u64 kMin = 12;
        u32 n = 1 + static_cast<u32>(below(q ? q->max_segments : 4));
        for (u32 i = 0; i < n; i++) {
            u64 offset = chance(50) ? 0 : below(room - kMin + 1);
            u64 left = room - offset;
            u64 length = chance(20) ? left : kMin + below((left < 2048 ? left : 2048) - kMin + 1);
            add_segment(ch, b, offset, length, chance(50));
        }
    }
}

// Makes the chain one the broker must refuse (the whole batch with it).
void refused_chain(FuzzChain& fc, const VirtQueueCap* q, const DmaBufCap* own) {
    if (!fc.ch.segments) add_segment(fc, own ? own->handle : static_cast<u32>(handle_arg(kDmaBuffer)), 0, 16, false);
    abi::VirtioChain& ch = fc.ch;
    abi::VirtioSegment& seg = fc.segment[below(ch.segments)];
    const u64 room = own ? buffer_room(*own) : kPage;
    switch (below(10)) {
        case 0: {  // a buffer of another pool
            const DmaBufCap* other = recent(g_dma_bufs, g_dma_buf_next, 50,
                                            [&](const DmaBufCap& b) { return b.handle && (!q || b.pool != q->pool); });
            seg.buffer = other ? other->handle : static_cast<u32>(typed_pool_handle(kDmaBuffer));
            break;
        }
        case 1:  // no buffer (another type, a closed or forged handle), or one without read and write rights
            if (chance(50))
                seg.buffer = static_cast<u32>(handle_arg(pick({kMemory, kVirtQueue, kDmaPool, kNvmeQueue})));
            else
                seg.buffer = static_cast<u32>(chance(50) ? typed_pool_handle(kDmaBuffer) : handle_arg(kDmaBuffer));
            break;
        case 2:  // starting past the end, or so far that offset + length wraps
            seg.offset = pick<u64>({room, room + 1, room + kPage, ~0ull - 15, 1ull << 63, ~0ull});
            break;
        case 3:  // running past the end
            seg.offset = chance(50) ? 0 : below(room);
            seg.length = room - seg.offset + 1 + (chance(50) ? 0 : below(kPage));
            break;
        case 4:  // no segment
            ch.segments = 0;
            break;
        case 5:  // more than the queue takes, or than the call carries
            ch.segments =
                static_cast<u16>(pick<u64>({q ? q->max_segments + 1ull : 5ull, 9ull, 513ull, 0x8000ull, 0xffffull}));
            break;
        case 6:  // flags other than "device writes" (indirect, next, garbage)
            seg.flags = pick<u32>({2u, 3u, 4u, 5u, 0x80000000u, ~0u, static_cast<u32>(rnd())});
            break;
        case 7:  // empty
            seg.length = 0;
            break;
        case 8:  // 4 GiB or more
            seg.length = pick<u64>({1ull << 32, (1ull << 32) + 1, ~0ull, 1ull << 63});
            break;
        default:  // bytes
            for (u32 i = 0; i < sizeof fc / 8; i++) reinterpret_cast<u64*>(&fc)[i] = rnd();
            if (chance(50)) ch.segments = static_cast<u16>(1 + below(kFuzzSegments));
            break;
    }
}

// A batch of `count` chains for queue `q` (null: none known), laid out as
// VirtQueueSubmit takes it; returns the chains' address: in scratch's first
// page or, when `read_only`, the read-only chain page (the kernel can take
// the chains but not write the heads back). The segments go to scratch's
// second page (sometimes running into the guard page): *segments,
// *segment_count (their sum, or now and then not). Half the batches are
// clean.
u64 virtio_batch(const VirtQueueCap* q, u32 count, bool read_only, u64* segments, u64* segment_count) {
    constexpr u64 kSize = sizeof(abi::VirtioChain);
    static FuzzChain fcs[abi::kVirtioMaxBatch];
    static abi::VirtioChain chains[abi::kVirtioMaxBatch];
    static abi::VirtioSegment segs[abi::kVirtioMaxBatch * kFuzzSegments];
    bool clean = read_only || chance(50);
    u64 total = 0;
    for (u32 i = 0; i < count; i++) {
        FuzzChain& fc = fcs[i];
        fc = FuzzChain{};
        fc.ch.head = static_cast<u16>(rnd());  // out only
        if (chance(10)) fc.ch.reserved = static_cast<u32>(rnd());
        const DmaBufCap* own = q && chance(94) ? recent_buffer(q->pool) : nullptr;
        const DmaBufCap* any = own ? own : recent_buffer(0);
        if (any)
            accepted_chain(fc, q, *any);
        else
            add_segment(fc, static_cast<u32>(handle_arg(kDmaBuffer)), 0, 16, false);
        if (!clean && chance(60)) refused_chain(fc, q, own);
        chains[i] = fc.ch;
        for (u32 k = 0; k < fc.ch.segments && k < kFuzzSegments; k++) segs[total++] = fc.segment[k];
    }
    u64 seg_bytes = total * sizeof segs[0];
    u64 seg_at = chance(95) ? kScratch + kPage + below((kPage - seg_bytes) / 8 + 1) * 8
                            : kScratch + kScratchBytes - seg_bytes + 8 * (1 + below(12));  // into the guard page
    u64 seg_room = seg_at < kScratch + kScratchBytes ? kScratch + kScratchBytes - seg_at : 0;
    __builtin_memcpy(reinterpret_cast<void*>(seg_at), segs, seg_bytes < seg_room ? seg_bytes : seg_room);
    *segments = seg_at;
    *segment_count = chance(95) ? total : pick<u64>({0ull, total + 1, total - 1, 1025ull, 1ull << 32, ~0ull, rnd()});
    if (read_only) {
        u64 at = kChainsRo + below((kPage - count * kSize) / 8 + 1) * 8;
        __builtin_memcpy(reinterpret_cast<void*>(kChainsRw + (at - kChainsRo)), chains, count * kSize);
        return at;
    }
    u64 at = kScratch + below((kPage - count * kSize) / 8 + 1) * 8;
    __builtin_memcpy(reinterpret_cast<void*>(at), chains, count * kSize);
    return at;
}

// The rules that keep the worker alive and unblocked, applied to every
// call however it was generated.
void make_safe(Call& c) {
    // Ending the process or its only fuzzing thread: never.
    if (c.number == static_cast<u64>(S::ProcessExit) || c.number == static_cast<u64>(S::ThreadExit))
        c.number = kSyscalls;
    for (u64& a : c.a)
        if (is_protected(a)) a = filtered(a);
    switch (static_cast<S>(c.number)) {
        case S::Sleep: c.a[0] = timeout_arg(); break;
        case S::EndpointReceive: c.a[2] = timeout_arg(); break;
        case S::NotificationWait: c.a[1] = timeout_arg(); break;
        case S::WaitSetWait: c.a[3] = timeout_arg(); break;
        case S::ConsoleRead: c.a[3] = timeout_arg(); break;
        case S::LogWrite:
        case S::ConsoleWrite:
            // Console output is unbounded: keep readable text short.
            if (c.number == static_cast<u64>(S::ConsoleWrite) && maybe_readable(c.a[1]) && c.a[2] > 256)
                c.a[2] = below(257);
            // Whatever the kernel can read and print is printable text: the
            // scratch bytes are overwritten with it, and other readable
            // memory (code, data the kernel wrote, the program's own
            // message strings) is swapped for the read-only text page.
            if (c.a[1] >= kScratch && c.a[1] < kScratch + kScratchBytes) {
                u64 room = kScratch + kScratchBytes - c.a[1];
                u64 n = c.a[2] < room ? c.a[2] : room;
                static constexpr char kText[] = "fuzz text ";
                for (u64 i = 0; i < n; i++) reinterpret_cast<char*>(c.a[1])[i] = kText[i % (sizeof kText - 1)];
            } else if (maybe_readable(c.a[1])) {
                c.a[1] = kReadOnly + (c.a[1] & 0xfff);
            }
            break;
        case S::ProcessKillPid:
            // Never itself, init or the echo server.
            if (c.a[1] == g_pid || c.a[1] == 1 || c.a[1] == g_server_pid) c.a[1] = 0;
            break;
        case S::ThreadCreate:
            // A thread that starts at a real user address other than the
            // stubs would fault and take the whole process with it.
            if (!is_thread_stub(c.a[0]) && c.a[0] >= 0x1000 && c.a[0] < kUserLimit) c.a[0] = pick(kKernelAddresses);
            break;
        default: break;
    }
}

Call generate() {
    Call c{};
    u64 mode = below(100);
    if (mode < 3) {
        // An undefined call number.
        c.number = chance(50) ? kSyscalls + below(1000) : rnd();
        for (u64& a : c.a) a = rnd();
        make_safe(c);
        return c;
    }
    c.number = weighted_call();
    if (mode < 10) {
        // A defined call with arguments from any pool, in any position.
        for (u64& a : c.a) {
            switch (below(5)) {
                case 0: a = handle_arg(0); break;
                case 1: a = pointer_arg(256); break;
                case 2: a = length_arg(); break;
                case 3: a = rnd(); break;
                default: a = below(64); break;
            }
        }
        if (c.number == static_cast<u64>(S::EndpointCall)) c.a[1] = unusable_message();
        make_safe(c);
        return c;
    }
    // Trailing argument registers the call ignores still get garbage.
    for (u64& a : c.a) a = rnd();
    switch (static_cast<S>(c.number)) {
        case S::LogWrite: {
            c.a[0] = handle_arg(kLog);
            u64 len = length_arg();
            c.a[2] = len;
            c.a[1] = pointer_arg(len);
            if (chance(50)) c.a[2] = below(64);
            break;
        }
        case S::Yield:
        case S::ClockGet:
        case S::SyscallCount:
        case S::EndpointCreate:
        case S::NotificationCreate:
        case S::WaitSetCreate: break;
        case S::Sleep: break;  // make_safe picks the time
        case S::HandleClose:
        case S::HandleRevoke:
            // Sometimes a DMA object, so grants end (teardown) with buffers,
            // queues and interrupts still alive, and pools come and go.
            if (chance(8)) {
                switch (below(5)) {
                    case 0: c.a[0] = dma_pool_arg(pool_kind_arg()); break;
                    case 1: c.a[0] = queue_arg(); break;
                    case 2: c.a[0] = dma_buffer_arg(); break;
                    case 3: c.a[0] = vq_arg(); break;
                    default: c.a[0] = chance(50) ? interrupt_arg() : pci_arg(); break;
                }
            } else {
                c.a[0] = handle_arg(0);
            }
            break;
        case S::HandleDuplicate:
            c.a[0] = handle_arg(0);
            c.a[1] = rights_arg();
            break;
        case S::EndpointMint:
            c.a[0] = chance(30) && g_served_count ? g_served[below(g_served_count)] : handle_arg(kEndpoint);
            c.a[1] = chance(50) ? below(16) : rnd();
            c.a[2] = rights_arg();
            break;
        case S::EndpointCall: {
            bool served = chance(45) && server_running();
            if (served) {
                u32 h = chance(40) || !g_served_count ? g_server_ep : g_served[below(g_served_count)];
                c.a[0] = h;
                switch (below(10)) {
                    case 0:
                        c.a[1] = kReadOnly + below((kPage - sizeof(abi::Message)) / 8) * 8;
                        break;  // reply can't be written
                    case 1: c.a[1] = kImageBase; break;
                    default: c.a[1] = server_message(); break;
                }
            } else {
                c.a[0] = handle_arg(kEndpoint);
                c.a[1] = unusable_message();
            }
            // Never blocks forever: a served handle reaches a running server,
            // and any other call's message cannot be used.
            if (!served && is_served(static_cast<u32>(c.a[0]))) c.a[1] = unusable_message();
            u64 chosen = c.a[0];
            make_safe(c);
            if (served) c.a[0] = chosen;  // make_safe filters the protected server endpoint
            return c;
        }
        case S::EndpointReceive:
            c.a[0] = chance(40)                     ? g_called[(g_called_next + 7 - (chance(70) ? 0 : below(8))) % 8]
                     : chance(20) && g_served_count ? g_served[below(g_served_count)]
                                                    : handle_arg(kEndpoint);
            c.a[1] = pointer_arg(sizeof(abi::Message));
            break;
        case S::EndpointReply: c.a[0] = pointer_arg(sizeof(abi::Message)); break;
        case S::NotificationSignal:
            c.a[0] = handle_arg(kNotification);
            c.a[1] = chance(20) ? 0 : chance(50) ? 1ull << below(64) : rnd();
            break;
        case S::NotificationWait: c.a[0] = handle_arg(kNotification); break;
        case S::MemoryCreate: c.a[0] = memory_size_arg(); break;
        case S::MemoryMap:
            c.a[0] = chance(20) ? dma_buffer_arg() : handle_arg(kMemory);
            c.a[1] = chance(65) ? 0 : fixed_map_address();
            c.a[2] = map_flags_arg();
            break;
        case S::MemorySize: c.a[0] = chance(20) ? dma_buffer_arg() : handle_arg(kMemory); break;
        case S::DmaBufferAddress: c.a[0] = chance(80) ? dma_buffer_arg() : handle_arg(kMemory); break;
        case S::MemoryUnmap:
            if (g_map_count && chance(75)) {
                // Mostly one of the latest mappings, often through its own capability.
                const Map& m = g_maps[(g_map_next + 64 - 1 - below(chance(70) ? 4 : g_map_count)) % 64];
                c.a[0] = chance(60) ? m.handle : handle_arg(kMemory);
                c.a[1] = m.vaddr;
            } else {
                c.a[0] = handle_arg(kMemory);
                c.a[1] = fixed_map_address();
            }
            break;
        case S::WaitSetAdd:
            c.a[0] = handle_arg(kWaitSet);
            c.a[1] = chance(12) ? interrupt_arg()
                                : handle_arg(pick({kNotification, kEndpoint, kProcess, kWaitSet, kMemory, kLog,
                                                   kInterrupt, kDmaPool}));
            c.a[2] = signal_mask_arg();
            c.a[3] = key_arg();
            break;
        case S::WaitSetRemove:
            c.a[0] = handle_arg(kWaitSet);
            c.a[1] = key_arg();
            break;
        case S::WaitSetWait: {
            c.a[0] = handle_arg(kWaitSet);
            c.a[2] = chance(85) ? 1 + below(32) : pick<u64>({0ull, 33ull, 1ull << 32, ~0ull, 1ull << 60, rnd()});
            c.a[1] = pointer_arg(c.a[2] * sizeof(abi::WaitEvent));
            break;
        }
        case S::ProcessSpawn: {
            u64 r = below(100);
            c.a[0] = r >= 25 && r < 50 && chance(85) ? typed_pool_handle(kResource)
                     : chance(75)                    ? handle_arg(kResource)
                                                     : handle_arg(0);
            if (r < 25)
                c.a[1] = pointer_arg(sizeof(abi::SpawnRequest));
            else
                c.a[1] = spawn_request(r < 50);
            break;
        }
        case S::ProcessKill: c.a[0] = handle_arg(kProcess); break;
        case S::ProcessInfo:
            c.a[0] = handle_arg(kProcess);
            c.a[1] = pointer_arg(sizeof(abi::ProcessInfo));
            break;
        case S::SystemInfo: {
            c.a[0] = chance(80) ? handle_arg(kResource) : handle_arg(0);
            // 5 (AuditWords) answers Unsupported unless the kernel runs with test.addr_audit.
            u64 kind = chance(85) ? 1 + below(5) : pick<u64>({0ull, 6ull, 0xffffffffull, rnd()});
            u64 pid = chance(60) ? below(12) : chance(50) ? g_pid : rnd();
            c.a[1] = (kind & 0xffffffffull) | (pid << 32);
            if (chance(10)) c.a[1] = rnd();
            c.a[3] = length_arg();
            c.a[2] = pointer_arg(c.a[3]);
            break;
        }
        case S::ConsoleRead:
            c.a[0] = handle_arg(kConsole);
            c.a[2] = length_arg();
            c.a[1] = pointer_arg(c.a[2]);
            break;
        case S::ConsoleWrite: {
            c.a[0] = handle_arg(kConsole);
            c.a[2] = chance(70) ? below(80) : length_arg();
            c.a[1] = pointer_arg(c.a[2]);
            break;
        }
        case S::ProcessKillPid:
            c.a[0] = chance(80) ? handle_arg(kResource) : handle_arg(0);
            c.a[1] = pid_arg();
            break;
        case S::ThreadCreate:
            c.a[0] = thread_entry_arg();
            c.a[1] = chance(60) ? (pointer_arg(16) & ~15ull) : pointer_arg(16);
            c.a[2] = thread_stub_arg(c.a[0]);
            // Mostly above the main thread's 16, so a stub blocks at once and
            // the main thread works on the objects while it waits.
            c.a[3] = chance(85) ? (chance(70) ? 17 + below(15) : below(17))
                                : pick<u64>({32ull, 255ull, 256ull, 1ull << 32, ~0ull, rnd()});
            break;
        case S::DeviceList:
            c.a[0] = handle_arg(kDeviceRoot);
            c.a[2] = chance(70) ? below(40) : pick<u64>({1ull << 32, ~0ull, 0x80000000ull, rnd()});
            c.a[1] = pointer_arg(c.a[2] * sizeof(abi::DeviceInfo));
            break;
        case S::DeviceEvents:
            c.a[0] = handle_arg(kDeviceRoot);
            c.a[2] = chance(70) ? below(20) : pick<u64>({1ull << 32, ~0ull, 17ull, rnd()});
            c.a[1] = pointer_arg(c.a[2] * sizeof(abi::RefusalEvent));
            break;
        case S::DeviceOpen:
            c.a[0] = handle_arg(kDeviceRoot);
            if (chance(70) && g_dev_count) {
                const abi::DeviceInfo& d = g_devs[below(g_dev_count)];
                c.a[1] = abi::pci_bdf(d.bus, d.device, d.function);
            } else {
                c.a[1] = chance(50) ? below(0x10000) : rnd();
            }
            break;
        case S::PciConfigRead:
            c.a[0] = chance(40) ? g_pci[below(16)].handle : handle_arg(kPciFunction);
            c.a[1] = chance(70) ? below(0x1000) & ~3ull : chance(50) ? below(0x1100) : rnd();
            c.a[2] = chance(80) ? pick<u64>({1ull, 2ull, 4ull}) : pick<u64>({0ull, 3ull, 8ull, 0x100000004ull, rnd()});
            break;
        case S::MmioCreate: {
            // Prefer an NVMe controller or a virtio function: NVMe's BAR0
            // and virtio's common configuration have write allow-lists.
            const PciCap& pci = real_pci(45, 40);
            if (pci.handle && chance(60)) {
                // A window of one of the function's memory BARs: mostly
                // inside it, sometimes overlapping its end.
                const abi::DeviceInfo& d = g_devs[pci.dev];
                u32 bar = static_cast<u32>(below(6));
                for (u32 k = 0; k < 6 && d.bars[bar].kind < 2; k++) bar = (bar + 1) % 6;
                u64 pages = d.bars[bar].size / kPage;
                c.a[0] = pci.handle;
                c.a[1] = bar;
                c.a[2] = pages && chance(50) ? below(pages) * kPage : 0;
                c.a[3] = (1 + below(pages > 4 ? 4 : pages ? pages : 1)) * kPage;
                c.a[4] = chance(60);
                break;
            }
            c.a[0] = handle_arg(kPciFunction);
            c.a[1] = chance(85) ? below(6) : pick<u64>({6ull, 7ull, 255ull, 0x100000000ull, rnd()});
            c.a[2] = chance(70) ? below(4) * kPage
                                : pick<u64>({1ull, 0x800ull, 0x3000ull, 0x10000ull, ~0ull - 0xfff, rnd()});
            c.a[3] = chance(70)
                         ? (1 + below(4)) * kPage
                         : pick<u64>({0ull, 1ull, 0x800ull, 0x100000ull, 1ull << 32, ~0ull - 0xfff, ~0ull, rnd()});
            c.a[4] = chance(85) ? below(2) : pick<u64>({2ull, 3ull, 1ull << 63, rnd()});
            break;
        }
        case S::MmioMap: c.a[0] = chance(40) ? g_mmio[below(16)].handle : handle_arg(kDeviceMmio); break;
        case S::MmioWrite: {
            const MmioCap& m = g_mmio[below(16)];
            if (m.handle && m.common >= 0 && chance(70)) {
                // A virtio common configuration register (virtio 1.1
                // §4.1.4.3) at its width: the writable ones (features,
                // device_status — 0 resets the device —, queue_select, the
                // vectors) and some the filter refuses (device_feature,
                // num_queues, queue_enable, the ring addresses).
                struct Reg {
                    u64 offset;
                    u32 width;
                };
                static constexpr Reg kRegs[] = {{0x00, 4}, {0x04, 4}, {0x08, 4}, {0x0c, 4}, {0x10, 2}, {0x12, 2},
                                                {0x14, 1}, {0x14, 1}, {0x16, 2}, {0x1a, 2}, {0x1c, 2}, {0x20, 8},
                                                {0x20, 4}, {0x28, 4}, {0x30, 8}, {0x15, 1}};
                Reg reg = pick(kRegs);
                if (SYSCALL_FUZZ_VIRTIO_QUEUE_SIZE && chance(10)) reg = Reg{0x18, 2};
                c.a[0] = m.handle;
                c.a[1] = static_cast<u64>(m.common) + reg.offset;
                c.a[2] = chance(90) ? reg.width : pick<u64>({1ull, 2ull, 4ull, 8ull});
                if (reg.offset == 0x14 && chance(70))  // device_status: reset, the steps of §3.1.1, FAILED
                    c.a[3] = pick<u64>({0ull, 1ull, 3ull, 0xbull, 0xfull, 0x40ull, 0x80ull});
                else
                    c.a[3] = chance(50) ? below(4) : rnd();
                break;
            }
            if (m.handle && chance(60)) {
                // A register inside the window (for an NVMe BAR0 window at
                // offset 0 the filter allows INTMS/INTMC/CC/NSSR/AQA/BPRSEL
                // and the doorbells).
                c.a[0] = m.handle;
                c.a[1] = chance(50) ? pick<u64>({0x0ull, 0xcull, 0x10ull, 0x14ull, 0x1cull, 0x20ull, 0x24ull, 0x28ull,
                                                 0x44ull, 0x1000ull, 0x1004ull, 0x1008ull})
                                    : below(m.length) & ~3ull;
                c.a[2] = chance(85) ? 4 : 8;
                c.a[3] = chance(30) ? below(2) : chance(50) ? static_cast<u32>(rnd()) : rnd();
                break;
            }
            c.a[0] = handle_arg(kDeviceMmio);
            c.a[1] = chance(60)
                         ? pick<u64>({0x0ull, 0x8ull, 0xcull, 0x10ull, 0x14ull, 0x1cull, 0x20ull, 0x24ull, 0x28ull,
                                      0x30ull, 0x44ull, 0x1000ull, 0x1004ull, 0x1008ull, 0x100cull, 0xffcull})
                     : chance(50) ? below(0x4000)
                                  : rnd();
            c.a[2] = chance(80) ? pick<u64>({4ull, 8ull})
                                : pick<u64>({0ull, 1ull, 2ull, 3ull, 16ull, 0x100000004ull, rnd()});
            c.a[3] = chance(30) ? below(2) : rnd();
            break;
        }
        case S::MmioRead: {
            // Mostly a real window: a virtio common configuration register
            // (the ring addresses at 0x20/0x28/0x30, whole, as halves and
            // as bytes, must be refused), an NVMe register (ASQ 0x28, ACQ
            // 0x30, BPMBL 0x48, CMBMSC 0x50 refused), anywhere in the window,
            // past it; widths right and wrong; output pointers good and bad.
            const MmioCap& m = g_mmio[below(16)];
            c.a[0] = m.handle && chance(75) ? m.handle : handle_arg(kDeviceMmio);
            u64 base = m.handle && m.common >= 0 && chance(60) ? static_cast<u64>(m.common) : 0;
            c.a[1] =
                chance(45)
                    ? base + pick<u64>({0x00ull, 0x04ull, 0x12ull, 0x14ull, 0x18ull, 0x1cull, 0x20ull, 0x24ull, 0x28ull,
                                        0x2cull, 0x30ull, 0x34ull, 0x38ull, 0x48ull, 0x50ull, 0xe14ull, 0x1000ull})
                : chance(60) && m.length ? below(m.length)
                : chance(50)             ? m.length + pick<u64>({0ull, 1ull, 4ull, 8ull})
                                         : rnd();
            c.a[2] = chance(85) ? pick<u64>({1ull, 2ull, 4ull, 8ull})
                                : pick<u64>({0ull, 3ull, 16ull, 0x100000004ull, rnd()});
            c.a[3] = pointer_arg(8);
            break;
        }
        case S::DmaPoolCreate:
            c.a[0] = pci_arg();
            c.a[1] = dma_quota_arg();
            // the brokered lane mostly; the remapped one (refused without an
            // IOMMU), its accept flag, and garbage
            c.a[2] = chance(70)   ? abi::kDmaLaneBrokered
                     : chance(50) ? abi::kDmaLaneRemapped | (rnd() & abi::kDmaLaneAcceptUnremappedInterrupts)
                                  : rnd();
            break;
        case S::DmaBufferCreate:
            c.a[0] = dma_pool_arg(PoolKind::Any);
            c.a[1] = dma_buffer_bytes_arg();
            break;
        case S::DmaPoolInfo:
            c.a[0] = dma_pool_arg(PoolKind::Any);
            c.a[1] = pointer_arg(sizeof(abi::DmaUsage));
            break;
        case S::InterruptCreate: {
            const PciCap& pci = real_pci(45, 40);
            u32 vectors = pci.handle ? g_devs[pci.dev].msix_vectors : 0;
            c.a[0] = pci.handle && chance(75) ? pci.handle : handle_arg(kPciFunction);
            if (chance(75))  // vector 0 most: NVMe's admin completion queue interrupts there
                c.a[1] = chance(50) ? 0 : below(vectors ? (vectors < 8 ? vectors : 8) : 4);
            else
                c.a[1] = pick<u64>({vectors, vectors + 1ull, 0x7ffull, 0xffffull, 0x10000ull, ~0ull, rnd()});
            break;
        }
        case S::InterruptAck: c.a[0] = interrupt_arg(); break;
        case S::InterruptMask:
            c.a[0] = interrupt_arg();
            c.a[1] = chance(85) ? below(2) : pick<u64>({2ull, 0x100ull, ~0ull, rnd()});
            break;
        case S::NvmeQueueCreate:
            c.a[0] = dma_pool_arg(chance(80) ? PoolKind::Nvme : PoolKind::Any);
            c.a[1] = chance(60)   ? static_cast<u64>(abi::NvmeQueueKind::Admin)
                     : chance(85) ? static_cast<u64>(abi::NvmeQueueKind::Io)
                                  : pick<u64>({2ull, 3ull, ~0ull, rnd()});
            c.a[2] = chance(85) ? 2 + below(abi::kNvmeMaxEntries - 1)
                                : pick<u64>({0ull, 1ull, 257ull, 4096ull, 1ull << 32, ~0ull, rnd()});
            // An I/O queue names its admin queue and (or not) an interrupt;
            // an admin queue must name neither.
            if (c.a[1] == static_cast<u64>(abi::NvmeQueueKind::Io) || chance(5)) {
                c.a[3] = queue_arg();
                c.a[4] = chance(50) ? 0 : interrupt_arg();
            }
            break;
        case S::NvmeSubmit: {
            QueueCap* q = chance(85) ? recent_queue() : nullptr;
            c.a[0] = q ? q->handle : queue_arg();
            u64 r = below(100);
            u32 count = r < 70 ? 1 + static_cast<u32>(below(3)) : r < 92 ? 1 + static_cast<u32>(below(64)) : 0;
            u64 at = nvme_batch(q, count ? count : 1);
            c.a[2] = count ? count : pick<u64>({0ull, 65ull, 1ull << 32, (1ull << 32) + 1, ~0ull, rnd()});
            c.a[1] = chance(92) ? at : pointer_arg(c.a[2] * sizeof(abi::NvmeCommand));
            break;
        }
        case S::NvmeComplete:
            c.a[0] = queue_arg();
            c.a[2] = chance(80) ? 1 + below(64) : pick<u64>({0ull, 257ull, 1ull << 32, ~0ull, rnd()});
            c.a[1] = chance(80) ? scratch_ptr(c.a[2] < 257 ? c.a[2] * 8 : 64) : pointer_arg(64);
            break;
        case S::NvmeQueueMap: c.a[0] = queue_arg(); break;
        case S::VirtQueueCreate: {
            const DmaPoolCap* p = chance(85) ? recent_pool(PoolKind::Virtio) : nullptr;
            c.a[0] = p && chance(85) ? p->handle : dma_pool_arg(pool_kind_arg());
            VirtioKind kind = p ? virtio_kind(p->dev) : VirtioKind::Other;
            u32 queues = virtio_queues(kind);
            if (chance(70))  // a queue the device has (or one it lacks, past the last)
                c.a[1] = below(queues + 1);
            else  // QEMU ignores a queue_select of 1024 or more
                c.a[1] = pick<u64>({queues + 1ull, 0x3ffull, 0x400ull, 0x401ull, 0xfffeull, 0xffffull, 0x10000ull,
                                    1ull << 32, ~0ull, rnd()});
            c.a[2] = chance(80) ? 2ull << below(c.a[1] == 2 && kind == VirtioKind::Net ? 5 : 7)
                                : pick<u64>({0ull, 1ull, 3ull, 6ull, 100ull, 255ull, 257ull, 512ull, 1024ull,
                                             0x10000ull, 1ull << 32, ~0ull, rnd()});
            u16 vectors = p && p->dev < g_dev_count ? g_devs[p->dev].msix_vectors : 0;
            if (chance(60))
                c.a[3] = 0xffff;  // no interrupt
            else if (chance(60))
                c.a[3] = below(vectors ? vectors : 2);
            else
                c.a[3] =
                    pick<u64>({vectors, vectors + 1ull, 0x7ffull, 0xfffeull, 0x10000ull, 1ull << 32, ~0ull, rnd()});
            // The longest chain: what the queue's size allows without
            // indirect tables, or what it cannot take.
            c.a[4] = chance(80) ? 1 + below(kFuzzSegments)
                                : pick<u64>({0ull, 64ull, 512ull, 513ull, 0x10000ull, 1ull << 32, ~0ull, rnd()});
            break;
        }
        case S::VirtQueueSubmit: {
            const VirtQueueCap* q = chance(85) ? recent_vq() : nullptr;
            c.a[0] = q ? q->handle : vq_arg();
            u64 r = below(100);
            u32 count = r < 70 ? 1 + static_cast<u32>(below(3)) : r < 93 ? 1 + static_cast<u32>(below(16)) : 0;
            bool read_only = count && chance(4);
            u64 at = virtio_batch(q, count ? count : 1, read_only, &c.a[3], &c.a[4]);
            c.a[2] = count ? count : pick<u64>({0ull, 17ull, 64ull, 1ull << 32, (1ull << 32) + 1, ~0ull, rnd()});
            c.a[1] = read_only || chance(92) ? at : pointer_arg(c.a[2] * sizeof(abi::VirtioChain));
            break;
        }
        case S::VirtQueueComplete:
            c.a[0] = vq_arg();
            c.a[2] = chance(80) ? 1 + below(64) : pick<u64>({0ull, 256ull, 257ull, 1ull << 32, ~0ull, rnd()});
            c.a[1] =
                chance(80) ? scratch_ptr(c.a[2] < 257 ? c.a[2] * sizeof(abi::VirtioCompletion) : 64) : pointer_arg(64);
            break;
        case S::VirtQueueMap: c.a[0] = vq_arg(); break;
        case S::ProcessExit:
        case S::ThreadExit:
        case S::Count: break;
    }
    make_safe(c);
    return c;
}

// --- keeping the pools honest ------------------------------------------------
abi::SystemCap g_caps[1024];

void resync() {
    i64 n = rt::raw_syscall(S::SystemInfo, g_resource, static_cast<u64>(abi::SystemInfoKind::Caps) | (u64{g_pid} << 32),
                            reinterpret_cast<u64>(g_caps), sizeof g_caps);
    g_maintenance_calls++;
    if (n < 0) return;
    // Handles in the space that the pool did not know: moved to us in a
    // reply (or installed by a call that then failed).
    for (i64 i = 0; i < n; i++) {
        const abi::SystemCap& c = g_caps[i];
        if (is_protected(c.handle)) continue;  // (hogs included)
        bool known = false;
        for (u32 k = 0; k < g_pool_count && !known; k++) known = g_pool[k].handle == c.handle;
        if (!known) g_untracked_found++;
    }
    // Pool entries no longer in the space are Stale now.
    for (u32 k = 0; k < g_pool_count; k++) {
        bool there = false;
        for (i64 i = 0; i < n && !there; i++) there = g_caps[i].handle == g_pool[k].handle;
        if (!there) add_dead(g_pool[k].handle);
    }
    u32 served = 0;
    for (u32 k = 0; k < g_served_count; k++) {
        for (i64 i = 0; i < n; i++) {
            if (g_caps[i].handle == g_served[k] && g_caps[i].state == 1) {
                g_served[served++] = g_served[k];
                break;
            }
        }
    }
    g_served_count = served;
    // The device and DMA rings forget what is gone, so the calls aimed at
    // real objects mostly find live ones (closed ones still come from the
    // dead pool).
    auto gone = [&](u32 h) {
        for (i64 i = 0; i < n; i++)
            if (g_caps[i].handle == h) return false;
        return true;
    };
    for (PciCap& p : g_pci)
        if (p.handle && gone(p.handle)) p = PciCap{};
    for (MmioCap& m : g_mmio)
        if (m.handle && gone(m.handle)) m = MmioCap{};
    for (DmaPoolCap& p : g_dma_pools)
        if (p.handle && gone(p.handle)) p = DmaPoolCap{};
    for (DmaBufCap& b : g_dma_bufs)
        if (b.handle && gone(b.handle)) b = DmaBufCap{};
    for (QueueCap& q : g_queues)
        if (q.handle && gone(q.handle)) q = QueueCap{};
    for (u32& h : g_irqs)
        if (h && gone(h)) h = 0;
    for (VirtQueueCap& q : g_vqs)
        if (q.handle && gone(q.handle)) q = VirtQueueCap{};
    for (VirtioWindow& w : g_vwins)
        if (w.handle && gone(w.handle)) w = VirtioWindow{};
    g_pool_count = 0;
    for (i64 i = 0; i < n && g_pool_count < kPoolMax; i++) {
        const abi::SystemCap& c = g_caps[i];
        if (is_protected(c.handle)) continue;
        g_pool[g_pool_count++] = Cap{c.handle, static_cast<u16>(c.type), static_cast<u8>(c.state == 2)};
    }
}

void close_entry(u32 k) {
    (void)rt::raw_syscall(S::HandleClose, g_pool[k].handle);
    g_maintenance_calls++;
    add_dead(g_pool[k].handle);
    g_pool[k] = g_pool[--g_pool_count];
}

void kill_and_close(u32 k) {
    (void)rt::raw_syscall(S::ProcessKill, g_pool[k].handle);
    g_maintenance_calls++;
    close_entry(k);
}

// Keeps the number of capabilities and children bounded.
void maintain() {
    u32 children = 0;
    for (u32 k = 0; k < g_pool_count;) {
        if (g_pool[k].type == kProcess && !g_pool[k].revoked && ++children > kMaxChildren) {
            kill_and_close(k);
            continue;
        }
        k++;
    }
    u32 target = g_purge ? g_pool_count / 2 : g_pool_count > kPoolHigh ? kPoolLow : g_pool_count;
    while (g_pool_count > target) {
        u32 k = static_cast<u32>(below(g_pool_count));
        if (g_pool[k].type == kProcess)
            kill_and_close(k);
        else
            close_entry(k);
    }
    g_purge = false;
}

// Often (not always: calls on torn-down and missing ones matter too) keeps
// a working NVMe chain — the controller's PciFunction, a DmaPool on it, its
// admin queue and a buffer of that pool — so NvmeSubmit, NvmeComplete and
// NvmeQueueMap meet a live queue with buffers of its own pool. The fuzzing
// closes and revokes links of it all the time.
void replenish_nvme() {
    u32 nvme = ~0u;
    for (u32 i = 0; i < g_dev_count && nvme == ~0u; i++)
        if (is_nvme_dev(i)) nvme = i;
    if (nvme == ~0u || !chance(35)) return;
    auto keep_cap = [](i64 h, u16 type) {
        if (h >= 0 && g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{static_cast<u32>(h), type, 0};
    };
    DmaPoolCap* pool =
        recent(g_dma_pools, g_dma_pool_next, 100, [&](const DmaPoolCap& p) { return p.handle && p.dev == nvme; });
    if (!pool) {
        const PciCap* pci = recent(g_pci, g_pci_next, 100, [&](const PciCap& p) { return p.handle && p.dev == nvme; });
        if (!pci) {
            const abi::DeviceInfo& d = g_devs[nvme];
            i64 h = rt::raw_syscall(S::DeviceOpen, g_devices, abi::pci_bdf(d.bus, d.device, d.function));
            g_maintenance_calls++;
            if (h < 0) return;
            keep_cap(h, kPciFunction);
            g_pci[g_pci_next] = PciCap{static_cast<u32>(h), nvme};
            pci = &g_pci[g_pci_next];
            g_pci_next = (g_pci_next + 1) % 16;
        }
        i64 h = rt::raw_syscall(S::DmaPoolCreate, pci->handle, (16 + below(48)) * kPage);
        g_maintenance_calls++;
        if (h < 0) return;  // (Busy: a pool the worker lost track of, or a child's)
        keep_cap(h, kDmaPool);
        g_dma_pools[g_dma_pool_next] = DmaPoolCap{static_cast<u32>(h), nvme};
        pool = &g_dma_pools[g_dma_pool_next];
        g_dma_pool_next = (g_dma_pool_next + 1) % 8;
    }
    u32 p = pool->handle;
    if (!recent(g_queues, g_queue_next, 100, [&](const QueueCap& q) { return q.handle && q.pool == p; })) {
        u32 entries = static_cast<u32>(2 + below(abi::kNvmeMaxEntries - 1));
        i64 h = rt::raw_syscall(S::NvmeQueueCreate, p, static_cast<u64>(abi::NvmeQueueKind::Admin), entries);
        g_maintenance_calls++;
        if (h >= 0) {
            keep_cap(h, kNvmeQueue);
            g_queues[g_queue_next] = QueueCap{static_cast<u32>(h), p, entries, 0};
            g_queue_next = (g_queue_next + 1) % 4;
        }
    }
    if (!recent(g_dma_bufs, g_dma_buf_next, 100, [&](const DmaBufCap& b) { return b.handle && b.pool == p; })) {
        u64 bytes = (1 + below(2)) * kPage;
        i64 h = rt::raw_syscall(S::DmaBufferCreate, p, bytes);
        g_maintenance_calls++;
        if (h >= 0) {
            keep_cap(h, kDmaBuffer);
            g_dma_bufs[g_dma_buf_next] = DmaBufCap{static_cast<u32>(h), p, bytes};
            g_dma_buf_next = (g_dma_buf_next + 1) % 16;
        }
    }
}

// Where function `dev`'s common configuration is: its virtio vendor
// capability of cfg_type 1 (virtio 1.1 §4.1.4: cap_vndr 9, cfg_type at +3,
// bar at +4, offset at +8), read through PciConfigRead.
bool find_common_cfg(u32 pci, u32 dev) {
    if (dev >= 32) return false;
    VirtioCfg& v = g_vcfg[dev];
    if (v.state) return v.state == 1;
    auto read = [&](u64 offset, u64 width) {
        g_maintenance_calls++;
        return rt::raw_syscall(S::PciConfigRead, pci, offset, width);
    };
    i64 at = read(0x34, 1);
    for (u32 hops = 0; at >= 0x40 && at < 0x100 && hops < 48; hops++) {
        i64 id = read(static_cast<u64>(at), 1), next = read(static_cast<u64>(at) + 1, 1),
            type = read(static_cast<u64>(at) + 3, 1);
        if (id < 0 || next < 0 || type < 0) return false;  // (the handle went: try again later)
        if (id == 0x09 && type == 1) {
            i64 bar = read(static_cast<u64>(at) + 4, 1), offset = read(static_cast<u64>(at) + 8, 4);
            if (bar < 0 || offset < 0) return false;
            if (bar > 5) break;
            v = VirtioCfg{1, static_cast<u8>(bar), static_cast<u32>(offset)};
            return true;
        }
        at = next & 0xfc;
    }
    if (at >= 0) v.state = 2;
    return false;
}

// Often keeps a working virtio chain — a virtio function's PciFunction, a
// DmaPool on it, a filtered window on its common configuration, its queues
// and a buffer of that pool — and brings the device up as a driver would
// (virtio 1.1 §3.1.1: reset, ACKNOWLEDGE, DRIVER, VERSION_1 (feature 32)
// only, FEATURES_OK, the queues, DRIVER_OK), so submitted chains are really
// processed and completed. The fuzzing closes, revokes and resets all of it.
void replenish_virtio() {
    u32 virtio[8], n = 0;
    for (u32 i = 0; i < g_dev_count && n < 8; i++)
        if (virtio_kind(i) == VirtioKind::Blk || virtio_kind(i) == VirtioKind::Net) virtio[n++] = i;
    if (!n || !chance(35)) return;
    const u32 dev = virtio[below(n)];
    const VirtioKind kind = virtio_kind(dev);
    auto keep_cap = [](i64 h, u16 type) {
        if (h >= 0 && g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{static_cast<u32>(h), type, 0};
    };
    const PciCap* pci = recent(g_pci, g_pci_next, 100, [&](const PciCap& p) { return p.handle && p.dev == dev; });
    if (!pci) {
        const abi::DeviceInfo& d = g_devs[dev];
        i64 h = rt::raw_syscall(S::DeviceOpen, g_devices, abi::pci_bdf(d.bus, d.device, d.function));
        g_maintenance_calls++;
        if (h < 0) return;
        keep_cap(h, kPciFunction);
        g_pci[g_pci_next] = PciCap{static_cast<u32>(h), dev};
        pci = &g_pci[g_pci_next];
        g_pci_next = (g_pci_next + 1) % 16;
    }
    DmaPoolCap* pool =
        recent(g_dma_pools, g_dma_pool_next, 100, [&](const DmaPoolCap& p) { return p.handle && p.dev == dev; });
    if (!pool) {
        i64 h = rt::raw_syscall(S::DmaPoolCreate, pci->handle, (16 + below(48)) * kPage);
        g_maintenance_calls++;
        if (h < 0) return;  // (Busy: a pool the worker lost track of, or a child's)
        keep_cap(h, kDmaPool);
        g_dma_pools[g_dma_pool_next] = DmaPoolCap{static_cast<u32>(h), dev};
        pool = &g_dma_pools[g_dma_pool_next];
        g_dma_pool_next = (g_dma_pool_next + 1) % 8;
    }
    const u32 p = pool->handle;
    if (!recent(g_dma_bufs, g_dma_buf_next, 100, [&](const DmaBufCap& b) { return b.handle && b.pool == p; })) {
        u64 bytes = (1 + below(2)) * kPage;
        i64 h = rt::raw_syscall(S::DmaBufferCreate, p, bytes);
        g_maintenance_calls++;
        if (h >= 0) {
            keep_cap(h, kDmaBuffer);
            g_dma_bufs[g_dma_buf_next] = DmaBufCap{static_cast<u32>(h), p, bytes};
            g_dma_buf_next = (g_dma_buf_next + 1) % 16;
        }
    }
    if (kind == VirtioKind::Blk && chance(30)) {
        // A new request header in a buffer of the pool: a read (type 0) of
        // a sector near the start, sometimes Get ID (8) or a type the
        // device does not know — never a write: the fuzzing leaves the
        // disk as it found it.
        const DmaBufCap* b = recent_buffer(p);
        i64 at = b && b->pool == p ? rt::raw_syscall(S::MemoryMap, b->handle, 0, abi::kMapWrite) : -1;
        g_maintenance_calls++;
        if (at > 0) {
            auto* header = reinterpret_cast<volatile u32*>(at);
            header[0] = chance(80) ? 0 : chance(50) ? 8 : 0x77;
            header[1] = 0;
            header[2] = static_cast<u32>(below(64));
            header[3] = 0;
            (void)rt::raw_syscall(S::MemoryUnmap, b->handle, static_cast<u64>(at));
            g_maintenance_calls++;
        }
    }
    bool have_queue = recent(g_vqs, g_vq_next, 100, [&](const VirtQueueCap& q) { return q.handle && q.pool == p; });
    if (have_queue && !chance(15)) return;
    // Bring the device up (again: a reset forgets every queue, the ones the
    // worker still holds capabilities to included).
    if (!find_common_cfg(pci->handle, dev)) return;
    const VirtioCfg& cfg = g_vcfg[dev];
    VirtioWindow* win =
        recent(g_vwins, g_vwin_next, 100, [&](const VirtioWindow& w) { return w.handle && w.dev == dev; });
    if (!win) {
        u64 base = cfg.offset & ~(kPage - 1);
        i64 h = rt::raw_syscall(S::MmioCreate, pci->handle, cfg.bar, base, kPage, abi::kMmioFiltered);
        g_maintenance_calls++;
        if (h < 0) return;
        keep_cap(h, kDeviceMmio);
        g_vwins[g_vwin_next] = VirtioWindow{static_cast<u32>(h), dev, cfg.offset - base};
        win = &g_vwins[g_vwin_next];
        g_vwin_next = (g_vwin_next + 1) % 4;
        g_mmio[g_mmio_next] = MmioCap{static_cast<u32>(h), kPage, static_cast<i64>(cfg.offset - base)};
        g_mmio_next = (g_mmio_next + 1) % 16;
    }
    auto write = [&](u64 offset, u64 width, u64 value) {
        g_maintenance_calls++;
        return rt::raw_syscall(S::MmioWrite, win->handle, win->common + offset, width, value);
    };
    // virtio 1.1 §4.1.4.3: driver_feature_select 0x08, driver_feature 0x0c,
    // device_status 0x14; §2.1 status bits.
    constexpr u64 kAcknowledge = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8;
    if (write(0x14, 1, 0) < 0) return;
    (void)write(0x14, 1, kAcknowledge);
    (void)write(0x14, 1, kAcknowledge | kDriver);
    (void)write(0x08, 4, 1);
    (void)write(0x0c, 4, 1);  // VERSION_1
    (void)write(0x14, 1, kAcknowledge | kDriver | kFeaturesOk);
    for (u32 index = 0; index < virtio_queues(kind); index++) {
        if (kind == VirtioKind::Net && index == 2 && chance(70)) continue;
        u16 max = virtio_queue_max(kind, index);
        u16 size = static_cast<u16>(2u << below(max >= 128 ? 7 : 5));
        u16 max_segments = static_cast<u16>(size < kFuzzSegments ? size : kFuzzSegments);
        i64 h = rt::raw_syscall(S::VirtQueueCreate, p, index, size, 0xffff, max_segments);
        g_maintenance_calls++;
        if (h < 0) continue;
        keep_cap(h, kVirtQueue);
        g_vqs[g_vq_next] = VirtQueueCap{static_cast<u32>(h), p, dev, static_cast<u16>(index), size, max_segments};
        g_vq_next = (g_vq_next + 1) % 6;
    }
    (void)write(0x14, 1, kAcknowledge | kDriver | kFeaturesOk | kDriverOk);
    g_vq_bringups++;
}

// Keeps at least one capability of every type in the pool (the fuzzing
// closes, moves and revokes them all the time).
void replenish() {
    bool have[kTypes] = {};
    for (u32 k = 0; k < g_pool_count; k++)
        if (g_pool[k].type < kTypes && !g_pool[k].revoked) have[g_pool[k].type] = true;
    u32 made = 0;
    auto make = [&](u16 type, Result<rt::Handle> h) {
        if (have[type]) return;
        made++;
        g_maintenance_calls++;
        if (h.ok() && g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{h.value().release(), type, 0};
    };
    if (!have[kLog]) make(kLog, rt::duplicate(g_log, cap::kSameRights));
    if (!have[kResource]) make(kResource, rt::duplicate(g_resource, cap::kSameRights));
    if (!have[kConsole] && g_console) make(kConsole, rt::duplicate(g_console, cap::kSameRights));
    if (!have[kDeviceRoot] && g_devices) make(kDeviceRoot, rt::duplicate(g_devices, cap::kSameRights));
    if (!have[kNotification]) make(kNotification, rt::notification_create());
    if (!have[kEndpoint]) make(kEndpoint, rt::endpoint_create());
    if (!have[kWaitSet]) make(kWaitSet, rt::waitset_create());
    if (!have[kMemory]) make(kMemory, rt::memory_create(kPage));
    (void)made;
    replenish_nvme();
    replenish_virtio();
}

// What a call's result tells the pools.
void note_result(const Call& c, i64 r) {
    switch (static_cast<S>(c.number)) {
        case S::HandleClose:
            if (r >= 0) add_dead(static_cast<u32>(c.a[0]));
            break;
        case S::HandleDuplicate:
        case S::EndpointMint:
            if (r >= 0 && is_served(static_cast<u32>(c.a[0]))) add_served(static_cast<u32>(r));
            [[fallthrough]];
        case S::EndpointCreate:
        case S::NotificationCreate:
        case S::MemoryCreate:
        case S::WaitSetCreate:
        case S::ProcessSpawn:
            if (r >= 0 && g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{static_cast<u32>(r), 0, 0};
            break;
        case S::MemoryMap:
            if (r < 0) break;
            add_map(static_cast<u64>(r), static_cast<u32>(c.a[0]));
            // A DmaBuffer reads like memory (zeroed, or what the device wrote).
            for (const DmaBufCap& b : g_dma_bufs)
                if (b.handle && b.handle == static_cast<u32>(c.a[0])) {
                    g_dma_maps++;
                    g_dma_nonzero += *reinterpret_cast<volatile const u64*>(r) != 0;
                    break;
                }
            break;
        case S::DeviceOpen:
            if (r < 0) break;
            if (g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{static_cast<u32>(r), kPciFunction, 0};
            for (u32 i = 0; i < g_dev_count; i++) {
                const abi::DeviceInfo& d = g_devs[i];
                if (abi::pci_bdf(d.bus, d.device, d.function) != c.a[1]) continue;
                g_pci[g_pci_next] = PciCap{static_cast<u32>(r), i};
                g_pci_next = (g_pci_next + 1) % 16;
            }
            break;
        case S::MmioCreate: {
            if (r < 0) break;
            if (g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{static_cast<u32>(r), kDeviceMmio, 0};
            i64 common = -1;
            for (const PciCap& p : g_pci) {
                if (!p.handle || p.handle != static_cast<u32>(c.a[0]) || p.dev >= 32) continue;
                const VirtioCfg& v = g_vcfg[p.dev];
                if (v.state == 1 && v.bar == c.a[1] && v.offset >= c.a[2] && v.offset - c.a[2] + 0x38 <= c.a[3])
                    common = static_cast<i64>(v.offset - c.a[2]);
            }
            g_mmio[g_mmio_next] = MmioCap{static_cast<u32>(r), c.a[3], common};
            g_mmio_next = (g_mmio_next + 1) % 16;
            break;
        }
        case S::DmaPoolCreate: {
            if (r < 0) break;
            if (g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{static_cast<u32>(r), kDmaPool, 0};
            u32 dev = ~0u;
            for (const PciCap& p : g_pci)
                if (p.handle && p.handle == static_cast<u32>(c.a[0])) dev = p.dev;
            g_dma_pools[g_dma_pool_next] = DmaPoolCap{static_cast<u32>(r), dev};
            g_dma_pool_next = (g_dma_pool_next + 1) % 8;
            break;
        }
        case S::DmaBufferCreate:
            if (r < 0) break;
            if (g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{static_cast<u32>(r), kDmaBuffer, 0};
            g_dma_bufs[g_dma_buf_next] = DmaBufCap{static_cast<u32>(r), static_cast<u32>(c.a[0]), c.a[1]};
            g_dma_buf_next = (g_dma_buf_next + 1) % 16;
            break;
        case S::InterruptCreate:
            if (r < 0) break;
            if (g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{static_cast<u32>(r), kInterrupt, 0};
            g_irqs[g_irq_next] = static_cast<u32>(r);
            g_irq_next = (g_irq_next + 1) % 8;
            break;
        case S::NvmeQueueCreate:
            if (r < 0) break;
            if (g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{static_cast<u32>(r), kNvmeQueue, 0};
            g_queues[g_queue_next] =
                QueueCap{static_cast<u32>(r), static_cast<u32>(c.a[0]), static_cast<u32>(c.a[2]), 0};
            g_queue_next = (g_queue_next + 1) % 4;
            break;
        case S::VirtQueueCreate: {
            if (r < 0) break;
            if (g_pool_count < kPoolMax) g_pool[g_pool_count++] = Cap{static_cast<u32>(r), kVirtQueue, 0};
            u32 dev = ~0u;
            for (const DmaPoolCap& p : g_dma_pools)
                if (p.handle && p.handle == static_cast<u32>(c.a[0])) dev = p.dev;
            g_vqs[g_vq_next] =
                VirtQueueCap{static_cast<u32>(r),      static_cast<u32>(c.a[0]), dev,
                             static_cast<u16>(c.a[1]), static_cast<u16>(c.a[2]), static_cast<u16>(c.a[4])};
            g_vq_next = (g_vq_next + 1) % 6;
            // (QEMU ignores a queue_select of 1024 or more: unless the broker
            // checks num_queues, it programs whichever queue was selected.)
            VirtioKind kind = virtio_kind(dev);
            if ((kind == VirtioKind::Blk || kind == VirtioKind::Net) && c.a[1] >= virtio_queues(kind)) {
                g_vq_phantoms++;
                rt::log("fuzz: VirtQueueCreate made queue %llu of a device with %u queues",
                        static_cast<unsigned long long>(c.a[1]), virtio_queues(kind));
            }
            break;
        }
        case S::VirtQueueSubmit: {
            if (r <= 0) break;
            g_vq_chains += static_cast<u64>(r);
            // The heads written back are descriptor ids of the queue, each
            // chain its own.
            const VirtQueueCap* q = nullptr;
            for (const VirtQueueCap& v : g_vqs)
                if (v.handle && v.handle == static_cast<u32>(c.a[0])) q = &v;
            u64 bytes = static_cast<u64>(r) * sizeof(abi::VirtioChain);
            if (!q || c.a[1] < kScratch || c.a[1] + bytes > kScratch + kPage) break;
            const auto* chains = reinterpret_cast<const abi::VirtioChain*>(c.a[1]);
            for (i64 i = 0; i < r; i++) {
                bool bad = chains[i].head >= q->size;
                for (i64 k = 0; k < i && !bad; k++) bad = chains[k].head == chains[i].head;
                if (bad) {
                    g_vq_bad_heads++;
                    rt::log("fuzz: VirtQueueSubmit wrote head %u for chain %lld of %lld into a queue of %u",
                            chains[i].head, static_cast<long long>(i), static_cast<long long>(r), q->size);
                }
            }
            break;
        }
        case S::VirtQueueComplete:
            if (r > 0) g_vq_consumed += static_cast<u64>(r);
            break;
        case S::VirtQueueMap:
            if (r < 0) break;
            add_map(static_cast<u64>(r), static_cast<u32>(c.a[0]));
            g_vq_maps++;
            // Readable at once: flags, then the device's used index.
            g_vq_used_seen += *reinterpret_cast<volatile const u16*>(static_cast<u64>(r) + 2) != 0;
            break;
        case S::InterruptAck:
            if (r > 0) g_irq_deliveries += static_cast<u64>(r);
            break;
        case S::NvmeQueueMap:
            if (r < 0) break;
            add_map(static_cast<u64>(r), static_cast<u32>(c.a[0]));
            g_map_cq++;
            // Readable at once (it is unmapped only when that capability goes).
            g_cq_phases += *reinterpret_cast<volatile const u16*>(static_cast<u64>(r) + 14) & 1;
            break;
        default: break;
    }
    if (c.number == static_cast<u64>(S::ProcessSpawn) && r >= 0) {
        abi::ProcessInfo info{};
        g_maintenance_calls++;
        if (rt::raw_syscall(S::ProcessInfo, static_cast<u64>(r), reinterpret_cast<u64>(&info)) == 0) {
            if (g_pending_called) {
                g_called[g_called_next] = g_pending_called;
                g_called_next = (g_called_next + 1) % 8;
            }
            g_child_pids[g_child_pid_next] = info.pid;
            g_child_pid_next = (g_child_pid_next + 1) % 16;
            if (g_child_pid_count < 16) g_child_pid_count++;
        }
    }
    // Out of kernel memory or capability space: close half the pools. (Not
    // for a DMA pool's own quota or ledger, which only that pool runs out of.)
    bool full = r == -static_cast<i64>(Status::NoMemory) || r == -static_cast<i64>(Status::QuotaExceeded);
    bool dma = c.number >= static_cast<u64>(S::DmaPoolCreate) && c.number < kSyscalls;
    if (full && c.number != static_cast<u64>(S::ThreadCreate) && !dma && !g_hog_count) g_purge = true;
}

// --- the worker ---------------------------------------------------------------
// Log lines built from items; an item that does not fit starts a new line
// (with `continuation` in front).
class Line {
public:
    explicit Line(const char* continuation) : m_continuation(continuation) {}
    __attribute__((format(printf, 2, 3))) void add(const char* fmt, ...) {
        char item[96];
        va_list ap;
        va_start(ap, fmt);
        usize n = format_v(item, sizeof item, fmt, ap);
        va_end(ap);
        if (n >= sizeof item) n = sizeof item - 1;
        if (m_len + n >= sizeof m_text) {
            flush();
            m_len = format(m_text, sizeof m_text, "%s", m_continuation);
        }
        __builtin_memcpy(m_text + m_len, item, n + 1);
        m_len += n;
    }
    void flush() {
        if (m_len) rt::log("%s", m_text);
        m_len = 0;
    }

private:
    const char* m_continuation;
    char m_text[200] = {};
    usize m_len = 0;
};
u64 parse_hex(const char* s, const char* key) {
    for (u32 i = 0; s[i]; i++) {
        u32 k = 0;
        while (key[k] && s[i + k] == key[k]) k++;
        if (key[k]) continue;
        u64 v = 0;
        for (const char* p = s + i + k; *p; p++) {
            u32 d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : 99;
            if (d > 15) break;
            v = v * 16 + d;
        }
        return v;
    }
    return 0;
}

// Leaves a new capability in the space (the pools find it at the next
// resync); a failure is simply not there.
void keep(Result<rt::Handle> h) {
    if (h.ok()) (void)h.value().release();
}

// Maps `mem` at `at`; 0 on failure.
u64 map_at(u32 mem, u64 at, bool write) {
    auto r = rt::memory_map(mem, at, write ? abi::kMapWrite : 0);
    return r.ok() ? r.value() : 0;
}

int fail(const char* what, Status s) {
    rt::log("fuzz: FAILED %s: %s", what, status_name(s));
    return 1;
}

// Starts the echo server and receives its endpoint.
int start_server() {
    auto boot = rt::endpoint_create();
    if (!boot.ok()) return fail("endpoint_create", boot.status());
    abi::SpawnRequest req{};
    const char name[] = "fuzz_peer";
    for (u32 i = 0; name[i]; i++) req.module[i] = name[i];
    req.module_len = sizeof name - 1;
    req.priority = 16;
    req.handle_count = 1;
    req.copy_mask = 1;
    const char boot_name[] = "boot";
    for (u32 i = 0; boot_name[i]; i++) req.handles[0].name[i] = boot_name[i];
    req.handles[0].handle = boot.value().get();
    for (u32 i = 0; kServeArgs[i]; i++) req.args[i] = kServeArgs[i];
    auto server = rt::process_spawn(g_resource, req);
    if (!server.ok()) return fail("spawn echo server", server.status());
    abi::Message hello{};
    if (auto r = rt::endpoint_receive(boot.value().get(), hello, 5'000'000'000ull); !r.ok() || hello.handle_count != 1)
        return fail("echo server hello", r.ok() ? Status::Malformed : r.status());
    abi::Message ack{};
    if (auto r = rt::endpoint_reply(ack); !r.ok()) return fail("echo server ack", r.status());
    g_server_ep = hello.handles[0];
    g_server_proc = server.value().release();
    g_server_alive = true;
    g_server_pid = rt::process_info(g_server_proc).value_or(abi::ProcessInfo{}).pid;
    protect(g_server_ep);
    protect(g_server_proc);
    return 0;
}

void add_hog(u32 h) {
    g_hog_by_slot[h & 0xfff] = h;
    g_hog_count++;
}

void release_hogs() {
    for (u32 slot = 0; slot < 4096; slot++) {
        if (!g_hog_by_slot[slot]) continue;
        (void)rt::raw_syscall(S::HandleClose, g_hog_by_slot[slot]);
        g_maintenance_calls++;
        g_hog_by_slot[slot] = 0;
    }
    g_hog_count = 0;
}

u64 free_frames() {
    abi::SystemMemory m{};
    g_maintenance_calls++;
    return rt::system_info(g_resource, abi::SystemInfoKind::Memory, 0, &m, sizeof m).ok() ? m.free_frames : 0;
}

// Out of memory: memory objects take every free frame (largest first), so
// the calls that follow meet allocation failures everywhere.
void exhaust_memory() {
    u64 before = free_frames();
    u32 objects = 0;
    for (u64 size = 64ull << 20; size >= kPage; size /= 4) {
        for (;;) {
            i64 h = rt::raw_syscall(S::MemoryCreate, size);
            g_maintenance_calls++;
            if (h < 0) break;
            add_hog(static_cast<u32>(h));
            objects++;
        }
    }
    rt::log("fuzz: out-of-memory phase: %u memory objects took %llu of %llu free frames", objects,
            static_cast<unsigned long long>(before - free_frames()), static_cast<unsigned long long>(before));
}

// A full capability space: duplicates of one notification fill every free
// slot, so creating, duplicating and receiving capabilities fail.
void fill_cap_space() {
    i64 n = rt::raw_syscall(S::NotificationCreate);
    g_maintenance_calls++;
    if (n < 0) return;
    add_hog(static_cast<u32>(n));
    u32 slots = 1;
    for (;;) {
        i64 d = rt::raw_syscall(S::HandleDuplicate, static_cast<u64>(n), cap::kSameRights);
        g_maintenance_calls++;
        if (d < 0) break;
        add_hog(static_cast<u32>(d));
        slots++;
    }
    rt::log("fuzz: full-space phase: %u more capabilities fill the space", slots);
}

int worker(const char* args) {
    u64 seed_value = parse_hex(args, "seed=");
    u64 calls = parse_hex(args, "calls=");
    u64 trace_from = parse_hex(args, "trace=");
    if (!trace_from) trace_from = ~0ull;
    g_pid = rt::startup().pid;
    g_log = rt::startup_handle("log");
    g_resource = rt::startup_handle("resource");
    g_console = rt::startup_handle("console");
    g_devices = rt::startup_handle("devices");
    u32 recorder_mem = rt::startup_handle("recorder");
    protect(g_log);
    protect(g_resource);
    protect(g_console);
    protect(g_devices);
    protect(recorder_mem);
    auto* rec = reinterpret_cast<volatile Recorder*>(kRecorder);
    if (!map_at(recorder_mem, kRecorder, true)) return fail("map recorder", Status::NotFound);

    auto scratch = rt::memory_create(kScratchBytes);
    auto ro = rt::memory_create(kPage);
    auto chains = rt::memory_create(kPage);
    if (!scratch.ok() || !ro.ok() || !chains.ok()) return fail("memory_create", Status::NoMemory);
    g_scratch_mem = scratch.value().release();
    g_ro_mem = ro.value().release();
    g_chains_mem = chains.value().release();
    protect(g_scratch_mem);
    protect(g_ro_mem);
    protect(g_chains_mem);
    if (!map_at(g_scratch_mem, kScratch, true) || !map_at(g_ro_mem, kReadOnlyRw, true) ||
        !map_at(g_ro_mem, kReadOnly, false) || !map_at(g_chains_mem, kChainsRw, true) ||
        !map_at(g_chains_mem, kChainsRo, false))
        return fail("map scratch", Status::NotFound);
    seed(seed_value);
    // The read-only page: printable text (it is also what LogWrite and
    // ConsoleWrite print when they would read other memory) with NULs.
    for (u64 i = 0; i < kPage; i++)
        reinterpret_cast<char*>(kReadOnlyRw)[i] = chance(3) ? 0 : static_cast<char>('a' + below(26));
    if (int r = start_server()) return r;

    // Starting pools: one of everything, and copies of log and resource.
    for (u32 i = 0; i < 2; i++) {
        keep(rt::endpoint_create());
        keep(rt::notification_create());
        keep(rt::memory_create(kPage * (1 + i)));
        keep(rt::waitset_create());
        keep(rt::duplicate(g_log, cap::kSameRights));
        keep(rt::duplicate(g_resource, cap::kSameRights));
        keep(rt::duplicate(g_console, cap::kSameRights));
        keep(rt::duplicate(g_devices, cap::kSameRights));
    }
    // The PCI functions there are, so DeviceOpen can name real ones.
    i64 listed = rt::raw_syscall(S::DeviceList, g_devices, reinterpret_cast<u64>(g_devs), 32);
    g_dev_count = listed > 0 ? static_cast<u32>(listed) : 0;
    for (u32 i = 0; i < 3; i++) {
        auto m = rt::endpoint_mint(g_server_ep, 0xb0 + i,
                                   i == 0 ? cap::kSameRights : cap_rights::kCall | cap_rights::kDuplicate);
        if (m.ok()) add_served(m.value().release());
    }
    rt::log("fuzz: worker pid %u: %llu calls, seed 0x%016llx, echo server pid %u, %u PCI functions", g_pid,
            static_cast<unsigned long long>(calls), static_cast<unsigned long long>(seed_value), g_server_pid,
            g_dev_count);

    rec->magic = kRecorderMagic;
    // Phases in which a resource is exhausted, as fractions of the run.
    const u64 oom_begin = calls * 4 / 10, oom_end = oom_begin + calls / 25;
    const u64 full_begin = calls * 7 / 10, full_end = full_begin + calls * 3 / 100;
    for (u64 i = 0; i < calls; i++) {
        if (i == oom_begin && calls >= 1000) exhaust_memory();
        if (i == full_begin && calls >= 1000) fill_cap_space();
        if ((i == oom_end || i == full_end) && g_hog_count) {
            release_hogs();
            rt::log("fuzz: %s phase over after %llu calls; free frames %llu",
                    i == oom_end ? "out-of-memory" : "full-space",
                    static_cast<unsigned long long>(i == oom_end ? oom_end - oom_begin : full_end - full_begin),
                    static_cast<unsigned long long>(free_frames()));
        }
        if (i % 32 == 0) {
            resync();
            maintain();
            replenish();
        }
        Call c = generate();
        volatile Recorded& slot = rec->last[i % kRecorded];
        slot.iteration = i;
        slot.number = c.number;
        for (u32 k = 0; k < 6; k++) slot.args[k] = c.a[k];
        slot.result = 1;  // (no result yet)
        rec->calls = i + 1;
        if (i >= trace_from)
            rt::log("fuzz: #%llu %s(%llu) %llx %llx %llx %llx %llx %llx", static_cast<unsigned long long>(i),
                    abi::syscall_name(c.number), static_cast<unsigned long long>(c.number),
                    static_cast<unsigned long long>(c.a[0]), static_cast<unsigned long long>(c.a[1]),
                    static_cast<unsigned long long>(c.a[2]), static_cast<unsigned long long>(c.a[3]),
                    static_cast<unsigned long long>(c.a[4]), static_cast<unsigned long long>(c.a[5]));
        i64 r = do_call(c);
        if (i >= trace_from)
            rt::log("fuzz: #%llu -> %lld", static_cast<unsigned long long>(i), static_cast<long long>(r));
        slot.result = r;
        count(c.number, r);
        note_result(c, r);
        if ((i + 1) % 20000 == 0)
            rt::log("fuzz: progress %llu calls, %llu ok", static_cast<unsigned long long>(i + 1),
                    static_cast<unsigned long long>(g_counts.by_status[0]));
    }
    rec->done = 1;

    // The summary: every result that occurred, by status; then per call.
    Line out("fuzz: results:");
    out.add("fuzz: %llu calls done, seed 0x%016llx; results:", static_cast<unsigned long long>(calls),
            static_cast<unsigned long long>(seed_value));
    for (u32 s = 0; s <= kStatusCount; s++) {
        if (!g_counts.by_status[s]) continue;
        const char* name = s == 0 ? "ok" : s == kStatusCount ? "other" : status_name(static_cast<Status>(s));
        out.add(" %s %llu", name, static_cast<unsigned long long>(g_counts.by_status[s]));
    }
    out.flush();
    Line per("fuzz: per call (ok/made):");
    per.add("fuzz: per call (ok/made):");
    for (u32 n = 0; n <= kSyscalls; n++)
        per.add(" %s %llu/%llu", n < kSyscalls ? abi::syscall_name(n) : "undefined",
                static_cast<unsigned long long>(g_counts.ok[n]), static_cast<unsigned long long>(g_counts.calls[n]));
    per.flush();
    // The DMA and broker calls by result: which checks the fuzzing reached.
    for (u32 n = static_cast<u32>(S::DmaPoolCreate); n < kSyscalls; n++) {
        char more[48];
        format(more, sizeof more, "fuzz: results of %s (more):", abi::syscall_name(n));
        Line line(more);
        line.add("fuzz: results of %s:", abi::syscall_name(n));
        for (u32 s = 0; s <= kStatusCount; s++) {
            if (!g_counts.by_call_status[n][s]) continue;
            const char* name = s == 0 ? "ok" : s == kStatusCount ? "other" : status_name(static_cast<Status>(s));
            line.add(" %s %llu", name, static_cast<unsigned long long>(g_counts.by_call_status[n][s]));
        }
        line.flush();
    }
    rt::log("fuzz: %llu bookkeeping calls; %llu handles found that no result announced",
            static_cast<unsigned long long>(g_maintenance_calls), static_cast<unsigned long long>(g_untracked_found));
    rt::log(
        "fuzz: dma: %llu buffer maps (%llu showed data), %llu completion queue maps (%llu with an entry posted), "
        "%llu interrupt deliveries acknowledged",
        static_cast<unsigned long long>(g_dma_maps), static_cast<unsigned long long>(g_dma_nonzero),
        static_cast<unsigned long long>(g_map_cq), static_cast<unsigned long long>(g_cq_phases),
        static_cast<unsigned long long>(g_irq_deliveries));
    rt::log(
        "fuzz: virtqueues: %llu device bring-ups, %llu chains accepted, %llu used entries consumed, %llu used-ring "
        "maps (%llu past index 0), %llu bad heads, %llu queues the device lacks",
        static_cast<unsigned long long>(g_vq_bringups), static_cast<unsigned long long>(g_vq_chains),
        static_cast<unsigned long long>(g_vq_consumed), static_cast<unsigned long long>(g_vq_maps),
        static_cast<unsigned long long>(g_vq_used_seen), static_cast<unsigned long long>(g_vq_bad_heads),
        static_cast<unsigned long long>(g_vq_phantoms));

    // Leave nothing running: kill every child, the echo server included.
    resync();
    u32 killed = 0;
    for (u32 k = 0; k < g_pool_count; k++)
        if (g_pool[k].type == kProcess && rt::raw_syscall(S::ProcessKill, g_pool[k].handle) == 0) killed++;
    bool server_was_running = server_running();
    (void)rt::process_kill(g_server_proc);
    rt::log("fuzz: worker done; killed %u children; echo server %s", killed,
            server_was_running ? "still serving" : "GONE");
    if (!server_was_running) return 2;
    // The main thread leaves first; a thread below its priority is the last
    // one, and its ThreadExit ends the process (with 0).
    i64 t = rt::raw_syscall(S::ThreadCreate, reinterpret_cast<u64>(fuzz_thread_sleep), kScratch + kPage, 0, 15);
    if (t < 0) return fail("thread_create", static_cast<Status>(-t));
    rt::log("fuzz: main thread exits; thread %lld ends the worker", static_cast<long long>(t));
    rt::raw_syscall(S::ThreadExit);
    return fail("thread_exit returned", Status::Malformed);
}

// --- the supervisor (init) ------------------------------------------------------
Result<abi::SystemMemory> memory(u32 resource) {
    abi::SystemMemory m{};
    TRY(rt::system_info(resource, abi::SystemInfoKind::Memory, 0, &m, sizeof m));
    return m;
}

// Live processes, the caller included.
u32 running_processes(u32 resource) {
    static abi::SystemProcess procs[64];
    auto n = rt::system_info(resource, abi::SystemInfoKind::Processes, 0, procs, sizeof procs);
    if (!n.ok()) return ~0u;
    u32 live = 0;
    for (u64 i = 0; i < n.value(); i++) live += procs[i].state == 0 ? 1 : 0;
    return live;
}

// Runs one worker to its end; 0 when it exited with 0.
struct Grants {
    u32 resource, log, console, devices;
};

int run_worker(const Grants& g, u64 seed_value, u64 calls, u32* pid_out) {
    u32 resource = g.resource;
    auto rec_mem = rt::memory_create(kPage);
    if (!rec_mem.ok()) return fail("memory_create", rec_mem.status());
    auto at = rt::memory_map(rec_mem.value().get(), 0, abi::kMapWrite);
    if (!at.ok()) return fail("memory_map", at.status());
    auto* rec = reinterpret_cast<volatile Recorder*>(at.value());
    char args[96];
    format(args, sizeof args, "worker seed=%llx calls=%llx trace=%llx", static_cast<unsigned long long>(seed_value),
           static_cast<unsigned long long>(calls), static_cast<unsigned long long>(SYSCALL_FUZZ_TRACE_FROM));
    rt::Grant grants[5] = {
        {"log", g.log, true}, {"resource", resource, true}, {"recorder", rec_mem.value().get(), true}};
    u32 count = 3;
    if (g.console) grants[count++] = {"console", g.console, true};
    if (g.devices) grants[count++] = {"devices", g.devices, true};
    auto child = rt::spawn(resource, "syscall_fuzz", grants, count, 16, args);
    if (!child.ok()) return fail("spawn worker", child.status());
    auto info = rt::wait_for_exit(child.value().get(), kWorkerTimeoutNs);
    if (!info.ok() || info.value().kind != abi::ExitKind::Exited || info.value().exit_code != 0) {
        if (info.ok())
            rt::log("fuzz: FAILED worker pid %u ended: kind %u code %lld fault vector %llu address 0x%llx rip 0x%llx",
                    info.value().pid, static_cast<unsigned>(info.value().kind),
                    static_cast<long long>(info.value().exit_code),
                    static_cast<unsigned long long>(info.value().fault_vector),
                    static_cast<unsigned long long>(info.value().fault_address),
                    static_cast<unsigned long long>(info.value().fault_rip));
        else
            rt::log("fuzz: FAILED worker did not finish: %s", status_name(info.status()));
        if (rec->magic == kRecorderMagic) {
            u64 made = rec->calls;
            rt::log("fuzz: the worker made %llu calls%s; the last ones (result 1: still in the call):",
                    static_cast<unsigned long long>(made), rec->done ? " and finished" : "");
            for (u64 i = made > kRecorded ? made - kRecorded : 0; i < made; i++) {
                const volatile Recorded& r = rec->last[i % kRecorded];
                rt::log("fuzz:   #%llu %s(%llu) %llx %llx %llx %llx %llx %llx -> %lld",
                        static_cast<unsigned long long>(r.iteration), abi::syscall_name(r.number),
                        static_cast<unsigned long long>(r.number), static_cast<unsigned long long>(r.args[0]),
                        static_cast<unsigned long long>(r.args[1]), static_cast<unsigned long long>(r.args[2]),
                        static_cast<unsigned long long>(r.args[3]), static_cast<unsigned long long>(r.args[4]),
                        static_cast<unsigned long long>(r.args[5]), static_cast<long long>(r.result));
            }
        }
        (void)rt::process_kill(child.value().get());
        return 1;
    }
    *pid_out = info.value().pid;
    (void)rt::memory_unmap(rec_mem.value().get(), at.value());
    return 0;
}

// Waits until only the caller is left running (children the worker lost
// track of exit on their own after 20 ms; the echo server was killed).
bool settle(u32 resource) {
    for (u32 i = 0; i < 500; i++) {
        if (running_processes(resource) == 1) return true;
        rt::sleep_ns(10'000'000ull);
    }
    return false;
}

// The kernel heap keeps the pages it grew into (its free lists never give
// frames back), so a higher peak of live kernel objects in the real run
// than in the warm-up would look like lost frames. A peak of ~1000 objects
// here — more than the worker's pools ever hold — grows the heap first.
void pregrow_heap() {
    static u32 held[1000];
    u32 n = 0;
    for (u32 round = 0; round < 250 && n + 4 <= 1000; round++) {
        i64 made[4] = {rt::raw_syscall(S::NotificationCreate), rt::raw_syscall(S::EndpointCreate),
                       rt::raw_syscall(S::WaitSetCreate), rt::raw_syscall(S::MemoryCreate, (1 + round % 16) * kPage)};
        for (i64 h : made)
            if (h >= 0) held[n++] = static_cast<u32>(h);
    }
    for (u32 i = 0; i < n; i++) (void)rt::raw_syscall(S::HandleClose, held[i]);
}

// After the fuzzing: the basic objects still work.
int health_check(u32 resource) {
    auto note = rt::notification_create();
    auto ws = rt::waitset_create();
    auto ep = rt::endpoint_create();
    auto mem = rt::memory_create(3 * kPage);
    if (!note.ok() || !ws.ok() || !ep.ok() || !mem.ok()) return fail("health: create", Status::NoMemory);
    if (auto r = rt::notification_signal(note.value().get(), 0x81); !r.ok()) return fail("health: signal", r.status());
    if (auto r = rt::waitset_add(ws.value().get(), note.value().get(), abi::kSignalReady, 42); !r.ok())
        return fail("health: waitset_add", r.status());
    abi::WaitEvent ev{};
    auto n = rt::waitset_wait(ws.value().get(), &ev, 1, 1'000'000'000ull);
    if (!n.ok() || n.value() != 1 || ev.key != 42)
        return fail("health: waitset_wait", n.ok() ? Status::Malformed : n.status());
    auto bits = rt::notification_wait(note.value().get(), 0);
    if (!bits.ok() || bits.value() != 0x81)
        return fail("health: notification_wait", bits.ok() ? Status::Malformed : bits.status());
    abi::Message m{};
    Status poll = rt::endpoint_receive(ep.value().get(), m, 0).status();
    if (poll != Status::Timeout) return fail("health: endpoint poll", poll);
    auto at = rt::memory_map(mem.value().get(), 0, abi::kMapWrite);
    if (!at.ok()) return fail("health: memory_map", at.status());
    auto* words = reinterpret_cast<volatile u64*>(at.value());
    words[0] = 0x5eed;
    words[3 * kPage / 8 - 1] = 0xf00d;
    u64 sum = words[0] + words[3 * kPage / 8 - 1];
    if (auto r = rt::memory_unmap(mem.value().get(), at.value()); !r.ok()) return fail("health: unmap", r.status());
    auto peer = rt::spawn(resource, "fuzz_peer", nullptr, 0);
    if (!peer.ok()) return fail("health: spawn", peer.status());
    auto info = rt::wait_for_exit(peer.value().get(), 5'000'000'000ull);
    if (!info.ok() || info.value().kind != abi::ExitKind::Exited) return fail("health: child", Status::Malformed);
    rt::log(
        "fuzz: health: notification bits 0x%llx via waitset key %llu, endpoint poll %s, memory 0x%llx, "
        "child pid %u exited with %lld",
        static_cast<unsigned long long>(bits.value()), static_cast<unsigned long long>(ev.key), status_name(poll),
        static_cast<unsigned long long>(sum), info.value().pid, static_cast<long long>(info.value().exit_code));
    return 0;
}

int supervise() {
    u32 resource = rt::startup_handle("resource");
    u32 log = rt::startup_handle("log");
    Grants grants{resource, log, rt::startup_handle("console"), rt::startup_handle("devices")};
    rt::log("fuzz: seed 0x%016llx, %llu calls (after a %llu-call warm-up)", static_cast<unsigned long long>(kSeed),
            static_cast<unsigned long long>(kCalls), static_cast<unsigned long long>(kWarmupCalls));
    auto start = memory(resource);
    if (!start.ok()) return fail("system_info", start.status());
    // Warm-up: first-use allocations (page tables, heap pages) happen here,
    // so the measurement around the real run sees only what that run left.
    pregrow_heap();
    u32 pid = 0;
    if (int r = run_worker(grants, kSeed ^ 0x77617275ull, kWarmupCalls, &pid)) return r;
    if (!settle(resource)) return fail("processes left running after the warm-up", Status::Busy);
    auto before = memory(resource);
    if (!before.ok()) return fail("system_info", before.status());
    u64 t0 = rt::clock_ns();
    if (int r = run_worker(grants, kSeed, kCalls, &pid)) return r;
    u64 t1 = rt::clock_ns();
    bool settled = settle(resource);
    auto after = memory(resource);
    if (!after.ok()) return fail("system_info", after.status());
    rt::log("fuzz: worker pid %u exited with 0 after %llu calls in %llu ms; %s", pid,
            static_cast<unsigned long long>(kCalls), static_cast<unsigned long long>((t1 - t0) / 1'000'000),
            settled ? "no process left but init" : "PROCESSES LEFT RUNNING");
    const abi::SystemMemory& b = before.value();
    const abi::SystemMemory& a = after.value();
    rt::log(
        "fuzz: free frames %llu -> %llu, heap %llu -> %llu, kernel stacks %llu -> %llu, cap nodes %llu -> %llu "
        "(boot: %llu free)",
        static_cast<unsigned long long>(b.free_frames), static_cast<unsigned long long>(a.free_frames),
        static_cast<unsigned long long>(b.heap_bytes), static_cast<unsigned long long>(a.heap_bytes),
        static_cast<unsigned long long>(b.kernel_stacks), static_cast<unsigned long long>(a.kernel_stacks),
        static_cast<unsigned long long>(b.cap_nodes_used), static_cast<unsigned long long>(a.cap_nodes_used),
        static_cast<unsigned long long>(start.value().free_frames));
    // Heap bytes, kernel stacks and capability nodes are exact counts and
    // must be back exactly. Free frames may differ by a few: kernel page
    // tables grown on first use (the kernel's MMIO window views, which stay
    // mapped by design) and heap pages (see pregrow_heap) are not given
    // back. Anything a leaked object holds also shows in the heap.
    u64 frames_lost = b.free_frames > a.free_frames ? b.free_frames - a.free_frames : 0;
    bool same = frames_lost <= kFrameSlack && b.heap_bytes == a.heap_bytes && b.kernel_stacks == a.kernel_stacks &&
                b.cap_nodes_used == a.cap_nodes_used;
    rt::log("fuzz: kernel memory %s (frames within %llu)",
            same ? "back at the pre-fuzz baseline" : "NOT back at baseline: LEAK",
            static_cast<unsigned long long>(kFrameSlack));
    if (int r = health_check(resource)) return r;
    return settled && same ? 0 : 1;
}

}  // namespace

int main(u64) {
    const char* args = rt::startup().args;
    if (args[0] == 'w') return worker(args);
    return supervise();
}
