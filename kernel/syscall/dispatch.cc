// System call dispatch: the table of lib/abi/syscalls.def, number ->
// handler. Every argument is validated by the handler or the object it
// names; nothing a user passes can fault the kernel (user memory goes
// through user::copy_*).
#include "arch/x86_64/interrupt_frame.h"
#include "arch/x86_64/percpu.h"
#include "console/log.h"
#include "debug/address_audit.h"
#include "events/refusals.h"
#include "proc/lifecycle.h"
#include "syscall/common.h"

namespace {

// Runs call `number` with the arguments its line in lib/abi/syscalls.def
// says it reads (a[0..5]: RDI, RSI, RDX, R10, R8, R9).
Result<u64> run(u64 number, const u64 (&a)[6]) {
#define SLUICE_SYSCALL_ARGS_0
#define SLUICE_SYSCALL_ARGS_1 a[0]
#define SLUICE_SYSCALL_ARGS_2 a[0], a[1]
#define SLUICE_SYSCALL_ARGS_3 a[0], a[1], a[2]
#define SLUICE_SYSCALL_ARGS_4 a[0], a[1], a[2], a[3]
#define SLUICE_SYSCALL_ARGS_5 a[0], a[1], a[2], a[3], a[4]
#define SLUICE_SYSCALL_ARGS_6 a[0], a[1], a[2], a[3], a[4], a[5]
    switch (static_cast<abi::Syscall>(number)) {
// clang-format off
#define SLUICE_SYSCALL(number, Name, handler, argc) \
    case abi::Syscall::Name: return sys::handler(SLUICE_SYSCALL_ARGS_##argc);
#include "abi/syscalls.def"
            // clang-format on
        case abi::Syscall::Count: break;
    }
    return Status::Unsupported;
}

// The ABI's result (docs/syscalls.md): the value, or -Status.
i64 encode(const Result<u64>& r) {
    return r.ok() ? static_cast<i64>(r.value()) : abi::encode_error(static_cast<i32>(r.status()));
}

}  // namespace

extern "C" void syscall_dispatch(InterruptFrame* f) {
    percpu::current_cpu()->syscalls++;
    sys::self()->count_syscall();
    const u64 args[6] = {f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9};
    u64 number = f->rax;
    refusals::begin_syscall();
    // Whether the call hit the caller's kernel memory limit (its refusal is
    // then a KernelMemory one, not a generic no-memory).
    const mm::Account* account = sys::self()->kmem();
    u64 kmem_refused = account ? account->refused() : 0;
    i64 r = encode(run(number, args));
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
            refusals::record(
                sys::self(), abi::RefusalKind::KernelMemory, refusals::kNoFunction, Status::NoMemory, number,
                log::Level::Info, "refused: pid %u '%s' syscall %s: kernel memory limit (%llu of %llu bytes)",
                sys::self()->pid(), sys::self()->name(), abi::syscall_name(number),
                static_cast<unsigned long long>(account->used()), static_cast<unsigned long long>(account->limit()));
        sys::note_refusal(number, r);
    }
    f->rax = static_cast<u64>(r);
    sched::preempt_point();
}

namespace sys {

void note_refusal(u64 number, i64 result) {
    auto status = static_cast<Status>(-result);
    if (status == Status::Timeout) return;        // a wait that ran out is no refusal
    if (refusals::recorded_in_syscall()) return;  // the call recorded a more specific one
    object::Process* p = self();
    refusals::record(p, abi::RefusalKind::Syscall, refusals::kNoFunction, status, number, log::Level::Info,
                     "refused: pid %u '%s' syscall %s: %s", p->pid(), p->name(), abi::syscall_name(number),
                     status_name(status));
}

}  // namespace sys
