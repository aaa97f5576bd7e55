// Refusal events (DESIGN §5: "every refusal ... is attributed to the
// provider that caused it and delivered as a rate-limited event the device
// manager can act on"). The kernel records one for every refused system
// call, broker submission, filtered register access, denied device class
// or exhausted quota, attributed to the calling process and, where the
// refusal concerns a device, to its PCI function. Repeats of the newest
// event are merged into it (count), so a flood costs one entry.
//
// The holder of the device root reads them with DeviceEvents (oldest
// first, each read removes what it returns); the root signals kSignalReady
// while any are pending. devmgr is that holder: it attributes them to its
// bindings (lsdev's refusal column) and keeps the recent ones for the
// shell's `events`.
#pragma once

#include "util/types.h"

namespace abi {

enum class RefusalKind : u16 {
    Syscall = 1,           // a system call refused (argument, handle, rights, state); detail = syscall number
    BrokerCommand = 2,     // the NVMe or virtqueue broker refused a submission; detail = syscall number
    RegisterWrite = 3,     // a filtered window refused a write; detail = BAR offset
    RegisterRead = 4,      // a filtered window refused a read; detail = BAR offset
    DeviceClass = 5,       // a device class the kernel does not mediate; detail = vendor << 16 | device
    KernelMemory = 6,      // the process's kernel memory quota is exhausted; detail = syscall number
    DmaQuota = 7,          // a DMA pool's quota is exhausted; detail = bytes asked
    DeviceMisbehaved = 8,  // the device posted something the broker cannot trust; detail = what (cid, index)
    DmaFault = 9,  // the IOMMU refused a device access outside its domain; detail = the page's IOVA on the remapped
                   // lane, else 0
};
constexpr u16 kRefusalKindCount = 10;

constexpr u16 kNoFunction = 0xffff;  // RefusalEvent.bdf when no device is concerned

struct RefusalEvent {
    u64 time_ns;  // the newest occurrence (monotonic)
    u64 detail;   // per kind, above
    u32 pid;      // the process the refusal is attributed to (0: none)
    u32 count;    // occurrences merged into this event
    i32 status;   // the Status it was refused with
    RefusalKind kind;
    u16 bdf;        // bus << 8 | device << 3 | function, or kNoFunction
    char name[16];  // the process's name (NUL-terminated, truncated)
};
static_assert(sizeof(RefusalEvent) == 48);

constexpr const char* refusal_kind_name(RefusalKind k) {
    switch (k) {
        case RefusalKind::Syscall: return "syscall";
        case RefusalKind::BrokerCommand: return "broker";
        case RefusalKind::RegisterWrite: return "register-write";
        case RefusalKind::RegisterRead: return "register-read";
        case RefusalKind::DeviceClass: return "device-class";
        case RefusalKind::KernelMemory: return "kernel-memory";
        case RefusalKind::DmaQuota: return "dma-quota";
        case RefusalKind::DeviceMisbehaved: return "device";
        case RefusalKind::DmaFault: return "dma-fault";
    }
    return "?";
}

}  // namespace abi
