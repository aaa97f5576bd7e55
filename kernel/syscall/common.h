// Helpers shared by the system call handlers.
#pragma once

#include "abi/syscall.h"
#include "arch/x86_64/clock.h"
#include "cap/handles.h"
#include "cap/process.h"
#include "sched/scheduler.h"

namespace sys {

inline i64 err(Status s) { return abi::encode_error(static_cast<i32>(s)); }

template <typename T>
inline i64 ok_or(const Result<T>& r, i64 value) {
    return r.ok() ? value : err(r.status());
}

inline kobj::Process* self() { return sched::current()->process; }

// The kernel memory a new object of type T takes (plus `extra` bytes it
// owns), charged to the calling process before the object is made:
// NoMemory past its limit (mm/account.h). The object adopts the charge.
template <typename T>
inline Result<kmem::Charge> charge_new(u64 extra = 0) {
    return kmem::Charge::take(self()->kmem(), kmem::object_bytes<T>() + extra);
}

// A handle argument: values that do not fit 32 bits can never be handles
// (0 is refused as BadHandle by the capability layer).
inline u32 handle_arg(u64 v) { return v > 0xffffffffull ? 0 : static_cast<u32>(v); }

// Relative timeout (abi) -> absolute deadline (scheduler): 0 polls (~0 in
// the kernel's convention), kForever blocks (0 in the kernel's convention).
inline u64 deadline_from_timeout(u64 timeout) {
    if (timeout == 0) return ~u64{0};
    if (timeout == abi::kForever) return 0;
    u64 now = clock::monotonic_ns();
    return timeout > ~u64{0} - 1 - now ? ~u64{0} - 1 : now + timeout;
}

// Handlers: arguments as the ABI gives them, result as RAX.
i64 log_write(u64 h, u64 text, u64 len);
i64 handle_close(u64 h);
i64 handle_duplicate(u64 h, u64 rights);
i64 handle_revoke(u64 h);
i64 endpoint_create();
i64 endpoint_mint(u64 h, u64 badge, u64 rights);
i64 endpoint_call(u64 h, u64 msg);
i64 endpoint_receive(u64 h, u64 msg, u64 timeout);
i64 endpoint_reply(u64 msg);
i64 notification_create();
i64 notification_signal(u64 h, u64 bits);
i64 notification_wait(u64 h, u64 timeout, u64 signal_h, u64 signal_bits);
i64 memory_create(u64 bytes);
i64 memory_map(u64 h, u64 vaddr, u64 flags);
i64 memory_unmap(u64 h, u64 vaddr);
i64 waitset_create();
i64 waitset_add(u64 ws, u64 h, u64 mask, u64 key);
i64 waitset_remove(u64 ws, u64 key);
i64 waitset_wait(u64 ws, u64 events, u64 max, u64 timeout, u64 signal_h, u64 signal_bits);
i64 process_spawn(u64 resource, u64 request);
i64 process_kill(u64 h);
i64 process_info(u64 h, u64 out);
i64 system_info(u64 resource, u64 kind, u64 out, u64 len);
i64 process_kill_pid(u64 resource, u64 pid);
i64 thread_create(u64 entry, u64 stack_top, u64 arg, u64 priority);
[[noreturn]] void thread_exit();
i64 device_list(u64 root, u64 out, u64 max);
i64 device_open(u64 root, u64 bdf);
i64 pci_config_read(u64 h, u64 offset, u64 width);
i64 mmio_create(u64 h, u64 bar, u64 offset, u64 length, u64 flags);
i64 mmio_map(u64 h);
i64 mmio_write(u64 h, u64 offset, u64 width, u64 value);
i64 mmio_read(u64 h, u64 offset, u64 width, u64 out);
i64 dma_pool_create(u64 pci, u64 quota);
i64 dma_buffer_create(u64 pool, u64 bytes);
i64 dma_pool_info(u64 pool, u64 out);
i64 interrupt_create(u64 pci, u64 index);
i64 interrupt_ack(u64 h);
i64 interrupt_mask(u64 h, u64 masked);
i64 nvme_queue_create(u64 pool, u64 kind, u64 entries, u64 admin, u64 irq);
i64 nvme_submit(u64 queue, u64 commands, u64 count);
i64 nvme_complete(u64 queue, u64 out, u64 max, u64 flags);
i64 nvme_queue_map(u64 queue);
i64 virtqueue_create(u64 pool, u64 index, u64 size, u64 msix_entry);
i64 virtqueue_submit(u64 queue, u64 chains, u64 count);
i64 virtqueue_complete(u64 queue, u64 max);
i64 virtqueue_map(u64 queue);
i64 console_read(u64 h, u64 out, u64 len, u64 timeout);
i64 console_write(u64 h, u64 text, u64 len);
i64 device_events(u64 root, u64 out, u64 max);

// A refused call, recorded against the caller (DESIGN §5: every refusal is
// attributed to whoever caused it) through events/refusals.h, which
// rate-limits the log and delivers the event — unless the call already
// recorded a more specific refusal itself.
void note_refusal(u64 number, i64 result);

// Moves/copies message handles between two threads' processes
// (kobj::Endpoint::transfer).
Status transfer_message_handles(kobj::Thread* from, kobj::Thread* to);

}  // namespace sys
