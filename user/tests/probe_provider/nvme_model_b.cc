// The remapped lane seen from a provider (issue 15, Model B): with its
// pool's buffers at IOVAs of its own domain, the provider brings up the
// NVMe controller's admin queue itself — its queues in its own DMA memory,
// their IOVAs written to AQA/ASQ/ACQ, the controller enabled through CC,
// the doorbells mapped directly — and sends Identify with PRPs it wrote,
// with no system call per command (the kernel counts them). Then it aims the device at an
// IOVA its domain does not map: the unit must refuse the write (a fault
// the kernel attributes to this process), and the harness checks from
// outside that the memory at that address is untouched (it is the
// kernel's code there, compared with the kernel's ELF file).
#include "nvme/command.h"
#include "rt/log.h"
#include "rt/sys.h"

namespace probe {
namespace {

constexpr u64 kCap = 0x00, kCc = 0x14, kCsts = 0x1c, kAqa = 0x24, kAsq = 0x28, kAcq = 0x30;
constexpr u32 kEntries = 16;
constexpr u8 kIdentify = 0x06;

struct Buffer {
    rt::Handle handle;
    volatile u8* at = nullptr;
    u64 iova = 0;
};

Result<Buffer> buffer(u32 pool) {
    Buffer b;
    b.handle = TRY(rt::dma_buffer_create(pool, 4096));
    b.at = reinterpret_cast<volatile u8*>(TRY(rt::memory_map(b.handle.get(), 0, abi::kMapWrite)));
    b.iova = TRY(rt::dma_buffer_address(b.handle.get()));
    return b;
}

bool wait_ready(u32 regs, bool ready) {
    for (u32 i = 0; i < 2000; i++) {
        auto csts = rt::mmio_read(regs, kCsts, 4);
        if (csts.ok() && (csts.value() & 1) == (ready ? 1u : 0u)) return true;
        rt::sleep_ns(1'000'000);
    }
    return false;
}

// The admin queue pair in the provider's own memory, rung through the
// doorbell page mapped directly: a store, no system call.
struct AdminQueue {
    Buffer sq, cq;
    volatile u32* doorbells = nullptr;  // SQ 0 tail at +0, CQ 0 head at +4
    u32 tail = 0, head = 0;
    u16 phase = 1;
    u16 cid = 0;

    // Identify (CNS 1, the controller) into `prp1`; the completion's status,
    // or ~0u when none came within a second. Busy-polls the completion
    // queue: no system call from the doorbell to the completion.
    u32 identify(u64 prp1) {
        auto* e = reinterpret_cast<volatile nvme::Sqe*>(sq.at) + tail;
        e->cdw0 = kIdentify | u32{++cid} << 16;
        e->nsid = 0;
        e->mptr = 0;
        e->prp1 = prp1;
        e->prp2 = 0;
        e->cdw10 = 1;
        e->cdw11 = 0;
        e->cdw12 = 0;
        e->cdw13 = 0;
        e->cdw14 = 0;
        e->cdw15 = 0;
        tail = (tail + 1) % kEntries;
        doorbells[0] = tail;
        auto* c = reinterpret_cast<volatile nvme::Cqe*>(cq.at) + head;
        for (u64 spins = 0; (c->status & 1) != phase; spins++)
            if (spins > 200'000'000) return ~0u;
        const u32 status = c->status >> 1;
        head = (head + 1) % kEntries;
        if (head == 0) phase ^= 1;
        doorbells[1] = head;
        return status;
    }
};

void text(const volatile u8* from, u32 len, char (&out)[48]) {
    u32 n = 0;
    for (u32 i = 0; i < len && n + 1 < sizeof out; i++) out[n++] = static_cast<char>(from[i]);
    while (n > 0 && out[n - 1] == ' ') n--;
    out[n] = 0;
}

}  // namespace

void nvme_model_b(u32 regs, u32 doorbells, u32 pool) {
    auto cap = rt::mmio_read(regs, kCap, 8);
    if (!cap.ok()) return rt::log("provider: model B: CAP: %s", status_name(cap.status()));
    if ((cap.value() >> 32) & 0xf) return rt::log("provider: model B: doorbell stride not 4 bytes");
    // The doorbells, mapped directly: a window the kernel grants only on the
    // remapped lane, for the life of the grant.
    auto bells = rt::mmio_map(doorbells);
    if (!bells.ok()) return rt::log("provider: model B: mapping the doorbells: %s", status_name(bells.status()));
    // The controller off, then the admin queue of our own memory.
    auto off = rt::mmio_write(regs, kCc, 4, 0);
    if (!off.ok() || !wait_ready(regs, false))
        return rt::log("provider: model B: disabling the controller: %s", status_name(off.status()));
    auto sq = buffer(pool), cq = buffer(pool), data = buffer(pool);
    if (!sq.ok() || !cq.ok() || !data.ok()) return rt::log("provider: model B: buffers: %s", status_name(sq.status()));
    AdminQueue q{static_cast<Buffer&&>(sq.value()), static_cast<Buffer&&>(cq.value()),
                 reinterpret_cast<volatile u32*>(bells.value())};
    auto aqa = rt::mmio_write(regs, kAqa, 4, (kEntries - 1) | (kEntries - 1) << 16);
    auto asq = rt::mmio_write(regs, kAsq, 8, q.sq.iova);
    auto acq = rt::mmio_write(regs, kAcq, 8, q.cq.iova);
    auto on = rt::mmio_write(regs, kCc, 4, 1 | 6u << 16 | 4u << 20);  // EN, 64-byte SQEs, 16-byte CQEs
    if (!aqa.ok() || !asq.ok() || !acq.ok() || !on.ok() || !wait_ready(regs, true))
        return rt::log("provider: model B: admin queue registers: %s %s %s %s", status_name(aqa.status()),
                       status_name(asq.status()), status_name(acq.status()), status_name(on.status()));
    rt::log("provider: model B: admin queue at IOVAs 0x%llx / 0x%llx, controller enabled",
            static_cast<unsigned long long>(q.sq.iova), static_cast<unsigned long long>(q.cq.iova));
    u32 status = q.identify(data.value().iova);
    char model[48], serial[48];
    text(data.value().at + 24, 40, model);
    text(data.value().at + 4, 20, serial);
    rt::log("provider: model B: identify through IOVA 0x%llx: status 0x%x, model '%s' serial '%s'",
            static_cast<unsigned long long>(data.value().iova), status, model, serial);
    // Commands through its own queue, doorbells by store, completions by
    // polling its own memory: the kernel counts the system calls between.
    constexpr u32 kCommands = 64;
    u32 failed = 0;
    const u64 before = rt::syscall_count();
    for (u32 i = 0; i < kCommands; i++) failed += q.identify(data.value().iova) != 0;
    const u64 calls = rt::syscall_count() - before - 1;  // less the second count itself
    rt::log("provider: model B: %u identify commands (%u failed), %llu system calls between them", kCommands, failed,
            static_cast<unsigned long long>(calls));
    // An IOVA the domain does not map: as a physical address, the kernel's
    // own code (its .text starts at 0x208000), which the harness compares
    // with the kernel's ELF file afterwards.
    constexpr u64 kOutside = 0x210000;
    rt::log("provider: model B: aiming identify at IOVA 0x%llx, outside the domain",
            static_cast<unsigned long long>(kOutside));
    status = q.identify(kOutside);
    rt::log("provider: model B: identify aimed outside completed with status 0x%x", status);
}

}  // namespace probe
