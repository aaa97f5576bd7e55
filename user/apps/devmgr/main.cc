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
// (lib/abi/devmgr.h): every function with its provider, backend, windows,
// state and restart count.
//
// Teardown is the kernel's: when a provider dies its DmaPool's last
// capability goes, and the kernel stops the device before any of its DMA
// memory is freed (kernel/dma/session.h).
#include "abi/devmgr.h"
#include "manifest/manifest.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/spawn.h"
#include "rt/supervisor.h"
#include "rt/sys.h"
#include "util/format.h"

namespace {

manifest::Manifest g_manifest;
// The binding that serves each provider entry's device service.
constexpr u32 kNoOwner = ~0u;
u32 g_service_owner[manifest::kMaxProviders];
manifest::ManifestErrors g_errors;
abi::DeviceInfo g_devices[64];
u32 g_device_count;
u32 g_root, g_resource, g_log;

// One binding per (provider entry, PCI function); supervised as a child.
constexpr u32 kMaxBindings = 64;
struct Binding {
    u32 provider;
    u32 device;
    abi::DevmgrBackend backend;
    u16 windows;
    bool refused;  // backend or a window refused: never started
    bool revoked;  // its grants were taken back: not bound again
};
Binding g_bindings[kMaxBindings];
// devmgr's own PciFunction capability per binding: every grant (windows,
// pool, vectors) is minted from it, so revoking it takes them all back.
rt::Handle g_functions[kMaxBindings];
rt::Supervised g_children[kMaxBindings];
u32 g_binding_count;

constexpr u32 kMaxVectorGrants = 8;

// The remapped lane (VT-d domains) does not exist yet: until it does, a
// device on it could not be driven safely, so `iommu` cannot be granted.
constexpr bool kRemappedLaneAvailable = false;

bool is_virtio(const abi::DeviceInfo& d) { return d.vendor == 0x1af4 && d.device_id >= 0x1000 && d.device_id <= 0x107f; }
bool is_nvme(const abi::DeviceInfo& d) { return d.class_code == 0x01 && d.subclass == 0x08 && d.prog_if == 0x02; }

bool class_matches(manifest::DeviceClass c, const abi::DeviceInfo& d) {
    switch (c) {
        case manifest::DeviceClass::NvmeController: return is_nvme(d);
        case manifest::DeviceClass::VirtioNet: return d.vendor == 0x1af4 && (d.device_id == 0x1000 || d.device_id == 0x1041);
        case manifest::DeviceClass::VirtioBlk: return d.vendor == 0x1af4 && (d.device_id == 0x1001 || d.device_id == 0x1042);
        case manifest::DeviceClass::DmaCapable: return is_nvme(d) || is_virtio(d);
        case manifest::DeviceClass::AnyFunction:
            for (const auto& b : d.bars)
                if (b.kind == 2 || b.kind == 3) return true;  // a memory BAR
            return false;
    }
    return false;
}

bool matches(const manifest::Provider& p, const abi::DeviceInfo& d) {
    if (!class_matches(p.match, d)) return false;
    if (p.has_pci && (p.pci.bus != d.bus || p.pci.device != d.device || p.pci.function != d.function)) return false;
    if (p.has_vendor && p.vendor != d.vendor) return false;
    if (p.has_device && p.device != d.device_id) return false;
    return true;
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
        if (!kRemappedLaneAvailable)
            return "backend iommu demanded; a remapping unit covers the device but the remapped lane is not "
                   "implemented yet";
        *chosen = "iommu";
        return nullptr;
    }
    // auto: iommu when covered (and available), else the brokered lane.
    *chosen = covered && kRemappedLaneAvailable ? "iommu" : "bounce";
    return nullptr;
}

// Starts the provider for one function; on success fills `child`.
bool bind(const manifest::Provider& p, const abi::DeviceInfo& d, rt::Supervised& child_slot) {
    const char* backend = nullptr;
    if (const char* refusal = select_backend(p, d, &backend)) {
        rt::log("devmgr: %s on %02x:%02x.%x not bound: %s", p.name, d.bus, d.device, d.function, refusal);
        return false;
    }
    u32 b = static_cast<u32>(&child_slot - g_children);
    g_bindings[b].backend = backend[0] == 'i' ? abi::DevmgrBackend::Iommu : abi::DevmgrBackend::Bounce;
    g_bindings[b].windows = static_cast<u16>(p.bar_count);
    auto fn = rt::device_open(g_root, abi::pci_bdf(d.bus, d.device, d.function));
    if (!fn.ok()) {
        rt::log("devmgr: %s on %02x:%02x.%x not bound: open: %s", p.name, d.bus, d.device, d.function,
                status_name(fn.status()));
        return false;
    }
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
    // The device service its consumers call (init made it from the
    // manifest's `serve` lines): one endpoint per provider entry, so only
    // the first function the entry binds serves it (pin others with pci=).
    u32 k = static_cast<u32>(&p - g_manifest.providers);
    char svc_slot[16];
    format(svc_slot, sizeof svc_slot, "svc%u", k);
    if (u32 svc = rt::startup_handle(svc_slot)) {
        if (g_service_owner[k] == kNoOwner) g_service_owner[k] = b;
        if (g_service_owner[k] == b)
            grants[n++] = rt::Grant{"service", svc, true, cap_rights::kServe | cap_rights::kWait};
        else
            rt::log("devmgr: %s on %02x:%02x.%x: its service is served by the entry's first function; this one "
                    "serves no one",
                    p.name, d.bus, d.device, d.function);
    }
    for (u32 i = 0; i < p.bar_count; i++) {
        const manifest::BarWindow& w = p.bars[i];
        u64 length = w.length ? w.length : d.bars[w.bar].size - w.offset;
        u64 flags = w.mode == manifest::BarMode::Filtered ? abi::kMmioFiltered : 0;
        auto win = rt::mmio_create(fn.value().get(), w.bar, w.offset, length, flags);
        if (!win.ok()) {
            rt::log("devmgr: %s on %02x:%02x.%x not bound: window bar%u+0x%llx len 0x%llx %s refused: %s (manifest "
                    "line %u)",
                    p.name, d.bus, d.device, d.function, w.bar, static_cast<unsigned long long>(w.offset),
                    static_cast<unsigned long long>(length), manifest::bar_mode_name(w.mode),
                    status_name(win.status()), w.pos.line);
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
        rt::log("devmgr: %s on %02x:%02x.%x: vectors without a dma_pool will never fire (an MSI is a memory write: "
                "it needs the bus mastering only a DMA grant turns on)",
                p.name, d.bus, d.device, d.function);
    for (u32 i = 0; i < p.vectors; i++) {
        auto irq = rt::interrupt_create(fn.value().get(), i);
        if (!irq.ok()) {
            rt::log("devmgr: %s on %02x:%02x.%x not bound: vector %u: %s", p.name, d.bus, d.device, d.function, i,
                    status_name(irq.status()));
            return false;
        }
        char name[16];
        format(name, sizeof name, "irq%u", i);
        give(name, static_cast<rt::Handle&&>(irq.value()));
    }
    // The DMA grant: bus mastering goes on when the pool exists, and off
    // (with the class reset) when the provider's last pool capability goes.
    if (p.dma_pool) {
        auto pool = rt::dma_pool_create(fn.value().get(), p.dma_pool);
        if (!pool.ok()) {
            rt::log("devmgr: %s on %02x:%02x.%x not bound: DMA pool of %llu KiB: %s", p.name, d.bus, d.device,
                    d.function, static_cast<unsigned long long>(p.dma_pool >> 10), status_name(pool.status()));
            return false;
        }
        give("dma", static_cast<rt::Handle&&>(pool.value()));
    }
    auto child = rt::spawn(g_resource, p.program.module, grants, n, p.program.priority, p.program.args);
    if (!child.ok()) {
        rt::log("devmgr: %s on %02x:%02x.%x not bound: cannot start %s: %s", p.name, d.bus, d.device, d.function,
                p.program.module, status_name(child.status()));
        return false;
    }
    for (u32 i = 0; i < nmoved; i++) (void)moved[i].release();  // moved into the provider
    auto info = rt::process_info(child.value().get());
    char extra[64] = "";
    if (p.vectors || p.dma_pool)
        format(extra, sizeof extra, ", %u vectors, pool %llu KiB", p.vectors,
               static_cast<unsigned long long>(p.dma_pool >> 10));
    rt::log("devmgr: bound %s to %02x:%02x.%x (%04x:%04x %s) backend %s, %u windows%s, pid %u", p.name, d.bus,
            d.device, d.function, d.vendor, d.device_id, manifest::device_class_name(p.match), backend, p.bar_count,
            extra, info.ok() ? info.value().pid : 0);
    g_functions[b] = static_cast<rt::Handle&&>(fn.value());
    child_slot.pid = info.ok() ? info.value().pid : 0;
    child_slot.process = static_cast<rt::Handle&&>(child.value());
    return true;
}

// Takes back every grant of the bindings on device `index`: windows, pool
// and vectors were all minted from devmgr's PciFunction capability, so one
// revoke reaches them wherever they are; the kernel then tears the DMA
// grant down (DESIGN §5). The provider keeps running without authority;
// the binding is not restarted.
void revoke_function(u32 index) {
    for (u32 b = 0; b < g_binding_count; b++) {
        if (g_bindings[b].device != index || !g_functions[b]) continue;
        const abi::DeviceInfo& d = g_devices[index];
        auto n = rt::revoke(g_functions[b].get());
        g_bindings[b].revoked = true;
        rt::log("devmgr: revoked the grants of %s on %02x:%02x.%x: %s%llu capabilities; pid %u keeps running without "
                "them and will not be bound again",
                g_manifest.providers[g_bindings[b].provider].name, d.bus, d.device, d.function,
                n.ok() ? "" : status_name(n.status()), static_cast<unsigned long long>(n.value_or(0)),
                g_children[b].pid);
    }
}

// lsdev: one function per request (index in data[0..4]).
void serve_request(void*) {
    u32 service = rt::startup_handle("service");
    abi::Message m{};
    if (!rt::endpoint_receive(service, m, 0).ok()) return;
    u32 index = 0, op = 0;
    __builtin_memcpy(&index, m.data, sizeof index);
    if (m.length >= 8) __builtin_memcpy(&op, m.data + 4, sizeof op);
    if (op == static_cast<u32>(abi::DevmgrOp::Revoke) && index < g_device_count) revoke_function(index);
    abi::Message reply{};
    if (m.length >= sizeof index && index < g_device_count) {
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
        for (u32 b = 0; b < g_binding_count; b++) {
            if (g_bindings[b].device != index) continue;
            const rt::Supervised& c = g_children[b];
            f.backend = g_bindings[b].backend;
            f.windows = g_bindings[b].windows;
            f.vectors = static_cast<u16>(g_manifest.providers[g_bindings[b].provider].vectors);
            f.pool_bytes = g_manifest.providers[g_bindings[b].provider].dma_pool;
            f.restarts = c.restarts;
            f.pid = c.process ? c.pid : 0;
            f.state = g_bindings[b].revoked ? abi::DevmgrState::Revoked
                      : g_bindings[b].refused ? abi::DevmgrState::Refused
                      : c.process           ? abi::DevmgrState::Running
                      : c.gave_up           ? abi::DevmgrState::GaveUp
                      : c.restart_at        ? abi::DevmgrState::Restarting
                                            : abi::DevmgrState::Unbound;
            const char* name = g_manifest.providers[g_bindings[b].provider].name;
            for (u32 k = 0; name[k] && k + 1 < sizeof f.provider; k++) f.provider[k] = name[k];
            if (c.process) break;  // prefer the binding that is running
        }
        __builtin_memcpy(reply.data, &f, sizeof f);
        reply.length = sizeof f;
    }
    (void)rt::endpoint_reply(reply);
}

}  // namespace

int main(u64) {
    for (u32& owner : g_service_owner) owner = kNoOwner;
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
    rt::log("devmgr: %u PCI functions, %u providers in the manifest", g_device_count, g_manifest.provider_count);
    for (u32 i = 0; i < g_manifest.provider_count; i++) {
        const manifest::Provider& p = g_manifest.providers[i];
        u32 matched = 0;
        for (u32 k = 0; k < g_device_count; k++) {
            if (!matches(p, g_devices[k])) continue;
            matched++;
            if (g_binding_count == kMaxBindings) {
                rt::log("devmgr: %s on %02x:%02x.%x not bound: more than %u bindings", p.name, g_devices[k].bus,
                        g_devices[k].device, g_devices[k].function, kMaxBindings);
                break;
            }
            u32 b = g_binding_count++;
            g_bindings[b] = Binding{i, k, abi::DevmgrBackend::None, 0, false, false};
            if (!bind(p, g_devices[k], g_children[b])) g_bindings[b].refused = true;
            if (p.match == manifest::DeviceClass::AnyFunction) break;  // the first usable function only
        }
        if (!matched) rt::log("devmgr: provider %s matches no PCI function", p.name);
    }
    rt::Supervisor::Client client{
        "devmgr",
        [](void*, u32 b) { return static_cast<const char*>(g_manifest.providers[g_bindings[b].provider].name); },
        [](void*, u32 b) {
            const manifest::RestartPolicy& r = g_manifest.providers[g_bindings[b].provider].program.restart;
            bool restart = r.mode == manifest::RestartMode::OnFailure && !g_bindings[b].revoked;
            return rt::RestartRule{restart, r.limit, r.backoff_ms};
        },
        [](void*, u32 b) {
            return bind(g_manifest.providers[g_bindings[b].provider], g_devices[g_bindings[b].device], g_children[b]);
        },
        nullptr};
    client.service = rt::startup_handle("service");
    client.on_request = serve_request;
    rt::Supervisor(g_children, g_binding_count, client).run();
    return 0;
}
