// The kernel's view of ACPI: finds and validates the firmware tables once
// at boot (through lib/acpi), keeps what later stages need — MADT for
// interrupts, MCFG for PCI, DMAR for the DMA backend, FADT for power-off —
// and reports anything malformed instead of trusting it.
// (Named apart from lib/acpi/acpi.h, the parser's umbrella header, so that
// neither include path shadows the other.)
#pragma once

#include "acpi/dmar.h"
#include "acpi/madt.h"
#include "acpi/mcfg.h"
#include "util/byte_view.h"

namespace kacpi {

// rsdp: the RSDP copy from the multiboot2 ACPI tag (v2 preferred).
// dump_tables: hex-dump every table to the console (cmdline acpi.dump).
Result<void> init(ByteView rsdp, bool dump_tables);

const acpi::MadtInfo* madt();  // nullptr when absent or rejected
const acpi::McfgInfo* mcfg();
const acpi::DmarInfo* dmar();

// ACPI S5 through PM1a/PM1b control (ACPI 6.5 §4.8.3.2, §7.4.2).
// Returns only when power-off did not happen.
void poweroff();

}  // namespace kacpi
