#include "escrow/escrow_table.h"

namespace escrow {

Entry* Table::lookup(u32 owner, u32 key) {
    for (Entry& e : m_entries)
        if (e.count && e.owner == owner && e.key == key) return &e;
    return nullptr;
}

const Entry* Table::find(u32 owner, u32 key) const { return const_cast<Table*>(this)->lookup(owner, key); }

u32 Table::used(u32 owner) const {
    u32 n = 0;
    for (const Entry& e : m_entries)
        if (e.count && e.owner == owner) n += e.count;
    return n;
}

void Table::close_entry(Entry& e) {
    for (u32 i = 0; i < e.count; i++) m_close(e.handles[i]);
    m_total -= e.count;
    e = Entry{};
}

Result<void> Table::keep(u32 owner, u32 quota, u32 key, const u32* handles, u32 n) {
    if (n == 0 || n > abi::kEscrowHandles) return Status::InvalidArgument;
    for (u32 i = 0; i < n; i++)
        if (handles[i] == 0) return Status::InvalidArgument;
    Entry* old = lookup(owner, key);
    u32 replaced = old ? old->count : 0;
    if (used(owner) - replaced + n > quota || m_total - replaced + n > kMaxHandles) return Status::QuotaExceeded;
    Entry* slot = old;
    if (!slot)
        for (Entry& e : m_entries)
            if (!e.count) {
                slot = &e;
                break;
            }
    if (!slot) return Status::QuotaExceeded;
    if (old) close_entry(*old);
    slot->owner = owner;
    slot->key = key;
    slot->count = n;
    for (u32 i = 0; i < n; i++) slot->handles[i] = handles[i];
    m_total += n;
    return {};
}

Result<void> Table::drop(u32 owner, u32 key) {
    Entry* e = lookup(owner, key);
    if (!e) return Status::NotFound;
    close_entry(*e);
    return {};
}

}  // namespace escrow
