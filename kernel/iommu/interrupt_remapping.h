// Interrupt remapping (VT-d §5, issue 15): with it on, a device's MSI is a
// request naming an entry of a table only the kernel writes (vector,
// destination, and the one source id allowed to use it), so a device that
// can write any address — a Model B provider's — still cannot raise an
// interrupt it was not given: a compatibility-format MSI (a plain write to
// 0xFEExxxxx) is blocked, and an entry named by another device is refused
// by source validation.
//
// Turned on by remapping::init for a unit with ECAP.IR and queued
// invalidation, when the DMAR says the platform supports it (flag
// INTR_REMAP) and names the I/O APIC behind the unit (its source id
// validates the I/O APIC's requests). Every I/O APIC route is rewritten in
// remappable format first (ioapic::use_remapping); every MSI and MSI-X the
// kernel programs afterwards gets an entry (irq::route). `intremap=off` on
// the kernel command line leaves it off (and says so).
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace intremap {

// Turns remapping on for unit `unit` (remapping::init, translation's
// invalidation queue already running). Unsupported when the unit or the
// platform cannot.
Result<void> enable(u32 unit);
bool active();
// Are `function`'s interrupts remapped (its unit is the one remapping)?
bool covers(u32 function);

// The message a device (by source id) sends to raise `vector` on the CPU
// with `apic_id`: with remapping on, the remappable format naming a fresh
// entry (`handle`, to release()); else the compatibility format (handle
// kNoHandle). NoMemory when the table is full.
constexpr u32 kNoHandle = ~0u;
struct Message {
    u32 address;
    u32 data;
    u32 handle;
};
// (`function`: a pci_enum index; a function its unit does not remap gets
// the compatibility format.)
Result<Message> message(u32 function, u8 vector, u32 apic_id);
// The entry cleared and the unit's cache of it invalidated: its handle
// raises nothing from here on.
void release(u32 handle);
// A handle naming no entry (the self-test's forgery), or kNoHandle.
u32 unused_handle();

}  // namespace intremap
