// dma_colluder: a provider that hands its device authority to an
// accomplice and dies, to keep the grant alive without it (issue 11,
// finding 4; docs/device-authority.md "Lifetime of a grant"). Two roles,
// by startup argument:
//
//   provider   devmgr-bound (pci, bar0, irq0, dma = the pool, service = its
//              instance endpoint). It answers the accomplice's calls on
//              its instance endpoint (lib/protocol/service.h: the directory
//              gives the accomplice a badged call capability to it):
//                kGive      copies of its pool, bar0 and irq0 and of a
//                           mapped 4 KiB buffer holding "collusion-buffer"
//                kGiveQueue a copy of an admin queue it creates
//                kGiveAway  its pool itself (moved: it holds none after),
//                           and copies of bar0, irq0 and a mapped buffer
//                kGiveSome  copies of bar0 and of a buffer
//                kExit      the reply, then exit 1 (a failure: devmgr
//                           restarts it)
//                kWork      what a working provider does: the admin queue,
//                           a polled I/O queue, a Read of LBA 0-7 through
//                           the broker; logs the sha256 of the 4 KiB read
//                           (the scenario compares it with the host's)
//   accomplice with the provider entry's directory (`serve = accomplice`):
//     collude  1. takes copies of everything, maps the buffer, keeps irq0's
//                 copy in a WaitSet (a kernel reference that outlives the
//                 capability), and has the provider exit: the grant must
//                 end with it (irq0 reports the teardown, the queue copy is
//                 dead at once), windows and vectors turn Revoked, the DMA
//                 copies TornDown;
//              2. takes the next provider's pool itself, and has it exit:
//                 the grant outlives the provider, so devmgr revokes it —
//                 every copy Revoked, the buffer mapping gone;
//              3. the third provider must get the vector and the grant
//                 (its Read), although the WaitSet still holds the old
//                 interrupts; then the accomplice touches the revoked
//                 mapping, which must fault.
//     rebind   takes copies of bar0 and of a buffer from the first
//              provider, has it exit, takes copies of the second's pool,
//              bar0, irq0 and buffer, and waits for the shell's `revoke`:
//              copies from both must then answer Revoked (nothing a
//              provider handed out escapes the binding's revoke).
#include "abi/nvme.h"
#include "nvme/command.h"
#include "protocol/service.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/service.h"
#include "rt/sys.h"
#include "util/sha256.h"

namespace {

enum Op : u32 { kGive = 1, kGiveQueue = 2, kGiveAway = 3, kGiveSome = 4, kExit = 5, kWork = 6 };

constexpr char kBufferText[] = "collusion-buffer";  // 16 bytes, no NUL needed
constexpr u64 kSecond = 1'000'000'000ull;

const char* st(Status s) { return status_name(s); }
template <typename T>
const char* st(const Result<T>& r) {
    return status_name(r.ok() ? Status::Ok : r.status());
}

u32 op_of(const abi::Message& m) {
    u32 op = 0;
    if (m.length >= 4) __builtin_memcpy(&op, m.data, 4);
    return op;
}

// --- provider ---------------------------------------------------------------

struct Grants {
    u32 bar0, irq0, pool;
};

// The restarted provider's proof of work: the broker's whole chain and a
// Read of the first 4 KiB of namespace 1 (512-byte blocks, QEMU's default).
Status work(const Grants& g) {
    auto admin = rt::nvme_admin_queue_create(g.pool, 8);
    if (!admin.ok()) return admin.status();
    auto io = rt::nvme_io_queue_create(g.pool, admin.value().get(), 16, 0);  // polled
    if (!io.ok()) return io.status();
    auto buffer = rt::dma_buffer_create(g.pool, 4096);
    if (!buffer.ok()) return buffer.status();
    auto at = rt::memory_map(buffer.value().get(), 0, 0);
    if (!at.ok()) return at.status();
    abi::NvmeCommand read{};
    read.opcode = nvme::kIoRead;
    read.cid = 1;
    read.nsid = 1;
    read.cdw12 = 7;  // NLB, zero-based: 8 blocks
    read.buffer = buffer.value().get();
    read.length = 4096;
    if (auto s = rt::nvme_submit(io.value().get(), &read, 1); !s.ok()) return s.status();
    abi::NvmeCompletion done{};
    u32 got = 0;
    for (u32 i = 0; i < 5000 && !got; i++) {
        got = rt::nvme_complete(io.value().get(), &done, 1).value_or(0);
        if (!got) rt::sleep_ns(1'000'000);
    }
    if (!got) return Status::Timeout;
    if (done.status) return Status::DeviceError;
    u8 digest[32];
    char hex[65];
    util::sha256(reinterpret_cast<const void*>(at.value()), 4096, digest);
    util::hex_digest(digest, hex);
    rt::log("colluder: provider: read LBA 0-7 through the broker: sha256 %s", hex);
    return Status::Ok;
}

int provider(const Grants& g, u32 service) {
    rt::Handle buffer, queue;
    for (;;) {
        abi::Message m{};
        if (auto r = rt::endpoint_receive(service, m, abi::kForever); !r.ok()) {
            rt::log("colluder: provider: receive: %s", st(r.status()));
            return 1;
        }
        for (u32 i = 0; i < m.handle_count; i++) (void)rt::close(m.handles[i]);
        abi::Message reply{};
        Status s = Status::Ok;
        // Adds a copy (same rights) of `h` to the reply.
        auto hand = [&](u32 h) {
            auto copy = rt::duplicate(h, cap::kSameRights);
            if (!copy.ok()) return s = copy.status(), false;
            reply.handles[reply.handle_count++] = copy.value().release();
            return true;
        };
        // A fresh mapped buffer holding kBufferText, kept in `buffer`.
        auto new_buffer = [&]() {
            auto b = rt::dma_buffer_create(g.pool, 4096);
            auto at = b.ok() ? rt::memory_map(b.value().get(), 0, abi::kMapWrite) : Result<u64>(b.status());
            if (!at.ok()) return s = at.status(), false;
            buffer = static_cast<rt::Handle&&>(b.value());
            __builtin_memcpy(reinterpret_cast<void*>(at.value()), kBufferText, 16);
            return true;
        };
        switch (op_of(m)) {
            case kGive:
                if (new_buffer() && hand(g.pool) && hand(g.bar0) && hand(g.irq0) && hand(buffer.get()))
                    rt::log(
                        "colluder: provider: handed copies of its pool, bar0, irq0 and a mapped buffer to badge %llu",
                        static_cast<unsigned long long>(m.badge));
                break;
            case kGiveQueue: {
                auto q = rt::nvme_admin_queue_create(g.pool, 8);
                if (!q.ok()) {
                    s = q.status();
                    break;
                }
                queue = static_cast<rt::Handle&&>(q.value());
                if (hand(queue.get())) rt::log("colluder: provider: handed a copy of its admin queue");
                break;
            }
            case kGiveAway:
                if (!new_buffer() || !hand(g.bar0) || !hand(g.irq0) || !hand(buffer.get())) break;
                reply.handles[reply.handle_count++] = g.pool;  // moved: this process holds no pool now
                rt::log("colluder: provider: handed its pool itself, and copies of bar0, irq0 and a mapped buffer");
                break;
            case kGiveSome:
                if (new_buffer() && hand(g.bar0) && hand(buffer.get()))
                    rt::log("colluder: provider: handed copies of bar0 and a buffer");
                break;
            case kWork: s = work(g); break;
            case kExit: break;
            default: s = Status::InvalidArgument; break;
        }
        u32 status = static_cast<u32>(s);
        __builtin_memcpy(reply.data, &status, 4);
        reply.length = 4;
        (void)rt::endpoint_reply(reply);
        if (op_of(m) == kExit) {
            rt::log("colluder: provider: exiting with 1, every handle still open");
            return 1;
        }
    }
}

// --- accomplice -------------------------------------------------------------

// One call to the provider; *handles gets what the reply carried.
Status call(u32 instance, u32 op, u32* handles = nullptr, u32 want = 0) {
    abi::Message m{};
    __builtin_memcpy(m.data, &op, 4);
    m.length = 4;
    if (auto r = rt::endpoint_call(instance, m); !r.ok()) return r.status();
    u32 status = 0;
    if (m.length >= 4) __builtin_memcpy(&status, m.data, 4);
    for (u32 i = 0; i < m.handle_count; i++) {
        if (i < want)
            handles[i] = m.handles[i];
        else
            (void)rt::close(m.handles[i]);
    }
    if (status == 0 && m.handle_count < want) return Status::Malformed;
    return static_cast<Status>(status);
}

// Whether `at` is still mapped, without touching it: LogWrite copies its
// text in from user memory and answers OutOfBounds for an unmapped page.
// (Mapped, the buffer's text is logged.)
const char* probe_mapping(u64 at) {
    auto r = rt::log_write(rt::startup_handle("log"), reinterpret_cast<const char*>(at), 16);
    return r.ok() ? "mapped" : r.status() == Status::OutOfBounds ? "gone" : st(r.status());
}

abi::NvmeCommand identify(u32 buffer) {
    abi::NvmeCommand c{};
    c.opcode = 0x06;
    c.cid = 3;
    c.cdw10 = 1;
    c.buffer = buffer;
    c.length = 4096;
    return c;
}

// Waits until `probe` stops answering Ok (at most `limit_ns`); returns its
// last answer.
template <typename Probe>
Status wait_until_refused(Probe probe, u64 limit_ns) {
    u64 until = rt::clock_ns() + limit_ns;
    for (;;) {
        Status s = probe();
        if (s != Status::Ok || rt::clock_ns() > until) return s;
        rt::sleep_ns(20'000'000);
    }
}

Status read_status(u32 window) {
    auto r = rt::mmio_read(window, 0, 4);
    return r.ok() ? Status::Ok : r.status();
}

const char* pool_state(u32 pool) {
    auto u = rt::dma_pool_info(pool);
    if (!u.ok()) return st(u.status());
    switch (u.value().state) {
        case abi::kDmaActive: return "STILL ACTIVE";
        case abi::kDmaTearingDown: return "tearing down";
        case abi::kDmaQuiesced: return "ended (device quiet)";
        case abi::kDmaQuarantined: return "ended (quarantined)";
    }
    return "?";
}

struct Copies {
    u32 pool, bar0, irq0, buffer;
    u64 mapped;  // where the buffer is mapped here
};

Result<Copies> take(u32 instance, u32 op, u32 ws, u64 key) {
    u32 got[4] = {};
    if (Status s = call(instance, op, got, 4); s != Status::Ok) return s;
    Copies c{};
    // kGive: pool, bar0, irq0, buffer; kGiveAway: bar0, irq0, buffer, pool.
    if (op == kGive)
        c = Copies{got[0], got[1], got[2], got[3], 0};
    else
        c = Copies{got[3], got[0], got[1], got[2], 0};
    c.mapped = TRY(rt::memory_map(c.buffer, 0, abi::kMapWrite));
    TRY(rt::waitset_add(ws, c.irq0, abi::kSignalDead, key));
    return c;
}

int collude(u32 instance) {
    // The WaitSet holds the Interrupt objects themselves: it must not keep
    // the vector (and with it the restart) once the capability is revoked.
    auto ws = rt::waitset_create();
    if (!ws.ok()) return 1;
    abi::WaitEvent ev{};

    // 1. Copies of everything; the provider dies holding its pool.
    auto first = take(instance, kGive, ws.value().get(), 1);
    u32 queue = 0;
    if (!first.ok()) return rt::log("colluder: accomplice: give: %s", st(first.status())), 1;
    if (Status s = call(instance, kGiveQueue, &queue, 1); s != Status::Ok)
        return rt::log("colluder: accomplice: give queue: %s", st(s)), 1;
    const Copies a = first.value();
    rt::log(
        "colluder: accomplice: holding copies of the pool, bar0, irq0, the admin queue and a buffer mapped at "
        "0x%llx (%s); telling the provider to exit",
        static_cast<unsigned long long>(a.mapped), probe_mapping(a.mapped));
    if (Status s = call(instance, kExit); s != Status::Ok) return rt::log("colluder: accomplice: exit: %s", st(s)), 1;
    if (auto w = rt::waitset_wait(ws.value().get(), &ev, 1, 20 * kSecond); !w.ok())
        return rt::log("colluder: accomplice: NO TEARDOWN: 20 s after the provider exited its grant is live"), 1;
    // Between the death and devmgr's reaction: the queue is dead already.
    abi::NvmeCommand c = identify(a.buffer);
    rt::log("colluder: accomplice: irq0's copy reports the grant torn down; the queue copy right away: %s",
            st(rt::nvme_submit(queue, &c, 1)));
    Status bar0 = wait_until_refused([&] { return read_status(a.bar0); }, 20 * kSecond);
    rt::log(
        "colluder: accomplice: after the first provider: bar0 read %s, irq0 ack %s; the grant %s: buffer create "
        "%s, queue submit %s, buffer map %s; the buffer mapping %s",
        st(bar0), st(rt::interrupt_ack(a.irq0)), pool_state(a.pool), st(rt::dma_buffer_create(a.pool, 4096)),
        st(rt::nvme_submit(queue, &c, 1)), st(rt::memory_map(a.buffer, 0, 0)), probe_mapping(a.mapped));

    // 2. The next provider's pool itself: the grant outlives the provider.
    auto second = take(instance, kGiveAway, ws.value().get(), 2);
    if (!second.ok()) return rt::log("colluder: accomplice: give away: %s", st(second.status())), 1;
    const Copies b = second.value();
    rt::log(
        "colluder: accomplice: holding the second provider's pool and copies of its bar0, irq0 and a buffer mapped "
        "at 0x%llx; telling it to exit",
        static_cast<unsigned long long>(b.mapped));
    if (Status s = call(instance, kExit); s != Status::Ok) return rt::log("colluder: accomplice: exit: %s", st(s)), 1;
    Status pool = wait_until_refused([&] { return rt::dma_pool_info(b.pool).status(); }, 20 * kSecond);
    rt::log(
        "colluder: accomplice: after the second provider: pool %s; buffer create %s, bar0 read %s, irq0 ack %s, "
        "buffer map %s, the buffer mapping %s",
        st(pool), st(rt::dma_buffer_create(b.pool, 4096)), st(read_status(b.bar0)), st(rt::interrupt_ack(b.irq0)),
        st(rt::memory_map(b.buffer, 0, 0)), probe_mapping(b.mapped));

    // 3. The WaitSet still holds both old interrupts: the next provider
    // must get the vector and the grant all the same. The call waits for it.
    Status worked = call(instance, kWork);
    rt::log("colluder: accomplice: the third provider's read: %s", st(worked));
    rt::log("colluder: accomplice: reading the revoked buffer mapping at 0x%llx (this must fault)",
            static_cast<unsigned long long>(b.mapped));
    volatile u8 v = *reinterpret_cast<volatile u8*>(b.mapped);
    rt::log("colluder: accomplice: the revoked buffer mapping still reads 0x%x: NOT UNMAPPED", v);
    return 1;
}

int rebind(u32 instance) {
    u32 got[2] = {};
    if (Status s = call(instance, kGiveSome, got, 2); s != Status::Ok)
        return rt::log("colluder: accomplice: give some: %s", st(s)), 1;
    const u32 first_bar0 = got[0], first_buffer = got[1];
    if (Status s = call(instance, kExit); s != Status::Ok) return rt::log("colluder: accomplice: exit: %s", st(s)), 1;
    // The reply came before the exit: give devmgr a moment to see it.
    Status read = wait_until_refused([&] { return read_status(first_bar0); }, 5 * kSecond);
    rt::log("colluder: accomplice: the first provider exited; its bar0 copy: read %s; its buffer copy: map %s",
            st(read), st(rt::memory_map(first_buffer, 0, 0)));
    auto ws = rt::waitset_create();
    if (!ws.ok()) return 1;
    // Waits for devmgr's second provider.
    auto second = take(instance, kGive, ws.value().get(), 1);
    if (!second.ok()) return rt::log("colluder: accomplice: give (second provider): %s", st(second.status())), 1;
    const Copies b = second.value();
    rt::log(
        "colluder: accomplice: holding the first provider's bar0 and buffer and the second's pool, bar0, irq0 and "
        "buffer; waiting for the revoke");
    abi::WaitEvent ev{};
    auto woke = rt::waitset_wait(ws.value().get(), &ev, 1, 120 * kSecond);
    Status pool = wait_until_refused([&] { return rt::dma_pool_info(b.pool).status(); }, 20 * kSecond);
    rt::log(
        "colluder: accomplice: after the revoke: irq0 %s; the second provider's pool %s, bar0 read %s, irq0 ack %s, "
        "buffer map %s; the first provider's bar0 read %s, buffer map %s",
        woke.ok() ? "dead" : st(woke.status()), st(pool), st(read_status(b.bar0)), st(rt::interrupt_ack(b.irq0)),
        st(rt::memory_map(b.buffer, 0, 0)), st(read_status(first_bar0)), st(rt::memory_map(first_buffer, 0, 0)));
    return 0;
}

}  // namespace

int main(u64) {
    if (rt::startup_args_contains("provider")) {
        Grants g{rt::startup_handle("bar0"), rt::startup_handle("irq0"), rt::startup_handle("dma")};
        return provider(g, rt::startup_handle("service"));
    }
    static rt::ServiceInstance instances[2];
    if (rt::open_service_instances(instances, 2) < 1) return rt::log("colluder: accomplice: no instance"), 1;
    u32 instance = instances[0].endpoint.get();
    if (rt::startup_args_contains("collude")) return collude(instance);
    if (rt::startup_args_contains("rebind")) return rebind(instance);
    rt::log("colluder: give provider, or collude or rebind");
    return 2;
}
