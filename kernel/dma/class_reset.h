// Step 2 of teardown (DESIGN §5): make a device stop DMA, per class, and
// confirm it did. Bus Master Enable is cleared first (that alone stops new
// memory requests on real PCIe), then the class's own reset returns the
// device to a state with no queues:
//   NVMe     CC.EN = 0, then CSTS.RDY must read 0 within CAP.TO (NVMe 1.4
//            §3.1.5, §7.6.2);
//   virtio   device_status = 0, then it must read back 0 (virtio 1.1
//            §4.1.4.3.1: "the driver MUST wait for a read of device_status
//            to return 0").
// The reset is started by one call and confirmed by another, so a caller
// that cannot wait long (teardown runs where nothing may block) can leave
// the confirmation to later (kdma::Session hands it to the timer tick);
// reset_function() does both, waiting as its caller's context allows
// (sched/device_wait.h). QEMU's models confirm at once, real controllers
// within CAP.TO (bounded here by kMaxWaitNs).
//
// test.slow_reset=MS (tests only): every reset and NVMe enable is taken as
// not yet confirmed until MS milliseconds after it started — a controller
// as slow as real hardware may be — so the waits' effect on the rest of
// the system can be seen on QEMU's devices, which finish at once.
#pragma once

#include "sched/device_wait.h"
#include "util/result.h"

namespace kdma {

struct ResetReport {
    const char* method;  // "nvme CC.EN=0", "virtio status 0", "bus master off only"
    u64 waited_ns;
};

// Clears Bus Master Enable in the command register and reads it back.
Result<void> clear_bus_master(u32 function);
// Sets it (a DMA grant starts).
Result<void> set_bus_master(u32 function);

// Starts the class reset of `function` (CC.EN = 0, device_status = 0).
Result<void> start_reset(u32 function);
// Has the device confirmed the reset started last? (true for a class with
// no reset: bus mastering off is its barrier.)
bool reset_confirmed(u32 function);
// How long the class may take to confirm (NVMe: CAP.TO, at most 30 s).
u64 reset_limit_ns(u32 function);
const char* reset_method(u32 function);

// start_reset, then waits for the confirmation as `how` allows: Timeout
// when it did not come (for Spin: within sched::kMaxDeviceSpinNs).
Result<ResetReport> reset_function(u32 function, sched::WaitHow how);

// test.slow_reset: false while the device is to be treated as still busy
// with a reset or enable started at `started_ns` (always true otherwise).
bool slow_device_settled(u64 started_ns);
// When the last reset of `function` started (for slow_device_settled).
u64 reset_started_ns(u32 function);

}  // namespace kdma
