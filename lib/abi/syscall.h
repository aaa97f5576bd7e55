// The system call ABI, shared by the kernel and user/rt.
//
// `syscall` with RAX = number, arguments in RDI, RSI, RDX, R10, R8, R9.
// RAX returns a signed value: >= 0 is success (a result or 0), < 0 is
// -Status (lib/util/status.h). RCX and R11 are clobbered (SDM SYSCALL).
//
// Handles are u32 values naming a slot of the caller's capability space
// (lib/cap/handle.h); every call that takes one checks its type and rights
// and fails with Stale, Revoked, WrongType, NoRights or BadHandle.
// Timeouts are relative nanoseconds: 0 polls, kForever blocks without limit.
// docs/syscalls.md is the reference for each call.
#pragma once

#include "util/types.h"

namespace abi {

constexpr u64 kForever = ~u64{0};

enum class Syscall : u64 {
    LogWrite = 0,           // (log h, const char* text, usize len) -> 0
    ProcessExit = 1,        // (i64 code) -> does not return
    Yield = 2,              // () -> 0
    ClockGet = 3,           // () -> monotonic ns
    Sleep = 4,              // (u64 ns) -> 0
    HandleClose = 5,        // (h) -> 0
    HandleDuplicate = 6,    // (h, rights) -> new h
    HandleRevoke = 7,       // (h) -> number of derived capabilities revoked
    EndpointCreate = 8,     // () -> h
    EndpointMint = 9,       // (h, u64 badge, rights) -> new h
    EndpointCall = 10,      // (h, Message* inout) -> 0
    EndpointReceive = 11,   // (h, Message* out, u64 timeout) -> 0
    EndpointReply = 12,     // (Message* in) -> 0
    NotificationCreate = 13,  // () -> h
    NotificationSignal = 14,  // (h, u64 bits) -> 0
    NotificationWait = 15,    // (h, u64 timeout, signal h or 0, u64 signal bits) -> bits
    MemoryCreate = 16,      // (u64 bytes) -> h
    MemoryMap = 17,         // (h, u64 vaddr or 0, u64 flags) -> vaddr
    MemoryUnmap = 18,       // (h, u64 vaddr) -> 0
    WaitSetCreate = 19,     // () -> h
    WaitSetAdd = 20,        // (ws h, h, u64 signal mask | kWaitTake, u64 key) -> 0
    WaitSetRemove = 21,     // (ws h, u64 key) -> 0
    WaitSetWait = 22,       // (ws h, WaitEvent* out, u32 max, u64 timeout, signal h or 0, u64 signal bits) -> count
    ProcessSpawn = 23,      // (resource h, const SpawnRequest*) -> process h
    ProcessKill = 24,       // (process h) -> 0
    ProcessInfo = 25,       // (process h, ProcessInfo* out) -> 0
    SystemInfo = 26,        // (resource h, u32 kind | arg << 32, void* out, usize len) -> count
    ConsoleRead = 27,       // (console h, void* out, usize len, u64 timeout) -> bytes read
    ConsoleWrite = 28,      // (console h, const char* text, usize len) -> 0
    ProcessKillPid = 29,    // (resource h, u32 pid) -> 0
    ThreadCreate = 30,      // (u64 entry, u64 stack_top, u64 arg, u32 priority) -> thread h (wait: Dead)
    ThreadExit = 31,        // () -> does not return; the process exits with 0 after its last thread
    DeviceList = 32,        // (device root h, DeviceInfo* out, u32 max) -> count
    DeviceOpen = 33,        // (device root h, u32 bdf) -> pci function h
    PciConfigRead = 34,     // (pci h, u32 offset, u32 width) -> value
    MmioCreate = 35,        // (pci h, u32 bar, u64 offset, u64 length, u64 flags) -> device mmio h
    MmioMap = 36,           // (mmio h) -> vaddr (uncached; read-only when filtered or without write)
    MmioWrite = 37,         // (mmio h, u64 offset, u32 width, u64 value) -> 0 (filtered windows)
    DmaPoolCreate = 38,     // (pci h, u64 quota bytes) -> dma pool h (turns bus mastering on)
    DmaBufferCreate = 39,   // (pool h, u64 bytes) -> dma buffer h (map it with MemoryMap)
    DmaPoolInfo = 40,       // (pool h, DmaUsage* out) -> 0
    InterruptCreate = 41,   // (pci h, u32 msix index) -> interrupt h (wait: Ready; Dead after teardown)
    InterruptAck = 42,      // (interrupt h) -> deliveries pending since the last ack; unmasks
    InterruptMask = 43,     // (interrupt h, u32 masked) -> 0
    NvmeQueueCreate = 44,   // (pool h, NvmeQueueKind, u32 entries, admin queue h, interrupt h or 0) -> nvme queue h
    NvmeSubmit = 45,        // (queue h, const NvmeCommand*, u32 count) -> count submitted
    NvmeComplete = 46,      // (queue h, NvmeCompletion* out, u32 max, u64 flags) -> completions copied out
    NvmeQueueMap = 47,      // (queue h) -> vaddr of the completion queue (read-only)
    VirtQueueCreate = 48,   // (pool h, u32 queue index, u32 size, u32 msix entry) -> virtqueue h
    VirtQueueSubmit = 49,   // (virtqueue h, VirtioChain* inout, u32 count) -> count (heads written back)
    VirtQueueComplete = 50, // (virtqueue h, u32 max) -> used entries consumed
    VirtQueueMap = 51,      // (virtqueue h) -> vaddr of the used ring (read-only)
    MmioRead = 52,          // (mmio h, u64 offset, u32 width, u64* out) -> 0 (never an address register)
    DeviceEvents = 53,      // (device root h, RefusalEvent* out, u32 max) -> events read (removed)
    Count,
};

// Stable names for logs ("EndpointCall"); "undefined" outside the table.
constexpr const char* syscall_name(u64 number) {
    constexpr const char* kNames[] = {
        "LogWrite",        "ProcessExit",     "Yield",           "ClockGet",        "Sleep",
        "HandleClose",     "HandleDuplicate", "HandleRevoke",    "EndpointCreate",  "EndpointMint",
        "EndpointCall",    "EndpointReceive", "EndpointReply",   "NotificationCreate", "NotificationSignal",
        "NotificationWait", "MemoryCreate",   "MemoryMap",       "MemoryUnmap",     "WaitSetCreate",
        "WaitSetAdd",      "WaitSetRemove",   "WaitSetWait",     "ProcessSpawn",    "ProcessKill",
        "ProcessInfo",     "SystemInfo",      "ConsoleRead",     "ConsoleWrite",    "ProcessKillPid",
        "ThreadCreate",    "ThreadExit",      "DeviceList",      "DeviceOpen",      "PciConfigRead",
        "MmioCreate",      "MmioMap",         "MmioWrite",       "DmaPoolCreate",   "DmaBufferCreate",
        "DmaPoolInfo",     "InterruptCreate", "InterruptAck",    "InterruptMask",   "NvmeQueueCreate",
        "NvmeSubmit",      "NvmeComplete",    "NvmeQueueMap",    "VirtQueueCreate", "VirtQueueSubmit",
        "VirtQueueComplete", "VirtQueueMap",   "MmioRead",        "DeviceEvents"};
    static_assert(sizeof kNames / sizeof kNames[0] == static_cast<u64>(Syscall::Count));
    return number < static_cast<u64>(Syscall::Count) ? kNames[number] : "undefined";
}

// Result encoding: errors are the negated Status value.
inline constexpr i64 encode_error(i32 status) { return -static_cast<i64>(status); }

// Signals for WaitSetAdd masks and WaitEvent.signals.
constexpr u64 kSignalReady = 1u << 0;     // Notification has pending bits
constexpr u64 kSignalReadable = 1u << 1;  // Endpoint has a caller waiting
constexpr u64 kSignalDead = 1u << 2;      // Process has terminated / Thread has ended
// WaitSetAdd option (in the mask, not a signal): for a Notification, the
// WaitSetWait that reports the entry also takes (clears) its bits once the
// events reached the caller — one system call instead of two. The bit
// values are not reported: for kicks, not for bits that carry meaning.
constexpr u64 kWaitTake = 1ull << 32;

// MemoryMap flags.
constexpr u64 kMapWrite = 1u << 0;

struct WaitEvent {
    u64 key;
    u64 signals;
};

enum class ExitKind : u32 { Running = 0, Exited = 1, Faulted = 2, Killed = 3 };

struct ProcessInfo {
    u32 pid;
    ExitKind kind;
    i64 exit_code;       // Exited
    u64 fault_vector;    // Faulted: CPU exception vector
    u64 fault_address;   // Faulted: CR2 for page faults, else the RIP
    u64 fault_rip;
    char name[32];
};

}  // namespace abi
