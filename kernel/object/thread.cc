#include "object/thread.h"

#include "arch/x86_64/gdt.h"
#include "object/process.h"

extern "C" void return_to_user();

namespace object {
namespace {
u32 g_next_tid = 1;
}

Result<RefPtr<Thread>> Thread::create_user(Process* process, u64 entry, u64 user_rsp, u64 arg, u8 priority) {
    if (priority >= kPriorities) return Status::InvalidArgument;
    // The kernel stack and this object, charged to the process first.
    auto charge = TRY(mm::Charge::take(process->kmem(), kstack::kSize + mm::object_bytes<Thread>()));
    auto stack = kstack::alloc();
    if (!stack.ok()) return stack.status();
    auto t = RefPtr<Thread>::adopt(new (std::nothrow) Thread());
    if (!t) {
        kstack::free(stack.value());
        return Status::NoMemory;
    }
    t->adopt_charge(static_cast<mm::Charge&&>(charge));
    t->stack = stack.value();
    t->process = process;
    t->priority = priority;
    t->tid = g_next_tid++;

    // Stack layout from the top: the user-mode InterruptFrame, then the
    // callee-saved registers switch_context pops, with return_to_user as
    // its return address.
    auto* frame = reinterpret_cast<InterruptFrame*>(t->stack.top - sizeof(InterruptFrame));
    *frame = InterruptFrame{};
    frame->rip = entry;
    frame->cs = gdt::kUserCode;
    frame->rflags = 0x202;  // IF
    frame->rsp = user_rsp;
    frame->ss = gdt::kUserData;
    frame->rdi = arg;
    u64* sp = reinterpret_cast<u64*>(frame);
    *--sp = reinterpret_cast<u64>(return_to_user);
    *--sp = 0;  // rbp
    *--sp = 0;  // rbx
    *--sp = 0;  // r12
    *--sp = 0;  // r13
    *--sp = 0;  // r14
    *--sp = 0;  // r15
    t->saved_rsp = reinterpret_cast<u64>(sp);
    return t;
}

Thread* Thread::adopt_boot_context() {
    auto* t = new Thread();
    t->priority = 0;
    t->state = State::Running;
    t->tid = 0;
    return t;
}

Thread::~Thread() {
    if (stack.base) kstack::free(stack);
}

}  // namespace object
