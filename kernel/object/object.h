// The base of every kernel object a capability can name: a type tag and a
// reference count (util::RefCounted, lib/util/ref_ptr.h: the one counter
// the kernel has; with SMP it becomes atomic there, and destruction moves
// to an RCU-style grace period). Capabilities, mappings and the kernel's own
// tables each hold one reference; the object is destroyed when the last one
// goes.
//
// Who holds a reference, and how it is written:
//   - an object's members that own another object are RefPtr<T> (or
//     DeferredRef<T> where the drop must wait for drain_deferred());
//   - a Live capability slot holds one (kcap::install/mint adopt a RefPtr;
//     kcap's release hook drops it deferred);
//   - a mapping (MappingList) and a WaitSet entry hold one on what they map
//     or observe, dropped deferred: their removal runs inside capability
//     hooks;
//   - a thread blocked on an object holds one for the length of the wait;
//     the cancel hook that runs when the thread dies drops it instead;
//   - a Process holds one on itself while it is alive (Process::create).
#pragma once

#include "cap/rights.h"
#include "mm/account.h"
#include "util/ref_ptr.h"
#include "util/types.h"

namespace object {

// Every object class names its own tag (`static constexpr Type kType`), so
// kcap::lookup<T> checks a capability against the class it casts to, and
// no two classes share one. The numbers are what SystemInfo's Caps reports
// (abi::SystemCap.type): the shell's `caps` and the syscall fuzzer read
// them, so they never change.
//
// Each class that a system call (or the kernel, for init) creates also
// names the rights a new one is installed with (`kDefaultRights`), next to
// it rather than in the system call code.
enum class Type : u16 {
    None = 0,
    Process = 1,
    Thread = 2,
    // What every endpoint capability names, the server's too (badge 0):
    // type 3 is "endpoint" to user space.
    BadgedEndpoint = 3,
    Notification = 4,
    MemoryObject = 5,
    WaitSet = 6,
    Log = 7,
    Resource = 8,
    Console = 9,
    DeviceRoot = 10,
    PciFunction = 11,
    DeviceMmio = 12,
    DmaPool = 13,
    DmaBuffer = 14,
    Interrupt = 15,
    NvmeQueue = 16,
    VirtQueue = 17,
    // The queue of callers and receivers behind BadgedEndpoints; no
    // capability names it directly.
    Endpoint = 18,
};

const char* type_name(Type t);

class WaitSet;
class Object;

// Signal bits an object can raise for WaitSets (one namespace for all types).
constexpr u64 kSignalReady = 1u << 0;     // Notification: bits pending
constexpr u64 kSignalReadable = 1u << 1;  // Endpoint: a caller is waiting to be received
constexpr u64 kSignalDead = 1u << 2;      // Process: terminated (see its ExitReason)

struct Observer;

// Rights every transferable object's default rights include.
constexpr cap::Rights kPassRights = cap::kRightDuplicate | cap::kRightTransfer;

class Object : public util::RefCounted<Object> {
public:
    explicit Object(Type type) : m_type(type) {}
    virtual ~Object();

    Type type() const { return m_type; }
    // ref(), refs(), and unref(): drops one reference and destroys the
    // object (delete) at zero (util::RefCounted).
    // Drops one reference later, from drain_deferred(): for contexts that
    // must not run destructors (capability-layer hooks).
    void unref_deferred();

    // Current signal bits (0 for objects that never signal).
    virtual u64 signals() const { return 0; }
    // A capability naming this object was closed or revoked: undo what was
    // done through it (mappings). Runs inside a capability hook (see
    // cap/handles.h): no capability calls, no blocking.
    virtual void cap_released(u32 space_id, u32 handle) {}

    // Capabilities naming this object, in every space (kcap keeps the
    // count: install, mint and copies add one, every release — close,
    // revoke, process death — takes one; a move changes nothing). Not the
    // same as refs(): WaitSet entries, mappings, broker queues and blocked
    // threads hold references too.
    u32 capabilities() const { return m_caps; }
    void capability_added() { m_caps++; }
    void capability_dropped();
    // The last capability went (closed, revoked, or its process died):
    // nothing can name the object any more, though kernel references may
    // keep it in memory. Authority that must not outlive its capabilities
    // (a DMA grant, an interrupt vector) ends here rather than in the
    // destructor. Runs from drain_deferred(), outside capability hooks;
    // at most once per time the count falls to zero.
    virtual void last_capability_gone() {}
    void add_observer(Observer* o);
    void remove_observer(Observer* o);

    // The kernel memory this object (and what it owns) was charged to its
    // creator's account (mm/account.h); given back when it is destroyed,
    // whoever holds it by then.
    void adopt_charge(mm::Charge&& charge) { m_charge = static_cast<mm::Charge&&>(charge); }

protected:
    // Subclasses call this whenever signals() may have changed.
    void signals_changed();

private:
    friend class util::RefCounted<Object>;
    friend void drain_deferred();
    void last_reference_gone() { delete this; }
    [[noreturn]] void reference_underflow();

    Type m_type;
    u32 m_caps = 0;
    bool m_caps_gone = false;  // last_capability_gone() is due (drain_deferred)
    u32 m_deferred = 0;
    Object* m_next_deferred = nullptr;
    Observer* m_observers = nullptr;
    mm::Charge m_charge;
};

// Runs the unrefs queued by unref_deferred().
void drain_deferred();

// References to objects (lib/util/ref_ptr.h).
template <typename T>
using RefPtr = util::RefPtr<T>;

// A reference dropped with unref_deferred(): for members whose owner may
// be destroyed where destructors must not run in turn (inside capability
// hooks, or part way through another object's teardown).
struct UnrefDeferred {
    static void release(Object* o) { o->unref_deferred(); }
};
template <typename T>
using DeferredRef = util::RefPtr<T, UnrefDeferred>;

// A WaitSet's registration on one object (lives inside the WaitSet). It
// holds a reference to the object: what a WaitSet watches cannot go away
// under it (~Object checks that no observer is left).
struct Observer {
    WaitSet* waitset = nullptr;
    DeferredRef<Object> object;
    u64 mask = 0;
    u64 key = 0;
    Observer* next = nullptr;  // the object's observer list
};

}  // namespace object
