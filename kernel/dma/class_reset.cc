#include "dma/class_reset.h"

#include "arch/x86_64/clock.h"
#include "arch/x86_64/mmio.h"
#include "cap/pci_function.h"
#include "nvme/registers.h"
#include "pci/config_space.h"

namespace kdma {
namespace {

constexpr u16 kCommandRegister = 0x04;
constexpr u16 kCommandBusMaster = 1u << 2;
constexpr u64 kMaxWaitNs = 30'000'000'000ull;  // NVMe CAP.TO tops out at 127.5 s; we stop at 30 s
constexpr u64 kVirtioWaitNs = 1'000'000'000ull;
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

Result<ResetReport> reset_nvme(u32 function) {
    volatile u8* regs = TRY(kobj::PciFunction::kernel_view(function, 0));
    u64 cap = u64{mmio::read<u32>(regs, nvme::kRegCap)} | u64{mmio::read<u32>(regs, nvme::kRegCap + 4)} << 32;
    u64 timeout = u64{nvme::decode_cap(cap).timeout_ms} * 1'000'000;
    if (timeout == 0 || timeout > kMaxWaitNs) timeout = kMaxWaitNs;
    mmio::write<u32>(regs, nvme::kRegCc, mmio::read<u32>(regs, nvme::kRegCc) & ~nvme::kCcEnable);
    u64 waited = TRY(clock::spin_until(timeout, [&] { return !(mmio::read<u32>(regs, nvme::kRegCsts) & nvme::kCstsReady); }));
    return ResetReport{"nvme CC.EN=0, CSTS.RDY=0", waited};
}

Result<ResetReport> reset_virtio(u32 function, const devices::RegisterMap& map) {
    volatile u8* common = TRY(kobj::PciFunction::kernel_view(function, map.bar)) + map.offset;
    mmio::write<u8>(common, kVirtioDeviceStatus, 0);
    u64 waited = TRY(clock::spin_until(kVirtioWaitNs, [&] { return mmio::read<u8>(common, kVirtioDeviceStatus) == 0; }));
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
