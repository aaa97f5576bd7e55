#include "irq/msi_selftest.h"

#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "console/log.h"
#include "debug/edu_device.h"
#include "dma/class_reset.h"
#include "irq/msi_vectors.h"
#include "object/pci_function.h"

namespace irq {
namespace {

volatile u32 g_delivered;

// Lets interrupts in for up to `ms`, returning once `want` deliveries arrived.
void wait_for(u32 want, u64 ms) {
    u64 until = clock::monotonic_ns() + ms * 1'000'000;
    cpu::sti();
    while (g_delivered < want && clock::monotonic_ns() < until) asm volatile("pause");
    cpu::cli();
}

}  // namespace

void msi_selftest() {
    const u32 fn = edu::find();
    if (fn == ~0u) return LOG_ERROR("test: msi: no edu device (add -device edu)");
    const pci_enum::Function& f = pci_enum::function(fn);
    if (f.has_msix || !f.has_msi) return LOG_ERROR("test: msi: edu has MSI-X or no MSI");
    auto regs = object::PciFunction::kernel_view(fn, 0);
    if (!regs.ok()) return LOG_ERROR("test: msi: edu BAR0: %s", status_name(regs.status()));
    auto reg = [&](u32 off) { return reinterpret_cast<volatile u32*>(regs.value() + off); };

    Sink sink{[](void*) { g_delivered = g_delivered + 1; }, [](void*) {}, nullptr};
    auto vector = route(fn, 0, sink);
    auto second = route(fn, 1, sink);  // one message per function
    if (!vector.ok()) return LOG_ERROR("test: msi: route: %s", status_name(vector.status()));
    set_masked(vector.value(), false);
    (void)kdma::set_bus_master(fn);

    *reg(edu::kIrqRaise) = 0x1;
    wait_for(1, 500);
    u32 first = g_delivered;
    u32 status = *reg(edu::kIrqStatus);
    *reg(edu::kIrqAck) = status;

    set_masked(vector.value(), true);
    *reg(edu::kIrqRaise) = 0x2;
    wait_for(2, 100);
    u32 while_masked = g_delivered - first;
    *reg(edu::kIrqAck) = *reg(edu::kIrqStatus);

    set_masked(vector.value(), false);
    *reg(edu::kIrqRaise) = 0x4;
    wait_for(first + while_masked + 1, 500);
    u32 after_unmask = g_delivered - first - while_masked;
    *reg(edu::kIrqAck) = *reg(edu::kIrqStatus);

    unroute(vector.value());
    (void)kdma::clear_bus_master(fn);
    const auto& a = f.address;
    LOG_INFO(
        "test: msi on %02x:%02x.%x (vector 0x%x): %u delivered (status 0x%x), %u while masked, %u after "
        "unmask; a second message: %s",
        a.bus, a.device, a.function, vector.value(), first, status, while_masked, after_unmask,
        status_name(second.ok() ? Status::Ok : second.status()));
}

}  // namespace irq
