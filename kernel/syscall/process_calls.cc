// Processes: spawn from a boot module (with handles), kill, inspect; and
// system-wide information for the shell. Both spawn and system information
// need the root Resource (held by init).
#include "abi/startup.h"
#include "arch/x86_64/user_copy.h"
#include "console/log.h"
#include "debug/address_audit.h"
#include "dma/session.h"
#include "mm/frame_allocator.h"
#include "mm/heap.h"
#include "mm/kernel_stack.h"
#include "object/resource.h"
#include "proc/lifecycle.h"
#include "syscall/common.h"
#include "util/byte_quota.h"

namespace sys {
namespace {

abi::ExitKind exit_kind(object::ExitReason::Kind k) { return static_cast<abi::ExitKind>(k); }

void copy_name(char (&dst)[32], const char* src) {
    usize i = 0;
    for (; src[i] && i + 1 < sizeof dst; i++) dst[i] = src[i];
    dst[i] = '\0';
}

// Moves/copies the request's handles into the child and names them.
Result<void> hand_over(object::Process* parent, object::Process* child, const abi::SpawnRequest& req,
                       abi::StartupBlock& block) {
    for (u32 i = 0; i < req.handle_count; i++) {
        cap::Handle h = cap::Handle::from_raw(req.handles[i].handle);
        cap::Rights rights = req.handles[i].rights ? req.handles[i].rights : cap::kSameRights;
        if ((req.copy_mask >> i) & 1 ? false : req.handles[i].rights != 0) return Status::InvalidArgument;
        cap::Handle moved = TRY((req.copy_mask >> i) & 1 ? parent->caps().copy_to(h, child->caps(), rights)
                                                         : kcap::move(parent->caps(), h, child->caps()));
        auto entry = child->caps().lookup(moved, cap::kAnyType, 0);
        abi::StartupHandle& sh = block.handles[block.handle_count++];
        for (u32 k = 0; k < abi::kHandleNameBytes; k++) sh.name[k] = req.handles[i].name[k];
        sh.name[abi::kHandleNameBytes - 1] = '\0';
        sh.handle = moved.raw();
        sh.rights = entry.ok() ? entry.value().rights : 0;
    }
    return {};
}

// Ends `target`; when it is the caller's own process, never returns.
void kill(object::Process* target) {
    bool suicide = target == self();
    target->terminate(object::ExitReason{object::ExitReason::Kind::Killed, 0, 0, 0, 0});
    if (suicide) {
        kcap::finish();
        sched::switch_away();
    }
}

}  // namespace

Result<u64> process_spawn(u64 resource, u64 user_request) {
    TRY(kcap::lookup<object::Resource>(self(), handle_arg(resource), cap::kRightManage));
    auto* req = static_cast<abi::SpawnRequest*>(heap::alloc(sizeof(abi::SpawnRequest)));
    auto* block = static_cast<abi::StartupBlock*>(heap::alloc(sizeof(abi::StartupBlock)));
    // One exit, so both buffers are freed: the error, or the handle.
    Status result = Status::Ok;
    u64 handle = 0;
    if (!req || !block) {
        result = Status::NoMemory;
    } else if (auto c = user::copy_from(req, user_request, sizeof *req); !c.ok()) {
        result = c.status();
    } else if (req->module_len == 0 || req->module_len > sizeof req->module || req->priority >= 32 ||
               req->handle_count > abi::kStartupHandles) {
        result = Status::InvalidArgument;
    } else if (auto limit = child_quota_limit(req->kernel_memory, abi::kDefaultKernelMemory, self()->kmem()->limit());
               !limit.ok()) {
        LOG_WARN("proc: pid %u '%s' asked a kernel memory limit of %llu KiB for a child, above its own %llu KiB",
                 self()->pid(), self()->name(), static_cast<unsigned long long>(req->kernel_memory >> 10),
                 static_cast<unsigned long long>(self()->kmem()->limit() >> 10));
        result = limit.status();
    } else if (auto p = proc::load_module(req->module, req->module_len, limit.value()); !p.ok()) {
        result = p.status();
    } else {
        object::RefPtr<object::Process> child = p.release_value();
        *block = abi::StartupBlock{};
        block->magic = abi::kStartupMagic;
        block->pid = child->pid();
        copy_name(block->name, child->name());
        for (u32 i = 0; i + 1 < abi::kArgsBytes && req->args[i]; i++) block->args[i] = req->args[i];
        Status s = Status::Ok;
        if (auto r = hand_over(self(), child.get(), *req, *block); !r.ok()) s = r.status();
        if (s == Status::Ok) {
            if (auto r = proc::start(child.get(), *block, static_cast<u8>(req->priority)); !r.ok()) s = r.status();
        }
        if (s == Status::Ok) {
            // The creator's reference goes to the slot; the child keeps
            // itself alive (its self-reference) until terminated.
            object::Process* started = child.get();
            auto h = kcap::install(self(), std::move(child));
            if (h.ok()) handle = h.value();
            result = h.status();
            if (!h.ok()) started->terminate(object::ExitReason{object::ExitReason::Kind::Killed, 0, 0, 0, 0});
        } else {
            // Handles already moved into the child are closed with it.
            child->terminate(object::ExitReason{object::ExitReason::Kind::Killed, 0, 0, 0, 0});
            child.reset();
            result = s;
        }
    }
    heap::free(req);
    heap::free(block);
    if (result != Status::Ok) return result;
    return handle;
}

Result<u64> process_exit(u64 code) { proc::exit_current(static_cast<i64>(code)); }

Result<u64> process_kill(u64 h) {
    auto p = TRY(kcap::lookup<object::Process>(self(), handle_arg(h), cap::kRightManage));
    if (p->alive()) kill(p);
    return 0;
}

Result<u64> process_info(u64 h, u64 out) {
    auto p = TRY(kcap::lookup<object::Process>(self(), handle_arg(h), cap::kRightInspect));
    const object::ExitReason& why = p->exit_reason();
    abi::ProcessInfo info{};
    info.pid = p->pid();
    info.kind = exit_kind(why.kind);
    info.exit_code = why.code;
    info.fault_vector = why.vector;
    info.fault_address = why.address;
    info.fault_rip = why.rip;
    copy_name(info.name, p->name());
    abi::ProcessInfo audited = info;
    audited.fault_address = audited.fault_rip = 0;  // user addresses the process itself touched
    audit::check_copy(&audited, sizeof audited, "ProcessInfo");
    TRY(user::copy_to(out, &info, sizeof info));
    return 0;
}

Result<u64> system_info(u64 resource, u64 kind_and_arg, u64 out, u64 len) {
    TRY(kcap::lookup<object::Resource>(self(), handle_arg(resource), cap::kRightInspect));
    auto kind = static_cast<abi::SystemInfoKind>(kind_and_arg & 0xffffffff);
    u32 arg = static_cast<u32>(kind_and_arg >> 32);
    if (kind == abi::SystemInfoKind::Memory) {
        if (len < sizeof(abi::SystemMemory)) return Status::OutOfBounds;
        auto st = frames::stats();
        abi::SystemMemory m{st.total,
                            st.free,
                            st.used,
                            st.reserved,
                            heap::bytes_in_use(),
                            kstack::in_use(),
                            kcap::forest().used_count(),
                            kcap::forest().capacity(),
                            kdma::Session::quarantined_pages()};
        TRY(user::copy_to(out, &m, sizeof m));
        return 1;
    }
    if (kind == abi::SystemInfoKind::Processes) {
        u64 max = len / sizeof(abi::SystemProcess), n = 0;
        for (object::Process* p = object::first_process(); p && n < max; p = p->next_in_table) {
            abi::SystemProcess sp{};
            sp.pid = p->pid();
            sp.threads = p->thread_count();
            sp.live_caps = p->caps().live_count();
            sp.state = static_cast<u32>(exit_kind(p->exit_reason().kind));
            sp.frames = p->frames_owned();
            copy_name(sp.name, p->name());
            sp.kmem_used = p->kmem()->used();
            sp.kmem_limit = p->kmem()->limit();
            sp.kmem_peak = p->kmem()->peak();
            sp.kmem_refused = p->kmem()->refused();
            TRY(user::copy_to(out + n * sizeof sp, &sp, sizeof sp));
            n++;
        }
        return n;
    }
    if (kind == abi::SystemInfoKind::Caps) {
        object::Process* p = object::find_process(arg);
        if (!p) return Status::NotFound;
        u64 max = len / sizeof(abi::SystemCap), n = 0;
        u32 next = 0;
        while (n < max && next < p->caps().capacity()) {
            cap::SlotInfo info[16];
            u32 got = p->caps().enumerate(next, info, 16, &next);
            for (u32 i = 0; i < got && n < max; i++, n++) {
                abi::SystemCap c{info[i].handle.raw(), static_cast<u32>(info[i].state), info[i].type,
                                 info[i].rights,       info[i].derived ? 1u : 0u,       info[i].children};
                TRY(user::copy_to(out + n * sizeof c, &c, sizeof c));
            }
            if (got == 0) break;
        }
        return n;
    }
    if (kind == abi::SystemInfoKind::AuditWords) {
        if (!audit::enabled()) return Status::Unsupported;
        if (len % 8 || len / 8 > abi::kAuditWordsMax) return Status::InvalidArgument;
        static u64 words[abi::kAuditWordsMax];  // one CPU, kernel not preemptible
        TRY(user::copy_from(words, out, len));
        audit::check_read_words(words, len / 8, self());
        return len / 8;
    }
    if (kind == abi::SystemInfoKind::Log) {
        static char snapshot[16384];  // one CPU, kernel not preemptible
        usize have = log::copy_recent(snapshot, len < sizeof snapshot ? len : sizeof snapshot);
        TRY(user::copy_to(out, snapshot, have));
        return have;
    }
    return Status::InvalidArgument;
}

Result<u64> process_kill_pid(u64 resource, u64 pid) {
    TRY(kcap::lookup<object::Resource>(self(), handle_arg(resource), cap::kRightManage));
    object::Process* target = pid <= 0xffffffffu ? object::find_process(static_cast<u32>(pid)) : nullptr;
    if (!target || !target->alive()) return Status::NotFound;
    kill(target);
    return 0;
}

}  // namespace sys
