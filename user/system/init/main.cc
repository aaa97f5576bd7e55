// init: the first process. Reads the boot manifest (docs/manifest.md),
// creates the kernel objects it lists, starts every process with exactly
// the capabilities its entry grants (plus a copy of the log), and then
// supervises them: each death is reported with its reason, and processes
// with `restart = on-failure` are restarted after their backoff until
// their limit. A malformed entry is reported with line and column and
// refused; the rest boots. init exits when nothing is left to supervise.
//
// Device services (`serve = PROCESS` in a [provider]): init makes one
// endpoint per provider that serves anyone — the entry's service directory
// (lib/protocol/service.h). Each consumer named gets it with `call` under
// "svc.<provider>"; the device manager — the process granted the
// `[devices]` root — gets it with `serve` under "svcN" (N the provider's
// index in the manifest) and answers it with the endpoints of the
// functions it binds. Authority still flows only from the manifest: nobody
// looks a service up.
//
// Process services (`serve = PROCESS [ports=..] [sockets=N]` in a
// [process]; lib/protocol/service.h "A plain process's service"): init
// makes one endpoint per process that serves anyone and keeps it for the
// life of the system. The server gets it with serve|wait under "service"
// and its client table (who may call, with what policy) read-only under
// "clients"; each consumer a call-only copy badged with its identity
// (manifest index + 1) under "svc.<server>". All of it is made once and
// granted again, unchanged, at every restart of either side.
//
// Handle escrow (`escrow = N` on a [process]; lib/protocol/escrow.h): init
// keeps up to N handles for that process across its restarts, under keys
// of its choosing, and hands copies back to its successor. The device
// manager keeps the roots of its providers' authority there, so a devmgr
// restart adopts the running providers instead of orphaning them.
#include "escrow/escrow_table.h"
#include "manifest/manifest.h"
#include "protocol/escrow.h"
#include "protocol/message.h"
#include "protocol/service.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/service.h"
#include "rt/spawn.h"
#include "rt/supervisor.h"
#include "rt/sys.h"
#include "util/format.h"
#include "util/page.h"

namespace {

static_assert(manifest::kDefaultKernelMemory == abi::kDefaultKernelMemory,
              "the manifest's default kernel_memory is the kernel's default for a spawn");

manifest::Manifest g_manifest;
manifest::ManifestErrors g_errors;
u32 g_log, g_resource, g_console, g_devices;

rt::Supervised g_running[manifest::kMaxProcesses];
bool g_started[manifest::kMaxProcesses];
rt::Handle g_objects[manifest::kMaxObjects];
u32 g_object_handles[manifest::kMaxObjects];     // raw handles (own or from the kernel)
rt::Handle g_services[manifest::kMaxProviders];  // a provider's service endpoint (when it serves anyone)
// Consumer i's badged copy of provider k's directory, made at its first
// start and granted (by copy) at every start.
rt::Handle g_consumer_caps[manifest::kMaxProcesses][manifest::kMaxProviders];

// A process's own service endpoint and client table (when it serves
// anyone), and consumer i's badged copy of server j's endpoint.
rt::Handle g_process_services[manifest::kMaxProcesses];
rt::Handle g_client_tables[manifest::kMaxProcesses];
rt::Handle g_process_consumer_caps[manifest::kMaxProcesses][manifest::kMaxProcesses];
static_assert(manifest::kMaxServed == abi::kServeMaxClients && manifest::kMaxServePorts == abi::kServeMaxPorts,
              "the client table holds every serve line of a process");
static_assert(manifest::kNameSize <= abi::kServiceNameBytes);

// The escrow service (when any process has `escrow = N`) and each such
// process's badged call capability to it (badge: manifest index + 1).
rt::Handle g_escrow;
rt::Handle g_escrow_caps[manifest::kMaxProcesses];
escrow::Table g_escrow_table{[](u32 h) { (void)rt::close(h); }};
static_assert(manifest::kMaxEscrowHandles == abi::kMaxEscrowQuota, "escrow = N is bounded by the protocol's quota");

// The log may be passed on (a process that starts others gives them a copy).
constexpr u32 cap_rights_write() { return cap_rights::kWrite | cap_rights::kDuplicate | cap_rights::kTransfer; }
constexpr u32 cap_rights_supervise() { return cap_rights::kWait | cap_rights::kInspect | cap_rights::kManage; }

void copy_name(char* dst, const char* src, u32 size = abi::kHandleNameBytes) {
    u32 k = 0;
    for (; src[k] && k + 1 < size; k++) dst[k] = src[k];
    dst[k] = '\0';
}

bool load_manifest() {
    auto text = rt::map_boot_file(rt::startup_handle("manifest"));
    if (!text.ok()) {
        rt::log("init: no boot manifest (%s); nothing to start", status_name(text.status()));
        return false;
    }
    auto r = manifest::parse_manifest(text.value(), g_manifest, g_errors);
    for (u32 i = 0; i < g_errors.count; i++) {
        char line[200];
        manifest::format_error(g_errors.items[i], line, sizeof line);
        rt::log("init: manifest:%s", line);
    }
    if (g_errors.total > g_errors.count) rt::log("init: manifest: %u more errors", g_errors.total - g_errors.count);
    rt::log("init: manifest: %u objects, %u processes accepted%s", g_manifest.object_count, g_manifest.process_count,
            r.ok() ? "" : " (entries with errors refused)");
    return true;
}

bool create_objects() {
    for (u32 i = 0; i < g_manifest.object_count; i++) {
        const manifest::Object& o = g_manifest.objects[i];
        if (o.kind == manifest::ObjectKind::Console || o.kind == manifest::ObjectKind::Resource ||
            o.kind == manifest::ObjectKind::Devices || o.kind == manifest::ObjectKind::BootManifest) {
            g_object_handles[i] = o.kind == manifest::ObjectKind::Console    ? g_console
                                  : o.kind == manifest::ObjectKind::Resource ? g_resource
                                  : o.kind == manifest::ObjectKind::Devices  ? g_devices
                                                                             : rt::startup_handle("manifest");
            continue;
        }
        Result<rt::Handle> h = o.kind == manifest::ObjectKind::Endpoint       ? rt::endpoint_create()
                               : o.kind == manifest::ObjectKind::Notification ? rt::notification_create()
                                                                              : rt::memory_create(o.size);
        if (!h.ok()) {
            rt::log("init: cannot create %s '%s': %s", manifest::object_kind_name(o.kind), o.name,
                    status_name(h.status()));
            return false;
        }
        g_object_handles[i] = h.value().get();
        g_objects[i] = static_cast<rt::Handle&&>(h.value());
    }
    return true;
}

bool create_services() {
    for (u32 i = 0; i < g_manifest.provider_count; i++) {
        const manifest::Provider& p = g_manifest.providers[i];
        if (!p.served_count) continue;
        auto ep = rt::endpoint_create();
        if (!ep.ok()) {
            rt::log("init: cannot create the service endpoint of provider '%s': %s", p.name, status_name(ep.status()));
            return false;
        }
        g_services[i] = static_cast<rt::Handle&&>(ep.value());
    }
    return true;
}

// For each process that serves anyone: its endpoint, and its client table
// written once into a memory object init keeps (the server maps a
// read-only copy).
bool create_process_services() {
    for (u32 i = 0; i < g_manifest.process_count; i++) {
        const manifest::Process& p = g_manifest.processes[i];
        if (!p.served_count) continue;
        auto ep = rt::endpoint_create();
        auto table = rt::memory_create((sizeof(abi::ServeClientTable) + kPage - 1) / kPage * kPage);
        if (!ep.ok() || !table.ok()) {
            rt::log("init: cannot create the service of process '%s': %s", p.name,
                    status_name(ep.ok() ? table.status() : ep.status()));
            return false;
        }
        auto at = rt::memory_map(table.value().get(), 0, abi::kMapWrite);
        if (!at.ok()) {
            rt::log("init: cannot map the client table of '%s': %s", p.name, status_name(at.status()));
            return false;
        }
        auto* t = reinterpret_cast<abi::ServeClientTable*>(at.value());
        t->magic = abi::kServeTableMagic;
        t->count = p.served_count;
        for (u32 c = 0; c < p.served_count; c++) {
            const manifest::ServeGrant& g = p.served[c];
            abi::ServeClient& e = t->clients[c];
            e.badge = g.consumer_index + 1;
            copy_name(e.name, g_manifest.processes[g.consumer_index].name, sizeof e.name);
            for (u32 k = 0; k < g.port_count; k++) e.ports[k] = g.ports[k];
            e.port_count = g.port_count;
            e.sockets = g.sockets;
        }
        (void)rt::memory_unmap(table.value().get(), at.value());
        g_process_services[i] = static_cast<rt::Handle&&>(ep.value());
        g_client_tables[i] = static_cast<rt::Handle&&>(table.value());
    }
    return true;
}

bool create_escrow() {
    u32 promised = 0;
    for (u32 i = 0; i < g_manifest.process_count; i++) {
        u32 quota = g_manifest.processes[i].escrow;
        if (!quota) continue;
        // The quotas together fit the table (init's capability space is
        // finite), so no holder can take what another was promised.
        if (promised + quota > escrow::Table::kMaxHandles) {
            rt::log(
                "init: %s: escrow = %u refused: the manifest's escrow quotas add up to more than %u handles; it "
                "gets no escrow",
                g_manifest.processes[i].name, quota, escrow::Table::kMaxHandles);
            continue;
        }
        promised += quota;
        if (!g_escrow) {
            auto ep = rt::endpoint_create();
            if (!ep.ok()) {
                rt::log("init: cannot create the escrow endpoint: %s", status_name(ep.status()));
                return false;
            }
            g_escrow = static_cast<rt::Handle&&>(ep.value());
        }
        auto badged = rt::endpoint_mint(g_escrow.get(), i + 1,
                                        cap_rights::kCall | cap_rights::kDuplicate | cap_rights::kTransfer);
        if (!badged.ok()) {
            rt::log("init: cannot badge the escrow capability of %s: %s", g_manifest.processes[i].name,
                    status_name(badged.status()));
            return false;
        }
        g_escrow_caps[i] = static_cast<rt::Handle&&>(badged.value());
    }
    return true;
}

// The reply carries copies of an entry's handles: the kernel makes each a
// child of init's as it transfers it (copy_mask), so a revoke of init's
// reaches them and whatever was derived from them. No handle is made in
// init for it: a reply the caller cannot take (its table full) leaves
// nothing behind here.
void reply_copies(const escrow::Entry& e, abi::Message& reply, abi::EscrowReply& answer) {
    for (u32 i = 0; i < e.count; i++) reply.handles[i] = e.handles[i];
    reply.handle_count = e.count;
    reply.copy_mask = (1u << e.count) - 1;
    answer.count = e.count;
}

// Can init hand out copies of every received handle? (Moving it in took
// the transfer right already; a copy also needs duplicate.) Checked before
// anything is kept, so a Keep either works whole or changes nothing.
Status copyable(const u32* handles, u32 n) {
    for (u32 i = 0; i < n; i++) {
        auto probe = rt::duplicate(handles[i], cap::kSameRights);
        if (!probe.ok()) return probe.status();
    }
    return Status::Ok;
}

// One escrow request (lib/protocol/escrow.h). The caller is whoever the
// badge says (its manifest identity); entries are per identity.
void serve_escrow(void*) {
    abi::Message m{};
    if (!rt::receive_call(g_escrow.get(), m)) return;
    auto request = abi::body_of<abi::EscrowRequest>(m);
    u32 owner = static_cast<u32>(m.badge - 1);
    u32 handles[abi::kMessageHandles];
    u32 received = m.handle_count;  // <= kMessageHandles: the kernel refuses more
    for (u32 i = 0; i < received; i++) handles[i] = m.handles[i];
    auto close_received = [&] {
        for (u32 i = 0; i < received; i++)
            if (handles[i]) (void)rt::close(handles[i]);
    };
    abi::Message reply{};
    abi::EscrowReply answer{};
    Status st = Status::Ok;
    if (m.badge == 0 || owner >= g_manifest.process_count || !g_escrow_caps[owner]) {
        st = Status::Forbidden;  // only init's own unbadged copy could; it never calls
    } else if (m.length < sizeof request) {
        st = Status::Truncated;
    } else if (request.op == abi::EscrowOp::Keep) {
        u32 quota = g_manifest.processes[owner].escrow;
        st = copyable(handles, received);
        auto kept =
            st == Status::Ok ? g_escrow_table.keep(owner, quota, request.key, handles, received) : Result<void>(st);
        if (!kept.ok()) {
            // Refused: the handles go back as they came (moved), so a
            // caller over its quota loses nothing.
            st = kept.status();
            for (u32 i = 0; i < received; i++) reply.handles[i] = handles[i];
            reply.handle_count = received;
            answer.count = received;
            received = 0;
        } else {
            received = 0;  // the table's now
            reply_copies(*g_escrow_table.find(owner, request.key), reply, answer);
        }
    } else if (request.op == abi::EscrowOp::Copy) {
        const escrow::Entry* e = g_escrow_table.find(owner, request.key);
        if (e)
            reply_copies(*e, reply, answer);
        else
            st = Status::NotFound;
    } else if (request.op == abi::EscrowOp::Revoke) {
        const escrow::Entry* e = g_escrow_table.find(owner, request.key);
        if (!e) {
            st = Status::NotFound;  // nothing kept under the key: the caller revokes its own
        } else if (request.index >= e->count) {
            st = Status::OutOfBounds;  // a caller's bug, not "nothing kept"
        } else {
            auto n = rt::revoke(e->handles[request.index]);
            st = n.ok() ? Status::Ok : n.status();
            u64 count = n.value_or(0);
            answer.count = count > 0xffff'ffffull ? 0xffff'ffffu : static_cast<u32>(count);
        }
    } else if (request.op == abi::EscrowOp::Drop) {
        auto dropped = g_escrow_table.drop(owner, request.key);
        st = dropped.ok() ? Status::Ok : dropped.status();
    } else {
        st = Status::InvalidArgument;
    }
    close_received();  // anything sent with a request that does not keep it
    answer.status = st;
    if (st == Status::Ok) {
        answer.used = g_escrow_table.used(owner);
        answer.quota = g_manifest.processes[owner].escrow;
    }
    abi::put_body(reply, answer);
    // A refused Keep's handles that cannot go back (the caller's table
    // full) would stay here, uncounted: closed instead.
    if (!rt::endpoint_reply(reply).ok() && reply.copy_mask == 0)
        for (u32 i = 0; i < reply.handle_count; i++) (void)rt::close(reply.handles[i]);
}

// Does process `p` hold the device root (is it the device manager)?
bool holds_devices(const manifest::Process& p) {
    for (u32 c = 0; c < p.program.cap_count; c++)
        if (g_manifest.objects[p.program.caps[c].object_index].kind == manifest::ObjectKind::Devices) return true;
    return false;
}

// Starts process i with its grants. The handles given are fresh derived
// copies with the manifest's rights, moved into the child.
bool start(u32 i) {
    const manifest::Process& p = g_manifest.processes[i];
    abi::SpawnRequest req{};
    u32 n = 0;
    for (u32 k = 0; p.program.module[k] && k < sizeof req.module; k++)
        req.module_len = k + 1, req.module[k] = p.program.module[k];
    req.priority = p.program.priority;
    req.kernel_memory = p.program.kernel_memory;  // the kernel refuses more than init's own limit
    for (u32 k = 0; p.program.args[k] && k + 1 < abi::kArgsBytes; k++) req.args[k] = p.program.args[k];
    // Each grant is a derived copy of init's handle with exactly the
    // manifest's rights (made by the kernel as it hands it over).
    auto grant = [&](const char* name, u32 source, u32 rights) -> bool {
        if (n == abi::kStartupHandles) {
            rt::log("init: cannot grant '%s' to %s: more than %u handles", name, p.name, abi::kStartupHandles);
            return false;
        }
        copy_name(req.handles[n].name, name);
        req.handles[n].handle = source;
        req.handles[n].rights = rights;
        req.copy_mask |= 1u << n;
        n++;
        return true;
    };
    if (!grant("log", g_log, cap_rights_write())) return false;
    // A consumer's copy of a server's endpoint (a provider's directory or
    // a process's own endpoint) under "svc.<server>": badged with the
    // consumer's identity (its manifest index + 1, the same across its
    // restarts; devmgr carries it into a provider's instance badges), so
    // the server knows which consumer is which. Minted once, into `mine`,
    // with duplicate|transfer so init can pass on derived copies.
    auto grant_service = [&](const char* kind, const char* server, u32 endpoint, rt::Handle& mine) -> bool {
        if (format(nullptr, 0, "svc.%s", server) >= abi::kHandleNameBytes) {
            rt::log(
                "init: %s: %s name '%s' is too long for a service slot (at most %u characters); no service "
                "granted",
                p.name, kind, server, abi::kHandleNameBytes - 5);
            return true;
        }
        char slot[abi::kHandleNameBytes];
        format(slot, sizeof slot, "svc.%s", server);
        if (!mine) {
            auto badged =
                rt::endpoint_mint(endpoint, i + 1, cap_rights::kCall | cap_rights::kDuplicate | cap_rights::kTransfer);
            if (!badged.ok()) {
                rt::log("init: %s: cannot badge its copy of svc.%s: %s", p.name, server, status_name(badged.status()));
                return false;
            }
            mine = static_cast<rt::Handle&&>(badged.value());
        }
        return grant(slot, mine.get(), cap_rights::kCall);
    };
    for (u32 c = 0; c < p.program.cap_count; c++) {
        const manifest::CapGrant& g = p.program.caps[c];
        if (!grant(g.slot, g_object_handles[g.object_index], g.rights)) return false;
    }
    // Device services: consumers call the directories; the device manager
    // answers them with the instances it binds.
    for (u32 k = 0; k < g_manifest.provider_count; k++) {
        const manifest::Provider& pv = g_manifest.providers[k];
        if (!g_services[k]) continue;
        if (holds_devices(p)) {
            char slot[abi::kHandleNameBytes];
            format(slot, sizeof slot, "svc%u", k);
            if (!grant(slot, g_services[k].get(),
                       cap_rights::kServe | cap_rights::kWait | cap_rights::kDuplicate | cap_rights::kTransfer))
                return false;
        }
        for (u32 c = 0; c < pv.served_count; c++)
            if (pv.served[c].consumer_index == i &&
                !grant_service("provider", pv.name, g_services[k].get(), g_consumer_caps[i][k]))
                return false;
    }
    // Its own service, if it serves anyone, and the services of the
    // processes that serve it.
    if (g_process_services[i]) {
        if (!grant(abi::kServeSlot, g_process_services[i].get(), cap_rights::kServe | cap_rights::kWait) ||
            !grant(abi::kServeClientsSlot, g_client_tables[i].get(), cap_rights::kRead | cap_rights::kMap))
            return false;
    }
    for (u32 j = 0; j < g_manifest.process_count; j++) {
        const manifest::Process& server = g_manifest.processes[j];
        if (!g_process_services[j]) continue;
        for (u32 c = 0; c < server.served_count; c++)
            if (server.served[c].consumer_index == i &&
                !grant_service("process", server.name, g_process_services[j].get(), g_process_consumer_caps[i][j]))
                return false;
    }
    if (g_escrow_caps[i] && !grant("escrow", g_escrow_caps[i].get(), cap_rights::kCall)) return false;
    for (u32 s = 0; s < p.supervised_count; s++) {
        const manifest::Supervision& sv = p.supervised[s];
        const rt::Supervised& target = g_running[sv.process_index];
        if (!target.process) continue;  // not running (refused or dead): nothing to hand over
        if (!grant(sv.slot, target.process.get(), cap_rights_supervise())) return false;
    }
    req.handle_count = n;
    auto child = rt::process_spawn(g_resource, req);
    if (!child.ok()) {
        rt::log("init: cannot start %s (module %s): %s", p.name, p.program.module, status_name(child.status()));
        return false;
    }
    auto info = rt::process_info(child.value().get());
    g_running[i].pid = info.ok() ? info.value().pid : 0;
    g_running[i].process = static_cast<rt::Handle&&>(child.value());
    g_started[i] = true;
    rt::log("init: started %s (pid %u)", p.name, g_running[i].pid);
    return true;
}

void start_all() {
    // Supervisees first: a supervisor receives their Process handles.
    for (bool progress = true; progress;) {
        progress = false;
        for (u32 i = 0; i < g_manifest.process_count; i++) {
            if (g_started[i]) continue;
            const manifest::Process& p = g_manifest.processes[i];
            bool ready = true;
            for (u32 s = 0; s < p.supervised_count; s++)
                if (!g_started[p.supervised[s].process_index]) ready = false;
            if (!ready) continue;
            g_started[i] = true;  // even if it fails: do not retry forever
            if (!start(i)) g_running[i].gave_up = true;
            progress = true;
        }
    }
    for (u32 i = 0; i < g_manifest.process_count; i++)
        if (!g_started[i])
            rt::log("init: %s not started: its supervise lines form a cycle", g_manifest.processes[i].name);
}

void supervise() {
    rt::Supervisor::Client client{
        "init", [](void*, u32 i) { return static_cast<const char*>(g_manifest.processes[i].name); },
        [](void*, u32 i) {
            const manifest::RestartPolicy& p = g_manifest.processes[i].program.restart;
            return rt::RestartRule{p.mode == manifest::RestartMode::OnFailure, p.limit, p.backoff_ms};
        },
        [](void*, u32 i) { return start(i); }, nullptr};
    // With an escrow, init serves it for as long as it lives.
    client.service = g_escrow.get();
    client.on_request = serve_escrow;
    rt::Supervisor(g_running, g_manifest.process_count, client).run();
}

}  // namespace

int main(u64) {
    g_log = rt::startup_handle("log");
    g_resource = rt::startup_handle("resource");
    g_console = rt::startup_handle("console");
    g_devices = rt::startup_handle("devices");
    if (!load_manifest()) return 0;
    if (!create_objects() || !create_services() || !create_process_services() || !create_escrow()) return 1;
    start_all();
    supervise();
    return 0;
}
