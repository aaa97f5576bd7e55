#include "object/endpoint.h"

#include "object/thread.h"
#include "sched/scheduler.h"
#include "syscall/common.h"

namespace object {

Status (*Endpoint::transfer)(Thread* from, Thread* to) = sys::transfer_message_handles;

namespace {

void push_back(Thread*& head, Thread* t) {
    t->ipc.next = nullptr;
    Thread** link = &head;
    while (*link) link = &(*link)->ipc.next;
    *link = t;
}

bool unlink(Thread*& head, Thread* t) {
    for (Thread** link = &head; *link; link = &(*link)->ipc.next) {
        if (*link == t) {
            *link = t->ipc.next;
            t->ipc.next = nullptr;
            return true;
        }
    }
    return false;
}

Thread* pop_front(Thread*& head) {
    Thread* t = head;
    if (t) {
        head = t->ipc.next;
        t->ipc.next = nullptr;
    }
    return t;
}

}  // namespace

Endpoint::~Endpoint() {
    // Blocked threads hold no reference to the endpoint (their handle's cap
    // does), so the endpoint can only die with nobody queued.
}

// A blocked caller or receiver died: it will never return from
// block_current, so the reference it took before blocking is dropped here.
void Endpoint::cancel_caller(Thread* t, void* self) {
    auto* ep = static_cast<Endpoint*>(self);
    if (unlink(ep->m_callers, t)) ep->signals_changed();
    thread_gone(t);
    ep->unref_deferred();
}

void Endpoint::deliver(Thread* caller, Thread* receiver) {
    Status s = transfer ? transfer(caller, receiver) : Status::Ok;
    receiver->ipc.msg = caller->ipc.msg;
    receiver->ipc.badge = caller->ipc.badge;
    receiver->ipc.result = s;
    receiver->ipc.reply_to = caller;
    caller->ipc.server = receiver;
    caller->ipc.awaiting_reply = true;
}

Result<void> Endpoint::call(Thread* caller, u64 badge) {
    caller->ipc.badge = badge;
    caller->ipc.replied = false;
    caller->ipc.result = Status::Ok;
    caller->ipc.awaiting_reply = false;
    caller->ipc.server = nullptr;
    ref();  // a blocked caller keeps the endpoint alive (its cancel hook points here)
    if (Thread* r = pop_front(m_receivers)) {
        deliver(caller, r);
        sched::wake(r, Status::Ok);
    } else {
        push_back(m_callers, caller);
        signals_changed();
    }
    sched::block_current(0, cancel_caller, this);
    unref_deferred();
    return caller->ipc.result == Status::Ok ? Result<void>() : Result<void>(caller->ipc.result);
}

Result<void> Endpoint::receive(Thread* receiver, u64 deadline_ns) {
    if (receiver->ipc.reply_to) return Status::Busy;  // reply to the previous caller first
    if (Thread* c = pop_front(m_callers)) {
        signals_changed();
        deliver(c, receiver);
        return receiver->ipc.result == Status::Ok ? Result<void>() : Result<void>(receiver->ipc.result);
    }
    if (deadline_ns == ~u64{0}) return Status::Timeout;
    push_back(m_receivers, receiver);
    receiver->ipc.reply_to = nullptr;
    ref();
    Status why = sched::block_current(deadline_ns, cancel_receiver, this);
    unref_deferred();
    if (why == Status::Timeout && !receiver->ipc.reply_to) {
        unlink(m_receivers, receiver);
        return Status::Timeout;
    }
    return receiver->ipc.result == Status::Ok ? Result<void>() : Result<void>(receiver->ipc.result);
}

Result<void> Endpoint::reply(Thread* server) {
    Thread* caller = server->ipc.reply_to;
    if (!caller) return Status::NotFound;
    server->ipc.reply_to = nullptr;
    Status s = transfer ? transfer(server, caller) : Status::Ok;
    caller->ipc.msg = server->ipc.msg;
    caller->ipc.replied = true;
    caller->ipc.result = s;
    caller->ipc.server = nullptr;
    caller->ipc.awaiting_reply = false;
    sched::wake(caller, Status::Ok);
    return s == Status::Ok ? Result<void>() : Result<void>(s);
}

void Endpoint::cancel_receiver(Thread* t, void* self) {
    auto* ep = static_cast<Endpoint*>(self);
    unlink(ep->m_receivers, t);
    ep->unref_deferred();
}

void Endpoint::thread_gone(Thread* t) {
    // As a caller: off the queue it waits in, or away from its server.
    if (t->ipc.server) {
        t->ipc.server->ipc.reply_to = nullptr;
        t->ipc.server = nullptr;
    }
    // As a server: its caller learns that no reply will come.
    if (Thread* caller = t->ipc.reply_to) {
        t->ipc.reply_to = nullptr;
        caller->ipc.server = nullptr;
        caller->ipc.awaiting_reply = false;
        caller->ipc.result = Status::Stale;
        sched::wake(caller, Status::Ok);
    }
}

}  // namespace object
