// kernel_main: the boot sequence, in the order each step's dependencies
// allow. Every step logs what it found; anything malformed is reported and
// skipped rather than trusted.
#include "acpi/system_tables.h"
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/idt.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/syscall.h"
#include "boot/cmdline.h"
#include "boot/memory_map.h"
#include "boot/modules.h"
#include "boot/multiboot2.h"
#include "console/log.h"
#include "console/serial.h"
#include "debug/address_audit.h"
#include "debug/panic.h"
#include "debug/profiler.h"
#include "debug/symbols.h"
#include "dma/session.h"
#include "iommu/faults.h"
#include "iommu/remapping.h"
#include "iommu/vtd_selftest.h"
#include "iommu/vtd_units.h"
#include "irq/msi_selftest.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"
#include "mm/heap.h"
#include "mm/paging.h"
#include "object/console.h"
#include "object/process.h"
#include "pci/ecam.h"
#include "pci/enumerate.h"
#include "proc/lifecycle.h"
#include "sched/scheduler.h"

namespace {

// Every timer tick (100 Hz): device teardowns waiting for a slow reset
// (kdma::poll_stopping), remapping fault events masked for a storm, then
// the scheduler.
void on_tick() {
    kdma::poll_stopping();
    faults::tick();
    sched::tick();
}

}  // namespace

extern "C" char __kernel_phys_start[], __kernel_phys_end[];
extern "C" void (*__init_array_start[])(), (*__init_array_end[])();

namespace {

constexpr u32 kMultiboot2Magic = 0x36d76289;
constexpr u64 kLowMemoryEnd = 1ull << 20;  // BIOS data, EBDA, option ROMs

boot::BootInfo g_boot;
boot::MemoryMap g_memory_map;

const char* region_name(boot::RegionType t) {
    switch (t) {
        case boot::RegionType::Usable: return "usable";
        case boot::RegionType::AcpiReclaimable: return "acpi-reclaimable";
        case boot::RegionType::AcpiNvs: return "acpi-nvs";
        case boot::RegionType::Bad: return "bad";
        default: return "reserved";
    }
}

void print_banner() {
    log::raw("\nSluice %s (%s) x86_64\n", SLUICE_VERSION, SLUICE_GIT_REV);
    usize len = g_boot.cmdline.size();
    log::raw("cmdline: %.*s\n", static_cast<int>(len), reinterpret_cast<const char*>(g_boot.cmdline.data()));
    usize loader = g_boot.bootloader_name.size();
    log::raw("bootloader: %.*s\n", static_cast<int>(loader),
             reinterpret_cast<const char*>(g_boot.bootloader_name.data()));
}

void apply_cmdline() {
    cmdline::init(reinterpret_cast<const char*>(g_boot.cmdline.data()), g_boot.cmdline.size());
    usize len;
    if (const char* level = cmdline::get("loglevel", &len)) {
        log::Level parsed;
        if (log::parse_level(level, len, &parsed))
            log::set_level(parsed);
        else
            LOG_WARN("cmdline: unknown loglevel '%.*s' (error|warn|info|debug)", static_cast<int>(len), level);
    }
}

// Physical memory: the firmware map minus everything the kernel must keep.
void init_memory(u64 info_phys, u64 info_size) {
    for (u32 i = 0; i < g_boot.mmap_count; i++) {
        const auto& e = g_boot.mmap[i];
        auto r = g_memory_map.add(e.base, e.length, boot::region_type_from_multiboot2(e.type));
        if (!r.ok()) LOG_WARN("mem: firmware range %u dropped: %s", i, status_name(r.status()));
    }
    if (g_boot.mmap_truncated) LOG_WARN("mem: firmware memory map longer than supported; tail ignored");
    auto reserve = [](const char* what, u64 base, u64 len) {
        if (!len) return;
        auto r = g_memory_map.reserve(base, len);
        if (!r.ok()) panic("mem: cannot reserve %s: %s", what, status_name(r.status()));
    };
    reserve("low memory", 0, kLowMemoryEnd);
    reserve("kernel image", reinterpret_cast<u64>(__kernel_phys_start),
            reinterpret_cast<u64>(__kernel_phys_end) - reinterpret_cast<u64>(__kernel_phys_start));
    reserve("boot information", info_phys, info_size);
    for (u32 i = 0; i < g_boot.module_count; i++)
        reserve("boot module", g_boot.modules[i].start, g_boot.modules[i].end - g_boot.modules[i].start);
    u64 sym, sym_len, str, str_len;
    symbols::table_ranges(&sym, &sym_len, &str, &str_len);
    reserve("kernel symbols", sym, sym_len);
    reserve("kernel strings", str, str_len);
    g_memory_map.normalize();

    for (usize i = 0; i < g_memory_map.count(); i++) {
        auto r = g_memory_map.range(i);
        LOG_INFO("mem: 0x%016llx-0x%016llx %s", static_cast<unsigned long long>(r.base),
                 static_cast<unsigned long long>(r.base + r.length - 1), region_name(r.type));
    }
    auto fr = frames::init(g_memory_map, direct_map::limit());
    if (!fr.ok()) panic("mem: frame allocator: %s", status_name(fr.status()));
    // The direct map covers RAM and firmware tables, not the reserved
    // windows some firmware lists far above RAM (QEMU: 0xfd00000000+).
    u64 direct_map_end = 0;
    for (usize i = 0; i < g_memory_map.count(); i++) {
        auto r = g_memory_map.range(i);
        if (r.type != boot::RegionType::Reserved && r.base + r.length > direct_map_end)
            direct_map_end = r.base + r.length;
    }
    auto pr = paging::init(direct_map_end);
    if (!pr.ok()) panic("mem: paging: %s", status_name(pr.status()));
    auto st = frames::stats();
    LOG_INFO("mem: frames total %llu free %llu used %llu (%llu MiB usable)", static_cast<unsigned long long>(st.total),
             static_cast<unsigned long long>(st.free), static_cast<unsigned long long>(st.used),
             static_cast<unsigned long long>(st.total * frames::kFrameSize >> 20));
}

// Until the console service (user space) owns COM1, completed input lines
// are logged: visible proof that the IOAPIC routing works.
void on_serial_irq(InterruptFrame&) {
    static char line[128];
    static usize len;
    serial::handle_interrupt();
    if (object::Console* console = object::Console::instance()) {
        console->input_arrived();  // user space owns the console now
        return;
    }
    int b;
    while ((b = serial::read_byte()) >= 0) {
        if (b == '\r' || b == '\n') {
            if (len) LOG_INFO("console: line '%.*s'", static_cast<int>(len), line);
            len = 0;
        } else if (len < sizeof line) {
            line[len++] = static_cast<char>(b);
        }
    }
}

// Interrupt controllers: 8259s masked, LAPIC timer, IOAPIC routing COM1.
void init_interrupts() {
    // Remap the 8259 pair away from the exception vectors, then mask it.
    cpu::outb(0x20, 0x11), cpu::outb(0xa0, 0x11);
    cpu::outb(0x21, 0x20), cpu::outb(0xa1, 0x28);
    cpu::outb(0x21, 0x04), cpu::outb(0xa1, 0x02);
    cpu::outb(0x21, 0x01), cpu::outb(0xa1, 0x01);
    cpu::outb(0x21, 0xff), cpu::outb(0xa1, 0xff);

    const acpi::MadtInfo* madt = kacpi::madt();
    if (!madt) panic("acpi: no usable MADT; cannot find the interrupt controllers");
    u64 lapic_base = madt->lapic_address_override ? madt->lapic_address_override : madt->lapic_address;
    if (auto r = lapic::init(lapic_base); !r.ok()) panic("lapic: %s", status_name(r.status()));
    LOG_INFO("acpi: MADT %u cpus, %u ioapics, %u overrides", madt->lapic_count, madt->ioapic_count,
             madt->override_count);
    if (madt->ioapic_count == 0) panic("acpi: MADT lists no IOAPIC");
    const auto& io = madt->ioapics[0];
    if (auto r = ioapic::init(io.address, io.gsi_base); !r.ok()) panic("ioapic: %s", status_name(r.status()));

    // COM1 is ISA IRQ 4: edge/high unless an interrupt source override says
    // otherwise (ACPI 6.5 §5.2.12.5; MPS INTI flags).
    ioapic::Route com1{4, false, false};
    for (u32 i = 0; i < madt->override_count; i++) {
        const auto& o = madt->overrides[i];
        if (o.bus != 0 || o.source != 4) continue;
        com1.gsi = o.gsi;
        com1.active_low = (o.flags & 3) == 3;
        com1.level = ((o.flags >> 2) & 3) == 3;
    }
    idt::set_handler(idt::kVectorSerial, on_serial_irq);
    if (auto r = ioapic::route(com1, idt::kVectorSerial, lapic::id()); !r.ok())
        LOG_WARN("serial: cannot route IRQ 4: %s", status_name(r.status()));
    else
        LOG_INFO("serial: com1 irq 4 -> gsi %u vector 0x%x", com1.gsi, idt::kVectorSerial);
    serial::enable_rx_interrupt();
    // 100 Hz, or the profiler's rate (debug/profiler.h).
    const u32 timer_hz = profiler::init_from_cmdline();
    if (profiler::enabled()) lapic::set_sample_hook(profiler::sample);
    lapic::start_timer(timer_hz);
    // Interrupts stay off: the kernel is not preemptible (sched/scheduler.h),
    // the boot path included. The idle loop takes them, and user mode runs
    // with them on.
}

void list_modules() {
    for (u32 i = 0; i < g_boot.module_count; i++) {
        const auto& m = g_boot.modules[i];
        LOG_INFO("module %.*s size %u at 0x%x", static_cast<int>(m.name.size()),
                 reinterpret_cast<const char*>(m.name.data()), m.end - m.start, m.start);
    }
    LOG_INFO("modules: %u", g_boot.module_count);
}

// test.fault=<kind>: deliberate faults that prove the panic path works.
[[gnu::noinline]] void trigger_test_fault(const char* kind, usize len) {
    auto is = [&](const char* w) {
        usize i = 0;
        for (; i < len && w[i]; i++)
            if (kind[i] != w[i]) return false;
        return i == len && !w[i];
    };
    LOG_WARN("test: triggering a deliberate %.*s fault", static_cast<int>(len), kind);
    if (is("page")) {
        *reinterpret_cast<volatile u64*>(0xdead0000ull) = 0x5a5a;
    } else if (is("ud")) {
        asm volatile("ud2");
    } else if (is("panic")) {
        panic("test: deliberate panic");
    } else {
        LOG_ERROR("test: unknown fault kind '%.*s' (page|ud|panic)", static_cast<int>(len), kind);
    }
}

// exit=poweroff: once no process is left running, power off (tests end
// this way; without init that is right after boot).
void power_off_when_done() {
    if (!cmdline::is("exit", "poweroff") || object::Process::live_count() != 0) return;
    auto st = frames::stats();
    LOG_INFO("boot: no processes left; frames free %llu used %llu", static_cast<unsigned long long>(st.free),
             static_cast<unsigned long long>(st.used));
    kacpi::poweroff();
}

}  // namespace

extern "C" [[noreturn]] void kernel_main(u32 magic, u32 info_phys) {
    serial::init();
    gdt::init();
    idt::init();
    percpu::init_bsp();
    syscall_msr::init();
    for (auto* ctor = __init_array_start; ctor != __init_array_end; ctor++) (*ctor)();

    if (magic != kMultiboot2Magic) panic("boot: not started by a multiboot2 loader (magic 0x%x)", magic);
    u32 info_size = *direct_map::to_virt<const u32>(info_phys);
    auto parsed = boot::parse_multiboot2(ByteView(direct_map::to_virt<const u8>(info_phys), info_size), g_boot);
    if (!parsed.ok()) panic("boot: multiboot2 information rejected: %s", status_name(parsed.status()));
    apply_cmdline();
    print_banner();
    clock::calibrate();
    LOG_INFO("clock: tsc %llu kHz", static_cast<unsigned long long>(clock::tsc_hz() / 1000));

    if (!symbols::init(g_boot.elf_num, g_boot.elf_entsize, g_boot.elf_sections))
        LOG_WARN("boot: no kernel symbol table; backtraces will be raw addresses");
    init_memory(info_phys, info_size);

    usize len;
    ByteView rsdp = g_boot.rsdp_v2.size() ? g_boot.rsdp_v2 : g_boot.rsdp_v1;
    if (!rsdp.size() || !kacpi::init(rsdp, cmdline::get("acpi.dump", &len) != nullptr).ok())
        panic("acpi: no usable RSDP/XSDT; cannot configure the machine");
    vtd_units::probe();  // what the DMAR's remapping units can do
    init_interrupts();

    if (const acpi::McfgInfo* mcfg = kacpi::mcfg()) {
        if (!ecam::init(*mcfg).ok()) LOG_ERROR("pci: MCFG lists no usable ECAM region");
    }
    auto pci = pci_enum::enumerate();
    if (!pci.ok()) LOG_ERROR("pci: enumeration failed: %s", status_name(pci.status()));
    remapping::init();  // translation on: every device behind a unit blocked until granted

    modules::init(g_boot);
    list_modules();
    auto st = frames::stats();
    LOG_INFO("boot: complete in %llu ms (frames free %llu used %llu, heap %llu bytes)",
             static_cast<unsigned long long>(clock::monotonic_ns() / 1000000), static_cast<unsigned long long>(st.free),
             static_cast<unsigned long long>(st.used), static_cast<unsigned long long>(heap::bytes_in_use()));

    if (const char* kind = cmdline::get("test.fault", &len)) trigger_test_fault(kind, len);
    audit::init();
    if (cmdline::get("test.msi", &len)) irq::msi_selftest();
    if (cmdline::get("test.vtd", &len)) iommu::vtd_selftest();

    sched::init(object::Thread::adopt_boot_context());
    lapic::set_tick_hook(on_tick);
    if (const char* init = cmdline::get("init", &len)) {
        // The creator's reference goes here: the process keeps itself alive
        // while it runs.
        if (!proc::spawn_init(init, len).ok())
            LOG_ERROR("boot: init '%.*s' did not start", static_cast<int>(len), init);
    }
    sched::run_idle(power_off_when_done);
}
