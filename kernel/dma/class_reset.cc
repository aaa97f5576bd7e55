#include "dma/class_reset.h"

#include "arch/x86_64/clock.h"
#include "arch/x86_64/mmio.h"
#include "boot/cmdline.h"
#include "nvme/registers.h"
#include "object/pci_function.h"
#include "pci/config_space.h"

namespace kdma {
namespace {

constexpr u16 kCommandRegister = 0x04;
constexpr u16 kCommandBusMaster = 1u << 2;
constexpr u64 kMaxWaitNs = 30'000'000'000ull;  // NVMe CAP.TO tops out at 127.5 s; we stop at 30 s
constexpr u64 kVirtioWaitNs = 1'000'000'000ull;
// virtio 1.1 §4.1.4.3: device_status is the byte at 0x14 of the common configuration.
using devices::kVirtioDeviceStatus;
constexpr u32 kMaxFunctions = 256;

u64 g_reset_started[kMaxFunctions];

Result<void> write_bus_master(u32 function, bool on) {
    const ecam::Address& a = pci_enum::function(function).address;
    u16 command = TRY(ecam::read16(a, kCommandRegister));
    command = on ? command | kCommandBusMaster : command & ~kCommandBusMaster;
    TRY(ecam::write16(a, kCommandRegister, command));
    u16 now = TRY(ecam::read16(a, kCommandRegister));
    if (((now & kCommandBusMaster) != 0) != on) return Status::Timeout;
    return {};
}

u64 slow_reset_ns() {
    usize len = 0;
    const char* v = cmdline::get("test.slow_reset", &len);
    if (!v) return 0;
    u64 ms = 0;
    for (usize i = 0; i < len && v[i] >= '0' && v[i] <= '9'; i++) ms = ms * 10 + static_cast<u64>(v[i] - '0');
    return ms * 1'000'000;
}

}  // namespace

Result<void> clear_bus_master(u32 function) { return write_bus_master(function, false); }
Result<void> set_bus_master(u32 function) { return write_bus_master(function, true); }

bool slow_device_settled(u64 started_ns) {
    static u64 slow = slow_reset_ns();
    return !slow || clock::monotonic_ns() - started_ns >= slow;
}

u64 reset_started_ns(u32 function) { return function < kMaxFunctions ? g_reset_started[function] : 0; }

Result<void> start_reset(u32 function) {
    const devices::RegisterMap& map = pci_enum::function(function).registers;
    if (function < kMaxFunctions) g_reset_started[function] = clock::monotonic_ns();
    switch (map.kind) {
        case devices::RegisterMap::Kind::Nvme: {
            volatile u8* regs = TRY(object::PciFunction::kernel_view(function, 0));
            mmio::write<u32>(regs, nvme::kRegCc, mmio::read<u32>(regs, nvme::kRegCc) & ~nvme::kCcEnable);
            return {};
        }
        case devices::RegisterMap::Kind::Virtio: {
            volatile u8* common = TRY(object::PciFunction::kernel_view(function, map.bar)) + map.offset;
            mmio::write<u8>(common, kVirtioDeviceStatus, 0);
            return {};
        }
        case devices::RegisterMap::Kind::DenyAll: break;
    }
    return {};  // no class reset known: bus mastering off (confirmed by read-back) is the barrier
}

bool reset_confirmed(u32 function) {
    const devices::RegisterMap& map = pci_enum::function(function).registers;
    if (!slow_device_settled(reset_started_ns(function))) return false;
    switch (map.kind) {
        case devices::RegisterMap::Kind::Nvme: {
            auto regs = object::PciFunction::kernel_view(function, 0);
            return regs.ok() && !(mmio::read<u32>(regs.value(), nvme::kRegCsts) & nvme::kCstsReady);
        }
        case devices::RegisterMap::Kind::Virtio: {
            auto bar = object::PciFunction::kernel_view(function, map.bar);
            return bar.ok() && mmio::read<u8>(bar.value() + map.offset, kVirtioDeviceStatus) == 0;
        }
        case devices::RegisterMap::Kind::DenyAll: break;
    }
    return true;
}

u64 reset_limit_ns(u32 function) {
    const devices::RegisterMap& map = pci_enum::function(function).registers;
    switch (map.kind) {
        case devices::RegisterMap::Kind::Nvme: {
            auto regs = object::PciFunction::kernel_view(function, 0);
            if (!regs.ok()) return 0;
            u64 cap = u64{mmio::read<u32>(regs.value(), nvme::kRegCap)} |
                      u64{mmio::read<u32>(regs.value(), nvme::kRegCap + 4)} << 32;
            u64 timeout = u64{nvme::decode_cap(cap).timeout_ms} * 1'000'000;
            return timeout == 0 || timeout > kMaxWaitNs ? kMaxWaitNs : timeout;
        }
        case devices::RegisterMap::Kind::Virtio: return kVirtioWaitNs;
        case devices::RegisterMap::Kind::DenyAll: break;
    }
    return 0;
}

const char* reset_method(u32 function) {
    switch (pci_enum::function(function).registers.kind) {
        case devices::RegisterMap::Kind::Nvme: return "nvme CC.EN=0, CSTS.RDY=0";
        case devices::RegisterMap::Kind::Virtio: return "virtio device_status 0";
        case devices::RegisterMap::Kind::DenyAll: break;
    }
    return "bus master off only";
}

Result<ResetReport> reset_function(u32 function, sched::WaitHow how) {
    TRY(start_reset(function));
    u64 waited = TRY(sched::wait_until(reset_limit_ns(function), how, [&] { return reset_confirmed(function); }));
    return ResetReport{reset_method(function), waited};
}

}  // namespace kdma
