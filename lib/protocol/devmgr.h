// The device manager's service protocol (its endpoint, granted by the
// manifest): a client sends a DevmgrRequest — the index of a PCI function
// and an operation (absent = Describe) — and gets
// back one DevmgrFunction, or a reply of length 0 past the end. Revoke
// takes back every grant of the provider bound to that function (the
// kernel tears its DMA grant down) and answers with the function's state
// afterwards. Events returns the index-th entry (0 = most recent) of
// devmgr's summary of the refusal events the kernel delivered
// (lib/abi/events.h): one DevmgrEvent per distinct (process, kind,
// function, status, detail) with the total count and the newest time, or
// a reply of length 0 past the last. Used by the
// shell's `lsdev`, `revoke` and `events`.
#pragma once

// A protocol between user processes (lib/protocol/), not the kernel's ABI.
#ifdef SLUICE_KERNEL
#error "lib/protocol/ is spoken between user processes: the kernel has no business including it"
#endif

#include <stddef.h>

#include "abi/events.h"
#include "util/types.h"

namespace abi {

enum class DevmgrBackend : u8 { None = 0, Bounce = 1, Iommu = 2 };
enum class DevmgrState : u8 { Unbound = 0, Running = 1, Restarting = 2, GaveUp = 3, Refused = 4, Revoked = 5 };
enum class DevmgrOp : u32 { Describe = 0, Revoke = 1, Events = 2 };

// Every request (lib/protocol/message.h puts and gets it); a request of 4
// bytes (the index alone) is a Describe.
struct DevmgrRequest {
    u32 index;  // of the PCI function (Describe, Revoke) or the event (Events)
    DevmgrOp op;
};
static_assert(sizeof(DevmgrRequest) == 8 && offsetof(DevmgrRequest, op) == 4);

struct DevmgrFunction {
    u8 bus, device, function;
    DevmgrBackend backend;
    u16 vendor, device_id;
    u32 pid;  // the provider's, while running
    u32 restarts;
    u16 windows;  // DeviceMmio windows granted
    DevmgrState state;
    u8 remapping;       // abi::kRemapping*
    u64 pool_bytes;     // DMA pool quota granted (0: none)
    u32 pool_used_kib;  // allocated from it now (kernel's count)
    u16 vectors;        // MSI-X vectors granted
    u8 dma_state;       // abi::kDma* of the function's grant now
    u8 reserved;
    char provider[16];
    u32 refusals;  // refusal events attributed to the providers bound to it (every restart)
};
static_assert(sizeof(DevmgrFunction) <= 64);

// The names clients print and report (the shell's lsdev, httpd's /status).
constexpr const char* devmgr_state_name(DevmgrState s) {
    switch (s) {
        case DevmgrState::Unbound: return "unbound";
        case DevmgrState::Running: return "running";
        case DevmgrState::Restarting: return "restarting";
        case DevmgrState::GaveUp: return "gave-up";
        case DevmgrState::Refused: return "refused";
        case DevmgrState::Revoked: return "revoked";
    }
    return "?";
}
constexpr const char* devmgr_backend_name(DevmgrBackend b) {
    switch (b) {
        case DevmgrBackend::None: return "none";
        case DevmgrBackend::Bounce: return "bounce";
        case DevmgrBackend::Iommu: return "iommu";
    }
    return "?";
}

// One refusal event as devmgr attributes it: the kernel's event and the
// provider entry whose process it was (empty when not one of devmgr's).
struct DevmgrEvent {
    RefusalEvent event;
    char provider[16];
};
static_assert(sizeof(DevmgrEvent) <= 64);

}  // namespace abi
