// Device interrupts by MSI-X (DESIGN §3 "Interrupt"): the kernel owns the
// IDT vectors and programs every MSI-X table entry itself — an MSI is a DMA
// write to the address the entry holds, so no provider may choose it.
//
// A route ties one (function, MSI-X entry) to one CPU vector and a sink
// (the Interrupt object). Delivery calls the sink, which holds the entry
// back (hold_back: masked) once a second delivery arrives before the
// provider acknowledged the first — so a device cannot storm a provider
// that is not acknowledging, yet the usual one-delivery-per-ack cycle
// costs no mask/unmask register writes. Teardown masks every route of a
// function.
#pragma once

#include "arch/x86_64/interrupt_frame.h"
#include "util/result.h"

namespace irq {

struct Sink {
    void (*fire)(void* ctx);
    void (*torn_down)(void* ctx);  // the function's DMA grant ended
    void* ctx;
};

// Routes MSI-X entry `index` of pci_enum function `function` to a fresh
// vector delivered to this CPU's LAPIC; the entry starts masked. A function
// without MSI-X falls back to MSI: one message, index 0 (programmed
// through configuration space; masked only if the function has per-vector
// masking, otherwise by MSI Enable, which loses messages sent meanwhile).
// Unsupported (neither), OutOfBounds (index >= table size, or > 0 on MSI),
// Busy (entry already routed), NoMemory (no vector free).
Result<u8> route(u32 function, u16 index, Sink sink);
// The MSI address that reaches this CPU's LAPIC (fixed delivery, physical
// destination): what every message the kernel programs is sent to.
u32 msi_address();
// A vector for an interrupt source the kernel programs itself, not a PCI
// function's MSI or MSI-X (the VT-d fault event: kernel/iommu/faults.h):
// `handler` runs in the interrupt. NoMemory when no vector is free.
Result<u8> reserve_kernel_vector(void (*handler)(InterruptFrame&));
// Masks the entry and frees the vector.
void unroute(u8 vector);
void set_masked(u8 vector, bool masked);
// Masks the entry where the device keeps a message sent meanwhile pending
// (MSI-X, MSI with per-vector masking) and returns true; false (nothing
// done) for MSI without per-vector masking, whose only off switch loses
// messages.
bool hold_back(u8 vector);
// Teardown: masks every routed entry of `function` and tells each sink.
// Returns how many.
u32 mask_function(u32 function);

}  // namespace irq
