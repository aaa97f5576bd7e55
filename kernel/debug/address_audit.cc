#include "debug/address_audit.h"

#include "abi/syscall.h"
#include "boot/cmdline.h"
#include "console/log.h"
#include "debug/panic.h"
#include "dma/session.h"
#include "object/process.h"
#include "pci/enumerate.h"

namespace audit {
namespace {

bool g_enabled;
bool g_selftest;
u64 g_results;
u64 g_words;

constexpr u64 kMsiWindow = 0xFEE00000, kMsiWindowEnd = 0xFEF00000;

// What the value would be, if it were an address; null when it is not one.
const char* device_address_kind(u64 v) {
    if (v >= kMsiWindow && v < kMsiWindowEnd) return "the MSI address window";
    if (kdma::Session::is_dma_address(v)) return "DMA memory in a device ledger";
    for (u32 i = 0; i < pci_enum::count(); i++) {
        for (const pci::Bar& b : pci_enum::function(i).bars) {
            bool memory = b.kind == pci::BarKind::Mem32 || b.kind == pci::BarKind::Mem64;
            if (memory && b.size && v >= b.address && v - b.address < b.size) return "a device BAR";
        }
    }
    return nullptr;
}

}  // namespace

void init() {
    usize len = 0;
    const char* v = cmdline::get("test.addr_audit", &len);
    g_enabled = v != nullptr;
    g_selftest = cmdline::is("test.addr_audit", "selftest");
    if (g_enabled)
        LOG_INFO(
            "audit: address audit on%s: results and copy-outs checked against DMA ledgers, BARs and the MSI "
            "window",
            g_selftest ? " (self-test: one address will be leaked on purpose)" : "");
}

bool enabled() { return g_enabled; }
bool selftest() { return g_selftest; }

void check_result(u64 syscall, i64 result, object::Process* caller) {
    using S = abi::Syscall;
    if (!g_enabled || result <= 0) return;
    // Time, and the caller's own virtual addresses (map areas start at 4 GiB
    // and could meet a 64-bit BAR numerically), are not device addresses.
    if (syscall == static_cast<u64>(S::ClockGet) || syscall == static_cast<u64>(S::MemoryMap) ||
        syscall == static_cast<u64>(S::MmioMap) || syscall == static_cast<u64>(S::NvmeQueueMap) ||
        syscall == static_cast<u64>(S::VirtQueueMap))
        return;
    g_results++;
    u64 v = static_cast<u64>(result);
    const char* kind = device_address_kind(v);
    if (!kind) return;
    // A handle value that happens to fall in a range is a handle.
    if (v <= 0xffffffffull && caller->caps().lookup(cap::Handle::from_raw(static_cast<u32>(v)), cap::kAnyType, 0).ok())
        return;
    panic("address audit: system call %llu returned 0x%llx to pid %u '%s': %s",
          static_cast<unsigned long long>(syscall), static_cast<unsigned long long>(v), caller->pid(), caller->name(),
          kind);
}

void check_copy(const void* data, usize len, const char* what) {
    if (!g_enabled) return;
    const u8* p = static_cast<const u8*>(data);
    for (usize at = 0; at + 8 <= len; at += 8) {  // every u64 slot (addresses are stored naturally aligned)
        u64 v;
        __builtin_memcpy(&v, p + at, 8);
        g_words++;
        if (const char* kind = device_address_kind(v))
            panic("address audit: %s copied 0x%llx out at byte %llu: %s", what, static_cast<unsigned long long>(v),
                  static_cast<unsigned long long>(at), kind);
    }
}

void check_read_words(const u64* words, usize count, object::Process* reader) {
    if (!g_enabled) return;
    for (usize i = 0; i < count; i++) {
        g_words++;
        if (const char* kind = device_address_kind(words[i]))
            panic("address audit: pid %u '%s' read 0x%llx through a device mapping (word %llu of %llu): %s",
                  reader->pid(), reader->name(), static_cast<unsigned long long>(words[i]),
                  static_cast<unsigned long long>(i), static_cast<unsigned long long>(count), kind);
    }
}

void log_summary(const char* when) {
    if (!g_enabled) return;
    LOG_INFO("audit: %s: %llu results and %llu words checked, no device address reached user space", when,
             static_cast<unsigned long long>(g_results), static_cast<unsigned long long>(g_words));
}

}  // namespace audit
