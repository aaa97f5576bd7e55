// IDT and interrupt dispatch. Vectors 0-31 are CPU exceptions; 32+ are
// device and timer interrupts registered by their owners.
#pragma once

#include "arch/x86_64/interrupt_frame.h"

namespace idt {

constexpr u8 kVectorTimer = 0x20;
constexpr u8 kVectorSerial = 0x24;
constexpr u8 kVectorSpurious = 0xff;

using Handler = void (*)(InterruptFrame&);

void init();
// Installs the handler for a device/timer vector (>= 32).
void set_handler(u8 vector, Handler handler);
const char* exception_name(u64 vector);

}  // namespace idt
