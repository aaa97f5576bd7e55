// The kernel side of the capability layer (lib/cap): one derivation forest
// for the whole system, the hooks that keep object reference counts and
// mappings in step with capabilities, and typed lookups for syscalls.
//
// Reference rule: a Live capability slot holds one reference to its object.
// install() and mint() take the caller's (a RefPtr); releases are deferred
// (Object::unref_deferred) and run by finish(), which every syscall that
// touches capabilities calls before returning. Every object also counts the
// capabilities naming it (Object::capabilities(): install, mint and copies
// add, releases take), so authority can end with the last capability even
// while kernel references keep the object (Object::last_capability_gone).
#pragma once

#include "cap/cap_space.h"
#include "object/object.h"
#include "util/result.h"

namespace object {
class Process;
}

namespace kcap {

constexpr u32 kSlotsPerProcess = 1024;
using ProcessSpace = cap::CapSpace<kSlotsPerProcess>;

cap::Forest& forest();

// Installs `object` into `process`'s space; the new slot holds its
// reference (dropped deferred, at finish(), on failure).
Result<u32> install(object::Process* process, object::RefPtr<object::Object> object, cap::Rights rights);

// Installs `object` in `process`'s space as a child of its capability
// `parent` (a raw handle): revoking `parent` revokes it (cap::Space::mint).
// The new slot holds its reference (dropped at once on failure).
Result<u32> mint(object::Process* process, u32 parent, object::RefPtr<object::Object> object, cap::Rights rights);

// The same, for a new object of class T, with the rights every new one of
// its class gets (T::kDefaultRights).
template <typename T>
Result<u32> install(object::Process* process, object::RefPtr<T> object) {
    return install(process, object::RefPtr<object::Object>(std::move(object)), T::kDefaultRights);
}
template <typename T>
Result<u32> mint(object::Process* process, u32 parent, object::RefPtr<T> object) {
    return mint(process, parent, object::RefPtr<object::Object>(std::move(object)), T::kDefaultRights);
}

// Resolves a handle to an object of class T (its type tag, T::kType) with
// at least `rights`. Stale / Revoked / WrongType / NoRights / BadHandle as
// lib/cap reports. The object is borrowed: the capability keeps it alive
// until the caller blocks or returns (a call that blocks takes its own
// reference first).
template <typename T>
Result<T*> lookup(object::Process* process, u32 handle, cap::Rights rights);

// Moves a capability to another space. What was done through it in the
// source space (mappings) is undone first: a mapping never outlives its
// holder's capability, even one that moved away.
Result<cap::Handle> move(cap::Space& src, cap::Handle h, cap::Space& dst);

// Runs deferred unrefs (see header comment).
void finish();

}  // namespace kcap

#include "object/process.h"

namespace kcap {

template <typename T>
Result<T*> lookup(object::Process* process, u32 handle, cap::Rights rights) {
    auto entry = process->caps().lookup(cap::Handle::from_raw(handle), static_cast<u16>(T::kType), rights);
    if (!entry.ok()) return entry.status();
    return static_cast<T*>(static_cast<object::Object*>(entry.value().object));
}

}  // namespace kcap
