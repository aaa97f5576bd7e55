// DMA authority and the brokers: DmaPool / DmaBuffer (a device's DMA grant
// and its memory), Interrupt (MSI-X vectors) and the NVMe queue broker.
// Every object here is minted from the capability it was made from, so
// revoking devmgr's PciFunction reaches all of them. No call returns or
// accepts a physical address; the one device-visible address a call
// returns is a remapped lane's IOVA (DmaBufferAddress), which reaches only
// the pool's own buffers.
#include "abi/device.h"
#include "abi/nvme.h"
#include "arch/x86_64/user_copy.h"
#include "broker/nvme_controller.h"
#include "broker/nvme_queue.h"
#include "broker/virtqueue.h"
#include "console/log.h"
#include "debug/address_audit.h"
#include "devices/virtio_class.h"
#include "events/refusals.h"
#include "object/dma_pool.h"
#include "object/interrupt.h"
#include "object/pci_function.h"
#include "syscall/common.h"

namespace sys {
namespace {

// Installs `object` as a child of capability `parent` (see mmio_create).
template <typename T>
Result<u64> mint_from(u64 parent, object::RefPtr<T> object) {
    return TRY(kcap::mint(self(), handle_arg(parent), std::move(object)));
}

// A virtio class the broker does not serve (devices/virtio_class.h),
// refused to `caller`: one line naming the function, its class and who
// asked.
void log_class_refusal(u32 function, const char* what) {
    const pci_enum::Function& f = pci_enum::function(function);
    refusals::record(self(), abi::RefusalKind::DeviceClass, function, Status::Forbidden,
                     u64{f.header.vendor} << 16 | f.header.device, log::Level::Warn,
                     "virtio: refused %s for %02x:%02x.%x (%04x:%04x, virtio %s) to pid %u '%s': its payloads can "
                     "carry guest-physical addresses the broker cannot see; only network and block devices are "
                     "brokered",
                     what, f.address.bus, f.address.device, f.address.function, f.header.vendor, f.header.device,
                     devices::virtio_class_name(f.header.vendor, f.header.device), self()->pid(), self()->name());
}

// The brokers materialize host-physical addresses: a remapped lane's pool
// (whose provider writes IOVAs itself) gets no broker queue.
Result<void> refuse_remapped(object::DmaPool* pool, const char* what) {
    if (!pool->session()->remapped()) return {};
    refusals::record(self(), abi::RefusalKind::Syscall, pool->session()->function(), Status::WrongType, 0,
                     log::Level::Warn,
                     "dma: pid %u '%s' refused %s on a remapped-lane pool: its provider drives the "
                     "device itself",
                     self()->pid(), self()->name(), what);
    return Status::WrongType;
}

}  // namespace

Result<u64> dma_pool_create(u64 pci, u64 quota, u64 lane) {
    auto fn = TRY(kcap::lookup<object::PciFunction>(self(), handle_arg(pci), cap::kRightManage));
    // The pool and its session record (the ledger); the DMA memory itself
    // is the pool's quota, not kernel memory.
    auto charge = TRY(charge_new<object::DmaPool>(heap::block_bytes(sizeof(kdma::Session))));
    auto pool = object::DmaPool::create(fn->index(), quota, lane);
    if (!pool.ok()) {
        if (pool.status() == Status::Forbidden) log_class_refusal(fn->index(), "a DMA grant");
        return pool.status();
    }
    pool.value()->adopt_charge(std::move(charge));
    return mint_from(pci, pool.release_value());
}

Result<u64> dma_buffer_create(u64 pool, u64 bytes) {
    auto p = TRY(kcap::lookup<object::DmaPool>(self(), handle_arg(pool), cap::kRightWrite));
    auto charge = TRY(charge_new<object::DmaBuffer>());  // the record; its frames are the pool's quota
    auto b = object::DmaBuffer::create(p->session(), bytes);
    if (b.ok()) b.value()->adopt_charge(std::move(charge));
    if (b.ok() && audit::selftest()) {
        // test.addr_audit=selftest: leak the address once; the audit must catch it.
        static bool leaked;
        if (!leaked) {
            leaked = true;
            u64 address = b.value()->device_address(0);
            (void)mint_from(pool, b.release_value());
            return address;
        }
    }
    if (!b.ok()) {
        if (b.status() == Status::QuotaExceeded)
            refusals::record(self(), abi::RefusalKind::DmaQuota, p->session()->function(), b.status(), bytes,
                             log::Level::Warn, "dma: pid %u '%s' refused %llu bytes: pool quota %llu, used %llu",
                             self()->pid(), self()->name(), static_cast<unsigned long long>(bytes),
                             static_cast<unsigned long long>(p->session()->quota()),
                             static_cast<unsigned long long>(p->session()->used()));
        return b.status();
    }
    return mint_from(pool, b.release_value());
}

Result<u64> dma_buffer_address(u64 buffer) {
    auto b = TRY(kcap::lookup<object::DmaBuffer>(self(), handle_arg(buffer), cap::kRightWrite));
    kdma::Session* s = b->session();
    if (!s || !s->active()) return Status::TornDown;
    return TRY(s->device_address(b->ledger_id()));
}

Result<u64> dma_pool_info(u64 pool, u64 out) {
    auto p = TRY(kcap::lookup<object::DmaPool>(self(), handle_arg(pool), cap::kRightInspect));
    abi::DmaUsage u = kdma::usage_of(p->session());
    audit::check_copy(&u, sizeof u, "DmaPoolInfo");
    TRY(user::copy_to(out, &u, sizeof u));
    return 0;
}

Result<u64> interrupt_create(u64 pci, u64 index) {
    auto fn = TRY(kcap::lookup<object::PciFunction>(self(), handle_arg(pci), cap::kRightManage));
    if (index > 0xffff) return Status::OutOfBounds;
    auto charge = TRY(charge_new<object::Interrupt>());
    auto irq = TRY(object::Interrupt::create(fn->index(), static_cast<u16>(index)));
    irq->adopt_charge(std::move(charge));
    return mint_from(pci, std::move(irq));
}

Result<u64> interrupt_ack(u64 h) {
    auto i = TRY(kcap::lookup<object::Interrupt>(self(), handle_arg(h), cap::kRightWrite));
    return TRY(i->ack());
}

Result<u64> interrupt_mask(u64 h, u64 masked) {
    auto i = TRY(kcap::lookup<object::Interrupt>(self(), handle_arg(h), cap::kRightWrite));
    if (masked > 1) return Status::InvalidArgument;
    TRY(i->mask(masked));
    return 0;
}

Result<u64> nvme_queue_create(u64 pool, u64 kind, u64 entries, u64 admin, u64 irq) {
    auto p = TRY(kcap::lookup<object::DmaPool>(self(), handle_arg(pool), cap::kRightManage));
    TRY(refuse_remapped(p, "an NVMe broker queue"));
    if (entries > abi::kNvmeMaxEntries) return Status::InvalidArgument;
    // The queue object (and an admin queue's controller record), charged
    // before the controller is touched; rings are the pool's quota.
    bool is_admin = kind == static_cast<u64>(abi::NvmeQueueKind::Admin);
    auto charge = TRY(charge_new<object::NvmeQueue>(is_admin ? heap::block_bytes(sizeof(object::NvmeController)) : 0));
    auto create = [&]() -> Result<object::RefPtr<object::NvmeQueue>> {
        if (kind == static_cast<u64>(abi::NvmeQueueKind::Admin)) {
            if (admin || irq) return Status::InvalidArgument;
            return object::NvmeQueue::create_admin(p->session(), static_cast<u16>(entries));
        }
        if (kind != static_cast<u64>(abi::NvmeQueueKind::Io)) return Status::InvalidArgument;
        auto* a = TRY(kcap::lookup<object::NvmeQueue>(self(), handle_arg(admin), cap::kRightWrite));
        if (a->session() != p->session()) return Status::NotOwner;
        object::Interrupt* interrupt = nullptr;
        if (irq) interrupt = TRY(kcap::lookup<object::Interrupt>(self(), handle_arg(irq), cap::kRightWrite));
        return object::NvmeQueue::create_io(a, static_cast<u16>(entries), interrupt);
    };
    auto q = TRY(create());
    q->adopt_charge(std::move(charge));
    return mint_from(pool, std::move(q));
}

Result<u64> nvme_submit(u64 queue, u64 commands, u64 count) {
    auto q = TRY(kcap::lookup<object::NvmeQueue>(self(), handle_arg(queue), cap::kRightWrite));
    if (count == 0 || count > abi::kNvmeMaxBatch) return Status::InvalidArgument;
    abi::NvmeCommand batch[abi::kNvmeMaxBatch];
    TRY(user::copy_from(batch, commands, count * sizeof batch[0]));
    auto n = q->submit(self(), batch, static_cast<u32>(count));
    if (!n.ok()) {
        refusals::record(self(), abi::RefusalKind::BrokerCommand, q->session()->function(), n.status(),
                         static_cast<u64>(abi::Syscall::NvmeSubmit), log::Level::Warn,
                         "nvme broker: refused a batch of %llu from pid %u '%s': %s",
                         static_cast<unsigned long long>(count), self()->pid(), self()->name(),
                         status_name(n.status()));
        return n.status();
    }
    return n.value();
}

Result<u64> nvme_complete(u64 queue, u64 out, u64 max, u64 flags) {
    auto q = TRY(kcap::lookup<object::NvmeQueue>(self(), handle_arg(queue), cap::kRightWrite));
    if (max == 0 || max > abi::kNvmeMaxEntries) return Status::InvalidArgument;
    if (flags & ~abi::kNvmeCompleteAckInterrupt) return Status::InvalidArgument;
    object::Interrupt* irq = q->interrupt();
    if ((flags & abi::kNvmeCompleteAckInterrupt) && !irq) return Status::InvalidArgument;  // polled queue
    // The output is written (zeros) before anything is consumed: a
    // completion is never lost to a bad pointer.
    abi::NvmeCompletion done[abi::kNvmeMaxEntries];  // complete() fills what it returns
    TRY(user::zero(out, max * sizeof done[0]));
    // Acknowledged before the queue is read, as a provider calling
    // InterruptAck then NvmeComplete would: a completion posted after the
    // read raises the interrupt again instead of being missed. The queue
    // holds the Interrupt it was created with, with the write right its
    // creator showed then.
    // Only for a queue that can still complete: a Stale or torn-down one
    // must not swallow deliveries meant for its successor on the same
    // Interrupt.
    if (flags & abi::kNvmeCompleteAckInterrupt) {
        TRY(q->usable());
        TRY(irq->ack());
    }
    auto n = TRY(q->complete(done, static_cast<u32>(max)));
    TRY(user::copy_to(out, done, n * sizeof done[0]));
    return n;
}

Result<u64> nvme_queue_map(u64 queue) {
    auto q = TRY(kcap::lookup<object::NvmeQueue>(self(), handle_arg(queue), cap::kRightMap));
    return TRY(q->map_completions(self(), self()->pid(), handle_arg(queue)));
}

Result<u64> virtqueue_create(u64 pool, u64 index, u64 size, u64 msix_entry, u64 max_segments) {
    auto p = TRY(kcap::lookup<object::DmaPool>(self(), handle_arg(pool), cap::kRightManage));
    TRY(refuse_remapped(p, "a virtqueue"));
    if (index > 0xffff || size > abi::kVirtioMaxQueueSize || msix_entry > 0xffff ||
        max_segments > abi::kVirtioMaxChainSegments)
        return Status::InvalidArgument;
    // The object and, for chains longer than one segment, the indirect
    // tables' shadow (whether or not the provider negotiated them).
    auto charge = TRY(charge_new<object::VirtQueue>(
        object::VirtQueue::extra_kernel_bytes(static_cast<u16>(size), static_cast<u32>(max_segments))));
    auto q = object::VirtQueue::create(p->session(), static_cast<u16>(index), static_cast<u16>(size),
                                       static_cast<u16>(msix_entry), static_cast<u32>(max_segments));
    if (!q.ok()) {
        if (q.status() == Status::Forbidden) log_class_refusal(p->session()->function(), "a virtqueue");
        return q.status();
    }
    q.value()->adopt_charge(std::move(charge));
    return mint_from(pool, q.release_value());
}

Result<u64> virtqueue_submit(u64 queue, u64 chains, u64 count, u64 segments, u64 segment_count) {
    auto q = TRY(kcap::lookup<object::VirtQueue>(self(), handle_arg(queue), cap::kRightWrite));
    if (count == 0 || count > abi::kVirtioMaxBatch || segment_count == 0 ||
        segment_count > abi::kVirtioMaxSubmitSegments)
        return Status::InvalidArgument;
    abi::VirtioChain batch[abi::kVirtioMaxBatch];
    // Up to 24 KiB: static, not on the kernel stack (one CPU, the kernel
    // not preemptible, and nothing here sleeps).
    static abi::VirtioSegment segs[abi::kVirtioMaxSubmitSegments];
    TRY(user::copy_from(batch, chains, count * sizeof batch[0]));
    TRY(user::copy_from(segs, segments, segment_count * sizeof segs[0]));
    // The heads are written back after the chains are published: make sure
    // that cannot fail first (nothing changes the mapping in between).
    TRY(user::copy_to(chains, batch, count * sizeof batch[0]));
    auto n = q->submit(self(), batch, static_cast<u32>(count), segs, static_cast<u32>(segment_count));
    if (!n.ok()) {
        refusals::record(self(), abi::RefusalKind::BrokerCommand, q->session()->function(), n.status(),
                         static_cast<u64>(abi::Syscall::VirtQueueSubmit), log::Level::Warn,
                         "virtqueue broker: refused a batch of %llu chains (%llu segments) from pid %u '%s': %s",
                         static_cast<unsigned long long>(count), static_cast<unsigned long long>(segment_count),
                         self()->pid(), self()->name(), status_name(n.status()));
        return n.status();
    }
    // The heads: descriptor ids, not addresses.
    TRY(user::copy_to(chains, batch, count * sizeof batch[0]));
    return n.value();
}

Result<u64> virtqueue_complete(u64 queue, u64 out, u64 max) {
    auto q = TRY(kcap::lookup<object::VirtQueue>(self(), handle_arg(queue), cap::kRightWrite));
    if (max == 0 || max > abi::kVirtioMaxQueueSize) return Status::InvalidArgument;
    // The output is written (zeros) before anything is consumed: an entry
    // is never lost to a bad pointer.
    abi::VirtioCompletion done[abi::kVirtioMaxQueueSize];  // complete() fills what it returns
    TRY(user::zero(out, max * sizeof done[0]));
    auto n = TRY(q->complete(self(), done, static_cast<u32>(max)));
    audit::check_copy(done, n * sizeof done[0], "VirtQueueComplete");
    TRY(user::copy_to(out, done, n * sizeof done[0]));
    return n;
}

Result<u64> virtqueue_map(u64 queue) {
    auto q = TRY(kcap::lookup<object::VirtQueue>(self(), handle_arg(queue), cap::kRightMap));
    return TRY(q->map_used(self(), self()->pid(), handle_arg(queue)));
}

}  // namespace sys
