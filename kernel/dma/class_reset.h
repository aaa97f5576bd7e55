// Step 2 of teardown (DESIGN §5): make a device stop DMA, per class, and
// confirm it did. Bus Master Enable is cleared first (that alone stops new
// memory requests on real PCIe), then the class's own reset returns the
// device to a state with no queues:
//   NVMe     CC.EN = 0, then CSTS.RDY must read 0 within CAP.TO (NVMe 1.4
//            §3.1.5, §7.6.2);
//   virtio   device_status = 0, then it must read back 0 (virtio 1.1
//            §4.1.4.3.1: "the driver MUST wait for a read of device_status
//            to return 0").
// The kernel is not preemptible, so the wait spins; QEMU's models finish
// at once, real controllers within CAP.TO (bounded here by kMaxWaitNs).
#pragma once

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
// Timeout when the device did not confirm in time.
Result<ResetReport> reset_function(u32 function);

}  // namespace kdma
