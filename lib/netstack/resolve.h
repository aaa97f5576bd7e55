// DNS lookups on behalf of the Socket service's clients (Resolve,
// lib/protocol/socket.h), over lwIP's resolver (dns_gethostbyname).
//
// lwIP cannot cancel a lookup, and calls back whenever the answer or its
// time-out comes: a pointer to a client's channel in that callback could
// dangle once the channel closed. So the callback's argument is a slot of
// a small table here plus the slot's generation, and the channel holds
// only the slot: releasing it (answered, or the channel closed) bumps the
// generation, and a late answer for it then reaches nothing.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace netstack {

struct ResolveStart {
    bool answered;  // from lwIP's cache (or an address literal): no slot taken
    u32 address;    // answered: the address, network byte order
    u32 slot;       // else: the lookup's slot, for resolve_result/resolve_release
};

// Starts a lookup of `name` (NUL-terminated, abi::socket_host_name_valid).
// NoMemory when this table or lwIP's has no room.
[[nodiscard]] Result<ResolveStart> resolve_start(const char* name);

// The lookup in `slot` has ended: true, with *found and *address.
bool resolve_result(u32 slot, bool* found, u32* address);

// Frees `slot`: whatever lwIP says about it later reaches nothing.
void resolve_release(u32 slot);

// Slots in use (tests).
u32 resolve_slots_used();

}  // namespace netstack
