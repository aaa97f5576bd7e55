#include "iommu/vtd_selftest.h"

#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/mmio.h"
#include "console/log.h"
#include "debug/edu_device.h"
#include "dma/class_reset.h"
#include "iommu/domain.h"
#include "iommu/faults.h"
#include "iommu/interrupt_remapping.h"
#include "iommu/remapping.h"
#include "iommu/vtd_units.h"
#include "irq/msi_vectors.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"
#include "object/pci_function.h"

namespace iommu {
namespace {

constexpr u64 kSourceIova = 0x100000, kDestinationIova = 0x200000, kMessageIova = 0x300000;
constexpr u64 kCopyBytes = 2048;
constexpr u8 kSourceByte = 0x5a, kCanaryByte = 0xa5;

// One edu copy; false when it did not finish within a second (edu runs
// each copy from a 100 ms timer).
bool copy(volatile u8* regs, u64 source, u64 destination, bool to_ram, u64 bytes = kCopyBytes) {
    mmio::write<u64>(regs, edu::kDmaSource, source);
    mmio::write<u64>(regs, edu::kDmaDestination, destination);
    mmio::write<u64>(regs, edu::kDmaCount, bytes);
    mmio::write<u64>(regs, edu::kDmaCommand, edu::kDmaRun | (to_ram ? edu::kDmaToRam : 0));
    const u64 until = clock::monotonic_ns() + 1'000'000'000;
    while (mmio::read<u64>(regs, edu::kDmaCommand) & edu::kDmaRun)
        if (clock::monotonic_ns() > until) return false;
    return true;
}

// How many of the page's first kCopyBytes bytes hold `value`.
u64 count_of(u64 phys, u8 value) {
    const u8* p = direct_map::to_virt<const u8>(phys);
    u64 n = 0;
    for (u64 i = 0; i < kCopyBytes; i++) n += p[i] == value;
    return n;
}

// Lets interrupts in (the boot path runs with them off) until `done()` or
// `ms` pass.
template <typename Done>
void wait_with_interrupts(u64 ms, Done done) {
    const u64 until = clock::monotonic_ns() + ms * 1'000'000;
    cpu::sti();
    while (!done() && clock::monotonic_ns() < until) cpu::pause();
    cpu::cli();
}

volatile u32 g_detected;  // deliveries of the detector vector
void on_detector(InterruptFrame&) { g_detected = g_detected + 1; }

// edu writes the 4-byte message `data` to `address`, as a DMA write: an
// interrupt it forges. Whether the detector vector was raised.
bool forged(volatile u8* regs, u64 message_at, u64 message_phys, u32 address, u32 data) {
    *direct_map::to_virt<volatile u32>(message_phys) = data;
    const u32 before = g_detected;
    (void)copy(regs, message_at, edu::kBuffer, false, 4);
    (void)copy(regs, edu::kBuffer, address, true, 4);
    wait_with_interrupts(200, [&] { return g_detected != before; });
    return g_detected != before;
}

const char* raised(bool r) { return r ? "raised it" : "blocked"; }

void fill(u64 phys, u8 value) {
    u8* p = direct_map::to_virt<u8>(phys);
    for (u64 i = 0; i < frames::kFrameSize; i++) p[i] = value;
}

// Interrupts edu forges by writing messages itself (what a provider that
// writes device addresses could make its device do): through an entry
// nobody was given, through its own entry, a compatibility-format message,
// and through another device's entry. QEMU 7.2 blocks only the first on a
// device's write: it passes compatibility-format messages through whatever
// GSTS.CFIS says, and a DMA write carries no requester id for source
// validation (hw/i386/intel_iommu.c, vtd_interrupt_remap_msi and
// vtd_mem_ir_write) — hardware blocks all but its own. The log says which.
void forge_interrupts(u32 fn, volatile u8* regs, u64 message_at, u64 message_phys) {
    auto detector = irq::reserve_kernel_vector(on_detector);
    if (!detector.ok()) return LOG_ERROR("test: vtd: no vector for the detector");
    const u8 v = detector.value();
    const u32 apic = lapic::id();
    auto foreign = intremap::message(0, v, apic);  // the host bridge's
    auto own = intremap::message(fn, v, apic);
    if (!foreign.ok() || !own.ok()) return LOG_ERROR("test: vtd: no remapping entries");
    const u32 nobody = intremap::unused_handle();
    const bool through_nobody =
        intremap::active() && nobody != intremap::kNoHandle &&
        forged(regs, message_at, message_phys, vtd::remappable_msi_address(static_cast<u16>(nobody)), 0);
    const bool through_own = forged(regs, message_at, message_phys, own.value().address, own.value().data);
    const bool compat = forged(regs, message_at, message_phys, vtd::compatible_msi_address(static_cast<u8>(apic)), v);
    const bool through_foreign = forged(regs, message_at, message_phys, foreign.value().address, foreign.value().data);
    intremap::release(foreign.value().handle);
    intremap::release(own.value().handle);
    const vtd_units::Unit* u = vtd_units::unit(0);
    const u32 status = u ? mmio::read<u32>(u->regs, vtd::reg::kGlobalStatus) : 0;
    LOG_INFO(
        "test: vtd: interrupts edu wrote itself (remapping %s, GSTS.CFIS %u): through an entry nobody was given "
        "%s; through its own entry %s; compatibility format %s; through another device's entry %s",
        intremap::active() ? "on" : "off", (status >> 23) & 1, intremap::active() ? raised(through_nobody) : "n/a",
        raised(through_own), raised(compat), raised(through_foreign));
}

}  // namespace

void vtd_selftest() {
    const u32 fn = edu::find();
    if (fn == ~0u) return LOG_ERROR("test: vtd: no edu device (add -device edu)");
    auto regs = object::PciFunction::kernel_view(fn, 0);
    if (!regs.ok()) return LOG_ERROR("test: vtd: edu BAR0: %s", status_name(regs.status()));
    auto source = frames::alloc(), destination = frames::alloc(), canary = frames::alloc(), message = frames::alloc();
    if (!source.ok() || !destination.ok() || !canary.ok() || !message.ok()) return LOG_ERROR("test: vtd: no memory");
    fill(source.value(), kSourceByte);
    fill(destination.value(), 0);
    fill(canary.value(), kCanaryByte);

    // Translated: IOVAs that are not the pages' addresses. Not: the
    // addresses themselves.
    Domain* domain = nullptr;
    u64 source_at = source.value(), destination_at = destination.value(), message_at = message.value();
    if (auto d = Domain::create(fn); d.ok()) {
        domain = d.value();
        auto a = domain->map(kSourceIova, source.value(), frames::kFrameSize, vtd::kSlRead);
        auto b = domain->map(kDestinationIova, destination.value(), frames::kFrameSize, vtd::kSlWrite);
        auto c = domain->map(kMessageIova, message.value(), frames::kFrameSize, vtd::kSlRead);
        if (!a.ok() || !b.ok() || !c.ok()) return LOG_ERROR("test: vtd: map failed");
        source_at = kSourceIova;
        destination_at = kDestinationIova;
        message_at = kMessageIova;
    } else if (d.status() != Status::NotFound) {
        return LOG_ERROR("test: vtd: domain: %s", status_name(d.status()));
    }
    const auto& a = pci_enum::function(fn).address;
    LOG_INFO("test: vtd: edu %02x:%02x.%x %s", a.bus, a.device, a.function,
             domain ? "behind a translating unit: source and destination mapped at IOVAs 0x100000 and 0x200000"
                    : "not translated: it uses physical addresses");
    (void)kdma::set_bus_master(fn);

    const bool in = copy(regs.value(), source_at, edu::kBuffer, false);
    const bool out = copy(regs.value(), edu::kBuffer, destination_at, true);
    const u64 copied = count_of(destination.value(), kSourceByte);
    LOG_INFO("test: vtd: copy through %s: %s, %llu of %llu bytes arrived", domain ? "the domain" : "physical addresses",
             in && out ? "done" : "timed out", static_cast<unsigned long long>(copied),
             static_cast<unsigned long long>(kCopyBytes));

    // The write the domain does not allow: to the canary's own address.
    const u64 faults_before = faults::total();
    const bool wrote = copy(regs.value(), edu::kBuffer, canary.value(), true);
    // The fault event is an interrupt: let it in (the boot path runs with
    // interrupts off) for up to half a second.
    if (domain) wait_with_interrupts(500, [&] { return faults::total() != faults_before; });
    const u64 kept = count_of(canary.value(), kCanaryByte);
    const faults::Fault f = faults::newest();
    LOG_INFO("test: vtd: write to the canary %s: %llu of %llu canary bytes intact; %llu fault(s) reported%s",
             wrote ? "issued" : "timed out", static_cast<unsigned long long>(kept),
             static_cast<unsigned long long>(kCopyBytes),
             static_cast<unsigned long long>(faults::total() - faults_before),
             faults::total() > faults_before ? "" : " (none)");
    if (faults::total() > faults_before)
        LOG_INFO(
            "test: vtd: newest fault: source %02x:%02x.%x, %s at 0x%llx, reason 0x%x (%s); the canary is at 0x%llx",
            f.source >> 8, (f.source >> 3) & 0x1f, f.source & 7, f.read ? "read" : "write",
            static_cast<unsigned long long>(f.address), f.reason, faults::reason_name(f.reason),
            static_cast<unsigned long long>(canary.value()));
    forge_interrupts(fn, regs.value(), message_at, message.value());
    (void)kdma::clear_bus_master(fn);
    if (domain) domain->release();
    frames::free(source.value());
    frames::free(destination.value());
    frames::free(message.value());
    // The canary page stays allocated (never reused) for the harness to read.
    LOG_INFO("test: vtd: canary page at 0x%llx: %llu bytes that were 0x%02x",
             static_cast<unsigned long long>(canary.value()), static_cast<unsigned long long>(kCopyBytes), kCanaryByte);
}

}  // namespace iommu
