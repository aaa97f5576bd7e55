#include "iommu/vtd_selftest.h"

#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/mmio.h"
#include "console/log.h"
#include "debug/edu_device.h"
#include "dma/class_reset.h"
#include "iommu/domain.h"
#include "iommu/faults.h"
#include "iommu/remapping.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"
#include "object/pci_function.h"

namespace iommu {
namespace {

constexpr u64 kSourceIova = 0x100000, kDestinationIova = 0x200000;
constexpr u64 kCopyBytes = 2048;
constexpr u8 kSourceByte = 0x5a, kCanaryByte = 0xa5;

// One edu copy; false when it did not finish within a second (edu runs
// each copy from a 100 ms timer).
bool copy(volatile u8* regs, u64 source, u64 destination, bool to_ram) {
    mmio::write<u64>(regs, edu::kDmaSource, source);
    mmio::write<u64>(regs, edu::kDmaDestination, destination);
    mmio::write<u64>(regs, edu::kDmaCount, kCopyBytes);
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

void fill(u64 phys, u8 value) {
    u8* p = direct_map::to_virt<u8>(phys);
    for (u64 i = 0; i < frames::kFrameSize; i++) p[i] = value;
}

}  // namespace

void vtd_selftest() {
    const u32 fn = edu::find();
    if (fn == ~0u) return LOG_ERROR("test: vtd: no edu device (add -device edu)");
    auto regs = object::PciFunction::kernel_view(fn, 0);
    if (!regs.ok()) return LOG_ERROR("test: vtd: edu BAR0: %s", status_name(regs.status()));
    auto source = frames::alloc(), destination = frames::alloc(), canary = frames::alloc();
    if (!source.ok() || !destination.ok() || !canary.ok()) return LOG_ERROR("test: vtd: no memory");
    fill(source.value(), kSourceByte);
    fill(destination.value(), 0);
    fill(canary.value(), kCanaryByte);

    // Translated: IOVAs that are not the pages' addresses. Not: the
    // addresses themselves.
    Domain* domain = nullptr;
    u64 source_at = source.value(), destination_at = destination.value();
    if (auto d = Domain::create(fn); d.ok()) {
        domain = d.value();
        auto a = domain->map(kSourceIova, source.value(), frames::kFrameSize, vtd::kSlRead);
        auto b = domain->map(kDestinationIova, destination.value(), frames::kFrameSize, vtd::kSlWrite);
        if (!a.ok() || !b.ok()) return LOG_ERROR("test: vtd: map: %s", status_name(a.ok() ? b.status() : a.status()));
        source_at = kSourceIova;
        destination_at = kDestinationIova;
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
    const u64 until = clock::monotonic_ns() + 500'000'000;
    cpu::sti();
    while (domain && faults::total() == faults_before && clock::monotonic_ns() < until) cpu::pause();
    cpu::cli();
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
    (void)kdma::clear_bus_master(fn);
    if (domain) domain->release();
    frames::free(source.value());
    frames::free(destination.value());
    // The canary page stays allocated (never reused) for the harness to read.
    LOG_INFO("test: vtd: canary page at 0x%llx: %llu bytes that were 0x%02x",
             static_cast<unsigned long long>(canary.value()), static_cast<unsigned long long>(kCopyBytes), kCanaryByte);
}

}  // namespace iommu
