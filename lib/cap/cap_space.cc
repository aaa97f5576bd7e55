#include "cap/cap_space.h"

namespace cap {

namespace {

// First generation of a slot: 1 without a seed, otherwise a per-slot hash of
// the seed (any value in 1..kMaxGeneration; 0 is never a generation).
u32 initial_generation(u32 seed, u32 slot) {
    if (seed == 0) return 1;
    u32 x = seed ^ (slot * 0x9E3779B1u);
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    return 1 + x % Handle::kMaxGeneration;
}

// Argument check shared by every derivation: only defined bits, or exactly
// kSameRights.
bool requested_rights_valid(Rights rights) { return rights == kSameRights || rights_valid(rights); }

}  // namespace

Space::Space(Slot* slots, u32 capacity, Forest& forest, u32 id, u32 generation_seed)
    : m_slots(slots),
      m_capacity(capacity < Handle::kMaxSlots ? capacity : Handle::kMaxSlots),
      m_forest(forest),
      m_id(id) {
    for (u32 i = 0; i < m_capacity; i++) {
        m_slots[i] = Slot{};
        m_slots[i].generation = initial_generation(generation_seed, i);
        m_slots[i].next_free = i + 1 < m_capacity ? i + 1 : kNoSlot;
    }
    if (m_capacity > 0) {
        m_free_head = 0;
        m_free_tail = m_capacity - 1;
    }
}

Space::~Space() { (void)close_all(); }

// --- slot bookkeeping -------------------------------------------------------

u32 Space::take_free_slot() {
    const u32 slot = m_free_head;
    m_free_head = m_slots[slot].next_free;
    if (m_free_head == kNoSlot) m_free_tail = kNoSlot;
    m_slots[slot].next_free = kNoSlot;
    return slot;
}

void Space::put_free_slot(u32 slot) {
    Slot& s = m_slots[slot];
    const u32 generation = Handle::next_generation(s.generation);
    s = Slot{};
    s.generation = generation;
    if (m_free_tail == kNoSlot)
        m_free_head = slot;
    else
        m_slots[m_free_tail].next_free = slot;
    m_free_tail = slot;
}

Handle Space::occupy(u32 slot, void* object, u16 type, Rights rights, u32 node) {
    Slot& s = m_slots[slot];
    s.object = object;
    s.type = type;
    s.rights = rights;
    s.node = node;
    s.state = SlotState::Live;
    m_live++;
    return handle_of(slot);
}

// --- resolution -------------------------------------------------------------

Result<u32> Space::resolve(Handle handle, bool allow_revoked) const {
    if (!handle.has_slot_field() || handle.slot() >= m_capacity || handle.generation() == 0) return Status::BadHandle;
    const u32 slot = handle.slot();
    const Slot& s = m_slots[slot];
    if (s.state == SlotState::Free || s.generation != handle.generation()) return Status::Stale;
    if (s.state == SlotState::Revoked && !allow_revoked) return Status::Revoked;
    return slot;
}

Result<u32> Space::resolve_live(Handle handle, u16 type, Rights required) const {
    const u32 slot = TRY(resolve(handle, false));
    const Slot& s = m_slots[slot];
    if (type != kAnyType && s.type != type) return Status::WrongType;
    if (!rights_include(s.rights, required)) return Status::NoRights;
    return slot;
}

Result<Entry> Space::lookup(Handle handle, u16 type, Rights required) const {
    const u32 slot = TRY(resolve_live(handle, type, required));
    const Slot& s = m_slots[slot];
    return Entry{s.object, s.type, s.rights};
}

// --- creating capabilities --------------------------------------------------

Result<Handle> Space::install(void* object, u16 type, Rights rights) {
    if (object == nullptr || type == kAnyType || !rights_valid(rights)) return Status::InvalidArgument;
    if (!has_free_slot() || m_forest.free_count() == 0) return Status::NoMemory;
    const u32 slot = take_free_slot();
    const u32 node = m_forest.alloc_node(this, slot, kNoNode);
    return occupy(slot, object, type, rights, node);
}

Result<Handle> Space::duplicate(Handle handle, Rights rights) { return derive(handle, *this, rights, nullptr, 0); }

Result<Handle> Space::copy_to(Handle handle, Space& dst, Rights rights) {
    return derive(handle, dst, rights, nullptr, 0);
}

Result<Handle> Space::mint(Handle parent, Space& dst, void* object, u16 type, Rights rights) {
    if (object == nullptr || type == kAnyType) return Status::InvalidArgument;
    return derive(parent, dst, rights, object, type);
}

Result<Handle> Space::derive(Handle handle, Space& dst, Rights rights, void* new_object, u16 new_type) {
    if (!requested_rights_valid(rights) || &dst.m_forest != &m_forest) return Status::InvalidArgument;
    const Rights needed = &dst == this ? kRightDuplicate : kRightDuplicate | kRightTransfer;
    const u32 src = TRY(resolve_live(handle, kAnyType, needed));
    const Slot& s = m_slots[src];
    // R1: a derivation only narrows.
    if (rights == kSameRights) rights = s.rights;
    if (!rights_include(s.rights, rights)) return Status::NoRights;
    if (!dst.has_free_slot() || m_forest.free_count() == 0) return Status::NoMemory;

    void* object = new_object != nullptr ? new_object : s.object;
    const u16 type = new_object != nullptr ? new_type : s.type;
    const u32 slot = dst.take_free_slot();
    const u32 node = m_forest.alloc_node(&dst, slot, s.node);
    const Handle out = dst.occupy(slot, object, type, rights, node);
    // mint adopted the caller's reference; a copy of the same object needs
    // its own.
    if (new_object == nullptr) m_forest.acquire(object, type);
    return out;
}

Result<Handle> Space::move_to(Handle handle, Space& dst) {
    if (&dst.m_forest != &m_forest) return Status::InvalidArgument;
    const u32 src = TRY(resolve_live(handle, kAnyType, kRightTransfer));
    if (!dst.has_free_slot()) return Status::NoMemory;
    // Take the destination slot before freeing the source: with dst == this
    // the handle still changes, and the old one is Stale like any other.
    const u32 slot = dst.take_free_slot();
    const Slot& s = m_slots[src];
    const Handle out = dst.occupy(slot, s.object, s.type, s.rights, s.node);
    m_forest.relocate(s.node, &dst, slot);
    m_live--;
    put_free_slot(src);
    return out;
}

// --- destroying capabilities ------------------------------------------------

Result<void> Space::close(Handle handle) {
    const u32 slot = TRY(resolve(handle, true));
    close_slot(slot, ReleaseReason::Closed);
    return {};
}

void Space::close_slot(u32 slot, ReleaseReason reason) {
    Slot& s = m_slots[slot];
    if (s.state == SlotState::Revoked) {
        m_revoked--;
        put_free_slot(slot);
        return;
    }
    const Release release{m_id, handle_of(slot), s.object, s.type, s.rights, reason};
    m_forest.remove_node(s.node);
    m_live--;
    put_free_slot(slot);
    m_forest.release(release);
}

Result<u32> Space::revoke(Handle handle) {
    const u32 slot = TRY(resolve_live(handle, kAnyType, kRightRevoke));
    return m_forest.revoke_descendants(m_slots[slot].node);
}

Release Space::mark_revoked(u32 slot) {
    Slot& s = m_slots[slot];
    const Release release{m_id, handle_of(slot), s.object, s.type, s.rights, ReleaseReason::Revoked};
    s.object = nullptr;
    s.node = kNoNode;
    s.state = SlotState::Revoked;
    m_live--;
    m_revoked++;
    return release;
}

u32 Space::close_all() {
    u32 released = 0;
    for (u32 slot = 0; slot < m_capacity; slot++) {
        const Slot& s = m_slots[slot];
        if (s.state == SlotState::Revoked) {
            close_slot(slot, ReleaseReason::SpaceClosed);
        } else if (s.state == SlotState::Live) {
            // A slot whose parent lives here too is closed together with its
            // topmost ancestor in this space (earlier or later in the scan).
            const u32 node = s.node;
            if (!m_forest.in_space(m_forest.m_nodes[node].parent, this)) released += close_top_down(node);
        }
    }
    return released;
}

u32 Space::close_top_down(u32 top) {
    // Closing parents before children means every re-parenting moves a child
    // to a node outside this space (or makes it a root), which this call will
    // never close: no child is re-parented twice, so the whole close_all is
    // O(capacity + children). Children still to close wait on an intrusive
    // stack threaded through Node::work_next (no recursion, no allocation).
    Forest::Node* nodes = m_forest.m_nodes;
    u32 closed = 0;
    u32 stack = top;
    nodes[top].work_next = kNoNode;
    while (stack != kNoNode) {
        const u32 n = stack;
        stack = nodes[n].work_next;
        for (u32 c = nodes[n].first_child; c != kNoNode; c = nodes[c].next_sibling) {
            if (nodes[c].space != this) continue;
            nodes[c].work_next = stack;
            stack = c;
        }
        close_slot(nodes[n].slot, ReleaseReason::SpaceClosed);
        closed++;
    }
    return closed;
}

// --- diagnostics ------------------------------------------------------------

u32 Space::enumerate(u32 start, SlotInfo* out, u32 max, u32* next) const {
    u32 count = 0;
    u32 slot = start;
    for (; slot < m_capacity && count < max; slot++) {
        const Slot& s = m_slots[slot];
        if (s.state == SlotState::Free) continue;
        const bool live = s.state == SlotState::Live;
        out[count++] = SlotInfo{
            handle_of(slot),
            s.state,
            s.type,
            s.rights,
            s.object,
            live && m_forest.m_nodes[s.node].parent != kNoNode,
            live ? m_forest.child_count(s.node) : 0,
        };
    }
    if (next != nullptr) *next = slot < m_capacity ? slot : m_capacity;
    return count;
}

}  // namespace cap
