// shell: the serial console's command line. Prompt `sluice> `; reads lines
// from the Console capability (typed or piped into QEMU's serial input
// alike), echoes them, and runs:
//   help, ps, caps <pid>, mem, kill <pid>, spawn <module>, log, lsdev,
//   events, revoke <bdf>, blk ..., net, ping, resolve
// (blk.h: the block devices providers serve to the shell; net.h: the
// netstack's service, when the manifest grants it)
// System-wide views need the root resource, granted by the manifest.
//
// Arguments: "run=CMD;CMD;..." runs those commands once at boot, on a
// thread of their own (a command waiting for a provider that never comes
// up cannot take the prompt with it); `make run` lists and reads the NVMe
// disk this way. Interactive `blk` commands wait until it is done.
#include <stdarg.h>

#include "blk.h"
#include "cap/rights.h"
#include "net.h"
#include "protocol/devmgr.h"
#include "protocol/message.h"
#include "rt/args.h"
#include "rt/spawn.h"
#include "rt/sys.h"
#include "rt/thread.h"
#include "util/format.h"
#include "util/parse_size.h"

namespace {

u32 g_console, g_resource, g_devmgr, g_log;
volatile bool g_autorun_busy;
// Processes started with `spawn`: their Process handles, closed once they
// are dead (a dead process's record, and the kernel memory it holds, lives
// as long as a handle names it).
rt::Handle g_jobs[8];

}  // namespace

// Formatted in chunks of the buffer's size, so output longer than the
// buffer (help) comes out whole rather than cut off at 511 bytes.
void shell::out(const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    format_chunks(
        buf, sizeof buf, [](void*, const char* text, usize len) { (void)rt::console_write(g_console, text, len); },
        nullptr, fmt, ap);
    va_end(ap);
}

namespace {

using shell::out;

bool word_is(const char* s, usize len, const char* w) {
    usize i = 0;
    for (; i < len && w[i]; i++)
        if (s[i] != w[i]) return false;
    return i == len && !w[i];
}

bool parse_hex(const char* s, usize len, u32* v) {
    *v = 0;
    for (usize i = 0; i < len; i++) {
        char c = s[i];
        u32 d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : 16;
        if (d == 16) return false;
        *v = *v * 16 + d;
    }
    return len != 0;
}

bool parse_u32(const char* s, usize len, u32* v) {
    if (len == 0 || len > 9) return false;
    u32 x = 0;
    for (usize i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        x = x * 10 + static_cast<u32>(s[i] - '0');
    }
    *v = x;
    return true;
}

const char* state_name(u32 kind) {
    switch (static_cast<abi::ExitKind>(kind)) {
        case abi::ExitKind::Running: return "running";
        case abi::ExitKind::Exited: return "exited";
        case abi::ExitKind::Faulted: return "faulted";
        case abi::ExitKind::Killed: return "killed";
    }
    return "?";
}

const char* type_name(u32 t) {
    // object::Type numbering (kernel/object/object.h).
    const char* names[] = {"none",        "process",  "thread",     "endpoint",  "notification", "memory",
                           "waitset",     "log",      "resource",   "console",   "device-root",  "pci-function",
                           "device-mmio", "dma-pool", "dma-buffer", "interrupt", "nvme-queue",   "virtqueue"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

void cmd_help() {
    out("commands:\n"
        "  help         this list\n"
        "  ps           processes: pid, state, threads, capabilities, frames, kernel memory\n"
        "               used/limit (KiB), name\n"
        "  caps <pid>   the capability space of a process\n"
        "  mem          physical frames, kernel heap, stacks, capability nodes\n"
        "  kill <pid>   end a process (its supervisor is told)\n"
        "  spawn <module> [kmem=SIZE] [args]  start a boot module in the background with a copy of\n"
        "               the log; SIZE (K/M/G) is its kernel memory limit (default: the kernel's)\n"
        "  log          the recent kernel log\n"
        "  lsdev        PCI functions with their provider, backend, grants and restarts\n"
        "  revoke <bdf> take back the grants of the provider bound to a function\n"
        "  events       recent refusals the kernel attributed to processes (newest first)\n"
        "  blk list     block devices served to the shell (size, block size, model, serial)\n"
        "  blk info <dev>                               operations offered, flags, Write Zeroes/Discard limits\n"
        "  blk hash <dev> <lba> <count>                 sha256 of that range\n"
        "  blk write-pattern <dev> <lba> <count> <seed> [fua] write a deterministic pattern\n"
        "  blk verify-pattern <dev> <lba> <count> <seed> check it\n"
        "  blk flush <dev>                              flush the volatile write cache\n"
        "  blk zero|discard <dev> <lba> <count>         Write Zeroes / deallocate\n"
        "  net          the network interface: link, MAC, address, gateway, DNS, DHCP lease, NIC, counters\n"
        "  ping <a.b.c.d | name> [count]  ICMP echo through the netstack, one a second (default 4)\n"
        "  resolve <name>  the name's IPv4 address from the DHCP-given DNS server\n");
}

void cmd_ps() {
    abi::SystemProcess list[32];
    auto n = rt::system_info(g_resource, abi::SystemInfoKind::Processes, 0, list, sizeof list);
    if (!n.ok()) return out("ps: %s\n", status_name(n.status()));
    out("  PID STATE    THREADS CAPS FRAMES KMEM-KIB/LIMIT    NAME\n");
    for (u64 i = n.value(); i > 0; i--) {  // the kernel lists newest first
        const abi::SystemProcess& p = list[i - 1];
        out("%5u %-8s %7u %4u %6llu %8llu/%-8llu %s\n", p.pid, state_name(p.state), p.threads, p.live_caps,
            static_cast<unsigned long long>(p.frames), static_cast<unsigned long long>(p.kmem_used >> 10),
            static_cast<unsigned long long>(p.kmem_limit >> 10), p.name);
    }
}

void cmd_caps(u32 pid) {
    abi::SystemCap caps[64];
    auto n = rt::system_info(g_resource, abi::SystemInfoKind::Caps, pid, caps, sizeof caps);
    if (!n.ok()) return out("caps: pid %u: %s\n", pid, status_name(n.status()));
    out("  HANDLE     STATE   TYPE         RIGHTS          DERIVED CHILDREN\n");
    for (u64 i = 0; i < n.value(); i++) {
        char rights[cap::kRightsStringSize];
        cap::format_rights(caps[i].rights, rights);
        out("  0x%08x %-7s %-12s %-15s %7s %8u\n", caps[i].handle, caps[i].state == 2 ? "revoked" : "live",
            type_name(caps[i].type), rights, caps[i].derived ? "yes" : "no", caps[i].children);
    }
}

void cmd_mem() {
    abi::SystemMemory m{};
    auto r = rt::system_info(g_resource, abi::SystemInfoKind::Memory, 0, &m, sizeof m);
    if (!r.ok()) return out("mem: %s\n", status_name(r.status()));
    out("frames: total %llu free %llu used %llu (reserved %llu)\n", static_cast<unsigned long long>(m.total_frames),
        static_cast<unsigned long long>(m.free_frames), static_cast<unsigned long long>(m.used_frames),
        static_cast<unsigned long long>(m.reserved_frames));
    out("kernel heap: %llu bytes; kernel stacks: %llu; capability nodes: %llu of %llu\n",
        static_cast<unsigned long long>(m.heap_bytes), static_cast<unsigned long long>(m.kernel_stacks),
        static_cast<unsigned long long>(m.cap_nodes_used), static_cast<unsigned long long>(m.cap_nodes_total));
    out("DMA frames quarantined: %llu\n", static_cast<unsigned long long>(m.dma_quarantined_frames));
}

// Closes the handles of background processes that have ended.
void reap_jobs() {
    for (rt::Handle& job : g_jobs) {
        if (!job) continue;
        auto info = rt::process_info(job.get());
        if (info.ok() && info.value().kind == abi::ExitKind::Running) continue;
        job.reset();
    }
}

// spawn <module> [kmem=SIZE] [args...]
void cmd_spawn(const char* arg, usize len) {
    usize i = 0;
    while (i < len && arg[i] != ' ') i++;
    if (i == 0 || i >= 32) return out("usage: spawn <module> [kmem=SIZE] [args]\n");
    char module[32];
    __builtin_memcpy(module, arg, i);
    module[i] = '\0';
    while (i < len && arg[i] == ' ') i++;
    u64 kmem = 0;
    if (len - i >= 5 && __builtin_memcmp(arg + i, "kmem=", 5) == 0) {
        usize start = i + 5;
        while (i < len && arg[i] != ' ') i++;
        if (!parse_size(arg + start, i - start, &kmem) || kmem == 0)
            return out("spawn: kmem takes a size, e.g. kmem=512K\n");
        while (i < len && arg[i] == ' ') i++;
    }
    char args[abi::kArgsBytes];
    usize n = len - i < sizeof args - 1 ? len - i : sizeof args - 1;
    __builtin_memcpy(args, arg + i, n);
    args[n] = '\0';
    rt::Handle* slot = nullptr;
    for (rt::Handle& job : g_jobs)
        if (!job) slot = &job;
    if (!slot)
        return out("spawn: %u background processes are still running\n",
                   static_cast<u32>(sizeof g_jobs / sizeof g_jobs[0]));
    rt::Grant grants[] = {{"log", g_log, true}};
    auto child = rt::spawn(g_resource, module, grants, g_log ? 1 : 0, 16, args, kmem);
    if (!child.ok()) return out("spawn: %s: %s\n", module, status_name(child.status()));
    auto info = rt::process_info(child.value().get());
    out("spawn: %s is pid %u\n", module, info.ok() ? info.value().pid : 0);
    *slot = static_cast<rt::Handle&&>(child.value());
}

void cmd_kill(u32 pid) {
    auto r = rt::process_kill_pid(g_resource, pid);
    if (r.ok())
        out("kill: pid %u killed\n", pid);
    else
        out("kill: pid %u: %s\n", pid, status_name(r.status()));
}

// One devmgr request: function `index`, operation `op`. False past the end.
bool devmgr_call(u32 index, abi::DevmgrOp op, abi::DevmgrFunction& f) {
    abi::Message m{};
    abi::put_body(m, abi::DevmgrRequest{index, op});
    if (auto r = rt::endpoint_call(g_devmgr, m); !r.ok()) {
        out("devmgr: %s\n", status_name(r.status()));
        return false;
    }
    if (m.length < sizeof(abi::DevmgrFunction)) return false;
    f = abi::body_of<abi::DevmgrFunction>(m);
    return true;
}

// revoke BB:DD.F: devmgr takes back the bound provider's grants.
void cmd_revoke(const char* arg, usize len) {
    if (!g_devmgr) return out("revoke: no device manager service granted\n");
    u32 bus, dev, fn;
    if (len != 7 || arg[2] != ':' || arg[5] != '.' || !parse_hex(arg, 2, &bus) || !parse_hex(arg + 3, 2, &dev) ||
        !parse_hex(arg + 6, 1, &fn))
        return out("usage: revoke <bus:device.function>, e.g. revoke 00:01.0\n");
    abi::DevmgrFunction f{};
    for (u32 i = 0; devmgr_call(i, abi::DevmgrOp::Describe, f); i++) {
        if (f.bus != bus || f.device != dev || f.function != fn) continue;
        if (!devmgr_call(i, abi::DevmgrOp::Revoke, f)) return;
        return out("revoke: %02x:%02x.%x %s\n", f.bus, f.device, f.function, abi::devmgr_state_name(f.state));
    }
    out("revoke: no function %.*s\n", static_cast<int>(len), arg);
}

void cmd_lsdev() {
    if (!g_devmgr) return out("lsdev: no device manager service granted\n");
    out("  BDF     ID        PROVIDER         STATE        PID BACKEND WINDOWS IRQS RESTARTS POOL-KIB USED-KIB IOMMU "
        "REFUSALS\n");
    for (u32 i = 0; i < 256; i++) {
        abi::Message m{};
        abi::put_body(m, abi::DevmgrRequest{i, abi::DevmgrOp::Describe});
        if (auto r = rt::endpoint_call(g_devmgr, m); !r.ok()) return out("lsdev: %s\n", status_name(r.status()));
        if (m.length < sizeof(abi::DevmgrFunction)) return;
        auto f = abi::body_of<abi::DevmgrFunction>(m);
        const char* backend = f.backend == abi::DevmgrBackend::Iommu    ? "iommu"
                              : f.backend == abi::DevmgrBackend::Bounce ? "bounce"
                                                                        : "-";
        const char* iommu = f.remapping == abi::kRemappingCovered   ? "yes"
                            : f.remapping == abi::kRemappingUnknown ? "?"
                                                                    : "no";
        out("  %02x:%02x.%x %04x:%04x %-16s %-10s %5u %-7s %7u %4u %8u %8llu %8u %-5s %8u\n", f.bus, f.device,
            f.function, f.vendor, f.device_id, f.provider[0] ? f.provider : "-", abi::devmgr_state_name(f.state), f.pid,
            backend, f.windows, f.vectors, f.restarts, static_cast<unsigned long long>(f.pool_bytes >> 10),
            f.pool_used_kib, iommu, f.refusals);
    }
}

// The refusal events devmgr received from the kernel, newest first.
void cmd_events() {
    if (!g_devmgr) return out("events: no device manager service granted\n");
    out("  TIME(s)     PID NAME             PROVIDER         BDF     KIND           STATUS           DETAIL     "
        "COUNT\n");
    for (u32 i = 0;; i++) {
        abi::Message m{};
        abi::put_body(m, abi::DevmgrRequest{i, abi::DevmgrOp::Events});
        if (auto r = rt::endpoint_call(g_devmgr, m); !r.ok()) return out("events: %s\n", status_name(r.status()));
        if (m.length < sizeof(abi::DevmgrEvent)) {
            if (i == 0) out("  (none)\n");
            return;
        }
        auto d = abi::body_of<abi::DevmgrEvent>(m);
        const abi::RefusalEvent& e = d.event;
        char bdf[8] = "-";
        if (e.bdf != abi::kNoFunction)
            format(bdf, sizeof bdf, "%02x:%02x.%x", e.bdf >> 8, (e.bdf >> 3) & 31, e.bdf & 7);
        out("  %7llu.%03llu %5u %-16s %-16s %-7s %-14s %-16s 0x%08llx %5u\n",
            static_cast<unsigned long long>(e.time_ns / 1000000000),
            static_cast<unsigned long long>(e.time_ns / 1000000 % 1000), e.pid, e.name,
            d.provider[0] ? d.provider : "-", bdf, abi::refusal_kind_name(e.kind),
            status_name(static_cast<Status>(e.status)), static_cast<unsigned long long>(e.detail), e.count);
    }
}

void cmd_log() {
    static char buf[4096];
    auto n = rt::system_info(g_resource, abi::SystemInfoKind::Log, 0, buf, sizeof buf);
    if (!n.ok()) return out("log: %s\n", status_name(n.status()));
    (void)rt::console_write(g_console, buf, n.value());
}

// from_autorun: the boot's run= thread (the prompt's blk waits for it).
void run(const char* line, usize len, bool from_autorun = false) {
    usize i = 0;
    while (i < len && line[i] == ' ') i++;
    usize cmd = i;
    while (i < len && line[i] != ' ') i++;
    usize cmd_len = i - cmd;
    while (i < len && line[i] == ' ') i++;
    const char* arg = line + i;
    usize arg_len = len - i;
    while (arg_len && arg[arg_len - 1] == ' ') arg_len--;
    const char* c = line + cmd;
    u32 pid;
    if (cmd_len == 0) return;
    if (word_is(c, cmd_len, "help"))
        cmd_help();
    else if (word_is(c, cmd_len, "ps"))
        cmd_ps();
    else if (word_is(c, cmd_len, "mem"))
        cmd_mem();
    else if (word_is(c, cmd_len, "log"))
        cmd_log();
    else if (word_is(c, cmd_len, "spawn"))
        cmd_spawn(arg, arg_len);
    else if (word_is(c, cmd_len, "lsdev"))
        cmd_lsdev();
    else if (word_is(c, cmd_len, "events"))
        cmd_events();
    else if (word_is(c, cmd_len, "revoke"))
        cmd_revoke(arg, arg_len);
    else if (word_is(c, cmd_len, "blk") && g_autorun_busy && !from_autorun)
        out("blk: busy (the boot's run= commands are still running)\n");
    else if (word_is(c, cmd_len, "blk"))
        shell::blk_command(arg, arg_len);
    else if (word_is(c, cmd_len, "net"))
        shell::net_command(arg, arg_len);
    else if (word_is(c, cmd_len, "ping"))
        shell::ping_command(arg, arg_len);
    else if (word_is(c, cmd_len, "resolve"))
        shell::resolve_command(arg, arg_len);
    else if (word_is(c, cmd_len, "caps") || word_is(c, cmd_len, "kill")) {
        if (!parse_u32(arg, arg_len, &pid)) return out("usage: %.*s <pid>\n", static_cast<int>(cmd_len), c);
        if (c[0] == 'c')
            cmd_caps(pid);
        else
            cmd_kill(pid);
    } else {
        out("%.*s: unknown command (try help)\n", static_cast<int>(cmd_len), c);
    }
}

alignas(16) u8 g_autorun_stack[32768];

// "run=" from the startup arguments: everything after it, commands split at ';'.
void autorun(u64) {
    Args::Value v;
    if (rt::args().find("run", &v)) {
        const char* p = v.text;
        const char* end = v.text + v.rest;
        while (p < end) {
            const char* start = p;
            while (p < end && *p != ';') p++;
            out("[run] %.*s\n", static_cast<int>(p - start), start);
            run(start, static_cast<usize>(p - start), true);
            if (p < end) p++;  // the ';'
        }
    }
    g_autorun_busy = false;
}

}  // namespace

int main(u64) {
    g_console = rt::startup_handle("console");
    g_resource = rt::startup_handle("resource");
    g_devmgr = rt::startup_handle("devmgr");
    g_log = rt::startup_handle("log");
    if (!g_console) return 2;
    out("Sluice shell. Type help for commands.\n");
    g_autorun_busy = true;
    auto runner = rt::thread_create(autorun, 0, g_autorun_stack, sizeof g_autorun_stack, 20);
    if (runner.ok())
        (void)runner.value().release();
    else
        g_autorun_busy = false;
    char line[160];
    usize len = 0;
    out("sluice> ");
    for (;;) {
        char in[64];
        auto n = rt::console_read(g_console, in, sizeof in, abi::kForever);
        if (!n.ok()) continue;
        for (usize k = 0; k < n.value(); k++) {
            char ch = in[k];
            if (ch == '\r' || ch == '\n') {
                out("\n");
                reap_jobs();
                run(line, len);
                len = 0;
                out("sluice> ");
            } else if (ch == 0x7f || ch == 0x08) {
                if (len) {
                    len--;
                    out("\b \b");
                }
            } else if (ch >= 0x20 && ch < 0x7f && len < sizeof line) {
                line[len++] = ch;
                (void)rt::console_write(g_console, &ch, 1);
            }
        }
    }
}
