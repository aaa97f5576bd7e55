#include "dma/class_reset.h"

#include "arch/x86_64/clock.h"
#include "cap/pci_function.h"
#include "pci/config_space.h"

namespace kdma {
namespace {

constexpr u16 kCommandRegister = 0x04;
constexpr u16 kCommandBusMaster = 1u << 2;
constexpr u64 kMaxWaitNs = 30'000'000'000ull;  // NVMe CAP.TO tops out at 127.5 s; we stop at 30 s
constexpr u64 kVirtioWaitNs = 1'000'000'000ull;

// NVMe 1.4 §3.1: CAP at 0x00 (TO in bits 31:24, 500 ms units), CC 0x14, CSTS 0x1C.
constexpr u64 kNvmeCap = 0x00, kNvmeCc = 0x14, kNvmeCsts = 0x1C;
// virtio 1.1 §4.1.4.3: device_status is the byte at 0x14 of the common configuration.
constexpr u64 kVirtioDeviceStatus = 0x14;

Result<void> write_bus_master(u32 function, bool on) {
    const ecam::Address& a = pci_enum::function(function).address;
    u16 command = TRY(ecam::read16(a, kCommandRegister));
    command = on ? command | kCommandBusMaster : command & ~kCommandBusMaster;
    TRY(ecam::write16(a, kCommandRegister, command));
    u16 now = TRY(ecam::read16(a, kCommandRegister));
    if (((now & kCommandBusMaster) != 0) != on) return Status::Timeout;
    return {};
}

template <typename Done>
Result<u64> wait_until(u64 limit_ns, Done done) {
    u64 start = clock::monotonic_ns();
    while (!done()) {
        u64 waited = clock::monotonic_ns() - start;
        if (waited > limit_ns) return Status::Timeout;
        clock::delay_ns(1000);
    }
    return clock::monotonic_ns() - start;
}

Result<ResetReport> reset_nvme(u32 function) {
    volatile u8* regs = TRY(kobj::PciFunction::kernel_view(function, 0));
    auto* cap = reinterpret_cast<volatile u64*>(regs + kNvmeCap);
    auto* cc = reinterpret_cast<volatile u32*>(regs + kNvmeCc);
    auto* csts = reinterpret_cast<volatile u32*>(regs + kNvmeCsts);
    u64 timeout = ((*cap >> 24) & 0xff) * 500'000'000ull;
    if (timeout == 0 || timeout > kMaxWaitNs) timeout = kMaxWaitNs;
    *cc = *cc & ~1u;
    u64 waited = TRY(wait_until(timeout, [&] { return (*csts & 1u) == 0; }));
    return ResetReport{"nvme CC.EN=0, CSTS.RDY=0", waited};
}

Result<ResetReport> reset_virtio(u32 function, const devices::RegisterMap& map) {
    volatile u8* bar = TRY(kobj::PciFunction::kernel_view(function, map.bar));
    volatile u8* status = bar + map.offset + kVirtioDeviceStatus;
    *status = 0;
    u64 waited = TRY(wait_until(kVirtioWaitNs, [&] { return *status == 0; }));
    return ResetReport{"virtio device_status 0", waited};
}

}  // namespace

Result<void> clear_bus_master(u32 function) { return write_bus_master(function, false); }
Result<void> set_bus_master(u32 function) { return write_bus_master(function, true); }

Result<ResetReport> reset_function(u32 function) {
    const devices::RegisterMap& map = pci_enum::function(function).registers;
    switch (map.kind) {
        case devices::RegisterMap::Kind::Nvme: return reset_nvme(function);
        case devices::RegisterMap::Kind::Virtio: return reset_virtio(function, map);
        case devices::RegisterMap::Kind::DenyAll: break;
    }
    // No class reset known: bus mastering off (confirmed by read-back) is
    // the barrier.
    return ResetReport{"bus master off only", 0};
}

}  // namespace kdma
