// The derivation forest: who derived which capability from which, across
// every capability space that shares it (the kernel has exactly one).
//
// Every *live* capability (slot state Live in some Space) owns exactly one
// node; revoked and free slots own none. A node records where its capability
// lives (space, slot) and its place in a tree:
//
//   root      a capability installed by the kernel (Space::install), or one
//             whose issuer closed its own root cap (see "close" below);
//   child     a capability derived from its parent: Space::duplicate,
//             Space::copy_to, Space::mint.
//
// Invariants (hold between any two public calls of Space or Forest):
//   F1  a node is free, or it is referenced by exactly one Live slot and
//       records that slot's (space, index);
//   F2  parent/child/sibling links form a forest: no cycles; a node's parent
//       is used; it appears in exactly its parent's child list; roots have no
//       siblings;
//   F3  rights(child) ⊆ rights(parent) (R1 in cap_space.h): re-parenting on
//       close keeps it, because rights only narrow down a path.
//
// Operations (all iterative, no recursion; bounded work per node):
//   revoke(n)  every descendant of n — transitively, in every space — is
//              detached, its slot turned Revoked, and on_release reported;
//              n itself is untouched. O(descendants).
//   close(n)   n is detached; its children move to n's parent in n's place
//              (so the issuer above can still revoke them). If n was a root,
//              its children become independent roots. O(children of n).
//
// Memory: no heap. Nodes come from a fixed array (DerivationForest<kNodes>,
// or caller storage through Forest's constructor) with a free list. When it
// is empty, anything that would create a capability fails with NoMemory and
// changes nothing. 32 bytes per node.
//
// Lifetime rules (who owns what):
//   - The Forest owns no objects. It must outlive every Space bound to it
//     (nodes point at their Space).
//   - Objects are opaque (void* + u16 type). A Live slot holds ONE reference
//     to its object, owned by the kernel's refcount, not by this layer:
//       * install() / mint() adopt a reference the caller already took;
//       * duplicate() / copy_to() call hooks.on_acquire once on success —
//         the kernel takes a reference there;
//       * move_to() moves the reference with the capability (no hook);
//       * every slot that stops referencing its object (close, revoke,
//         close_all) calls hooks.on_release exactly once — the kernel drops
//         that reference there. A revoked slot has already released its
//         object; closing it later releases nothing.
//   - So for every object: installs + mints + on_acquire calls
//     == on_release calls + Live slots naming it.
//
// Hook rules (SPDK-style):
//   - Hooks run synchronously inside the Space call that triggered them,
//     after the affected slot and node are already in their final state,
//     and (in the kernel) with the forest lock and a space lock held.
//   - A hook MUST NOT call any Space or Forest function (a revoke or
//     close_all traversal is in progress), must not block, and must not
//     fail. In particular it must not destroy an object synchronously if the
//     destructor could re-enter this layer (a Process closing its Space):
//     drop the ref with deferred destruction, or queue the object and the
//     Release record (e.g. unmap work for a revoked MemoryObject cap) on a
//     reap list that runs after the locks are dropped.
//   - Null hook pointers are allowed (no-op).
//
// Locking (single-threaded today; for SMP, DESIGN §7): one lock per Forest,
// the "derivation lock", protects every node and the free list. It is taken
// by every operation that creates, moves or destroys a capability (install,
// duplicate, copy_to, move_to, mint, close, revoke, close_all) and is
// ordered BEFORE the per-space slot locks (see cap_space.h). lookup() does
// not take it, so the I/O path never touches the derivation lock.
#pragma once

#include "cap/handle.h"
#include "cap/rights.h"
#include "util/types.h"

namespace cap {

class Space;

// Index of "no node" in parent/child/sibling links and in Slot::node.
inline constexpr u32 kNoNode = ~0u;

enum class ReleaseReason : u8 {
    Closed,       // Space::close of a Live slot
    Revoked,      // a revoke above this cap reached it; the slot stays, Revoked
    SpaceClosed,  // Space::close_all (process death) or ~Space
};

// What on_release reports: the slot that stopped referencing `object`.
// `handle` is the value the holder used; after Closed/SpaceClosed it is Stale,
// after Revoked it resolves to Revoked until the holder closes it. (space_id,
// handle) is unique among occupied slots, so the kernel can key per-cap state
// (mappings made through this cap) by it.
struct Release {
    u32 space_id;
    Handle handle;
    void* object;
    u16 type;
    Rights rights;
    ReleaseReason reason;
};

struct Hooks {
    // A new slot now names `object` (duplicate, copy_to): take one reference.
    void (*on_acquire)(void* ctx, void* object, u16 type) = nullptr;
    // A slot stopped naming its object: drop one reference (deferred; see
    // "Hook rules" above) and undo what the kernel did through this cap.
    void (*on_release)(void* ctx, const Release& release) = nullptr;
    void* ctx = nullptr;
};

class Forest {
public:
    // Opaque to users; public only so storage can be declared.
    struct Node {
        Space* space = nullptr;  // null when free
        u32 slot = 0;            // index of the owning slot in `space`
        u32 parent = kNoNode;
        u32 first_child = kNoNode;
        u32 next_sibling = kNoNode;  // also the free-list link of a free node
        u32 prev_sibling = kNoNode;
        u32 work_next = kNoNode;  // scratch: Space::close_all's worklist
    };

    // `nodes[0..capacity)` is caller storage that must outlive the Forest;
    // it is (re)initialised here.
    Forest(Node* nodes, u32 capacity, const Hooks& hooks);
    Forest(const Forest&) = delete;
    Forest& operator=(const Forest&) = delete;

    u32 capacity() const { return m_capacity; }
    u32 used_count() const { return m_used; }
    u32 free_count() const { return m_capacity - m_used; }
    const Hooks& hooks() const { return m_hooks; }

private:
    friend class Space;

    bool in_space(u32 node, const Space* space) const { return node != kNoNode && m_nodes[node].space == space; }

    // Precondition: free_count() > 0. Links the new node under `parent`
    // (kNoNode: a new root).
    u32 alloc_node(Space* space, u32 slot, u32 parent);
    // The capability moved to (space, slot); its tree position is unchanged.
    void relocate(u32 node, Space* space, u32 slot);
    // Detaches `node`, splicing its children into its place under its parent
    // (or making them roots), and frees it.
    void remove_node(u32 node);
    // Revokes every descendant of `node` (post-order, iteratively); returns
    // how many.
    u32 revoke_descendants(u32 node);
    u32 child_count(u32 node) const;

    void acquire(void* object, u16 type) const {
        if (m_hooks.on_acquire) m_hooks.on_acquire(m_hooks.ctx, object, type);
    }
    void release(const Release& release) const {
        if (m_hooks.on_release) m_hooks.on_release(m_hooks.ctx, release);
    }

    Node* m_nodes;
    u32 m_capacity;
    u32 m_used = 0;
    u32 m_free_head = kNoNode;
    Hooks m_hooks;
};

namespace detail {
template <u32 kNodes>
struct NodeStorage {
    Forest::Node m_node_storage[kNodes];
};
}  // namespace detail

// A Forest with its node pool inside: `static DerivationForest<8192> g_caps(hooks);`
// (32 bytes per node; keep it in .bss, not on a stack.)
template <u32 kNodes>
class DerivationForest : private detail::NodeStorage<kNodes>, public Forest {
    static_assert(kNodes > 0 && kNodes < kNoNode);

public:
    explicit DerivationForest(const Hooks& hooks = Hooks{})
        : Forest(detail::NodeStorage<kNodes>::m_node_storage, kNodes, hooks) {}
};

}  // namespace cap
