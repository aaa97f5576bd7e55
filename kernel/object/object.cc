#include "object/object.h"

#include "broker/nvme_queue.h"
#include "broker/virtqueue.h"
#include "debug/panic.h"
#include "object/badged_endpoint.h"
#include "object/console.h"
#include "object/device_mmio.h"
#include "object/device_root.h"
#include "object/dma_pool.h"
#include "object/interrupt.h"
#include "object/log.h"
#include "object/memory_object.h"
#include "object/notification.h"
#include "object/process.h"
#include "object/resource.h"
#include "object/thread.h"
#include "object/waitset.h"

namespace object {
namespace {

// One tag per class: kcap::lookup<T> casts whatever carries T::kType to T.
constexpr Type kClassTags[] = {Process::kType,      Thread::kType,       BadgedEndpoint::kType, Endpoint::kType,
                               Notification::kType, MemoryObject::kType, WaitSet::kType,        Log::kType,
                               Resource::kType,     Console::kType,      DeviceRoot::kType,     PciFunction::kType,
                               DeviceMmio::kType,   DmaPool::kType,      DmaBuffer::kType,      Interrupt::kType,
                               NvmeQueue::kType,    VirtQueue::kType};

constexpr bool tags_distinct() {
    for (Type a : kClassTags) {
        u32 seen = 0;
        for (Type b : kClassTags) seen += a == b ? 1 : 0;
        if (a == Type::None || seen != 1) return false;
    }
    return true;
}
static_assert(tags_distinct(), "two object classes share a type tag");

}  // namespace

const char* type_name(Type t) {
    switch (t) {
        case Type::Process: return "process";
        case Type::Thread: return "thread";
        case Type::BadgedEndpoint: return "endpoint";
        case Type::Notification: return "notification";
        case Type::MemoryObject: return "memory";
        case Type::WaitSet: return "waitset";
        case Type::Log: return "log";
        case Type::Resource: return "resource";
        case Type::Console: return "console";
        case Type::DeviceRoot: return "device-root";
        case Type::PciFunction: return "pci-function";
        case Type::DeviceMmio: return "device-mmio";
        case Type::DmaPool: return "dma-pool";
        case Type::DmaBuffer: return "dma-buffer";
        case Type::Interrupt: return "interrupt";
        case Type::NvmeQueue: return "nvme-queue";
        case Type::VirtQueue: return "virtqueue";
        case Type::Endpoint: return "endpoint-queue";
        case Type::None: break;
    }
    return "none";
}

namespace {
Object* g_deferred;
}

Object::~Object() {
    // WaitSets hold references to what they observe, so none can remain.
    if (m_observers) panic("kobj: %s destroyed while observed", type_name(m_type));
}

void Object::unref_deferred() {
    if (m_deferred++ == 0) {
        m_next_deferred = g_deferred;
        g_deferred = this;
    }
}

void Object::capability_dropped() {
    if (m_caps == 0) panic("kobj: %s lost a capability it did not have", type_name(m_type));
    if (--m_caps) return;
    // Runs from drain_deferred(): the release that brought us here queues
    // this object there (on_release drops its reference with
    // unref_deferred), and that reference keeps it alive until then.
    m_caps_gone = true;
}

void drain_deferred() {
    while (g_deferred) {
        Object* o = g_deferred;
        g_deferred = o->m_next_deferred;
        o->m_next_deferred = nullptr;
        u32 n = o->m_deferred;
        o->m_deferred = 0;
        // Before the references go: the deferred unref below is what keeps
        // o alive for the call. A capability made since (none can be: a
        // capability is derived only from a live one) would cancel it.
        if (o->m_caps_gone) {
            o->m_caps_gone = false;
            if (o->m_caps == 0) o->last_capability_gone();
        }
        // The last unref may destroy o, and with it queue more work.
        for (u32 i = 0; i < n; i++) o->unref();
    }
}

void Object::add_observer(Observer* o) {
    o->next = m_observers;
    m_observers = o;
}

void Object::remove_observer(Observer* o) {
    for (Observer** link = &m_observers; *link; link = &(*link)->next) {
        if (*link == o) {
            *link = o->next;
            o->next = nullptr;
            return;
        }
    }
}

void Object::signals_changed() {
    u64 now = signals();
    for (Observer* o = m_observers; o; o = o->next)
        if (now & o->mask) o->waitset->poke();
}

void Object::reference_underflow() {
    panic("kobj: unref of a dead %s object at %p", type_name(m_type), static_cast<void*>(this));
}

}  // namespace object
