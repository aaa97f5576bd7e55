// Intrusive reference counting: one counter (RefCounted) and one owning
// pointer (RefPtr) for everything the kernel shares by reference — kernel
// objects (object::Object), DMA grants (kdma::Session), NVMe controller
// generations (object::NvmeController) and kernel memory accounts
// (mm::Account).
//
// Ownership is in the type. A RefPtr<T> holds exactly one reference and
// gives it back when it goes (destroyed, reset, assigned over); a raw T*
// holds none: it is borrowed for the length of a call, or it is a back
// pointer whose owner clears it. A RefPtr is moved, never copied — a second
// reference is taken where it can be seen, with share().
//
//   - A new object starts with one reference, its creator's. adopt() takes
//     that reference over (once); share() takes a new one.
//   - leak() hands the reference to an owner that is not a RefPtr (a
//     capability slot, an intrusive list, an object's reference to itself);
//     the code that gives it back later says which reference it drops.
//
// What happens at zero is the counted class's business
// (Derived::last_reference_gone(): delete, or unlink and delete after its
// own checks), as is what a drop below zero means
// (Derived::reference_underflow(): always a kernel bug, reported there).
//
// SMP (DESIGN §7): the kernel runs on one CPU and is not preemptible, so
// the count is a plain integer. This class is the one place it becomes
// atomic: ref() a relaxed increment, unref() an acq_rel decrement whose
// last drop runs last_reference_gone(). Lookups that race the last drop
// then need a grace period (RCU-style) before memory is reused: that is
// the owners' concern (object::Object, the capability layer), not the
// counter's.
#pragma once

#include <type_traits>

#include "util/types.h"

namespace util {

// The counter. Derived must provide (and may keep private, befriending
// RefCounted<Derived>):
//   void last_reference_gone();   // the count reached zero
//   void reference_underflow();   // unref() with no reference left
template <typename Derived>
class RefCounted {
public:
    RefCounted(const RefCounted&) = delete;
    RefCounted& operator=(const RefCounted&) = delete;

    void ref() { m_refs++; }
    void unref() {
        if (m_refs == 0) {
            static_cast<Derived*>(this)->reference_underflow();
            return;
        }
        if (--m_refs == 0) static_cast<Derived*>(this)->last_reference_gone();
    }
    u32 refs() const { return m_refs; }

protected:
    RefCounted() = default;  // one reference: the creator's
    ~RefCounted() = default;

private:
    u32 m_refs = 1;
};

// How a RefPtr gives its reference back. The default drops it at once;
// object::DeferredRef drops it later (object::Object::unref_deferred).
struct UnrefNow {
    template <typename T>
    static void release(T* p) {
        p->unref();
    }
};

// One reference to a T (or none), moved, never copied.
template <typename T, typename Release = UnrefNow>
class [[nodiscard]] RefPtr {
public:
    constexpr RefPtr() = default;
    constexpr RefPtr(decltype(nullptr)) {}

    // Takes over a reference the caller already holds (a creator's).
    static RefPtr adopt(T* p) {
        RefPtr r;
        r.m_ptr = p;
        return r;
    }
    // Takes a new reference (none for null).
    static RefPtr share(T* p) {
        if (p) p->ref();
        return adopt(p);
    }

    RefPtr(RefPtr&& o) : m_ptr(o.leak()) {}
    // A reference to a derived class is one to its base.
    template <typename U>
    requires std::is_convertible_v<U*, T*> RefPtr(RefPtr<U, Release>&& o) : m_ptr(o.leak()) {}
    RefPtr& operator=(RefPtr&& o) {
        if (this != &o) {
            T* old = m_ptr;
            m_ptr = o.leak();
            if (old) Release::release(old);
        }
        return *this;
    }
    RefPtr& operator=(decltype(nullptr)) {
        reset();
        return *this;
    }
    RefPtr(const RefPtr&) = delete;
    RefPtr& operator=(const RefPtr&) = delete;
    ~RefPtr() { reset(); }

    // Gives the reference back now (by Release); null afterwards.
    void reset() {
        if (T* p = m_ptr) {
            m_ptr = nullptr;
            Release::release(p);
        }
    }
    // Hands the reference to the caller, which now owns it; null afterwards.
    [[nodiscard]] T* leak() {
        T* p = m_ptr;
        m_ptr = nullptr;
        return p;
    }

    T* get() const { return m_ptr; }
    T* operator->() const { return m_ptr; }
    T& operator*() const { return *m_ptr; }
    explicit operator bool() const { return m_ptr != nullptr; }

private:
    T* m_ptr = nullptr;
};

}  // namespace util
