// Endpoints, notifications and wait sets.
#include "abi/ipc.h"
#include "arch/x86_64/user_copy.h"
#include "events/refusals.h"
#include "object/badged_endpoint.h"
#include "object/notification.h"
#include "object/waitset.h"
#include "syscall/common.h"

namespace sys {
namespace {

constexpr u64 kKnownSignals = abi::kSignalReady | abi::kSignalReadable | abi::kSignalDead;
static_assert(abi::kSignalReady == object::kSignalReady && abi::kSignalReadable == object::kSignalReadable &&
              abi::kSignalDead == object::kSignalDead);

Result<void> copy_message_in(abi::Message& m, u64 user_msg) {
    TRY(user::copy_from(&m, user_msg, sizeof m));
    if (m.length > abi::kMessageBytes || m.handle_count > abi::kMessageHandles) return Status::InvalidArgument;
    return {};
}

template <typename T>
Result<u64> install_new(object::RefPtr<T> object) {
    return TRY(kcap::install(self(), std::move(object)));
}

// A new T (default-constructed), charged to the caller, in a new handle.
template <typename T>
Result<u64> create_and_install() {
    auto charge = TRY(charge_new<T>());
    auto object = object::RefPtr<T>::adopt(new (std::nothrow) T());
    if (!object) return Status::NoMemory;
    object->adopt_charge(std::move(charge));
    return install_new(std::move(object));
}

}  // namespace

Status transfer_message_handles(object::Thread* from, object::Thread* to) {
    abi::Message& m = from->ipc.msg;
    Status result = Status::Ok;
    for (u32 i = 0; i < m.handle_count; i++) {
        cap::Handle h = cap::Handle::from_raw(m.handles[i]);
        cap::Space& src = from->process->caps();
        cap::Space& dst = to->process->caps();
        auto moved = (m.copy_mask >> i) & 1 ? src.copy_to(h, dst, cap::kSameRights) : kcap::move(src, h, dst);
        if (moved.ok()) {
            m.handles[i] = moved.value().raw();
        } else {
            m.handles[i] = 0;
            if (result == Status::Ok) result = moved.status();
        }
    }
    return result;
}

Result<u64> endpoint_create() {
    auto endpoint_charge = TRY(charge_new<object::Endpoint>());
    auto view_charge = TRY(charge_new<object::BadgedEndpoint>());
    auto endpoint = object::RefPtr<object::Endpoint>::adopt(new (std::nothrow) object::Endpoint());
    if (!endpoint) return Status::NoMemory;
    endpoint->adopt_charge(std::move(endpoint_charge));
    // The view takes its own reference; without a view the endpoint goes.
    auto view =
        object::RefPtr<object::BadgedEndpoint>::adopt(new (std::nothrow) object::BadgedEndpoint(endpoint.get(), 0));
    endpoint.reset();
    if (!view) return Status::NoMemory;
    view->adopt_charge(std::move(view_charge));
    return install_new(std::move(view));
}

Result<u64> endpoint_mint(u64 h, u64 badge, u64 rights) {
    if (rights > 0xffffffffu) return Status::InvalidArgument;
    auto parent = TRY(kcap::lookup<object::BadgedEndpoint>(self(), handle_arg(h), cap::kRightDuplicate));
    // A badge is set once, by whoever holds the unbadged endpoint (the
    // server): it is who the server takes the caller for. A client's
    // badged capability minted again would speak as any client it names
    // (a plain HandleDuplicate keeps its badge), so it has no right to.
    if (parent->badge() != 0) {
        refusals::record(self(), abi::RefusalKind::Syscall, refusals::kNoFunction, Status::NoRights,
                         static_cast<u64>(abi::Syscall::EndpointMint), log::Level::Warn,
                         "refused: pid %u '%s' EndpointMint: the endpoint capability already carries a badge; a badge "
                         "is set once",
                         self()->pid(), self()->name());
        return Status::NoRights;
    }
    auto charge = TRY(charge_new<object::BadgedEndpoint>());
    auto view = object::RefPtr<object::BadgedEndpoint>::adopt(new (std::nothrow)
                                                                  object::BadgedEndpoint(parent->endpoint(), badge));
    if (!view) return Status::NoMemory;
    view->adopt_charge(std::move(charge));
    return TRY(kcap::mint(self(), handle_arg(h), std::move(view), static_cast<cap::Rights>(rights)));
}

Result<u64> endpoint_call(u64 h, u64 user_msg) {
    auto ep = TRY(kcap::lookup<object::BadgedEndpoint>(self(), handle_arg(h), cap::kRightCall));
    object::Thread* t = sched::current();
    TRY(copy_message_in(t->ipc.msg, user_msg));
    t->ipc.msg.badge = 0;
    auto r = ep->endpoint()->call(t, ep->badge());
    if (!t->ipc.replied) {  // no reply (the server died): Stale
        TRY(r);
        return 0;
    }
    // A reply whose handles did not all transfer is still delivered: the
    // ones that did are the caller's (handles[i] = 0 for the others).
    TRY(user::copy_to(user_msg, &t->ipc.msg, sizeof t->ipc.msg));
    TRY(r);
    return 0;
}

Result<u64> endpoint_receive(u64 h, u64 user_msg, u64 timeout) {
    auto ep = TRY(kcap::lookup<object::BadgedEndpoint>(self(), handle_arg(h), cap::kRightServe));
    if (!user::range_ok(user_msg, sizeof(abi::Message))) return Status::OutOfBounds;
    object::Thread* t = sched::current();
    auto r = ep->endpoint()->receive(t, deadline_from_timeout(timeout));
    if (!r.ok() && !t->ipc.reply_to) return r.status();
    t->ipc.msg.badge = t->ipc.badge;
    TRY(user::copy_to(user_msg, &t->ipc.msg, sizeof t->ipc.msg));
    // A handle that could not be transferred is reported, but the caller is
    // still waiting for this server's reply.
    TRY(r);
    return 0;
}

Result<u64> endpoint_reply(u64 user_msg) {
    object::Thread* t = sched::current();
    if (!t->ipc.reply_to) return Status::NotFound;
    abi::Message m;
    TRY(copy_message_in(m, user_msg));
    t->ipc.msg = m;
    TRY(object::Endpoint::reply(t));
    return 0;
}

Result<u64> notification_create() { return create_and_install<object::Notification>(); }

Result<u64> notification_signal(u64 h, u64 bits) {
    auto n = TRY(kcap::lookup<object::Notification>(self(), handle_arg(h), cap::kRightSignal));
    n->signal(bits);
    return 0;
}

namespace {
// The optional "signal first" half of NotificationWait and WaitSetWait:
// (0, 0) is none; otherwise a Notification with the signal right and
// non-zero bits. Looked up before anything happens, signalled by the
// caller once the wait's own arguments are known to be good.
Result<object::Notification*> signal_first(u64 h, u64 bits) {
    if (!h)
        return bits ? Result<object::Notification*>(Status::InvalidArgument) : Result<object::Notification*>(nullptr);
    if (!bits) return Status::InvalidArgument;
    return kcap::lookup<object::Notification>(self(), handle_arg(h), cap::kRightSignal);
}
}  // namespace

Result<u64> notification_wait(u64 h, u64 timeout, u64 signal_h, u64 signal_bits) {
    auto n = TRY(kcap::lookup<object::Notification>(self(), handle_arg(h), cap::kRightWait));
    auto first = TRY(signal_first(signal_h, signal_bits));
    if (first) first->signal(signal_bits);
    u64 bits = TRY(n->wait(deadline_from_timeout(timeout)));  // holds a reference while blocked
    return bits & 0x7fffffffffffffffull;
}

Result<u64> waitset_create() { return create_and_install<object::WaitSet>(); }

Result<u64> waitset_add(u64 ws, u64 h, u64 mask, u64 key) {
    bool take = mask & abi::kWaitTake;
    mask &= ~abi::kWaitTake;
    if (mask == 0 || (mask & ~kKnownSignals)) return Status::InvalidArgument;
    auto set = TRY(kcap::lookup<object::WaitSet>(self(), handle_arg(ws), cap::kRightWrite));
    auto entry = TRY(self()->caps().lookup(cap::Handle::from_raw(handle_arg(h)), cap::kAnyType, cap::kRightWait));
    // Only objects that raise signals can be waited on. (This also keeps
    // WaitSets out of WaitSets: two watching each other would hold each
    // other alive forever.)
    auto type = static_cast<object::Type>(entry.type);
    if (type != object::Type::Notification && type != object::Type::BadgedEndpoint && type != object::Type::Process &&
        type != object::Type::Console && type != object::Type::Thread && type != object::Type::Interrupt &&
        type != object::Type::DeviceRoot)
        return Status::WrongType;
    auto* object = static_cast<object::Object*>(entry.object);
    if (type == object::Type::BadgedEndpoint) object = static_cast<object::BadgedEndpoint*>(object)->endpoint();
    TRY(set->add(object, mask, key, take));
    return 0;
}

Result<u64> waitset_remove(u64 ws, u64 key) {
    auto set = TRY(kcap::lookup<object::WaitSet>(self(), handle_arg(ws), cap::kRightWrite));
    TRY(set->remove(key));
    return 0;
}

Result<u64> waitset_wait(u64 ws, u64 user_events, u64 max, u64 timeout, u64 signal_h, u64 signal_bits) {
    auto set = TRY(kcap::lookup<object::WaitSet>(self(), handle_arg(ws), cap::kRightWait));
    if (max == 0 || max > object::WaitSet::kMaxEntries) return Status::InvalidArgument;
    if (!user::range_ok(user_events, max * sizeof(abi::WaitEvent))) return Status::OutOfBounds;
    object::WaitSet::Event events[object::WaitSet::kMaxEntries];  // wait() fills what it returns
    auto first = TRY(signal_first(signal_h, signal_bits));
    if (first) first->signal(signal_bits);
    auto n =
        TRY(set->wait(events, static_cast<u32>(max), deadline_from_timeout(timeout)));  // holds a ref while blocked
    static_assert(sizeof(abi::WaitEvent) == sizeof(object::WaitSet::Event));
    // kWaitTake entries are cleared only once the events reached the
    // caller: a bad buffer (or one unmapped while this thread was blocked)
    // loses nothing, so the buffer needs no test write beforehand.
    TRY(user::copy_to(user_events, events, n * sizeof(abi::WaitEvent)));
    set->take_reported(events, n);
    return n;
}

}  // namespace sys
