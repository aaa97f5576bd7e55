#include "rt/sys.h"

#include "util/tsc_clock.h"

namespace rt {
namespace {

using S = abi::Syscall;

Result<void> status_only(i64 raw) {
    if (raw < 0) return static_cast<Status>(-raw);
    return {};
}

// A non-negative result that fits 32 bits (a count, a register value).
Result<u32> to_u32(i64 raw) {
    if (raw < 0) return static_cast<Status>(-raw);
    return static_cast<u32>(raw);
}

Result<Handle> new_handle(i64 raw) {
    if (raw < 0) return static_cast<Status>(-raw);
    return Handle(static_cast<u32>(raw));
}

u64 ptr(const void* p) { return reinterpret_cast<u64>(p); }

const abi::StartupBlock* g_startup;

}  // namespace

void set_startup_block(u64 address) { g_startup = reinterpret_cast<const abi::StartupBlock*>(address); }

const abi::StartupBlock& startup() { return *g_startup; }

bool startup_args_contains(const char* word) {
    if (!g_startup || g_startup->magic != abi::kStartupMagic) return false;
    const char* a = g_startup->args;
    u32 i = 0;
    while (i < abi::kArgsBytes && a[i]) {
        while (i < abi::kArgsBytes && a[i] == ' ') i++;
        u32 k = 0;
        while (i + k < abi::kArgsBytes && a[i + k] && a[i + k] != ' ' && word[k] == a[i + k]) k++;
        bool end = i + k >= abi::kArgsBytes || !a[i + k] || a[i + k] == ' ';
        if (end && !word[k] && k) return true;
        while (i < abi::kArgsBytes && a[i] && a[i] != ' ') i++;
    }
    return false;
}

u32 startup_handle(const char* name) {
    if (!g_startup || g_startup->magic != abi::kStartupMagic) return 0;
    for (u32 i = 0; i < g_startup->handle_count && i < abi::kStartupHandles; i++) {
        const char* n = g_startup->handles[i].name;
        u32 k = 0;
        while (k < abi::kHandleNameBytes && n[k] && n[k] == name[k]) k++;
        if (k < abi::kHandleNameBytes && n[k] == '\0' && name[k] == '\0') return g_startup->handles[i].handle;
    }
    return 0;
}

Result<ByteView> map_boot_file(u32 handle) {
    if (!handle) return Status::NotFound;
    u64 at = TRY(to_result(syscall<S::MemoryMap>(handle, 0, 0)));
    u64 length = reinterpret_cast<const abi::BootFileHeader*>(at)->length;
    // The kernel sized the object for header + text; a length that claims
    // more than 64 MiB cannot have come from it.
    if (length > (64ull << 20)) return Status::Malformed;
    return ByteView(reinterpret_cast<const u8*>(at) + sizeof(abi::BootFileHeader), length);
}

void close_handle(u32 raw) { syscall<S::HandleClose>(raw); }

void exit(i64 code) {
    syscall<S::ProcessExit>(code);
    __builtin_unreachable();
}

void yield() { syscall<S::Yield>(); }
u64 clock_ns() {
    // ClockGet's value computed here, from the calibration the kernel put in
    // the startup block: the same TSC and arithmetic, no kernel entry (the
    // storage path read the clock ~7 times per I/O).
    if (g_startup && g_startup->tsc_hz) {
        u32 lo, hi;
        asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return util::tsc_to_ns((u64{hi} << 32 | lo) - g_startup->tsc_base, g_startup->tsc_hz);
    }
    return static_cast<u64>(syscall<S::ClockGet>());
}
void sleep_ns(u64 ns) { syscall<S::Sleep>(ns); }

Result<void> log_write(u32 log, const char* text, usize len) {
    return status_only(syscall<S::LogWrite>(log, ptr(text), len));
}

Result<void> close(u32 h) { return status_only(syscall<S::HandleClose>(h)); }
Result<Handle> duplicate(u32 h, u32 rights) { return new_handle(syscall<S::HandleDuplicate>(h, rights)); }
Result<u64> revoke(u32 h) { return to_result(syscall<S::HandleRevoke>(h)); }

Result<Handle> endpoint_create() { return new_handle(syscall<S::EndpointCreate>()); }
Result<Handle> endpoint_mint(u32 h, u64 badge, u32 rights) {
    return new_handle(syscall<S::EndpointMint>(h, badge, rights));
}
Result<void> endpoint_call(u32 h, abi::Message& inout) { return status_only(syscall<S::EndpointCall>(h, ptr(&inout))); }
Result<void> endpoint_receive(u32 h, abi::Message& out, u64 timeout_ns) {
    return status_only(syscall<S::EndpointReceive>(h, ptr(&out), timeout_ns));
}
Result<void> endpoint_reply(const abi::Message& reply) { return status_only(syscall<S::EndpointReply>(ptr(&reply))); }

Result<Handle> notification_create() { return new_handle(syscall<S::NotificationCreate>()); }
Result<void> notification_signal(u32 h, u64 bits) { return status_only(syscall<S::NotificationSignal>(h, bits)); }
Result<u64> notification_wait(u32 h, u64 timeout_ns, u32 signal, u64 signal_bits) {
    return to_result(syscall<S::NotificationWait>(h, timeout_ns, signal, signal_bits));
}

Result<Handle> memory_create(u64 bytes) { return new_handle(syscall<S::MemoryCreate>(bytes)); }
Result<u64> memory_map(u32 h, u64 vaddr, u64 flags) { return to_result(syscall<S::MemoryMap>(h, vaddr, flags)); }
Result<u64> memory_size(u32 h) { return to_result(syscall<S::MemorySize>(h)); }
Result<u64> memory_map_checked(u32 h, u64 min_bytes, u64 flags) {
    if (TRY(memory_size(h)) < min_bytes) return Status::Malformed;
    return memory_map(h, 0, flags);
}
Result<void> memory_unmap(u32 h, u64 vaddr) { return status_only(syscall<S::MemoryUnmap>(h, vaddr)); }

Result<Handle> waitset_create() { return new_handle(syscall<S::WaitSetCreate>()); }
Result<void> waitset_add(u32 ws, u32 h, u64 mask, u64 key) {
    return status_only(syscall<S::WaitSetAdd>(ws, h, mask, key));
}
Result<void> waitset_remove(u32 ws, u64 key) { return status_only(syscall<S::WaitSetRemove>(ws, key)); }
Result<u32> waitset_wait(u32 ws, abi::WaitEvent* events, u32 max, u64 timeout_ns, u32 signal, u64 signal_bits) {
    return to_u32(syscall<S::WaitSetWait>(ws, ptr(events), max, timeout_ns, signal, signal_bits));
}

Result<Handle> process_spawn(u32 resource, const abi::SpawnRequest& request) {
    return new_handle(syscall<S::ProcessSpawn>(resource, ptr(&request)));
}
Result<void> process_kill(u32 h) { return status_only(syscall<S::ProcessKill>(h)); }
Result<abi::ProcessInfo> process_info(u32 h) {
    abi::ProcessInfo info{};
    i64 r = syscall<S::ProcessInfo>(h, ptr(&info));
    if (r < 0) return static_cast<Status>(-r);
    return info;
}
Result<u64> system_info(u32 resource, abi::SystemInfoKind kind, u32 arg, void* out, usize len) {
    return to_result(syscall<S::SystemInfo>(resource, static_cast<u64>(kind) | (u64(arg) << 32), ptr(out), len));
}

Result<void> process_kill_pid(u32 resource, u32 pid) { return status_only(syscall<S::ProcessKillPid>(resource, pid)); }

Result<u32> device_list(u32 root, abi::DeviceInfo* out, u32 max) {
    return to_u32(syscall<S::DeviceList>(root, ptr(out), max));
}
Result<Handle> device_open(u32 root, u32 bdf) { return new_handle(syscall<S::DeviceOpen>(root, bdf)); }
Result<u32> device_events(u32 root, abi::RefusalEvent* out, u32 max) {
    return to_u32(syscall<S::DeviceEvents>(root, ptr(out), max));
}
Result<u32> pci_config_read(u32 pci, u32 offset, u32 width) {
    return to_u32(syscall<S::PciConfigRead>(pci, offset, width));
}
Result<Handle> mmio_create(u32 pci, u32 bar, u64 offset, u64 length, u64 flags) {
    return new_handle(syscall<S::MmioCreate>(pci, bar, offset, length, flags));
}
Result<u64> mmio_map(u32 mmio) { return to_result(syscall<S::MmioMap>(mmio)); }
Result<void> mmio_write(u32 mmio, u64 offset, u32 width, u64 value) {
    return status_only(syscall<S::MmioWrite>(mmio, offset, width, value));
}
Result<u64> mmio_read(u32 mmio, u64 offset, u32 width) {
    u64 value = 0;
    i64 r = syscall<S::MmioRead>(mmio, offset, width, ptr(&value));
    if (r < 0) return static_cast<Status>(-r);
    return value;
}

Result<Handle> dma_pool_create(u32 pci, u64 quota, u64 lane) {
    return new_handle(syscall<S::DmaPoolCreate>(pci, quota, lane));
}
Result<u64> dma_buffer_address(u32 buffer) { return to_result(syscall<S::DmaBufferAddress>(buffer)); }
u64 syscall_count() { return static_cast<u64>(syscall<S::SyscallCount>()); }
Result<Handle> dma_buffer_create(u32 pool, u64 bytes) { return new_handle(syscall<S::DmaBufferCreate>(pool, bytes)); }
Result<abi::DmaUsage> dma_pool_info(u32 pool) {
    abi::DmaUsage u{};
    i64 r = syscall<S::DmaPoolInfo>(pool, ptr(&u));
    if (r < 0) return static_cast<Status>(-r);
    return u;
}
Result<Handle> interrupt_create(u32 pci, u32 index) { return new_handle(syscall<S::InterruptCreate>(pci, index)); }
Result<u64> interrupt_ack(u32 irq) { return to_result(syscall<S::InterruptAck>(irq)); }
Result<void> interrupt_mask(u32 irq, bool masked) { return status_only(syscall<S::InterruptMask>(irq, masked)); }
Result<Handle> nvme_admin_queue_create(u32 pool, u32 entries) {
    // No admin queue and no interrupt (0, 0): the admin queue is the first.
    return new_handle(syscall<S::NvmeQueueCreate>(pool, static_cast<u64>(abi::NvmeQueueKind::Admin), entries, 0, 0));
}
Result<Handle> nvme_io_queue_create(u32 pool, u32 admin, u32 entries, u32 irq) {
    return new_handle(syscall<S::NvmeQueueCreate>(pool, static_cast<u64>(abi::NvmeQueueKind::Io), entries, admin, irq));
}
Result<u32> nvme_submit(u32 queue, const abi::NvmeCommand* commands, u32 count) {
    return to_u32(syscall<S::NvmeSubmit>(queue, ptr(commands), count));
}
Result<u32> nvme_complete(u32 queue, abi::NvmeCompletion* out, u32 max, u64 flags) {
    return to_u32(syscall<S::NvmeComplete>(queue, reinterpret_cast<u64>(out), max, flags));
}
Result<u64> nvme_queue_map(u32 queue) { return to_result(syscall<S::NvmeQueueMap>(queue)); }
Result<Handle> virtqueue_create(u32 pool, u32 index, u32 size, u32 msix_entry, u32 max_segments) {
    return new_handle(syscall<S::VirtQueueCreate>(pool, index, size, msix_entry, max_segments));
}
Result<u32> virtqueue_submit(u32 queue, abi::VirtioChain* chains, u32 count, const abi::VirtioSegment* segments,
                             u32 segment_count) {
    return to_u32(syscall<S::VirtQueueSubmit>(queue, ptr(chains), count, ptr(segments), segment_count));
}
Result<u32> virtqueue_complete(u32 queue, abi::VirtioCompletion* out, u32 max) {
    return to_u32(syscall<S::VirtQueueComplete>(queue, ptr(out), max));
}
Result<u64> virtqueue_map(u32 queue) { return to_result(syscall<S::VirtQueueMap>(queue)); }

Result<usize> console_read(u32 console, void* out, usize len, u64 timeout_ns) {
    i64 r = syscall<S::ConsoleRead>(console, ptr(out), len, timeout_ns);
    if (r < 0) return static_cast<Status>(-r);
    return static_cast<usize>(r);
}

Result<void> console_write(u32 console, const char* text, usize len) {
    return status_only(syscall<S::ConsoleWrite>(console, ptr(text), len));
}

}  // namespace rt
