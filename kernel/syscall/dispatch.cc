// System call dispatch: one entry per abi::Syscall. Every argument is
// validated by the handler or the object it names; nothing a user passes
// can fault the kernel (user memory goes through user::copy_*).
#include "arch/x86_64/interrupt_frame.h"
#include "arch/x86_64/percpu.h"
#include "console/log.h"
#include "debug/address_audit.h"
#include "events/refusals.h"
#include "proc/lifecycle.h"
#include "syscall/common.h"

extern "C" void syscall_dispatch(InterruptFrame* f) {
    percpu::current_cpu()->syscalls++;
    u64 a0 = f->rdi, a1 = f->rsi, a2 = f->rdx, a3 = f->r10, a4 = f->r8, a5 = f->r9;
    u64 number = f->rax;
    refusals::begin_syscall();
    // Whether the call hit the caller's kernel memory limit (its refusal is
    // then a KernelMemory one, not a generic no-memory).
    const kmem::Account* account = sys::self()->kmem();
    u64 kmem_refused = account ? account->refused() : 0;
    using S = abi::Syscall;
    i64 r;
    switch (static_cast<S>(f->rax)) {
        case S::LogWrite: r = sys::log_write(a0, a1, a2); break;
        case S::ProcessExit: proc::exit_current(static_cast<i64>(a0));
        case S::Yield:
            sched::yield();
            r = 0;
            break;
        case S::ClockGet: r = static_cast<i64>(clock::monotonic_ns()); break;
        case S::Sleep:
            if (a0) (void)sched::block_current(sys::deadline_from_timeout(a0));
            r = 0;
            break;
        case S::HandleClose: r = sys::handle_close(a0); break;
        case S::HandleDuplicate: r = sys::handle_duplicate(a0, a1); break;
        case S::HandleRevoke: r = sys::handle_revoke(a0); break;
        case S::EndpointCreate: r = sys::endpoint_create(); break;
        case S::EndpointMint: r = sys::endpoint_mint(a0, a1, a2); break;
        case S::EndpointCall: r = sys::endpoint_call(a0, a1); break;
        case S::EndpointReceive: r = sys::endpoint_receive(a0, a1, a2); break;
        case S::EndpointReply: r = sys::endpoint_reply(a0); break;
        case S::NotificationCreate: r = sys::notification_create(); break;
        case S::NotificationSignal: r = sys::notification_signal(a0, a1); break;
        case S::NotificationWait: r = sys::notification_wait(a0, a1, a2, a3); break;
        case S::MemoryCreate: r = sys::memory_create(a0); break;
        case S::MemoryMap: r = sys::memory_map(a0, a1, a2); break;
        case S::MemoryUnmap: r = sys::memory_unmap(a0, a1); break;
        case S::WaitSetCreate: r = sys::waitset_create(); break;
        case S::WaitSetAdd: r = sys::waitset_add(a0, a1, a2, a3); break;
        case S::WaitSetRemove: r = sys::waitset_remove(a0, a1); break;
        case S::WaitSetWait: r = sys::waitset_wait(a0, a1, a2, a3, a4, a5); break;
        case S::ProcessSpawn: r = sys::process_spawn(a0, a1); break;
        case S::ProcessKill: r = sys::process_kill(a0); break;
        case S::ProcessInfo: r = sys::process_info(a0, a1); break;
        case S::SystemInfo: r = sys::system_info(a0, a1, a2, a3); break;
        case S::ConsoleRead: r = sys::console_read(a0, a1, a2, a3); break;
        case S::ConsoleWrite: r = sys::console_write(a0, a1, a2); break;
        case S::ProcessKillPid: r = sys::process_kill_pid(a0, a1); break;
        case S::ThreadCreate: r = sys::thread_create(a0, a1, a2, a3); break;
        case S::ThreadExit: sys::thread_exit();
        case S::DeviceList: r = sys::device_list(a0, a1, a2); break;
        case S::DeviceOpen: r = sys::device_open(a0, a1); break;
        case S::PciConfigRead: r = sys::pci_config_read(a0, a1, a2); break;
        case S::MmioCreate: r = sys::mmio_create(a0, a1, a2, a3, a4); break;
        case S::MmioMap: r = sys::mmio_map(a0); break;
        case S::MmioWrite: r = sys::mmio_write(a0, a1, a2, a3); break;
        case S::DmaPoolCreate: r = sys::dma_pool_create(a0, a1); break;
        case S::DmaBufferCreate: r = sys::dma_buffer_create(a0, a1); break;
        case S::DmaPoolInfo: r = sys::dma_pool_info(a0, a1); break;
        case S::InterruptCreate: r = sys::interrupt_create(a0, a1); break;
        case S::InterruptAck: r = sys::interrupt_ack(a0); break;
        case S::InterruptMask: r = sys::interrupt_mask(a0, a1); break;
        case S::NvmeQueueCreate: r = sys::nvme_queue_create(a0, a1, a2, a3, a4); break;
        case S::NvmeSubmit: r = sys::nvme_submit(a0, a1, a2); break;
        case S::NvmeComplete: r = sys::nvme_complete(a0, a1, a2, a3); break;
        case S::NvmeQueueMap: r = sys::nvme_queue_map(a0); break;
        case S::VirtQueueCreate: r = sys::virtqueue_create(a0, a1, a2, a3); break;
        case S::VirtQueueSubmit: r = sys::virtqueue_submit(a0, a1, a2); break;
        case S::VirtQueueComplete: r = sys::virtqueue_complete(a0, a1); break;
        case S::VirtQueueMap: r = sys::virtqueue_map(a0); break;
        case S::MmioRead: r = sys::mmio_read(a0, a1, a2, a3); break;
        case S::DeviceEvents: r = sys::device_events(a0, a1, a2); break;
        default: r = sys::err(Status::Unsupported); break;
    }
    kcap::finish();
    // Killed while this call slept in a device wait: the call has unwound;
    // the thread ends here instead of returning to a dead process.
    if (!sys::self()->alive()) {
        sys::self()->finish_unwinding(sched::current());
        kcap::finish();
        sched::switch_away();
    }
    audit::check_result(number, r, sys::self());
    if (r < 0) {
        if (account && account->refused() != kmem_refused && !refusals::recorded_in_syscall())
            refusals::record(sys::self(), abi::RefusalKind::KernelMemory, refusals::kNoFunction, Status::NoMemory,
                             number, klog::Level::Info,
                             "refused: pid %u '%s' syscall %s: kernel memory limit (%llu of %llu bytes)",
                             sys::self()->pid(), sys::self()->name(), abi::syscall_name(number),
                             static_cast<unsigned long long>(account->used()),
                             static_cast<unsigned long long>(account->limit()));
        sys::note_refusal(number, r);
    }
    f->rax = static_cast<u64>(r);
    sched::preempt_point();
}

namespace sys {

void note_refusal(u64 number, i64 result) {
    auto status = static_cast<Status>(-result);
    if (status == Status::Timeout) return;  // a wait that ran out is no refusal
    if (refusals::recorded_in_syscall()) return;  // the call recorded a more specific one
    kobj::Process* p = self();
    refusals::record(p, abi::RefusalKind::Syscall, refusals::kNoFunction, status, number, klog::Level::Info,
                     "refused: pid %u '%s' syscall %s: %s", p->pid(), p->name(), abi::syscall_name(number),
                     status_name(status));
}

}  // namespace sys
