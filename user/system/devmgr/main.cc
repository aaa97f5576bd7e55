// devmgr: the device manager. Holds the root of device authority and the
// boot manifest; for every [provider] entry it finds the PCI functions the
// entry's device-class descriptor (and optional pci / vendor / device
// filters) matches, selects each device's DMA backend, and starts one
// provider process per function with exactly the grants the manifest
// names: a PciFunction (checked config reads), one DeviceMmio per `bar`
// line, `vectors` Interrupts (MSI-X entries 0..N-1, as irq0..) and a
// DmaPool of `dma_pool` bytes (as dma) — DESIGN §3. Every grant is minted
// from devmgr's PciFunction capability for the binding, which devmgr keeps.
//
// Backend selection (DESIGN §3): probe — does an ACPI DMAR remapping unit
// cover the function? — select (`iommu` if covered, else `bounce`) — the
// manifest may override. Fail closed: a demand for `iommu` without a unit,
// or while the remapping lane is not implemented, gets no binding and a
// clear log line; never a silent fallback.
//
// devmgr supervises its providers: a provider that fails is reported and
// bound again after its backoff, until its restart limit.
//
// With an endpoint granted as "service" it answers `lsdev` queries
// (lib/protocol/devmgr.h): every function with its provider, backend, windows,
// state and restart count.
//
// Device services (lib/protocol/service.h): for each provider entry that serves
// anyone, init grants devmgr the entry's directory endpoint ("svcN").
// devmgr gives every function the entry binds an endpoint of its own
// (passed to the provider as "service", and again to a restarted one) and
// answers the directory: consumers holding it open the instances.
//
// devmgr can itself be restarted without disturbing anyone (escrow =
// N in its [process] entry; lib/protocol/escrow.h). Every root of
// authority it creates — each binding's anchor and instance endpoint, each
// provider's register and DMA copies and its process handle — is moved
// into init's escrow as it is made, and devmgr works on copies (children
// of the roots). Its bookkeeping (bindings, restart counts, refusal counts,
// recent events, the badge counter) lives in a MemoryObject kept the same
// way. A successor finds that state, takes copies again and *adopts* the
// running providers: they keep serving, their consumers notice nothing,
// and revoking through the escrow still reaches everything any
// incarnation handed out. A provider that died while devmgr was down is
// taken back and restarted by the successor. Without an escrow devmgr works
// as before, and a restart of it would find its functions still bound.
//
// Refusal events (lib/abi/events.h): the kernel attributes every refusal
// to the process that caused it and signals the device root; devmgr reads
// them, counts them against the binding whose provider (or function) they
// concern — lsdev's REFUSALS — and keeps the recent ones for the shell's
// `events`.
//
// A grant's lifetime is the binding's, not that of copies the provider
// handed out (docs/device-authority.md "Lifetime of a grant"). Each
// binding has one PciFunction capability for its whole life (the anchor);
// each provider it starts gets grants minted from two copies of it: one
// for its register windows, its interrupts and its config-read copy, one
// for its DMA pool. When the provider ends — however — devmgr revokes the
// first, so copies of windows and interrupts it gave anyone answer
// Revoked. Its DMA grant has ended already: the kernel tears it down when
// the process holding the pool dies, whatever copies exist (bus mastering
// off, class reset, interrupts masked, only then frames back;
// kernel/dma/session.h), which leaves copies of the pool, its queues and
// its buffers TornDown — and consumers' mappings of shared buffers, memory
// no device can reach any more, where they are. Only if the grant is still
// active then (the pool went elsewhere before the death) does devmgr
// revoke the second copy too. Everything stays below the anchor, so the
// shell's revoke reaches what every provider of the binding handed out.
#include "devices/virtio_class.h"
#include "manifest/manifest.h"
#include "protocol/devmgr.h"
#include "protocol/message.h"
#include "protocol/service.h"
#include "rt/escrow.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/service.h"
#include "rt/spawn.h"
#include "rt/supervisor.h"
#include "rt/sys.h"
#include "util/format.h"
#include "util/page.h"

namespace {

manifest::Manifest g_manifest;
// Each provider entry's service directory ("svcN" from init; 0: it serves
// no one).
u32 g_directories[manifest::kMaxProviders];
// The endpoints the supervisor waits on for callers: the entries'
// directories (first kMaxProviders), then the instance endpoint of every
// binding whose provider ended for good, which devmgr answers itself
// (answer_ended) so that its consumers learn it instead of waiting.
constexpr u32 kEndedBase = manifest::kMaxProviders;
manifest::ManifestErrors g_errors;
abi::DeviceInfo g_devices[64];
u32 g_device_count;
u32 g_root, g_resource, g_log;

// One binding per (provider entry, PCI function); supervised as a child.
constexpr u32 kMaxBindings = 64;
u32 g_waited[manifest::kMaxProviders + kMaxBindings];
// Everything here is plain data, kept in the escrowed state so that a
// successor knows it (handles are kept in the escrow itself).
struct Binding {
    u32 provider;
    u32 device;  // index into g_devices
    abi::DevmgrBackend backend;
    u16 windows;
    u16 bdf;       // of g_devices[device]: checked when adopting
    bool refused;  // backend or a window refused: never started
    bool revoked;  // its grants were taken back: not bound again
    bool ended;    // will not run again: devmgr answers its instance
    // The supervisor's view of its provider (rt::Supervised without the
    // handle), saved whenever it changes.
    u32 pid;
    u32 restarts;
    bool gave_up;
    bool retrying;
    u64 restart_at;
    // Refusal events attributed to it (every provider process it had), and
    // the pid whose first refusal devmgr has already logged.
    u64 refusals;
    u32 refusal_logged_pid;
    u32 fault_killed_pid;  // on_dma_fault = restart: the incarnation already killed
};
// The shell's `events`: one entry per distinct refusal (process, kind,
// function, status, detail) with its count, most recent first; the least
// recent goes when a new kind arrives and the table is full.
constexpr u32 kRecentEvents = 32;
struct State {
    static constexpr u64 kMagic = 0x7374'6174'6d67'7664ull;  // "dvmgtats"
    static constexpr u32 kVersion = 1;
    u64 magic;
    u32 version;
    u32 incarnation;  // devmgr starts that used this state (1 = the first)
    u32 binding_count;
    u32 device_count;
    u32 provider_count;
    u32 recent_count;
    // Every Open gets its own badge (serve_directory); never reused, across
    // restarts too.
    u64 next_badge;
    abi::DevmgrEvent recent_events[kRecentEvents];
    Binding bindings[kMaxBindings];
};
State g_local_state;  // without an escrow
State* g_state = &g_local_state;
rt::Escrow g_escrow;
// Escrow keys: the state, then four per binding.
constexpr u32 kStateKey = 0xffff'0000;
constexpr u32 anchor_key(u32 b) { return 4 * b; }
constexpr u32 instance_key(u32 b) { return 4 * b + 1; }
// The running provider's roots: its register copy, its process, its DMA
// copy (when it has a pool), in this order.
constexpr u32 provider_key(u32 b) { return 4 * b + 2; }
constexpr u32 kRegistersIndex = 0, kProcessIndex = 1, kDmaIndex = 2;
// devmgr's PciFunction capability per binding (the anchor), opened once
// and kept: every grant of every provider of the binding descends from it,
// so revoking it takes them all back. The running provider's grants come
// from two copies of it: g_registers (windows, vectors, its config-read
// copy) and g_dma (its pool, and so its buffers and queues).
rt::Handle g_anchors[kMaxBindings];
rt::Handle g_registers[kMaxBindings];
rt::Handle g_dma[kMaxBindings];
rt::Supervised g_children[kMaxBindings];
// The instance endpoint each binding serves, when its entry has a
// directory; kept here so a restarted provider serves the same one.
rt::Handle g_instances[kMaxBindings];

constexpr u32 kMaxVectorGrants = 8;
// How often a restart whose device is still being torn down is tried again.
constexpr u32 kBusyRetryMs = 50;

// The remapped lane (Model B): the kernel gives the pool a VT-d domain and
// IOVAs the provider writes itself. `iommu` demands it (the kernel refuses
// it without a translating unit, or without interrupt remapping); `auto`
// keeps the brokered lane until the providers can drive a device on the
// remapped one (issue 15: the NVMe and virtio providers are brokered-only).
constexpr bool kAutoTakesRemapped = false;

bool is_nvme(const abi::DeviceInfo& d) { return d.class_code == 0x01 && d.subclass == 0x08 && d.prog_if == 0x02; }

bool class_matches(manifest::DeviceClass c, const abi::DeviceInfo& d) {
    switch (c) {
        case manifest::DeviceClass::NvmeController: return is_nvme(d);
        case manifest::DeviceClass::VirtioNet:
            return d.vendor == 0x1af4 && (d.device_id == 0x1000 || d.device_id == 0x1041);
        case manifest::DeviceClass::VirtioBlk:
            return d.vendor == 0x1af4 && (d.device_id == 0x1001 || d.device_id == 0x1042);
        // Virtio only in the classes the kernel's broker serves: the others'
        // payloads can carry guest-physical addresses (devices/virtio_class.h).
        case manifest::DeviceClass::DmaCapable:
            return is_nvme(d) || devices::virtio_class_brokered(d.vendor, d.device_id);
        case manifest::DeviceClass::AnyFunction:
            for (const auto& b : d.bars)
                if (b.kind == 2 || b.kind == 3) return true;  // a memory BAR
            return false;
    }
    return false;
}

bool filters_match(const manifest::Provider& p, const abi::DeviceInfo& d) {
    if (p.has_pci && (p.pci.bus != d.bus || p.pci.device != d.device || p.pci.function != d.function)) return false;
    if (p.has_vendor && p.vendor != d.vendor) return false;
    if (p.has_device && p.device != d.device_id) return false;
    return true;
}

bool matches(const manifest::Provider& p, const abi::DeviceInfo& d) {
    return class_matches(p.match, d) && filters_match(p, d);
}

// A virtio function a DmaCapable entry would have taken but for its class:
// said in the log, never skipped silently.
bool virtio_class_refused(const manifest::Provider& p, const abi::DeviceInfo& d) {
    return p.match == manifest::DeviceClass::DmaCapable && devices::is_virtio(d.vendor, d.device_id) &&
           !devices::virtio_class_brokered(d.vendor, d.device_id) && filters_match(p, d);
}

// Returns nullptr and the chosen backend, or a reason for refusing.
const char* select_backend(const manifest::Provider& p, const abi::DeviceInfo& d, const char** chosen) {
    bool covered = d.remapping == abi::kRemappingCovered;
    if (p.backend == manifest::DmaBackend::Bounce) {
        *chosen = "bounce";
        return nullptr;
    }
    if (p.backend == manifest::DmaBackend::Iommu) {
        if (!covered)
            return d.remapping == abi::kRemappingUnknown
                       ? "backend iommu demanded but the DMAR tables cannot say which unit covers the device"
                       : "backend iommu demanded but no DMA remapping unit covers the device";
        *chosen = "iommu";
        return nullptr;
    }
    // auto: iommu when covered (and the providers can use it), else the
    // brokered lane.
    *chosen = covered && kAutoTakesRemapped ? "iommu" : "bounce";
    return nullptr;
}

// Moves hs[0..n) into the escrow under `key`, leaving copies in hs. A
// refusal (the escrow quota) is said once: that binding will not survive
// a restart of devmgr, but it works.
void keep(u32 key, rt::Handle* hs, u32 n, const char* who) {
    static bool said;
    auto kept = g_escrow.keep(key, hs, n);
    if (kept.ok() || said) return;
    said = true;
    rt::log("devmgr: cannot escrow the authority of %s: %s; a restart of devmgr would orphan it (raise escrow = N)",
            who, status_name(kept.status()));
}

// Starts the provider for one function; on success fills `child`.
bool bind(const manifest::Provider& p, const abi::DeviceInfo& d, rt::Supervised& child_slot) {
    const char* backend = nullptr;
    if (const char* refusal = select_backend(p, d, &backend)) {
        rt::log("devmgr: %s on %02x:%02x.%x not bound: %s", p.name, d.bus, d.device, d.function, refusal);
        return false;
    }
    u32 b = static_cast<u32>(&child_slot - g_children);
    g_state->bindings[b].backend = backend[0] == 'i' ? abi::DevmgrBackend::Iommu : abi::DevmgrBackend::Bounce;
    g_state->bindings[b].windows = static_cast<u16>(p.bar_count);
    // The anchor is opened once: a provider bound again gets copies of the
    // same capability, so what its predecessors handed out stays below it
    // (closing a root would make its children roots no revoke reaches).
    if (!g_anchors[b]) {
        auto anchor = rt::device_open(g_root, abi::pci_bdf(d.bus, d.device, d.function));
        if (!anchor.ok()) {
            rt::log("devmgr: %s on %02x:%02x.%x not bound: open: %s", p.name, d.bus, d.device, d.function,
                    status_name(anchor.status()));
            return false;
        }
        g_anchors[b] = static_cast<rt::Handle&&>(anchor.value());
        keep(anchor_key(b), &g_anchors[b], 1, p.name);
    }
    auto fn = rt::duplicate(g_anchors[b].get(), cap::kSameRights);
    auto dma_fn = rt::duplicate(g_anchors[b].get(), cap::kSameRights);
    if (!fn.ok() || !dma_fn.ok()) {
        rt::log("devmgr: %s on %02x:%02x.%x not bound: copies of its PciFunction capability: %s", p.name, d.bus,
                d.device, d.function, status_name(fn.ok() ? dma_fn.status() : fn.status()));
        return false;
    }
    // On a restart, the previous provider's grant may still be being torn
    // down (its device has not confirmed its reset yet; the kernel finishes
    // the teardown when it does, and meanwhile answers Busy). Not a
    // failure: try again shortly, without counting a restart.
    auto retry_later = [&] {
        if (!child_slot.retrying)
            rt::log(
                "devmgr: %s on %02x:%02x.%x: the previous DMA grant is still being torn down; trying again every "
                "%u ms",
                p.name, d.bus, d.device, d.function, kBusyRetryMs);
        child_slot.restart_at = rt::clock_ns() + u64{kBusyRetryMs} * 1'000'000;
        return true;
    };
    constexpr u32 kMaxGrants = 4 + manifest::kMaxBarWindows + kMaxVectorGrants;
    rt::Grant grants[kMaxGrants];
    rt::Handle moved[kMaxGrants];  // created here, moved into the provider
    static char names[kMaxGrants][16];
    u32 n = 0, nmoved = 0;
    auto give = [&](const char* name, rt::Handle&& h) {
        format(names[nmoved], sizeof names[nmoved], "%s", name);
        moved[nmoved] = static_cast<rt::Handle&&>(h);
        grants[n++] = rt::Grant{names[nmoved], moved[nmoved].get(), false, 0};
        nmoved++;
    };
    grants[n++] = rt::Grant{"pci", fn.value().get(), true, cap_rights::kInspect};
    grants[n++] = rt::Grant{"log", g_log, true, cap_rights::kWrite};
    // This function's instance of the entry's device service; consumers
    // reach it through the directory.
    if (g_instances[b])
        grants[n++] = rt::Grant{"service", g_instances[b].get(), true, cap_rights::kServe | cap_rights::kWait};
    // The DMA grant: bus mastering goes on when the pool exists, and off
    // (with the class reset) when the provider dies holding the pool, or
    // the pool's last capability goes.
    const bool remapped = backend[0] == 'i';  // "iommu"
    enum class Pool { Made, Retry, Failed };
    auto make_pool = [&]() -> Pool {
        if (!p.dma_pool) return Pool::Made;
        const u64 lane = !remapped ? abi::kDmaLaneBrokered
                                   : abi::kDmaLaneRemapped |
                                         (p.accept_unremapped_interrupts ? abi::kDmaLaneAcceptUnremappedInterrupts : 0);
        auto pool = rt::dma_pool_create(dma_fn.value().get(), p.dma_pool, lane);
        if (!pool.ok() && pool.status() == Status::Busy && child_slot.restarts) {
            (void)retry_later();
            return Pool::Retry;
        }
        if (!pool.ok()) {
            rt::log("devmgr: %s on %02x:%02x.%x not bound: DMA pool of %llu KiB: %s", p.name, d.bus, d.device,
                    d.function, static_cast<unsigned long long>(p.dma_pool >> 10), status_name(pool.status()));
            return Pool::Failed;
        }
        give("dma", static_cast<rt::Handle&&>(pool.value()));
        return Pool::Made;
    };
    // On the remapped lane the grant comes first: a direct window over the
    // device's doorbells belongs to it (the kernel refuses one without it).
    if (remapped) {
        if (Pool made = make_pool(); made != Pool::Made) return made == Pool::Retry;
    }
    for (u32 i = 0; i < p.bar_count; i++) {
        const manifest::BarWindow& w = p.bars[i];
        u64 length = w.length ? w.length : d.bars[w.bar].size - w.offset;
        u64 flags = w.mode == manifest::BarMode::Filtered ? abi::kMmioFiltered : 0;
        auto win = rt::mmio_create(fn.value().get(), w.bar, w.offset, length, flags);
        if (!win.ok()) {
            rt::log(
                "devmgr: %s on %02x:%02x.%x not bound: window bar%u+0x%llx len 0x%llx %s refused: %s (manifest "
                "line %u)",
                p.name, d.bus, d.device, d.function, w.bar, static_cast<unsigned long long>(w.offset),
                static_cast<unsigned long long>(length), manifest::bar_mode_name(w.mode), status_name(win.status()),
                w.pos.line);
            return false;
        }
        char name[16];
        format(name, sizeof name, i == 0 || p.bars[i - 1].bar != w.bar ? "bar%u" : "bar%u.%u", w.bar, i);
        give(name, static_cast<rt::Handle&&>(win.value()));
    }
    // MSI-X vectors, programmed by the kernel: irq0..irqN-1; a function
    // without MSI-X gets its one MSI message.
    u32 available = d.msix_vectors ? d.msix_vectors : d.msi_vectors ? 1 : 0;
    if (p.vectors > kMaxVectorGrants || p.vectors > available) {
        rt::log("devmgr: %s on %02x:%02x.%x not bound: %u vectors asked, the function has %u (%s)%s", p.name, d.bus,
                d.device, d.function, p.vectors, available, d.msix_vectors ? "MSI-X" : "MSI, one message",
                p.vectors > kMaxVectorGrants ? "; devmgr grants at most 8" : "");
        return false;
    }
    if (p.vectors && !p.dma_pool)
        rt::log(
            "devmgr: %s on %02x:%02x.%x: vectors without a dma_pool will never fire (an MSI is a memory write: "
            "it needs the bus mastering only a DMA grant turns on)",
            p.name, d.bus, d.device, d.function);
    for (u32 i = 0; i < p.vectors; i++) {
        auto irq = rt::interrupt_create(fn.value().get(), i);
        if (!irq.ok() && irq.status() == Status::Busy && child_slot.restarts) return retry_later();
        if (!irq.ok()) {
            rt::log("devmgr: %s on %02x:%02x.%x not bound: vector %u: %s", p.name, d.bus, d.device, d.function, i,
                    status_name(irq.status()));
            return false;
        }
        char name[16];
        format(name, sizeof name, "irq%u", i);
        give(name, static_cast<rt::Handle&&>(irq.value()));
    }
    if (!remapped) {
        if (Pool made = make_pool(); made != Pool::Made) return made == Pool::Retry;
    }
    auto child =
        rt::spawn(g_resource, p.program.module, grants, n, p.program.priority, p.program.args, p.program.kernel_memory);
    if (!child.ok()) {
        rt::log("devmgr: %s on %02x:%02x.%x not bound: cannot start %s: %s", p.name, d.bus, d.device, d.function,
                p.program.module, status_name(child.status()));
        return false;
    }
    for (u32 i = 0; i < nmoved; i++) (void)moved[i].release();  // moved into the provider
    auto info = rt::process_info(child.value().get());
    // Saved before the roots are kept: a successor that finds this pid but
    // no escrowed process knows whom to stop.
    g_state->bindings[b].pid = info.ok() ? info.value().pid : 0;
    // Its roots go to the escrow at once; devmgr keeps working on copies. dma_fn
    // is kept only with a pool (the grant descends from it): without one
    // it is closed here, as nothing below it can matter.
    rt::Handle roots[3] = {static_cast<rt::Handle&&>(fn.value()), static_cast<rt::Handle&&>(child.value()),
                           static_cast<rt::Handle&&>(dma_fn.value())};
    keep(provider_key(b), roots, p.dma_pool ? 3 : 2, p.name);
    g_registers[b] = static_cast<rt::Handle&&>(roots[kRegistersIndex]);
    child_slot.process = static_cast<rt::Handle&&>(roots[kProcessIndex]);
    if (p.dma_pool) g_dma[b] = static_cast<rt::Handle&&>(roots[kDmaIndex]);
    child_slot.pid = g_state->bindings[b].pid;
    // Logged only now: a serial line is slow, and a devmgr killed before
    // the Keep leaves a provider its successor must stop.
    char extra[64] = "";
    if (p.vectors || p.dma_pool)
        format(extra, sizeof extra, ", %u vectors, pool %llu KiB", p.vectors,
               static_cast<unsigned long long>(p.dma_pool >> 10));
    rt::log("devmgr: bound %s to %02x:%02x.%x (%04x:%04x %s) backend %s, %u windows%s, pid %u", p.name, d.bus, d.device,
            d.function, d.vendor, d.device_id, manifest::device_class_name(p.match), backend, p.bar_count, extra,
            info.ok() ? info.value().pid : 0);
    return true;
}

// Takes back every grant of the bindings on device `index`: windows, pool
// and vectors of every provider the binding had were minted from copies of
// its anchor, so one revoke reaches them wherever they are; the kernel
// then tears the DMA grant down (DESIGN §5). The provider keeps running
// without authority; the binding is not restarted.
void revoke_function(u32 index) {
    for (u32 b = 0; b < g_state->binding_count; b++) {
        if (g_state->bindings[b].device != index || !g_anchors[b]) continue;
        const abi::DeviceInfo& d = g_devices[index];
        auto n = g_escrow.revoke(anchor_key(b), 0, g_anchors[b].get());
        g_state->bindings[b].revoked = true;
        rt::log(
            "devmgr: revoked the grants of %s on %02x:%02x.%x: %s%llu capabilities; pid %u keeps running without "
            "them and will not be bound again",
            g_manifest.providers[g_state->bindings[b].provider].name, d.bus, d.device, d.function,
            n.ok() ? "" : status_name(n.status()), static_cast<unsigned long long>(n.value_or(0)), g_children[b].pid);
    }
}

// Is the DMA grant of device `index` still active (the kernel's view)?
bool dma_grant_active(u32 index) {
    static abi::DeviceInfo now[64];
    auto listed = rt::device_list(g_root, now, 64);
    return listed.ok() && index < listed.value() && now[index].dma.state == abi::kDmaActive;
}

// A provider ended (exit, fault, kill): the authority it was given ends
// with it, wherever copies of it went. Its windows, vectors and config-read
// copy — and every copy of them — turn Revoked. Its DMA grant was torn down
// by the kernel when it died holding the pool; copies of the pool, queues
// and buffers are TornDown and stay below the anchor, and the buffers
// consumers map stay mapped (memory no device can reach: revoking them
// would pull pages from under consumers still reading their last
// completions). If the grant is still active — the pool was handed away
// before the death — it is revoked here, copies and mappings included.
void take_back_grants(u32 b) {
    if (!g_registers[b] && !g_dma[b]) return;
    const abi::DeviceInfo& d = g_devices[g_state->bindings[b].device];
    // After the shell's revoke everything below the anchor is gone
    // already (the escrowed roots included): nothing more to take.
    bool taken = g_state->bindings[b].revoked;
    auto regs = g_registers[b] && !taken ? g_escrow.revoke(provider_key(b), kRegistersIndex, g_registers[b].get())
                                         : Result<u64>(0ull);
    bool outlived = g_dma[b] && !taken && dma_grant_active(g_state->bindings[b].device);
    auto dma = outlived ? g_escrow.revoke(provider_key(b), kDmaIndex, g_dma[b].get()) : Result<u64>(0ull);
    // Closed (here and in the escrow): what is left below them (TornDown
    // copies, shared buffers) moves up to the anchor, which the shell's
    // revoke still reaches.
    g_registers[b].reset();
    g_dma[b].reset();
    (void)g_escrow.drop(provider_key(b));
    char more[96] = "";
    if (outlived)
        format(more, sizeof more, "; its DMA grant outlived it (the pool went elsewhere): %llu more (%s)",
               static_cast<unsigned long long>(dma.value_or(0)), status_name(dma.ok() ? Status::Ok : dma.status()));
    rt::log("devmgr: %s (pid %u) gone: revoked its windows and vectors on %02x:%02x.%x: %llu capabilities (%s)%s",
            g_manifest.providers[g_state->bindings[b].provider].name, g_children[b].pid, d.bus, d.device, d.function,
            static_cast<unsigned long long>(regs.value_or(0)), status_name(regs.ok() ? Status::Ok : regs.status()),
            more);
}

u16 bdf_of(const abi::DeviceInfo& d) { return static_cast<u16>(u32{d.bus} << 8 | u32{d.device} << 3 | d.function); }

// The binding an event concerns: the one whose provider process caused it,
// else one bound to the function it names; kMaxBindings when neither.
u32 binding_of(const abi::RefusalEvent& e) {
    for (u32 b = 0; b < g_state->binding_count; b++)
        if (e.pid && g_children[b].pid == e.pid) return b;
    if (e.bdf == abi::kNoFunction) return kMaxBindings;
    for (u32 b = 0; b < g_state->binding_count; b++)
        if (bdf_of(g_devices[g_state->bindings[b].device]) == e.bdf) return b;
    return kMaxBindings;
}

void remember_event(abi::DevmgrEvent d) {
    u32 at = 0;
    while (at < g_state->recent_count) {
        const abi::RefusalEvent& r = g_state->recent_events[at].event;
        if (r.pid == d.event.pid && r.kind == d.event.kind && r.bdf == d.event.bdf && r.status == d.event.status &&
            r.detail == d.event.detail)
            break;
        at++;
    }
    if (at < g_state->recent_count) {
        u32 total = g_state->recent_events[at].event.count + d.event.count;
        d.event.count = total < d.event.count ? ~0u : total;
    } else if (g_state->recent_count < kRecentEvents) {
        g_state->recent_count++;
    } else {
        at = kRecentEvents - 1;  // the least recent goes
    }
    for (u32 i = at; i > 0; i--) g_state->recent_events[i] = g_state->recent_events[i - 1];
    g_state->recent_events[0] = d;
}

// Reads every pending refusal event (the device root signalled, or a
// client is about to look at the counts).
void drain_events(void*) {
    abi::RefusalEvent events[16];
    for (;;) {
        auto n = rt::device_events(g_root, events, 16);
        if (!n.ok() || n.value() == 0) return;
        for (u32 i = 0; i < n.value(); i++) {
            const abi::RefusalEvent& e = events[i];
            abi::DevmgrEvent d{};
            d.event = e;
            u32 b = binding_of(e);
            if (b < kMaxBindings) {
                g_state->bindings[b].refusals += e.count;
                const char* name = g_manifest.providers[g_state->bindings[b].provider].name;
                for (u32 k = 0; name[k] && k + 1 < sizeof d.provider; k++) d.provider[k] = name[k];
                // One line per provider process; the rest are counted (lsdev)
                // and listed (events), not logged again.
                // on_dma_fault = restart: a device that touched memory outside
                // its grant gets a fresh provider (and with it a fresh grant).
                const manifest::Provider& p = g_manifest.providers[g_state->bindings[b].provider];
                // (Once per incarnation: more faults may follow before it is reaped.)
                if (e.kind == abi::RefusalKind::DmaFault && p.on_dma_fault == manifest::DmaFaultPolicy::Restart &&
                    e.pid && e.pid == g_children[b].pid && g_children[b].process &&
                    g_state->bindings[b].fault_killed_pid != e.pid) {
                    g_state->bindings[b].fault_killed_pid = e.pid;
                    rt::log(
                        "devmgr: %s (pid %u): its device touched memory outside its grant: killed "
                        "(on_dma_fault = restart)",
                        name, e.pid);
                    (void)rt::process_kill(g_children[b].process.get());
                }
                if (e.pid && e.pid == g_children[b].pid && g_state->bindings[b].refusal_logged_pid != e.pid) {
                    g_state->bindings[b].refusal_logged_pid = e.pid;
                    rt::log("devmgr: %s (pid %u) was refused: %s %s (the shell's `events` lists refusals)", name, e.pid,
                            abi::refusal_kind_name(e.kind), status_name(static_cast<Status>(e.status)));
                }
            }
            remember_event(d);
        }
    }
}

// lsdev, revoke, events: one DevmgrRequest each (lib/protocol/devmgr.h).
void serve_request(void*) {
    u32 service = rt::startup_handle("service");
    abi::Message m{};
    if (!rt::receive_call(service, m)) return;
    auto request = abi::body_of<abi::DevmgrRequest>(m);  // no op (4 bytes): Describe
    u32 index = request.index;
    if (request.op == abi::DevmgrOp::Revoke && index < g_device_count) revoke_function(index);
    drain_events(nullptr);  // the answer counts everything the kernel has recorded so far
    abi::Message reply{};
    if (request.op == abi::DevmgrOp::Events) {
        if (index < g_state->recent_count) abi::put_body(reply, g_state->recent_events[index]);
    } else if (m.length >= sizeof index && index < g_device_count) {
        // The kernel's current DMA accounting for this function.
        static abi::DeviceInfo now[64];
        auto listed = rt::device_list(g_root, now, 64);
        const abi::DeviceInfo& d = listed.ok() && index < listed.value() ? now[index] : g_devices[index];
        abi::DevmgrFunction f{};
        f.bus = d.bus;
        f.device = d.device;
        f.function = d.function;
        f.vendor = d.vendor;
        f.device_id = d.device_id;
        f.remapping = d.remapping;
        f.pool_used_kib = static_cast<u32>(d.dma.used >> 10);
        f.dma_state = d.dma.state;
        for (u32 b = 0; b < g_state->binding_count; b++) {
            if (g_state->bindings[b].device != index) continue;
            const rt::Supervised& c = g_children[b];
            f.backend = g_state->bindings[b].backend;
            f.windows = g_state->bindings[b].windows;
            f.vectors = static_cast<u16>(g_manifest.providers[g_state->bindings[b].provider].vectors);
            f.pool_bytes = g_manifest.providers[g_state->bindings[b].provider].dma_pool;
            f.restarts = c.restarts;
            f.refusals += static_cast<u32>(g_state->bindings[b].refusals);
            f.pid = c.process ? c.pid : 0;
            f.state = g_state->bindings[b].revoked   ? abi::DevmgrState::Revoked
                      : g_state->bindings[b].refused ? abi::DevmgrState::Refused
                      : c.process                    ? abi::DevmgrState::Running
                      : c.gave_up                    ? abi::DevmgrState::GaveUp
                      : c.restart_at                 ? abi::DevmgrState::Restarting
                                                     : abi::DevmgrState::Unbound;
            const char* name = g_manifest.providers[g_state->bindings[b].provider].name;
            for (u32 k = 0; name[k] && k + 1 < sizeof f.provider; k++) f.provider[k] = name[k];
            if (c.process) break;  // prefer the binding that is running
        }
        abi::put_body(reply, f);
    }
    (void)rt::endpoint_reply(reply);
}

// The instance-th function entry k serves (PCI order, refused ones
// skipped); kMaxBindings past the last. *count = how many there are.
u32 find_instance(u32 k, u32 instance, u32* count) {
    u32 found = kMaxBindings, seen = 0;
    for (u32 b = 0; b < g_state->binding_count; b++) {
        if (g_state->bindings[b].provider != k || g_state->bindings[b].refused || !g_instances[b]) continue;
        if (seen++ == instance) found = b;
    }
    *count = seen;
    return found;
}

// Every Open gets its own badge (State::next_badge): the provider binds a
// consumer's channels to the badge it attached with, so one consumer
// cannot ping or detach another's. Its high half is the consumer's
// identity, from the badge of the directory capability init granted it
// (lib/protocol/service.h).

// A consumer opens an instance of entry k's service (lib/protocol/service.h).
void serve_directory(void*, u32 k) {
    abi::Message m{};
    if (!rt::receive_call(g_directories[k], m)) return;
    for (u32 i = 0; i < m.handle_count; i++) (void)rt::close(m.handles[i]);  // none expected
    auto request = abi::body_of<abi::ServiceOpenRequest>(m);
    abi::Message reply{};
    abi::ServiceOpenReply answer{};
    if (request.op != abi::ServiceOp::Open || m.length < sizeof request) {
        answer.status = Status::InvalidArgument;
    } else if (u32 b = find_instance(k, request.instance, &answer.count); b == kMaxBindings) {
        answer.status = Status::NotFound;
    } else if (auto call = rt::endpoint_mint(
                   g_instances[b].get(),
                   (m.badge & 0xffff'ffffull) << abi::kServiceConsumerShift | (++g_state->next_badge & 0xffff'ffffull),
                   cap_rights::kCall | cap_rights::kTransfer);
               !call.ok()) {
        answer.status = call.status();
    } else {
        const char* entry = g_manifest.providers[k].name;
        format(answer.name, sizeof answer.name, request.instance ? "%s.%u" : "%s", entry, request.instance);
        reply.handle_count = 1;
        reply.handles[0] = call.value().release();
    }
    abi::put_body(reply, answer);
    (void)rt::endpoint_reply(reply);
}

// A binding's provider will not run again (restart limit reached, a
// restart that failed, revoked, or it exited cleanly): its instance
// endpoint outlives it, so callers would wait there for a successor that
// never comes. devmgr answers them itself from now on.
void binding_ended(u32 b) {
    g_state->bindings[b].ended = true;
    if (!g_instances[b]) return;
    const abi::DeviceInfo& d = g_devices[g_state->bindings[b].device];
    rt::log("devmgr: %s on %02x:%02x.%x has ended; its consumers are answered torn-down",
            g_manifest.providers[g_state->bindings[b].provider].name, d.bus, d.device, d.function);
    g_waited[kEndedBase + b] = g_instances[b].get();
}

// A call to the instance endpoint of an ended binding: whatever it asks
// (Info, Attach, Ping, ...), the answer is TornDown — every reply of the
// service protocols starts with its Status (lib/protocol/message.h).
void answer_ended(u32 b) {
    abi::Message m{};
    if (!rt::receive_call(g_instances[b].get(), m)) return;
    for (u32 i = 0; i < m.handle_count; i++) (void)rt::close(m.handles[i]);  // an Attach's notification
    abi::Message reply{};
    abi::put_body(reply, Status::TornDown);
    (void)rt::endpoint_reply(reply);
}

void serve_waited(void* ctx, u32 i) {
    if (i < kEndedBase)
        serve_directory(ctx, i);
    else
        answer_ended(i - kEndedBase);
}

// The state a successor will find: a MemoryObject kept in the escrow (or
// devmgr's own memory without one).
void open_state() {
    if (g_escrow.available() && g_state == &g_local_state) {
        auto mem = rt::memory_create((sizeof(State) + kPage - 1) & ~(kPage - 1));
        rt::Handle h = mem.ok() ? static_cast<rt::Handle&&>(mem.value()) : rt::Handle();
        if (h && g_escrow.keep(kStateKey, &h, 1).ok()) {
            if (auto at = rt::memory_map(h.get(), 0, abi::kMapWrite); at.ok()) {
                g_state = reinterpret_cast<State*>(at.value());
                (void)h.release();  // mapped for good
            }
        }
        if (g_state == &g_local_state)
            rt::log("devmgr: cannot keep its state in the escrow (%s); a restart of devmgr would orphan its providers",
                    status_name(mem.ok() ? Status::NoMemory : mem.status()));
    }
    g_state->magic = State::kMagic;
    g_state->version = State::kVersion;
    g_state->incarnation = 1;
    g_state->device_count = g_device_count;
    g_state->provider_count = g_manifest.provider_count;
}

void save_child(u32 b) {
    const rt::Supervised& c = g_children[b];
    Binding& bd = g_state->bindings[b];
    bd.pid = c.process ? c.pid : 0;
    bd.restarts = c.restarts;
    bd.gave_up = c.gave_up;
    bd.restart_at = c.restart_at;
    bd.retrying = c.retrying;
}

const char* binding_name(u32 b) { return g_manifest.providers[g_state->bindings[b].provider].name; }

// Does the escrowed state describe this system (the same manifest, the
// same functions)? It always should: both are fixed at boot.
bool state_matches(const State& st) {
    if (st.magic != State::kMagic || st.version != State::kVersion || st.device_count != g_device_count ||
        st.provider_count != g_manifest.provider_count || st.binding_count > kMaxBindings)
        return false;
    for (u32 b = 0; b < st.binding_count; b++) {
        const Binding& bd = st.bindings[b];
        if (bd.provider >= g_manifest.provider_count || bd.device >= g_device_count ||
            bd.bdf != bdf_of(g_devices[bd.device]))
            return false;
    }
    return true;
}

// Takes over binding b from the predecessor: copies of its roots, its
// provider (running, dead, or waiting for a restart) and its counts.
void adopt_binding(u32 b) {
    Binding& bd = g_state->bindings[b];
    rt::Supervised& c = g_children[b];
    rt::Handle h[3];
    if (g_escrow.copy(anchor_key(b), h, 1).value_or(0) == 1) g_anchors[b] = static_cast<rt::Handle&&>(h[0]);
    if (g_escrow.copy(instance_key(b), h, 1).value_or(0) == 1) g_instances[b] = static_cast<rt::Handle&&>(h[0]);
    if (bd.refused) return;
    c.restarts = bd.restarts;
    c.gave_up = bd.gave_up;
    c.restart_at = bd.restart_at;
    c.retrying = bd.retrying;
    u32 n = g_escrow.copy(provider_key(b), h, 3).value_or(0);
    if (n >= 2) {
        g_registers[b] = static_cast<rt::Handle&&>(h[kRegistersIndex]);
        c.process = static_cast<rt::Handle&&>(h[kProcessIndex]);
        if (n == 3) g_dma[b] = static_cast<rt::Handle&&>(h[kDmaIndex]);
        auto info = rt::process_info(c.process.get());
        c.pid = info.ok() ? info.value().pid : 0;
    }
    const abi::DeviceInfo& d = g_devices[bd.device];
    // Started by the predecessor, which died before its roots reached the
    // escrow: nobody could revoke its grants, so it is stopped (its DMA
    // grant ends with it) and the function bound again.
    if (bd.pid && bd.pid != c.pid) {
        auto killed = rt::process_kill_pid(g_resource, bd.pid);
        rt::log("devmgr: %s on %02x:%02x.%x: pid %u, started by the previous devmgr, never reached the escrow; %s",
                binding_name(b), d.bus, d.device, d.function, bd.pid,
                killed.ok() ? "stopped it" : "it has ended already");
    }
    // Whatever the pid says: no escrowed provider, yet the function's DMA
    // grant is live — a provider nobody can revoke through its own roots
    // (its spawn was not even recorded, or the kill failed). The anchor is
    // the root of everything any devmgr handed out for this binding:
    // revoking it through the escrow takes those grants back before the
    // function is bound again (a grant dies with its binding).
    if (!c.process && dma_grant_active(bd.device)) {
        auto n = g_escrow.revoke(anchor_key(b), 0, g_anchors[b].get());
        g_anchors[b].reset();  // revoked with the rest (a child of the root)
        rt::Handle again;
        if (g_escrow.copy(anchor_key(b), &again, 1).value_or(0) == 1) g_anchors[b] = static_cast<rt::Handle&&>(again);
        rt::log("devmgr: %s on %02x:%02x.%x: a DMA grant with no provider of record; revoked %llu capabilities (%s)",
                binding_name(b), d.bus, d.device, d.function, static_cast<unsigned long long>(n.value_or(0)),
                status_name(n.ok() ? Status::Ok : n.status()));
    }
    bd.pid = c.process ? c.pid : 0;
    bool ended = bd.ended || bd.revoked || c.gave_up;
    // Neither running nor due to restart (the predecessor died between
    // the two): restarted now.
    if (!c.process && !c.restart_at && !ended) c.restart_at = rt::clock_ns();
    if (bd.ended && g_instances[b]) g_waited[kEndedBase + b] = g_instances[b].get();
    rt::log("devmgr: adopted %s on %02x:%02x.%x: %s pid %u, %u restarts", binding_name(b), d.bus, d.device, d.function,
            c.process ? "provider"
            : ended   ? "ended, was"
                      : "restarting, was",
            c.process ? c.pid : 0, c.restarts);
}

// A restart of devmgr: the escrow holds the predecessor's state; adopt
// everything it bound. False: nothing to adopt (the first start, or no
// escrow) — or a state that does not describe this system, whose
// providers are stopped and their grants revoked before starting afresh.
bool adopt() {
    rt::Handle mem;
    if (!g_escrow.available() || g_escrow.copy(kStateKey, &mem, 1).value_or(0) != 1) return false;
    auto at = rt::memory_map(mem.get(), 0, abi::kMapWrite);
    if (!at.ok()) {
        rt::log("devmgr: cannot map the escrowed state: %s; starting afresh", status_name(at.status()));
        return false;
    }
    (void)mem.release();  // mapped for good
    State* st = reinterpret_cast<State*>(at.value());
    g_state = st;
    if (!state_matches(*st)) {
        rt::log(
            "devmgr: the escrowed state does not describe this system; stopping what it names and starting "
            "afresh");
        u32 count = st->binding_count <= kMaxBindings ? st->binding_count : kMaxBindings;
        for (u32 b = 0; b < count; b++) {
            rt::Handle h[3];
            if (g_escrow.copy(provider_key(b), h, 3).value_or(0) >= 2) (void)rt::process_kill(h[kProcessIndex].get());
            (void)g_escrow.revoke(anchor_key(b), 0, 0);
            for (u32 k = anchor_key(b); k <= provider_key(b); k++) (void)g_escrow.drop(k);
        }
        for (u8* p = reinterpret_cast<u8*>(st); p < reinterpret_cast<u8*>(st + 1); p++) *p = 0;
        return false;
    }
    st->incarnation++;
    rt::log("devmgr: restarted (start %u of this boot): adopting %u bindings", st->incarnation, st->binding_count);
    for (u32 b = 0; b < st->binding_count; b++) adopt_binding(b);
    return true;
}

// The first start: every entry bound to the functions it matches.
void bind_all() {
    for (u32 i = 0; i < g_manifest.provider_count; i++) {
        const manifest::Provider& p = g_manifest.providers[i];
        u32 matched = 0;
        for (u32 k = 0; k < g_device_count; k++) {
            const abi::DeviceInfo& d = g_devices[k];
            if (!matches(p, d)) {
                if (virtio_class_refused(p, d))
                    rt::log(
                        "devmgr: %s on %02x:%02x.%x (%04x:%04x, virtio %s) not bound: the virtio broker serves "
                        "network and block devices only (this class's payloads can carry guest-physical "
                        "addresses)",
                        p.name, d.bus, d.device, d.function, d.vendor, d.device_id,
                        devices::virtio_class_name(d.vendor, d.device_id));
                continue;
            }
            matched++;
            if (g_state->binding_count == kMaxBindings) {
                rt::log("devmgr: %s on %02x:%02x.%x not bound: more than %u bindings", p.name, g_devices[k].bus,
                        g_devices[k].device, g_devices[k].function, kMaxBindings);
                break;
            }
            u32 b = g_state->binding_count++;
            g_state->bindings[b] = Binding{};
            g_state->bindings[b].provider = i;
            g_state->bindings[b].device = k;
            g_state->bindings[b].bdf = bdf_of(g_devices[k]);
            if (g_directories[i]) {
                auto ep = rt::endpoint_create();
                if (ep.ok()) {
                    g_instances[b] = static_cast<rt::Handle&&>(ep.value());
                    keep(instance_key(b), &g_instances[b], 1, p.name);
                } else
                    rt::log("devmgr: %s on %02x:%02x.%x: no service endpoint: %s; it serves no one", p.name,
                            g_devices[k].bus, g_devices[k].device, g_devices[k].function, status_name(ep.status()));
            }
            if (!bind(p, g_devices[k], g_children[b])) g_state->bindings[b].refused = true;
            if (p.match == manifest::DeviceClass::AnyFunction) break;  // the first usable function only
        }
        if (!matched) rt::log("devmgr: provider %s matches no PCI function", p.name);
    }
}

}  // namespace

int main(u64) {
    g_root = rt::startup_handle("devices");
    g_resource = rt::startup_handle("resource");
    g_log = rt::startup_handle("log");
    auto text = rt::map_boot_file(rt::startup_handle("manifest"));
    if (!g_root || !g_resource || !text.ok()) {
        rt::log("devmgr: needs the devices, resource and manifest capabilities");
        return 1;
    }
    // Exactly the text init parsed, so both refuse the same entries (init
    // reported the errors).
    (void)manifest::parse_manifest(text.value(), g_manifest, g_errors);
    auto n = rt::device_list(g_root, g_devices, 64);
    if (!n.ok()) {
        rt::log("devmgr: cannot list devices: %s", status_name(n.status()));
        return 1;
    }
    g_device_count = n.value();
    for (u32 k = 0; k < g_manifest.provider_count; k++) {
        char slot[16];
        format(slot, sizeof slot, "svc%u", k);
        g_directories[k] = rt::startup_handle(slot);
    }
    rt::log("devmgr: %u PCI functions, %u providers in the manifest", g_device_count, g_manifest.provider_count);
    for (u32 k = 0; k < g_manifest.provider_count; k++)
        if (g_manifest.providers[k].program.cap_count)
            rt::log(
                "devmgr: %s: its %u cap lines are not granted (the objects are init's; a provider gets its device "
                "grants and its service endpoint only)",
                g_manifest.providers[k].name, g_manifest.providers[k].program.cap_count);
    g_escrow = rt::Escrow(rt::startup_handle("escrow"));
    if (!adopt()) {
        open_state();
        bind_all();
    }
    rt::Supervisor::Client client{
        "devmgr",
        [](void*, u32 b) { return static_cast<const char*>(g_manifest.providers[g_state->bindings[b].provider].name); },
        [](void*, u32 b) {
            const manifest::RestartPolicy& r = g_manifest.providers[g_state->bindings[b].provider].program.restart;
            bool restart = r.mode == manifest::RestartMode::OnFailure && !g_state->bindings[b].revoked;
            return rt::RestartRule{restart, r.limit, r.backoff_ms};
        },
        [](void*, u32 b) {
            return bind(g_manifest.providers[g_state->bindings[b].provider], g_devices[g_state->bindings[b].device],
                        g_children[b]);
        },
        nullptr};
    client.service = rt::startup_handle("service");
    client.on_request = serve_request;
    for (u32 k = 0; k < manifest::kMaxProviders; k++) g_waited[k] = g_directories[k];
    client.directories = g_waited;
    client.directory_count = kEndedBase + g_state->binding_count;
    client.on_directory_request = serve_waited;
    client.on_ended = [](void*, u32 b) { binding_ended(b); };
    client.ready_source = g_root;
    client.on_ready = drain_events;
    client.on_exit = [](void*, u32 b) {
        g_state->bindings[b].pid = 0;  // first: a successor must not take it for a live one
        take_back_grants(b);
    };
    client.on_changed = [](void*, u32 b) { save_child(b); };
    rt::Supervisor(g_children, g_state->binding_count, client).run();
    return 0;
}
