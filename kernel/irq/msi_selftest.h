// `test.msi`: a boot-time test of the MSI fallback path against QEMU's
// `edu` teaching device (1234:11e8), which has MSI but no MSI-X and raises
// its interrupt when its 0x60 register is written. The providers' devices
// (NVMe, virtio) all have MSI-X, so this is the only way the fallback runs
// against a real device model. It routes the edu's MSI, turns bus mastering
// on just for the test (an MSI is a memory write), raises the interrupt,
// masks and raises again, unmasks and raises again, then unroutes and turns
// bus mastering off. One line reports what was delivered.
#pragma once

namespace irq {

void msi_selftest();

}  // namespace irq
