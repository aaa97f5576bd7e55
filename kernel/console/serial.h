// COM1 (16550 UART) console: polled output, interrupt-driven input.
#pragma once

#include "util/types.h"

namespace serial {

void init();  // 115200 8N1, FIFOs on, interrupts off
void write(const char* s, usize len);
void put(char c);
void enable_rx_interrupt();  // after the IOAPIC routes IRQ 4
void handle_interrupt();     // called from the IRQ handler
// Next received byte, or -1 when the input queue is empty.
int read_byte();
// True when received bytes wait in the input queue.
bool pending();

}  // namespace serial
