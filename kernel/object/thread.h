// Thread: a schedulable context. A user thread belongs to a Process and
// enters user mode through an InterruptFrame on its kernel stack; the idle
// thread is the boot context.
#pragma once

#include "arch/x86_64/interrupt_frame.h"
#include "mm/kernel_stack.h"
#include "object/endpoint.h"
#include "object/object.h"
#include "util/result.h"

namespace object {

class Process;

class Thread : public Object {
public:
    static constexpr Type kType = Type::Thread;
    // ThreadCreate: wait for its end (kSignalDead), inspect.
    static constexpr cap::Rights kDefaultRights = cap::kRightWait | cap::kRightInspect | kPassRights;

    enum class State : u8 { New, Ready, Running, Blocked, Dead };

    static constexpr u8 kPriorities = 32;  // 0 lowest .. 31 highest

    // A user thread that will start at `entry` with stack `user_rsp` and
    // `arg` in RDI. The creator's reference is the process's.
    static Result<RefPtr<Thread>> create_user(Process* process, u64 entry, u64 user_rsp, u64 arg, u8 priority);
    // Wraps the boot context (kernel_main's stack) as the idle thread.
    static Thread* adopt_boot_context();
    ~Thread() override;

    State state = State::New;
    u8 priority = 16;
    u32 tid = 0;
    Process* process = nullptr;  // not owned: the process owns the thread
    u64 saved_rsp = 0;           // valid while not running
    kstack::Stack stack{};
    Thread* next_ready = nullptr;  // scheduler run queue link
    // Timed blocking: absolute monotonic ns deadline, or 0.
    u64 wake_deadline = 0;
    Thread* next_sleeper = nullptr;
    // Why a blocked thread woke: Ok (event) or Timeout.
    Status wake_status = Status::Ok;
    // While Blocked: how to take this thread off whatever it waits on if it
    // dies first (its process is killed). Set by sched::block_current.
    void (*cancel_block)(Thread*, void*) = nullptr;
    void* cancel_ctx = nullptr;

    IpcState ipc;

    // Sleeping in a device wait (sched/device_wait.h): its process's death
    // wakes it to unwind instead of retiring it on the spot.
    bool in_device_wait = false;

    // kSignalDead once the thread has ended (WaitSets can join it).
    u64 signals() const override { return state == State::Dead ? kSignalDead : 0; }
    void announce_death() { signals_changed(); }

private:
    Thread() : Object(kType) {}
};

}  // namespace object
