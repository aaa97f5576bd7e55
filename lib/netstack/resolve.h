// DNS lookups on behalf of the Socket service's clients (Resolve,
// lib/protocol/socket.h), over lwIP's resolver (dns_gethostbyname).
//
// lwIP cannot cancel a lookup, and calls back whenever the answer or its
// time-out comes: a pointer to a client's channel in that callback could
// dangle once the channel closed. So the callback's argument is a slot of
// a small table here plus the slot's generation, and the channel holds
// only the slot: releasing it (answered, or the channel closed) bumps the
// generation, and a late answer for it then reaches nothing.
//
// A slot released before lwIP answered stays taken — by its owner, the
// client (badge), not the channel — until lwIP's callback comes: lwIP's
// own entry is busy until then, and a client that attached again and
// again with a lookup outstanding would otherwise fill lwIP's table for
// everyone while this one looked empty. Each owner holds at most its share
// of the table (resolve_start's `limit`), orphans included, so the shares
// of every client the netstack serves fit lwIP's table at once.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace netstack {

struct ResolveStart {
    bool answered;  // from lwIP's cache (or an address literal): no slot taken
    u32 address;    // answered: the address, network byte order
    u32 slot;       // else: the lookup's slot, for resolve_result/resolve_release
};

// Starts a lookup of `name` (NUL-terminated, abi::socket_host_name_valid)
// for `owner`. QuotaExceeded when the owner holds `limit` slots already
// (released ones lwIP has not answered included); NoMemory when this table
// or lwIP's has no room.
[[nodiscard]] Result<ResolveStart> resolve_start(const char* name, u64 owner, u32 limit);

// The lookup in `slot` has ended: true, with *found and *address.
bool resolve_result(u32 slot, bool* found, u32* address);

// Gives `slot` up: whatever lwIP says about it later reaches nothing. The
// slot itself is free once lwIP is done with its lookup (at once when it
// is already).
void resolve_release(u32 slot);

// Slots in use (tests), released ones lwIP has not answered included.
u32 resolve_slots_used();

}  // namespace netstack
