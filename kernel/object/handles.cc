#include "object/handles.h"

namespace kcap {
namespace {

void on_acquire(void*, void* object, u16) {
    auto* o = static_cast<object::Object*>(object);
    o->ref();
    o->capability_added();
}

void on_release(void*, const cap::Release& r) {
    auto* object = static_cast<object::Object*>(r.object);
    // A mapping lives no longer than the capability it was made through.
    object->cap_released(r.space_id, r.handle.raw());
    // The last capability's consequences (Object::last_capability_gone)
    // run when the deferred unref below is drained, outside this hook.
    object->capability_dropped();
    object->unref_deferred();
}

cap::Hooks hooks() {
    cap::Hooks h;
    h.on_acquire = on_acquire;
    h.on_release = on_release;
    return h;
}

// 64 Ki capabilities system-wide (32 bytes each, 2 MiB).
cap::DerivationForest<65536> g_forest(hooks());

}  // namespace

cap::Forest& forest() { return g_forest; }

Result<u32> install(object::Process* process, object::RefPtr<object::Object> object, cap::Rights rights) {
    auto h = process->caps().install(object.get(), static_cast<u16>(object->type()), rights);
    object::Object* o = object.leak();  // the slot's reference from here, or (failed) dropped below
    if (!h.ok()) {
        o->unref_deferred();
        return h.status();
    }
    o->capability_added();
    return h.value().raw();
}

Result<u32> mint(object::Process* process, u32 parent, object::RefPtr<object::Object> object, cap::Rights rights) {
    auto h = process->caps().mint(cap::Handle::from_raw(parent), process->caps(), object.get(),
                                  static_cast<u16>(object->type()), rights);
    if (!h.ok()) return h.status();     // object's reference goes with it
    object.leak()->capability_added();  // the slot's reference from here
    return h.value().raw();
}

Result<cap::Handle> move(cap::Space& src, cap::Handle h, cap::Space& dst) {
    auto entry = src.lookup(h, cap::kAnyType, cap::kRightTransfer);
    if (!entry.ok()) return entry.status();
    cap::Handle moved = TRY(src.move_to(h, dst));
    static_cast<object::Object*>(entry.value().object)->cap_released(src.id(), h.raw());
    return moved;
}

void finish() { object::drain_deferred(); }

}  // namespace kcap
