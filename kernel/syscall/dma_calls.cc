// DMA authority and the brokers: DmaPool / DmaBuffer (a device's DMA grant
// and its memory), Interrupt (MSI-X vectors) and the NVMe queue broker.
// Every object here is minted from the capability it was made from, so
// revoking devmgr's PciFunction reaches all of them. No call returns or
// accepts a physical or device-visible address.
#include "abi/device.h"
#include "abi/nvme.h"
#include "arch/x86_64/user_copy.h"
#include "broker/nvme_controller.h"
#include "broker/nvme_queue.h"
#include "broker/virtqueue.h"
#include "cap/dma_pool.h"
#include "cap/interrupt.h"
#include "cap/pci_function.h"
#include "console/log.h"
#include "debug/address_audit.h"
#include "events/refusals.h"
#include "devices/virtio_class.h"
#include "syscall/common.h"

namespace sys {
namespace {

// Installs `object` as a child of capability `parent` (see mmio_create).
template <typename T>
i64 mint_from(u64 parent, kobj::RefPtr<T> object) {
    auto minted = kcap::mint(self(), handle_arg(parent), std::move(object));
    return minted.ok() ? minted.value() : err(minted.status());
}

// A virtio class the broker does not serve (devices/virtio_class.h),
// refused to `caller`: one line naming the function, its class and who
// asked.
void log_class_refusal(u32 function, const char* what) {
    const pci_enum::Function& f = pci_enum::function(function);
    refusals::record(self(), abi::RefusalKind::DeviceClass, function, Status::Forbidden,
                     u64{f.header.vendor} << 16 | f.header.device, klog::Level::Warn,
                     "virtio: refused %s for %02x:%02x.%x (%04x:%04x, virtio %s) to pid %u '%s': its payloads can "
                     "carry guest-physical addresses the broker cannot see; only network and block devices are "
                     "brokered",
                     what, f.address.bus, f.address.device, f.address.function, f.header.vendor, f.header.device,
                     devices::virtio_class_name(f.header.vendor, f.header.device), self()->pid(), self()->name());
}

}  // namespace

i64 dma_pool_create(u64 pci, u64 quota) {
    auto fn = kcap::lookup<kobj::PciFunction>(self(), handle_arg(pci), cap::kRightManage);
    if (!fn.ok()) return err(fn.status());
    // The pool and its session record (the ledger); the DMA memory itself
    // is the pool's quota, not kernel memory.
    auto charge = charge_new<kobj::DmaPool>(heap::block_bytes(sizeof(kdma::Session)));
    if (!charge.ok()) return err(charge.status());
    auto pool = kobj::DmaPool::create(fn.value()->index(), quota);
    if (!pool.ok()) {
        if (pool.status() == Status::Forbidden) log_class_refusal(fn.value()->index(), "a DMA grant");
        return err(pool.status());
    }
    pool.value()->adopt_charge(charge.release_value());
    return mint_from(pci, pool.release_value());
}

i64 dma_buffer_create(u64 pool, u64 bytes) {
    auto p = kcap::lookup<kobj::DmaPool>(self(), handle_arg(pool), cap::kRightWrite);
    if (!p.ok()) return err(p.status());
    auto charge = charge_new<kobj::DmaBuffer>();  // the record; its frames are the pool's quota
    if (!charge.ok()) return err(charge.status());
    auto b = kobj::DmaBuffer::create(p.value()->session(), bytes);
    if (b.ok()) b.value()->adopt_charge(charge.release_value());
    if (b.ok() && audit::selftest()) {
        // test.addr_audit=selftest: leak the address once; the audit must catch it.
        static bool leaked;
        if (!leaked) {
            leaked = true;
            i64 address = static_cast<i64>(b.value()->device_address(0));
            (void)mint_from(pool, b.release_value());
            return address;
        }
    }
    if (!b.ok()) {
        if (b.status() == Status::QuotaExceeded)
            refusals::record(self(), abi::RefusalKind::DmaQuota, p.value()->session()->function(), b.status(), bytes,
                             klog::Level::Warn, "dma: pid %u '%s' refused %llu bytes: pool quota %llu, used %llu",
                             self()->pid(), self()->name(), static_cast<unsigned long long>(bytes),
                             static_cast<unsigned long long>(p.value()->session()->quota()),
                             static_cast<unsigned long long>(p.value()->session()->used()));
        return err(b.status());
    }
    return mint_from(pool, b.release_value());
}

i64 dma_pool_info(u64 pool, u64 out) {
    auto p = kcap::lookup<kobj::DmaPool>(self(), handle_arg(pool), cap::kRightInspect);
    if (!p.ok()) return err(p.status());
    abi::DmaUsage u = kdma::usage_of(p.value()->session());
    audit::check_copy(&u, sizeof u, "DmaPoolInfo");
    return ok_or(user::copy_to(out, &u, sizeof u), 0);
}

i64 interrupt_create(u64 pci, u64 index) {
    auto fn = kcap::lookup<kobj::PciFunction>(self(), handle_arg(pci), cap::kRightManage);
    if (!fn.ok()) return err(fn.status());
    if (index > 0xffff) return err(Status::OutOfBounds);
    auto charge = charge_new<kobj::Interrupt>();
    if (!charge.ok()) return err(charge.status());
    auto irq = kobj::Interrupt::create(fn.value()->index(), static_cast<u16>(index));
    if (!irq.ok()) return err(irq.status());
    irq.value()->adopt_charge(charge.release_value());
    return mint_from(pci, irq.release_value());
}

i64 interrupt_ack(u64 h) {
    auto i = kcap::lookup<kobj::Interrupt>(self(), handle_arg(h), cap::kRightWrite);
    if (!i.ok()) return err(i.status());
    auto n = i.value()->ack();
    return n.ok() ? static_cast<i64>(n.value()) : err(n.status());
}

i64 interrupt_mask(u64 h, u64 masked) {
    auto i = kcap::lookup<kobj::Interrupt>(self(), handle_arg(h), cap::kRightWrite);
    if (!i.ok()) return err(i.status());
    if (masked > 1) return err(Status::InvalidArgument);
    return ok_or(i.value()->mask(masked), 0);
}

i64 nvme_queue_create(u64 pool, u64 kind, u64 entries, u64 admin, u64 irq) {
    auto p = kcap::lookup<kobj::DmaPool>(self(), handle_arg(pool), cap::kRightManage);
    if (!p.ok()) return err(p.status());
    if (entries > abi::kNvmeMaxEntries) return err(Status::InvalidArgument);
    // The queue object (and an admin queue's controller record), charged
    // before the controller is touched; rings are the pool's quota.
    bool is_admin = kind == static_cast<u64>(abi::NvmeQueueKind::Admin);
    auto charge = charge_new<kobj::NvmeQueue>(is_admin ? heap::block_bytes(sizeof(kobj::NvmeController)) : 0);
    if (!charge.ok()) return err(charge.status());
    auto create = [&]() -> Result<kobj::RefPtr<kobj::NvmeQueue>> {
        if (kind == static_cast<u64>(abi::NvmeQueueKind::Admin)) {
            if (admin || irq) return Status::InvalidArgument;
            return kobj::NvmeQueue::create_admin(p.value()->session(), static_cast<u16>(entries));
        }
        if (kind != static_cast<u64>(abi::NvmeQueueKind::Io)) return Status::InvalidArgument;
        auto* a = TRY(kcap::lookup<kobj::NvmeQueue>(self(), handle_arg(admin), cap::kRightWrite));
        if (a->session() != p.value()->session()) return Status::NotOwner;
        kobj::Interrupt* interrupt = nullptr;
        if (irq)
            interrupt = TRY(kcap::lookup<kobj::Interrupt>(self(), handle_arg(irq), cap::kRightWrite));
        return kobj::NvmeQueue::create_io(a, static_cast<u16>(entries), interrupt);
    };
    auto q = create();
    if (!q.ok()) return err(q.status());
    q.value()->adopt_charge(charge.release_value());
    return mint_from(pool, q.release_value());
}

i64 nvme_submit(u64 queue, u64 commands, u64 count) {
    auto q = kcap::lookup<kobj::NvmeQueue>(self(), handle_arg(queue), cap::kRightWrite);
    if (!q.ok()) return err(q.status());
    if (count == 0 || count > abi::kNvmeMaxBatch) return err(Status::InvalidArgument);
    abi::NvmeCommand batch[abi::kNvmeMaxBatch];
    if (auto c = user::copy_from(batch, commands, count * sizeof batch[0]); !c.ok()) return err(c.status());
    auto n = q.value()->submit(self(), batch, static_cast<u32>(count));
    if (!n.ok()) {
        refusals::record(self(), abi::RefusalKind::BrokerCommand, q.value()->session()->function(), n.status(),
                         static_cast<u64>(abi::Syscall::NvmeSubmit), klog::Level::Warn,
                         "nvme broker: refused a batch of %llu from pid %u '%s': %s",
                         static_cast<unsigned long long>(count), self()->pid(), self()->name(),
                         status_name(n.status()));
        return err(n.status());
    }
    return n.value();
}

i64 nvme_complete(u64 queue, u64 out, u64 max, u64 flags) {
    auto q = kcap::lookup<kobj::NvmeQueue>(self(), handle_arg(queue), cap::kRightWrite);
    if (!q.ok()) return err(q.status());
    if (max == 0 || max > abi::kNvmeMaxEntries) return err(Status::InvalidArgument);
    if (flags & ~abi::kNvmeCompleteAckInterrupt) return err(Status::InvalidArgument);
    kobj::Interrupt* irq = q.value()->interrupt();
    if ((flags & abi::kNvmeCompleteAckInterrupt) && !irq) return err(Status::InvalidArgument);  // polled queue
    // The output is written (zeros) before anything is consumed: a
    // completion is never lost to a bad pointer.
    abi::NvmeCompletion done[abi::kNvmeMaxEntries];  // complete() fills what it returns
    if (auto c = user::zero(out, max * sizeof done[0]); !c.ok()) return err(c.status());
    // Acknowledged before the queue is read, as a provider calling
    // InterruptAck then NvmeComplete would: a completion posted after the
    // read raises the interrupt again instead of being missed. The queue
    // holds the Interrupt it was created with, with the write right its
    // creator showed then.
    // Only for a queue that can still complete: a Stale or torn-down one
    // must not swallow deliveries meant for its successor on the same
    // Interrupt.
    if (flags & abi::kNvmeCompleteAckInterrupt) {
        if (auto u = q.value()->usable(); !u.ok()) return err(u.status());
        if (auto a = irq->ack(); !a.ok()) return err(a.status());
    }
    auto n = q.value()->complete(done, static_cast<u32>(max));
    if (!n.ok()) return err(n.status());
    if (auto c = user::copy_to(out, done, n.value() * sizeof done[0]); !c.ok()) return err(c.status());
    return n.value();
}

i64 nvme_queue_map(u64 queue) {
    auto q = kcap::lookup<kobj::NvmeQueue>(self(), handle_arg(queue), cap::kRightMap);
    if (!q.ok()) return err(q.status());
    auto at = q.value()->map_completions(self(), self()->pid(), handle_arg(queue));
    return at.ok() ? static_cast<i64>(at.value()) : err(at.status());
}

i64 virtqueue_create(u64 pool, u64 index, u64 size, u64 msix_entry) {
    auto p = kcap::lookup<kobj::DmaPool>(self(), handle_arg(pool), cap::kRightManage);
    if (!p.ok()) return err(p.status());
    if (index > 0xffff || size > abi::kVirtioMaxQueueSize || msix_entry > 0xffff) return err(Status::InvalidArgument);
    auto charge = charge_new<kobj::VirtQueue>();
    if (!charge.ok()) return err(charge.status());
    auto q = kobj::VirtQueue::create(p.value()->session(), static_cast<u16>(index), static_cast<u16>(size),
                                     static_cast<u16>(msix_entry));
    if (!q.ok()) {
        if (q.status() == Status::Forbidden)
            log_class_refusal(p.value()->session()->function(), "a virtqueue");
        return err(q.status());
    }
    q.value()->adopt_charge(charge.release_value());
    return mint_from(pool, q.release_value());
}

i64 virtqueue_submit(u64 queue, u64 chains, u64 count) {
    auto q = kcap::lookup<kobj::VirtQueue>(self(), handle_arg(queue), cap::kRightWrite);
    if (!q.ok()) return err(q.status());
    if (count == 0 || count > abi::kVirtioMaxBatch) return err(Status::InvalidArgument);
    abi::VirtioChain batch[abi::kVirtioMaxBatch];
    if (auto c = user::copy_from(batch, chains, count * sizeof batch[0]); !c.ok()) return err(c.status());
    // The heads are written back after the chains are published: make sure
    // that cannot fail first (one CPU, kernel not preemptible: nothing
    // changes the mapping in between).
    if (auto c = user::copy_to(chains, batch, count * sizeof batch[0]); !c.ok()) return err(c.status());
    auto n = q.value()->submit(self(), batch, static_cast<u32>(count));
    if (!n.ok()) {
        refusals::record(self(), abi::RefusalKind::BrokerCommand, q.value()->session()->function(), n.status(),
                         static_cast<u64>(abi::Syscall::VirtQueueSubmit), klog::Level::Warn,
                         "virtqueue broker: refused a batch of %llu from pid %u '%s': %s",
                         static_cast<unsigned long long>(count), self()->pid(), self()->name(),
                         status_name(n.status()));
        return err(n.status());
    }
    // The heads: descriptor ids, not addresses.
    if (auto c = user::copy_to(chains, batch, count * sizeof batch[0]); !c.ok()) return err(c.status());
    return n.value();
}

i64 virtqueue_complete(u64 queue, u64 max) {
    auto q = kcap::lookup<kobj::VirtQueue>(self(), handle_arg(queue), cap::kRightWrite);
    if (!q.ok()) return err(q.status());
    auto n = q.value()->complete(self(), max > abi::kVirtioMaxQueueSize ? abi::kVirtioMaxQueueSize : static_cast<u32>(max));
    return n.ok() ? static_cast<i64>(n.value()) : err(n.status());
}

i64 virtqueue_map(u64 queue) {
    auto q = kcap::lookup<kobj::VirtQueue>(self(), handle_arg(queue), cap::kRightMap);
    if (!q.ok()) return err(q.status());
    auto at = q.value()->map_used(self(), self()->pid(), handle_arg(queue));
    return at.ok() ? static_cast<i64>(at.value()) : err(at.status());
}

}  // namespace sys
