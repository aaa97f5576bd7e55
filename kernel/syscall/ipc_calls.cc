// Endpoints, notifications and wait sets.
#include "abi/ipc.h"
#include "arch/x86_64/user_copy.h"
#include "cap/badged_endpoint.h"
#include "cap/notification.h"
#include "cap/waitset.h"
#include "events/refusals.h"
#include "syscall/common.h"

namespace sys {
namespace {

constexpr u64 kKnownSignals = abi::kSignalReady | abi::kSignalReadable | abi::kSignalDead;
static_assert(abi::kSignalReady == kobj::kSignalReady && abi::kSignalReadable == kobj::kSignalReadable &&
              abi::kSignalDead == kobj::kSignalDead);

Result<void> copy_message_in(abi::Message& m, u64 user_msg) {
    TRY(user::copy_from(&m, user_msg, sizeof m));
    if (m.length > abi::kMessageBytes || m.handle_count > abi::kMessageHandles) return Status::InvalidArgument;
    return {};
}

template <typename T>
i64 install_new(kobj::RefPtr<T> object) {
    auto h = kcap::install(self(), std::move(object));
    return h.ok() ? h.value() : err(h.status());
}

}  // namespace

Status transfer_message_handles(kobj::Thread* from, kobj::Thread* to) {
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

i64 endpoint_create() {
    auto endpoint_charge = charge_new<kobj::Endpoint>();
    if (!endpoint_charge.ok()) return err(endpoint_charge.status());
    auto view_charge = charge_new<kobj::BadgedEndpoint>();
    if (!view_charge.ok()) return err(view_charge.status());
    auto endpoint = kobj::RefPtr<kobj::Endpoint>::adopt(new (std::nothrow) kobj::Endpoint());
    if (!endpoint) return err(Status::NoMemory);
    endpoint->adopt_charge(endpoint_charge.release_value());
    // The view takes its own reference; without a view the endpoint goes.
    auto view = kobj::RefPtr<kobj::BadgedEndpoint>::adopt(new (std::nothrow) kobj::BadgedEndpoint(endpoint.get(), 0));
    endpoint.reset();
    if (!view) return err(Status::NoMemory);
    view->adopt_charge(view_charge.release_value());
    return install_new(std::move(view));
}

i64 endpoint_mint(u64 h, u64 badge, u64 rights) {
    if (rights > 0xffffffffu) return err(Status::InvalidArgument);
    auto parent = kcap::lookup<kobj::BadgedEndpoint>(self(), handle_arg(h), cap::kRightDuplicate);
    if (!parent.ok()) return err(parent.status());
    // A badge is set once, by whoever holds the unbadged endpoint (the
    // server): it is who the server takes the caller for. A client's
    // badged capability minted again would speak as any client it names
    // (a plain HandleDuplicate keeps its badge), so it has no right to.
    if (parent.value()->badge() != 0) {
        refusals::record(self(), abi::RefusalKind::Syscall, refusals::kNoFunction, Status::NoRights,
                         static_cast<u64>(abi::Syscall::EndpointMint), klog::Level::Warn,
                         "refused: pid %u '%s' EndpointMint: the endpoint capability already carries a badge; a badge "
                         "is set once",
                         self()->pid(), self()->name());
        return err(Status::NoRights);
    }
    auto charge = charge_new<kobj::BadgedEndpoint>();
    if (!charge.ok()) return err(charge.status());
    auto view = kobj::RefPtr<kobj::BadgedEndpoint>::adopt(
        new (std::nothrow) kobj::BadgedEndpoint(parent.value()->endpoint(), badge));
    if (!view) return err(Status::NoMemory);
    view->adopt_charge(charge.release_value());
    auto r = kcap::mint(self(), handle_arg(h), std::move(view), static_cast<cap::Rights>(rights));
    return r.ok() ? r.value() : err(r.status());
}

i64 endpoint_call(u64 h, u64 user_msg) {
    auto ep = kcap::lookup<kobj::BadgedEndpoint>(self(), handle_arg(h), cap::kRightCall);
    if (!ep.ok()) return err(ep.status());
    kobj::Thread* t = sched::current();
    if (auto r = copy_message_in(t->ipc.msg, user_msg); !r.ok()) return err(r.status());
    t->ipc.msg.badge = 0;
    auto r = ep.value()->endpoint()->call(t, ep.value()->badge());
    if (!t->ipc.replied) return err(r.status());  // no reply (the server died): Stale
    // A reply whose handles did not all transfer is still delivered: the
    // ones that did are the caller's (handles[i] = 0 for the others).
    if (auto c = user::copy_to(user_msg, &t->ipc.msg, sizeof t->ipc.msg); !c.ok()) return err(c.status());
    return r.ok() ? 0 : err(r.status());
}

i64 endpoint_receive(u64 h, u64 user_msg, u64 timeout) {
    auto ep = kcap::lookup<kobj::BadgedEndpoint>(self(), handle_arg(h), cap::kRightServe);
    if (!ep.ok()) return err(ep.status());
    if (!user::range_ok(user_msg, sizeof(abi::Message))) return err(Status::OutOfBounds);
    kobj::Thread* t = sched::current();
    auto r = ep.value()->endpoint()->receive(t, deadline_from_timeout(timeout));
    if (!r.ok() && !t->ipc.reply_to) return err(r.status());
    t->ipc.msg.badge = t->ipc.badge;
    if (auto c = user::copy_to(user_msg, &t->ipc.msg, sizeof t->ipc.msg); !c.ok()) return err(c.status());
    // A handle that could not be transferred is reported, but the caller is
    // still waiting for this server's reply.
    return r.ok() ? 0 : err(r.status());
}

i64 endpoint_reply(u64 user_msg) {
    kobj::Thread* t = sched::current();
    if (!t->ipc.reply_to) return err(Status::NotFound);
    abi::Message m;
    if (auto r = copy_message_in(m, user_msg); !r.ok()) return err(r.status());
    t->ipc.msg = m;
    return ok_or(kobj::Endpoint::reply(t), 0);
}

i64 notification_create() {
    auto charge = charge_new<kobj::Notification>();
    if (!charge.ok()) return err(charge.status());
    auto n = kobj::RefPtr<kobj::Notification>::adopt(new (std::nothrow) kobj::Notification());
    if (!n) return err(Status::NoMemory);
    n->adopt_charge(charge.release_value());
    return install_new(std::move(n));
}

i64 notification_signal(u64 h, u64 bits) {
    auto n = kcap::lookup<kobj::Notification>(self(), handle_arg(h), cap::kRightSignal);
    if (!n.ok()) return err(n.status());
    n.value()->signal(bits);
    return 0;
}

namespace {
// The optional "signal first" half of NotificationWait and WaitSetWait:
// (0, 0) is none; otherwise a Notification with the signal right and
// non-zero bits. Looked up before anything happens, signalled by the
// caller once the wait's own arguments are known to be good.
Result<kobj::Notification*> signal_first(u64 h, u64 bits) {
    if (!h) return bits ? Result<kobj::Notification*>(Status::InvalidArgument) : Result<kobj::Notification*>(nullptr);
    if (!bits) return Status::InvalidArgument;
    return kcap::lookup<kobj::Notification>(self(), handle_arg(h), cap::kRightSignal);
}
}  // namespace

i64 notification_wait(u64 h, u64 timeout, u64 signal_h, u64 signal_bits) {
    auto n = kcap::lookup<kobj::Notification>(self(), handle_arg(h), cap::kRightWait);
    if (!n.ok()) return err(n.status());
    auto first = signal_first(signal_h, signal_bits);
    if (!first.ok()) return err(first.status());
    if (first.value()) first.value()->signal(signal_bits);
    auto bits = n.value()->wait(deadline_from_timeout(timeout));  // holds a reference while blocked
    return bits.ok() ? static_cast<i64>(bits.value() & 0x7fffffffffffffffull) : err(bits.status());
}

i64 waitset_create() {
    auto charge = charge_new<kobj::WaitSet>();
    if (!charge.ok()) return err(charge.status());
    auto ws = kobj::RefPtr<kobj::WaitSet>::adopt(new (std::nothrow) kobj::WaitSet());
    if (!ws) return err(Status::NoMemory);
    ws->adopt_charge(charge.release_value());
    return install_new(std::move(ws));
}

i64 waitset_add(u64 ws, u64 h, u64 mask, u64 key) {
    bool take = mask & abi::kWaitTake;
    mask &= ~abi::kWaitTake;
    if (mask == 0 || (mask & ~kKnownSignals)) return err(Status::InvalidArgument);
    auto set = kcap::lookup<kobj::WaitSet>(self(), handle_arg(ws), cap::kRightWrite);
    if (!set.ok()) return err(set.status());
    auto entry = self()->caps().lookup(cap::Handle::from_raw(handle_arg(h)), cap::kAnyType, cap::kRightWait);
    if (!entry.ok()) return err(entry.status());
    // Only objects that raise signals can be waited on. (This also keeps
    // WaitSets out of WaitSets: two watching each other would hold each
    // other alive forever.)
    auto type = static_cast<kobj::Type>(entry.value().type);
    if (type != kobj::Type::Notification && type != kobj::Type::BadgedEndpoint && type != kobj::Type::Process &&
        type != kobj::Type::Console && type != kobj::Type::Thread && type != kobj::Type::Interrupt &&
        type != kobj::Type::DeviceRoot)
        return err(Status::WrongType);
    auto* object = static_cast<kobj::Object*>(entry.value().object);
    if (type == kobj::Type::BadgedEndpoint) object = static_cast<kobj::BadgedEndpoint*>(object)->endpoint();
    return ok_or(set.value()->add(object, mask, key, take), 0);
}

i64 waitset_remove(u64 ws, u64 key) {
    auto set = kcap::lookup<kobj::WaitSet>(self(), handle_arg(ws), cap::kRightWrite);
    if (!set.ok()) return err(set.status());
    return ok_or(set.value()->remove(key), 0);
}

i64 waitset_wait(u64 ws, u64 user_events, u64 max, u64 timeout, u64 signal_h, u64 signal_bits) {
    auto set = kcap::lookup<kobj::WaitSet>(self(), handle_arg(ws), cap::kRightWait);
    if (!set.ok()) return err(set.status());
    if (max == 0 || max > kobj::WaitSet::kMaxEntries) return err(Status::InvalidArgument);
    if (!user::range_ok(user_events, max * sizeof(abi::WaitEvent))) return err(Status::OutOfBounds);
    kobj::WaitSet::Event events[kobj::WaitSet::kMaxEntries];  // wait() fills what it returns
    auto first = signal_first(signal_h, signal_bits);
    if (!first.ok()) return err(first.status());
    if (first.value()) first.value()->signal(signal_bits);
    auto n = set.value()->wait(events, static_cast<u32>(max), deadline_from_timeout(timeout));  // holds a ref while blocked
    if (!n.ok()) return err(n.status());
    static_assert(sizeof(abi::WaitEvent) == sizeof(kobj::WaitSet::Event));
    // kWaitTake entries are cleared only once the events reached the
    // caller: a bad buffer (or one unmapped while this thread was blocked)
    // loses nothing, so the buffer needs no test write beforehand.
    if (auto c = user::copy_to(user_events, events, n.value() * sizeof(abi::WaitEvent)); !c.ok()) return err(c.status());
    set.value()->take_reported(events, n.value());
    return n.value();
}

}  // namespace sys
