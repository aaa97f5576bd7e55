#include "dma/ledger.h"

namespace dma {
namespace {
// id = generation << 8 | slot; generations start at 1, so no id is 0.
constexpr u32 kSlotBits = 8;
static_assert(Ledger::kCapacity == 1u << kSlotBits);
}  // namespace

Result<u32> Ledger::add(u64 address, u64 bytes, u32 owner, Use use, u64 device_address) {
    if (bytes == 0 || address + bytes < address) return Status::InvalidArgument;
    if (m_state != LedgerState::Active) return Status::TornDown;
    for (u32 i = 0; i < kCapacity; i++) {
        Entry& e = m_entries[i];
        if (e.live) continue;
        u32 generation = (e.generation + 1) & 0xFFFFFF;
        if (generation == 0) generation = 1;
        e = Entry{address, bytes, device_address == kSameAddress ? address : device_address, owner, 0, generation, use,
                  true,    false};
        m_live++;
        return generation << kSlotBits | i;
    }
    return Status::NoMemory;
}

Ledger::Entry* Ledger::lookup(u32 id) {
    Entry& e = m_entries[id & (kCapacity - 1)];
    if (!e.live || e.generation != id >> kSlotBits) return nullptr;
    return &e;
}

const Ledger::Entry* Ledger::find(u32 id) const { return const_cast<Ledger*>(this)->lookup(id); }

void Ledger::give_back_entry(Entry& e, GiveBack give_back, void* ctx) {
    u64 address = e.address, bytes = e.bytes, device_address = e.device_address;
    e.live = false;
    e.released = false;
    e.in_flight = 0;
    m_live--;
    if (give_back) give_back(ctx, address, bytes, device_address);
}

Result<void> Ledger::hold(u32 id) {
    if (m_state != LedgerState::Active) return Status::TornDown;
    Entry* e = lookup(id);
    if (!e) return Status::NotFound;
    if (e->released) return Status::Busy;
    e->in_flight++;
    return {};
}

Result<bool> Ledger::unhold(u32 id, GiveBack give_back, void* ctx) {
    Entry* e = lookup(id);
    if (!e) return Status::NotFound;
    if (e->in_flight == 0) return Status::InvalidArgument;
    if (--e->in_flight == 0 && e->released && m_state == LedgerState::Active) {
        give_back_entry(*e, give_back, ctx);
        return true;
    }
    return false;
}

Result<bool> Ledger::release(u32 id, GiveBack give_back, void* ctx) {
    Entry* e = lookup(id);
    if (!e) return Status::NotFound;
    if (e->released) return Status::Busy;
    e->released = true;
    if (m_state == LedgerState::Quarantined || m_state == LedgerState::Stopping) return false;
    if (e->in_flight == 0 || m_state == LedgerState::Quiesced) {
        give_back_entry(*e, give_back, ctx);
        return true;
    }
    return false;
}

void Ledger::stop() {
    if (m_state == LedgerState::Active) m_state = LedgerState::Stopping;
}

u32 Ledger::quiesce(GiveBack give_back, void* ctx) {
    if (m_state != LedgerState::Active && m_state != LedgerState::Stopping) return 0;
    m_state = LedgerState::Quiesced;
    u32 n = 0;
    for (Entry& e : m_entries) {
        if (!e.live) continue;
        e.in_flight = 0;
        if (e.released) {
            give_back_entry(e, give_back, ctx);
            n++;
        }
    }
    return n;
}

u64 Ledger::quarantine() {
    if (m_state == LedgerState::Active || m_state == LedgerState::Stopping) m_state = LedgerState::Quarantined;
    if (m_state != LedgerState::Quarantined) return 0;
    u64 bytes = 0;
    for (const Entry& e : m_entries)
        if (e.live) bytes += e.bytes;
    return bytes;
}

bool Ledger::covers(u64 address, u64 bytes, u32 owner) const {
    for (const Entry& e : m_entries) {
        if (!e.live || (owner && e.owner != owner)) continue;
        if (address >= e.address && bytes <= e.bytes && address - e.address <= e.bytes - bytes) return true;
    }
    return false;
}

u32 Ledger::deferred() const {
    u32 n = 0;
    for (const Entry& e : m_entries) n += e.live && e.released ? 1 : 0;
    return n;
}

u64 Ledger::held_bytes() const {
    u64 n = 0;
    for (const Entry& e : m_entries) n += e.live && e.in_flight ? e.bytes : 0;
    return n;
}

}  // namespace dma
