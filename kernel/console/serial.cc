#include "console/serial.h"

#include "arch/x86_64/cpu.h"

namespace serial {
namespace {

constexpr u16 kCom1 = 0x3f8;
// 16550 register offsets (National Semiconductor PC16550D data sheet).
constexpr u16 kData = 0, kIer = 1, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5;
constexpr u8 kLsrDataReady = 0x01, kLsrTxEmpty = 0x20;

// Single-producer (IRQ) / single-consumer ring; one CPU for now, the IRQ
// handler runs with interrupts off, readers disable interrupts around pops.
constexpr usize kRxSize = 1024;
u8 g_rx[kRxSize];
volatile usize g_rx_head, g_rx_tail;

}  // namespace

void init() {
    cpu::outb(kCom1 + kIer, 0x00);
    cpu::outb(kCom1 + kLcr, 0x80);   // DLAB
    cpu::outb(kCom1 + kData, 0x01);  // divisor 1 = 115200 baud
    cpu::outb(kCom1 + kIer, 0x00);
    cpu::outb(kCom1 + kLcr, 0x03);  // 8N1
    cpu::outb(kCom1 + kFcr, 0xc7);  // FIFO on, clear, 14-byte threshold
    cpu::outb(kCom1 + kMcr, 0x0b);  // DTR, RTS, OUT2 (IRQ gate)
}

void put(char c) {
    // Wait for the transmitter. A host that reads the console slowly (QEMU
    // with a busy socket chardev) keeps THR full for long stretches; writing
    // anyway would drop the byte, so only a UART that stays busy for about
    // a second (none there, or wedged) is given up on.
    for (u64 spins = 0; !(cpu::inb(kCom1 + kLsr) & kLsrTxEmpty); spins++) {
        if (spins > 50'000'000) break;
        cpu::pause();
    }
    cpu::outb(kCom1 + kData, static_cast<u8>(c));
}

void write(const char* s, usize len) {
    for (usize i = 0; i < len; i++) {
        if (s[i] == '\n') put('\r');
        put(s[i]);
    }
}

void enable_rx_interrupt() { cpu::outb(kCom1 + kIer, 0x01); }

void handle_interrupt() {
    while (cpu::inb(kCom1 + kLsr) & kLsrDataReady) {
        u8 b = cpu::inb(kCom1 + kData);
        usize next = (g_rx_head + 1) % kRxSize;
        if (next == g_rx_tail) continue;  // queue full: the byte is dropped
        g_rx[g_rx_head] = b;
        g_rx_head = next;
    }
}

int read_byte() {
    bool was_enabled = cpu::interrupts_enabled();
    cpu::cli();
    int b = -1;
    if (g_rx_tail != g_rx_head) {
        b = g_rx[g_rx_tail];
        g_rx_tail = (g_rx_tail + 1) % kRxSize;
    }
    if (was_enabled) cpu::sti();
    return b;
}

bool pending() { return g_rx_tail != g_rx_head; }

}  // namespace serial
