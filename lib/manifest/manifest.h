// The boot manifest: which kernel objects init creates, which processes it
// starts with which capabilities, and which driver providers the device
// manager binds to which PCI functions with which device grants.
// The format is documented in docs/manifest.md; this header is the data
// model both readers (init, devmgr) consume and the parser that fills it.
//
// Safety rule: an entry with any error is *refused* — it does not appear in
// the Manifest at all — and so is every entry that refers to a refused or
// undefined name (a process whose cap names a refused memory object would
// otherwise start with less authority than the manifest says). Everything
// else still loads: "the offending entry refused, the rest boots".
//
// Threading/lifetime: parse_manifest is a pure function of its input; it
// keeps no pointer into `text` (names and strings are copied into fixed
// arrays), allocates nothing and uses well under 2 KiB of stack. Manifest
// is large (about 133 KiB): keep it static, not on a stack.
#pragma once

#include "util/byte_view.h"
#include "util/page.h"
#include "util/result.h"
#include "util/types.h"

namespace manifest {

// ---------------------------------------------------------------------------
// Limits. Exceeding any of them is an error at the entry or line that did not
// fit, never a silent truncation.

inline constexpr u32 kMaxNameLength = 31;        // entry and slot names
inline constexpr u32 kMaxModuleNameLength = 64;  // = scripts/harness/images.py MODULE_NAME_RE
inline constexpr u32 kMaxStringLength = 127;     // args, after escapes
inline constexpr u32 kMaxObjects = 64;           // endpoints + notifications + memory
inline constexpr u32 kMaxProcesses = 32;
inline constexpr u32 kMaxProviders = 16;
inline constexpr u32 kMaxCaps = 16;            // per process or provider
inline constexpr u32 kMaxSupervised = 8;       // supervise lines per process
inline constexpr u32 kMaxEscrowHandles = 512;  // `escrow = N` (= lib/protocol/escrow.h kMaxEscrowQuota)
inline constexpr u32 kMaxServed = 8;           // serve lines per provider or process
inline constexpr u32 kMaxServePorts = 8;       // ports= on one serve line of a process
inline constexpr u32 kMaxServeSockets = 32;    // sockets= (= lib/protocol/socket.h kSocketMaxSockets)
inline constexpr u32 kDefaultServeSockets = 8;
inline constexpr u32 kMaxBarWindows = 8;  // bar lines per provider
inline constexpr u32 kMaxErrors = 16;     // recorded; more are counted
inline constexpr u32 kMaxMessageLength = 159;
inline constexpr usize kMaxInputSize = usize{1} << 20;

inline constexpr u64 kMaxSize = u64{1} << 40;  // sizes, offsets, lengths: at most 1024G
inline constexpr u8 kMaxPriority = 31;
inline constexpr u8 kDefaultPriority = 16;
inline constexpr u32 kMaxRestartLimit = 1000;
inline constexpr u32 kDefaultRestartLimit = 5;
inline constexpr u32 kMaxRestartBackoffMs = 3600 * 1000;
inline constexpr u32 kDefaultRestartBackoffMs = 100;
// The default kernel memory limit of a process or provider
// (abi::kDefaultKernelMemory, which the kernel applies to a spawn that
// names none; init checks that the two agree).
inline constexpr u64 kDefaultKernelMemory = u64{16} << 20;
inline constexpr u32 kMaxVectors = 2048;  // PCIe 6.0 §7.7.2: MSI-X table size <= 2048
inline constexpr u8 kMaxBarIndex = 5;

inline constexpr u32 kNameSize = kMaxNameLength + 1;  // array sizes (with NUL)
inline constexpr u32 kModuleNameSize = kMaxModuleNameLength + 1;
inline constexpr u32 kStringSize = kMaxStringLength + 1;

// Where an entry or value came from: 1-based line and byte column.
struct SourcePos {
    u32 line = 0;
    u32 column = 0;
};

// ---------------------------------------------------------------------------
// Rights: the manifest's vocabulary. Same names and bit order as the kernel's
// cap::Rights (lib/cap/rights.h), so init's translation is one table; this
// library does not depend on lib/cap. Which rights apply to which object
// kind: rights_allowed_for().

inline constexpr u32 kRightRead = 1u << 0;
inline constexpr u32 kRightWrite = 1u << 1;
inline constexpr u32 kRightMap = 1u << 2;
inline constexpr u32 kRightExecute = 1u << 3;
inline constexpr u32 kRightCall = 1u << 4;
inline constexpr u32 kRightServe = 1u << 5;
inline constexpr u32 kRightSignal = 1u << 6;
inline constexpr u32 kRightWait = 1u << 7;
inline constexpr u32 kRightInspect = 1u << 8;
inline constexpr u32 kRightManage = 1u << 9;
inline constexpr u32 kRightDuplicate = 1u << 10;
inline constexpr u32 kRightTransfer = 1u << 11;
inline constexpr u32 kRightRevoke = 1u << 12;
inline constexpr u32 kRightCount = 13;
inline constexpr u32 kAllRights = (1u << kRightCount) - 1;

// ---------------------------------------------------------------------------
// Entries

// Console, Resource and Devices are not created by init but handed to it
// by the kernel (the serial console; the root resource; the root of device
// authority); a [console NAME], [resource NAME] or [devices NAME] entry
// names them so processes can be granted them. BootManifest ([manifest
// NAME]) is this manifest's own text, read-only, for the device manager.
enum class ObjectKind : u8 { Endpoint, Notification, Memory, Console, Resource, Devices, BootManifest };

// [endpoint NAME] / [notification NAME] / [memory NAME]
struct Object {
    char name[kNameSize] = {};
    ObjectKind kind = ObjectKind::Endpoint;
    u64 size = 0;   // Memory only: bytes, a non-zero multiple of kPage
    SourcePos pos;  // the name in the section header
};

// cap = OBJECT rights=R1|R2 [as=SLOT]
struct CapGrant {
    char object[kNameSize] = {};
    char slot[kNameSize] = {};  // the name the holder finds the handle under; default: object
    u32 rights = 0;             // kRight* bits, non-zero, all applicable to the object's kind
    u32 object_index = 0;       // into Manifest::objects
    SourcePos pos;              // the object name
    SourcePos rights_pos;       // the rights value
};

// supervise = PROCESS [as=SLOT]: the holder gets PROCESS's Process handle.
struct Supervision {
    char process[kNameSize] = {};
    char slot[kNameSize] = {};  // default: process
    u32 process_index = 0;      // into Manifest::processes
    SourcePos pos;
};

enum class RestartMode : u8 { Never, OnFailure };

struct RestartPolicy {
    RestartMode mode = RestartMode::Never;
    u32 limit = kDefaultRestartLimit;           // restarts before giving up (OnFailure)
    u32 backoff_ms = kDefaultRestartBackoffMs;  // delay before each restart (OnFailure)
};

// What it takes to start a program; shared by processes and providers.
struct Program {
    char module[kModuleNameSize] = {};  // boot module name (multiboot2 module string)
    char args[kStringSize] = {};        // one string, passed as is; may be empty
    u8 priority = kDefaultPriority;     // 0..kMaxPriority
    RestartPolicy restart;
    // Bytes of kernel memory the program's process may hold (its image,
    // stack, page tables, kernel objects, MemoryObjects — its heap; see
    // docs/syscalls.md "Kernel memory"): a non-zero multiple of kPage.
    u64 kernel_memory = kDefaultKernelMemory;
    CapGrant caps[kMaxCaps];
    u32 cap_count = 0;
};

// serve = PROCESS: the provider (or process) exports its service to
// PROCESS. On a [process], `ports=P1|P2 sockets=N` is the policy the server
// applies to that consumer (the netstack: the ports it may bind or listen
// on, how many sockets it may hold); init hands it to the server, so it
// comes from the manifest and never from the consumer. A provider's serve
// line takes no attributes (its device protocol has its own quotas).
struct ServeGrant {
    char consumer[kNameSize] = {};
    u32 consumer_index = 0;  // into Manifest::processes
    SourcePos pos;
    u16 ports[kMaxServePorts] = {};  // distinct, 1..65535, in the order written
    u32 port_count = 0;
    u32 sockets = 0;  // a process's serve: 1..kMaxServeSockets (default kDefaultServeSockets); a provider's: 0
};

// [process NAME] — started by init.
struct Process {
    char name[kNameSize] = {};
    SourcePos pos;
    Program program;
    Supervision supervised[kMaxSupervised];
    u32 supervised_count = 0;
    // `escrow = N`: init keeps up to N handles for it across its restarts
    // (lib/protocol/escrow.h); 0 = no escrow granted.
    u32 escrow = 0;
    // `serve = PROCESS ...`: the consumers of this process's service
    // endpoint (init: docs/manifest.md "Serving from a process").
    ServeGrant served[kMaxServed];
    u32 served_count = 0;
};

// Device-class descriptors (DESIGN.md §3).
enum class DeviceClass : u8 { AnyFunction, DmaCapable, NvmeController, VirtioNet, VirtioBlk };

struct PciAddress {
    u16 segment = 0;
    u8 bus = 0;
    u8 device = 0;    // 0..31
    u8 function = 0;  // 0..7
};

enum class BarMode : u8 { Direct, Filtered };

// bar = INDEX [offset=N] [length=N] mode=direct|filtered
struct BarWindow {
    u8 bar = 0;      // 0..kMaxBarIndex
    u64 offset = 0;  // multiple of kPage
    u64 length = 0;  // multiple of kPage; 0 = to the end of the BAR
    BarMode mode = BarMode::Filtered;
    SourcePos pos;
};

enum class DmaBackend : u8 { Auto, Bounce, Iommu };
// What devmgr does when the provider's device faults (VT-d: it touched
// memory outside its grant): log it (counted, listed), or kill the provider,
// which its restart policy then restarts with a fresh grant.
enum class DmaFaultPolicy : u8 { Log, Restart };

// [provider NAME] — bound and started by the device manager: one provider
// process per PCI function that satisfies every criterion given (match and,
// when present, pci / vendor / device).
struct Provider {
    char name[kNameSize] = {};
    SourcePos pos;
    Program program;
    DeviceClass match = DeviceClass::AnyFunction;
    bool has_pci = false;
    PciAddress pci;
    bool has_vendor = false;
    u16 vendor = 0;
    bool has_device = false;  // only together with has_vendor
    u16 device = 0;
    BarWindow bars[kMaxBarWindows];
    u32 bar_count = 0;
    u32 vectors = 0;   // MSI-X/MSI vectors granted; 0 = none (the provider polls)
    u64 dma_pool = 0;  // DmaPool quota in bytes; 0 = no DmaPool granted
    DmaBackend backend = DmaBackend::Auto;
    // backend = iommu interrupts=unremapped: the remapped lane even where
    // interrupts are not remapped (its device can then raise any interrupt;
    // the kernel logs that it was accepted).
    bool accept_unremapped_interrupts = false;
    DmaFaultPolicy on_dma_fault = DmaFaultPolicy::Log;
    ServeGrant served[kMaxServed];
    u32 served_count = 0;
};

// Only accepted entries, in file order. Names are unique across all kinds.
struct Manifest {
    Object objects[kMaxObjects];
    u32 object_count = 0;
    Process processes[kMaxProcesses];
    u32 process_count = 0;
    Provider providers[kMaxProviders];
    u32 provider_count = 0;
};

// ---------------------------------------------------------------------------
// Errors

struct ManifestError {
    u32 line = 0;    // 1-based
    u32 column = 0;  // 1-based byte column of the offending token
    char message[kMaxMessageLength + 1] = {};
};

struct ManifestErrors {
    ManifestError items[kMaxErrors];  // sorted by (line, column)
    u32 count = 0;                    // recorded, <= kMaxErrors
    u32 total = 0;                    // found; total - count were not recorded
};

// ---------------------------------------------------------------------------
// API

// Parses `text` into `out` (reset first) and `errors` (reset first).
// Returns Ok when the manifest has no error at all; otherwise Malformed, and
// `out` holds every entry that was accepted (see the safety rule above) while
// `errors` says what was refused and why. An empty text is a valid, empty
// manifest.
[[nodiscard]] Result<void> parse_manifest(ByteView text, Manifest& out, ManifestErrors& errors);

// Writes `m` back as manifest text in canonical form (one entry per section,
// defaults written out, comments and positions lost). Parsing the output
// yields the same entries. Returns the full length the text needs (like
// snprintf); the output is NUL-terminated when cap > 0.
usize write_manifest(const Manifest& m, char* buf, usize cap);

// "LINE:COLUMN: MESSAGE" into buf (snprintf semantics).
usize format_error(const ManifestError& e, char* buf, usize cap);

// Lookups by name (NUL-terminated); nullptr when absent.
const Object* find_object(const Manifest& m, const char* name);
const Process* find_process(const Manifest& m, const char* name);
const Provider* find_provider(const Manifest& m, const char* name);

// The rights that make sense on an object of this kind.
u32 rights_allowed_for(ObjectKind kind);

// Names as they are spelled in manifest text.
const char* object_kind_name(ObjectKind kind);  // "endpoint", ...
const char* right_name(u32 right);              // one kRight* bit -> "read", ...; "?" otherwise
const char* restart_mode_name(RestartMode mode);
const char* device_class_name(DeviceClass c);  // "NvmeController", ...
const char* bar_mode_name(BarMode mode);
const char* dma_backend_name(DmaBackend backend);

// "read|write|map" (kRight* order); snprintf semantics.
usize format_rights(u32 rights, char* buf, usize cap);

}  // namespace manifest
