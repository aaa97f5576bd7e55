// `test.vtd` on the kernel command line: the remapping unit proven on a
// device whose every DMA the test chooses (QEMU's edu, -device edu).
//
// With translation on, edu gets a domain mapping a source page and a
// destination page at IOVAs that are not their physical addresses; it
// copies source -> its buffer -> destination (translation works), then is
// told to write its buffer to the physical address of a canary page the
// domain does not map. The unit must refuse that write and record a fault
// naming edu, which the fault event interrupt brings to the kernel; the
// canary must be untouched — which the harness checks from outside,
// reading guest memory through QEMU's monitor at the address logged.
// With `iommu=off` the same run writes the canary: the harness expects
// that too (tests/scenarios/vtd_fault_canary_off.toml), so the check is
// shown able to fail.
#pragma once

namespace iommu {

void vtd_selftest();

}  // namespace iommu
