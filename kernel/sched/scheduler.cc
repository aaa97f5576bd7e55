#include "sched/scheduler.h"

#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/percpu.h"
#include "boot/cmdline.h"
#include "console/log.h"
#include "debug/panic.h"
#include "debug/profiler.h"
#include "mm/kernel_stack.h"
#include "mm/paging.h"
#include "object/process.h"
#include "util/idle_poll.h"

extern "C" void switch_context(u64* save_rsp, u64 new_rsp);

namespace sched {
namespace {

using object::Thread;

struct Queue {
    Thread* head = nullptr;
    Thread* tail = nullptr;
};

Queue g_ready[Thread::kPriorities];
Thread* g_sleepers;  // sorted by wake_deadline
Thread* g_idle;
Thread* g_zombies;  // dead threads whose stacks are freed once we are off them
bool g_need_resched;
u64 g_switches;

void push(Thread* t) {
    Queue& q = g_ready[t->priority];
    t->next_ready = nullptr;
    if (q.tail)
        q.tail->next_ready = t;
    else
        q.head = t;
    q.tail = t;
}

void remove_ready(Thread* t) {
    Queue& q = g_ready[t->priority];
    Thread* prev = nullptr;
    for (Thread* it = q.head; it; prev = it, it = it->next_ready) {
        if (it != t) continue;
        if (prev)
            prev->next_ready = it->next_ready;
        else
            q.head = it->next_ready;
        if (q.tail == it) q.tail = prev;
        it->next_ready = nullptr;
        return;
    }
}

void remove_sleeper(Thread* t) {
    for (Thread** link = &g_sleepers; *link; link = &(*link)->next_sleeper) {
        if (*link == t) {
            *link = t->next_sleeper;
            t->next_sleeper = nullptr;
            return;
        }
    }
}

Thread* pop_highest(int min_priority) {
    for (int p = Thread::kPriorities - 1; p >= min_priority; p--) {
        Queue& q = g_ready[p];
        if (!q.head) continue;
        Thread* t = q.head;
        q.head = t->next_ready;
        if (!q.head) q.tail = nullptr;
        t->next_ready = nullptr;
        return t;
    }
    return nullptr;
}

// The thread pop_highest(0) would take, left where it is.
const Thread* peek_highest() {
    for (int p = Thread::kPriorities - 1; p >= 0; p--)
        if (g_ready[p].head) return g_ready[p].head;
    return nullptr;
}

int highest_ready() {
    for (int p = Thread::kPriorities - 1; p >= 0; p--)
        if (g_ready[p].head) return p;
    return -1;
}

void reap() {
    while (g_zombies && g_zombies != current()) {
        Thread* t = g_zombies;
        g_zombies = t->next_ready;
        t->next_ready = nullptr;
        // Nobody runs on its stack any more: give it back now, even if a
        // handle keeps the Thread object itself alive.
        if (t->stack.base) {
            kstack::free(t->stack);
            t->stack = kstack::Stack{};
        }
        t->unref();  // the scheduler's reference
    }
}

void switch_to(Thread* next) {
    Thread* prev = current();
    if (next == prev) {
        next->state = Thread::State::Running;
        return;
    }
    percpu::Cpu* cpu = percpu::current_cpu();
    cpu->current = next;
    cpu->context_switches++;
    g_switches++;
    next->state = Thread::State::Running;
    if (next->stack.top) {
        cpu->kernel_rsp = next->stack.top;
        gdt::set_kernel_stack(next->stack.top);
    }
    // A thread without a process (the idle thread) runs on whatever address
    // space is loaded: it only touches the kernel half, which every address
    // space maps identically. Not switching to the kernel's own root saves
    // two CR3 writes each time a thread blocks, idles and is woken again —
    // and under TCG every CR3 write flushes QEMU's whole soft TLB, which
    // made the idle round trip of a QD1 NVMe read cost ~20 us. An address
    // space is left before it is destroyed (Process::terminate,
    // AddressSpace::destroy), so the lazily kept one is always alive.
    if (next->process) {
        u64 root = next->process->address_space().root();
        if ((cpu::read_cr3() & paging::kAddressMask) != root) cpu::write_cr3(root);
    }
    switch_context(&prev->saved_rsp, next->saved_rsp);
    reap();
}

}  // namespace

void init(Thread* idle) {
    g_idle = idle;
    percpu::current_cpu()->current = idle;
}

Thread* current() { return percpu::current_cpu()->current; }

void make_ready(Thread* t) {
    if (t == g_idle || t->state == Thread::State::Dead) return;
    if (t->state == Thread::State::Ready) return;
    t->state = Thread::State::Ready;
    push(t);
    if (t->priority > current()->priority || current() == g_idle) g_need_resched = true;
}

void wake(Thread* t, Status why) {
    if (t->state != Thread::State::Blocked) return;
    remove_sleeper(t);
    t->wake_deadline = 0;
    t->wake_status = why;
    make_ready(t);
}

Status block_current(u64 deadline_ns, void (*cancel)(Thread*, void*), void* ctx) {
    Thread* self = current();
    KASSERT(self != g_idle);
    self->state = Thread::State::Blocked;
    self->cancel_block = cancel;
    self->cancel_ctx = ctx;
    self->wake_status = Status::Ok;
    self->wake_deadline = deadline_ns;
    if (deadline_ns) {
        Thread** link = &g_sleepers;
        while (*link && (*link)->wake_deadline <= deadline_ns) link = &(*link)->next_sleeper;
        self->next_sleeper = *link;
        *link = self;
    }
    switch_away();
    self->cancel_block = nullptr;
    self->cancel_ctx = nullptr;
    return self->wake_status;
}

void retire(Thread* t) {
    if (t->state == Thread::State::Dead) return;
    if (t->state == Thread::State::Ready) remove_ready(t);
    // cancel_block stays set from block_current() until the thread runs
    // again: a thread woken (Ready) but not yet back from its wait still
    // holds what the wait took (a reference on the waited object, a place
    // in a queue), so it is cancelled too. Missing this leaked the WaitSet
    // of a provider killed just after an interrupt woke it, and with it the
    // MSI-X vector its successor then found busy.
    if (t->cancel_block) t->cancel_block(t, t->cancel_ctx);
    t->cancel_block = nullptr;
    remove_sleeper(t);
    t->state = Thread::State::Dead;
    t->announce_death();
    t->ref();  // kept until its stack is no longer in use
    t->next_ready = g_zombies;
    g_zombies = t;
}

void switch_away() {
    Thread* next = pop_highest(0);
    if (!next) next = g_idle;
    g_need_resched = false;
    switch_to(next);
}

void yield() {
    Thread* self = current();
    Thread* next = pop_highest(self->priority);
    if (!next) return;
    self->state = Thread::State::Ready;
    push(self);
    g_need_resched = false;
    switch_to(next);
}

void preempt_point() {
    if (!g_need_resched) return;
    g_need_resched = false;
    Thread* self = current();
    // Idle: the idle loop, right after this interrupt, takes the woken
    // thread — and so ends its idle period where it measures it
    // (IdlePoll, the profiler), not after the woken thread has run.
    if (self == g_idle) return;
    if (highest_ready() <= self->priority) return;
    Thread* next = pop_highest(self->priority + 1);
    self->state = Thread::State::Ready;
    push(self);
    switch_to(next);
}

void tick() {
    u64 now = clock::monotonic_ns();
    while (g_sleepers && g_sleepers->wake_deadline <= now) {
        Thread* t = g_sleepers;
        g_sleepers = t->next_sleeper;
        t->next_sleeper = nullptr;
        t->wake_deadline = 0;
        t->wake_status = Status::Timeout;
        make_ready(t);
    }
    Thread* self = current();
    // Idle: the idle loop, right after this interrupt, takes the woken
    // thread — and so ends its idle period where it measures it
    // (IdlePoll, the profiler), not after the woken thread has run.
    if (self == g_idle) return;
    // Time slice over: round-robin among equal priorities, and any higher
    // priority thread woken above runs now.
    yield();
}

IdlePoll g_idle_poll;

[[noreturn]] void run_idle(void (*when_idle)()) {
    // idle=halt: never poll (power over latency, and the A/B switch for
    // measuring what polling buys: docs/benchmarks.md).
    bool may_poll = !cmdline::is("idle", "halt");
    usize len;
    if (const char* v = cmdline::get("idle", &len); v && may_poll)
        LOG_WARN("idle: unknown idle=%.*s (known: halt); polling adaptively", static_cast<int>(len), v);
    if (!may_poll) LOG_INFO("idle: halt polling off (idle=halt)");
    for (;;) {
        reap();
        if (Thread* next = pop_highest(0)) {
            switch_to(next);
            continue;
        }
        if (when_idle) when_idle();
        // Poll a while first when recent idle periods say a wake-up is
        // near and worth catching awake (util/idle_poll.h). Each round
        // opens the interrupt window for one instruction; `pause` also
        // hands an emulating hypervisor its chance to deliver.
        u64 start = clock::monotonic_ns();
        u64 poll = may_poll ? g_idle_poll.window_ns() : 0;
        bool woke_in_poll = false;
        while (poll && !woke_in_poll && clock::monotonic_ns() - start < poll) {
            asm volatile("sti; nop; pause; cli" ::: "memory");
            woke_in_poll = highest_ready() >= 0;
        }
        // sti;hlt is atomic with respect to interrupts (the sti shadow),
        // so a wakeup between the check and the halt is not lost.
        if (!woke_in_poll) asm volatile("sti; hlt; cli" ::: "memory");
        const u64 idle_ns = clock::monotonic_ns() - start;
        g_idle_poll.record(idle_ns, woke_in_poll);
        if (profiler::enabled()) {
            const Thread* next = peek_highest();
            profiler::idle_period(idle_ns, next && next->process ? next->process->name() : "nobody",
                                  percpu::current_cpu()->last_vector, woke_in_poll);
        }
    }
}

u64 context_switches() { return g_switches; }

}  // namespace sched
