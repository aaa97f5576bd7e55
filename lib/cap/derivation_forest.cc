#include "cap/derivation_forest.h"

#include "cap/cap_space.h"

namespace cap {

Forest::Forest(Node* nodes, u32 capacity, const Hooks& hooks)
    : m_nodes(nodes), m_capacity(capacity < kNoNode ? capacity : kNoNode - 1), m_hooks(hooks) {
    // Free list in index order (nodes are internal: reuse order does not
    // matter for aliasing, only slot generations do).
    for (u32 i = 0; i < m_capacity; i++) {
        m_nodes[i] = Node{};
        m_nodes[i].next_sibling = i + 1 < m_capacity ? i + 1 : kNoNode;
    }
    m_free_head = m_capacity > 0 ? 0 : kNoNode;
}

u32 Forest::alloc_node(Space* space, u32 slot, u32 parent) {
    const u32 n = m_free_head;
    m_free_head = m_nodes[n].next_sibling;
    m_used++;

    Node& node = m_nodes[n];
    node = Node{};
    node.space = space;
    node.slot = slot;
    if (parent != kNoNode) {
        // Push front: O(1); sibling order carries no meaning.
        Node& p = m_nodes[parent];
        node.parent = parent;
        node.next_sibling = p.first_child;
        if (p.first_child != kNoNode) m_nodes[p.first_child].prev_sibling = n;
        p.first_child = n;
    }
    return n;
}

void Forest::relocate(u32 node, Space* space, u32 slot) {
    m_nodes[node].space = space;
    m_nodes[node].slot = slot;
}

void Forest::remove_node(u32 n) {
    Node& node = m_nodes[n];
    const u32 parent = node.parent;
    const u32 prev = node.prev_sibling;
    const u32 next = node.next_sibling;
    const u32 first = node.first_child;

    // Children take n's parent (F3 holds: rights narrow along every path).
    // Without a parent they become independent roots, which carry no
    // sibling links (F2).
    u32 last = kNoNode;
    for (u32 c = first; c != kNoNode;) {
        Node& child = m_nodes[c];
        const u32 following = child.next_sibling;
        child.parent = parent;
        if (parent == kNoNode) child.prev_sibling = child.next_sibling = kNoNode;
        last = c;
        c = following;
    }

    if (parent != kNoNode) {
        // Splice [first .. last] into n's place in the parent's child list.
        const bool has_children = first != kNoNode;
        const u32 head = has_children ? first : next;
        const u32 tail = has_children ? last : prev;
        if (has_children) {
            m_nodes[first].prev_sibling = prev;
            m_nodes[last].next_sibling = next;
        }
        if (prev != kNoNode)
            m_nodes[prev].next_sibling = head;
        else
            m_nodes[parent].first_child = head;
        if (next != kNoNode) m_nodes[next].prev_sibling = tail;
    }

    node = Node{};
    node.next_sibling = m_free_head;
    m_free_head = n;
    m_used--;
}

u32 Forest::revoke_descendants(u32 root) {
    // Post-order without recursion or a stack: walk down first-child links
    // to a leaf, remove it, step back up to its parent and repeat. Each node
    // is entered once from above and left once upwards (after its removal),
    // so the walk is O(descendants) and needs O(1) memory.
    u32 revoked = 0;
    u32 cur = root;
    for (;;) {
        const u32 child = m_nodes[cur].first_child;
        if (child != kNoNode) {
            cur = child;
            continue;
        }
        if (cur == root) return revoked;
        const u32 up = m_nodes[cur].parent;
        Space* space = m_nodes[cur].space;
        const u32 slot = m_nodes[cur].slot;
        remove_node(cur);
        // The slot is Revoked and the node freed before the hook runs, so
        // the hook sees (and may record) a consistent state.
        release(space->mark_revoked(slot));
        revoked++;
        cur = up;
    }
}

u32 Forest::child_count(u32 node) const {
    u32 count = 0;
    for (u32 c = m_nodes[node].first_child; c != kNoNode; c = m_nodes[c].next_sibling) count++;
    return count;
}

}  // namespace cap
