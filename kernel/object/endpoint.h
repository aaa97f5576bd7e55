// Endpoint: synchronous call/reply. A caller blocks until a server
// receives its message and replies; the server learns the caller's badge
// (from the capability the caller used) and may transfer capabilities back.
//
// Lifetime: queued callers and waiting receivers are threads blocked here;
// if one dies, its cancel hook takes it off the queue. A server thread holds
// at most one caller awaiting its reply (Thread::ipc.reply_to); if either
// side dies, the other sees Status::Stale.
#pragma once

#include "abi/ipc.h"
#include "object/object.h"
#include "util/result.h"

namespace object {

class Thread;

// Per-thread IPC state (lives in Thread).
struct IpcState {
    abi::Message msg;  // in flight: the request, then the reply
    u64 badge = 0;
    Status result = Status::Ok;
    Thread* reply_to = nullptr;  // server side: the caller to reply to
    Thread* server = nullptr;    // caller side: the server holding our reply
    Thread* next = nullptr;      // endpoint queue link
    bool awaiting_reply = false;
    bool replied = false;  // caller side: msg holds the server's reply
};

class Endpoint : public Object {
public:
    // No capability names an Endpoint itself (EndpointCreate installs a
    // BadgedEndpoint with badge 0), so it has no default rights.
    static constexpr Type kType = Type::Endpoint;

    Endpoint() : Object(kType) {}
    ~Endpoint() override;

    // Caller side: `msg` is the request (already copied into the kernel);
    // on Ok it holds the reply. Handle transfers are done by `transfer`.
    Result<void> call(Thread* caller, u64 badge);
    // Server side: waits for a caller (deadline as in WaitSet::wait) and
    // fills receiver->ipc.msg / badge.
    Result<void> receive(Thread* receiver, u64 deadline_ns);
    // Server side: sends receiver->ipc.msg back to the caller it holds.
    static Result<void> reply(Thread* server);

    u64 signals() const override { return m_callers ? kSignalReadable : 0; }

    // Moves/copies the handles of `from`'s message into `to`'s process,
    // rewriting msg.handles. Set by the syscall layer (it owns cap spaces).
    static Status (*transfer)(Thread* from, Thread* to);
    // A thread is being retired: unlink it from whatever IPC it is part of.
    static void thread_gone(Thread* t);

private:
    void deliver(Thread* caller, Thread* receiver);
    static void cancel_caller(Thread* t, void* self);
    static void cancel_receiver(Thread* t, void* self);
    Thread* m_callers = nullptr;  // FIFO
    Thread* m_receivers = nullptr;
};

}  // namespace object
