// Typed system call wrappers for user programs (ABI: lib/abi/syscall.h,
// reference: docs/syscalls.md). Calls that create objects return an owning
// rt::Handle; the others take raw handle values.
#pragma once

#include "abi/device.h"
#include "abi/events.h"
#include "abi/ipc.h"
#include "abi/nvme.h"
#include "abi/startup.h"
#include "abi/virtio.h"
#include "rt/handle.h"
#include "rt/syscall.h"
#include "util/byte_view.h"

namespace rt {

[[noreturn]] void exit(i64 code);
void yield();
// ClockGet's monotonic ns, computed in user mode from the startup block's
// TSC calibration (no system call); ClockGet itself if uncalibrated.
u64 clock_ns();
void sleep_ns(u64 ns);

// The startup block the kernel mapped for this process.
const abi::StartupBlock& startup();
// A handle the parent passed under `name`, or 0.
u32 startup_handle(const char* name);
// Is `word` one of the space-separated words of the startup arguments?
bool startup_args_contains(const char* word);
// Maps a boot file MemoryObject (abi::BootFileHeader layout, read-only) and
// returns exactly its text.
Result<ByteView> map_boot_file(u32 handle);

Result<void> log_write(u32 log, const char* text, usize len);

Result<void> close(u32 h);
Result<Handle> duplicate(u32 h, u32 rights);
Result<u64> revoke(u32 h);

Result<Handle> endpoint_create();
Result<Handle> endpoint_mint(u32 h, u64 badge, u32 rights);
Result<void> endpoint_call(u32 h, abi::Message& inout);
Result<void> endpoint_receive(u32 h, abi::Message& out, u64 timeout_ns);
Result<void> endpoint_reply(const abi::Message& reply);

Result<Handle> notification_create();
Result<void> notification_signal(u32 h, u64 bits);
// signal (optional, with non-zero signal_bits): a notification to signal
// first, in the same system call — "tell the peer, then wait for it".
Result<u64> notification_wait(u32 h, u64 timeout_ns, u32 signal = 0, u64 signal_bits = 0);

Result<Handle> memory_create(u64 bytes);
Result<u64> memory_map(u32 h, u64 vaddr, u64 flags);
// The size of a memory object or DMA buffer (needs map).
Result<u64> memory_size(u32 h);
// Maps memory another process gave, after checking it holds at least
// `min_bytes` (what the giver claims, or what the protocol needs):
// Malformed when it is smaller. A length taken on trust would let the
// giver steer this process's writes past its own mapping.
Result<u64> memory_map_checked(u32 h, u64 min_bytes, u64 flags);
Result<void> memory_unmap(u32 h, u64 vaddr);

Result<Handle> waitset_create();
Result<void> waitset_add(u32 ws, u32 h, u64 mask, u64 key);
Result<void> waitset_remove(u32 ws, u64 key);
// signal: as for notification_wait, signalled before waiting.
Result<u32> waitset_wait(u32 ws, abi::WaitEvent* events, u32 max, u64 timeout_ns, u32 signal = 0, u64 signal_bits = 0);

Result<Handle> process_spawn(u32 resource, const abi::SpawnRequest& request);
Result<void> process_kill(u32 h);
Result<abi::ProcessInfo> process_info(u32 h);
Result<u64> system_info(u32 resource, abi::SystemInfoKind kind, u32 arg, void* out, usize len);
Result<void> process_kill_pid(u32 resource, u32 pid);

Result<u32> device_list(u32 root, abi::DeviceInfo* out, u32 max);
Result<Handle> device_open(u32 root, u32 bdf);
// Refusal events (abi/events.h), oldest first; each returned is removed.
Result<u32> device_events(u32 root, abi::RefusalEvent* out, u32 max);
Result<u32> pci_config_read(u32 pci, u32 offset, u32 width);
Result<Handle> mmio_create(u32 pci, u32 bar, u64 offset, u64 length, u64 flags);
Result<u64> mmio_map(u32 mmio);
Result<void> mmio_write(u32 mmio, u64 offset, u32 width, u64 value);
// Window-relative offset, width 1/2/4/8 naturally aligned; NoRights for a
// register that carries a device-visible address (how a provider reads a
// filtered window whose pages hold one: MmioMap refuses those).
Result<u64> mmio_read(u32 mmio, u64 offset, u32 width);

// lane: abi::kDmaLane* (the remapped lane: IOVAs the provider writes itself).
Result<Handle> dma_pool_create(u32 pci, u64 quota, u64 lane = abi::kDmaLaneBrokered);
// A remapped lane buffer's IOVA (Forbidden on the brokered lane).
Result<u64> dma_buffer_address(u32 buffer);
// System calls this process made so far, this one included (kernel-counted).
u64 syscall_count();
Result<Handle> dma_buffer_create(u32 pool, u64 bytes);
Result<abi::DmaUsage> dma_pool_info(u32 pool);
Result<Handle> interrupt_create(u32 pci, u32 index);
Result<u64> interrupt_ack(u32 irq);
Result<void> interrupt_mask(u32 irq, bool masked);
// The admin queue (resets and enables the controller) and I/O queue pairs
// (irq 0: polled).
Result<Handle> nvme_admin_queue_create(u32 pool, u32 entries);
Result<Handle> nvme_io_queue_create(u32 pool, u32 admin, u32 entries, u32 irq);
Result<u32> nvme_submit(u32 queue, const abi::NvmeCommand* commands, u32 count);
// flags: abi::kNvmeCompleteAckInterrupt acknowledges the queue's Interrupt
// first (InterruptAck and NvmeComplete in one call).
Result<u32> nvme_complete(u32 queue, abi::NvmeCompletion* out, u32 max, u64 flags = 0);
Result<u64> nvme_queue_map(u32 queue);
Result<Handle> virtqueue_create(u32 pool, u32 index, u32 size, u32 msix_entry, u32 max_segments);
Result<u32> virtqueue_submit(u32 queue, abi::VirtioChain* chains, u32 count, const abi::VirtioSegment* segments,
                             u32 segment_count);
Result<u32> virtqueue_complete(u32 queue, abi::VirtioCompletion* out, u32 max);
Result<u64> virtqueue_map(u32 queue);

Result<usize> console_read(u32 console, void* out, usize len, u64 timeout_ns);
Result<void> console_write(u32 console, const char* text, usize len);

}  // namespace rt
