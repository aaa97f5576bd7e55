#include "cap/object.h"

#include "debug/panic.h"

namespace kobj {

const char* type_name(Type t) {
    switch (t) {
        case Type::Process: return "process";
        case Type::Thread: return "thread";
        case Type::Endpoint: return "endpoint";
        case Type::Notification: return "notification";
        case Type::MemoryObject: return "memory";
        case Type::WaitSet: return "waitset";
        case Type::Log: return "log";
        case Type::None: break;
    }
    return "none";
}

void Object::unref() {
    if (m_refs == 0) panic("kobj: unref of a dead %s object at %p", type_name(m_type), static_cast<void*>(this));
    if (--m_refs == 0) delete this;
}

}  // namespace kobj
