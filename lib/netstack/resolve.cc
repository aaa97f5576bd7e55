// DNS lookups for the Socket service (resolve.h).
#include "resolve.h"

#include "lwip/dns.h"

namespace netstack {

namespace {

// As many lookups as lwIP's resolver has requests: past that it refuses
// (ERR_MEM) anyway.
constexpr u32 kSlots = DNS_TABLE_SIZE;

struct Slot {
    bool used = false;
    bool released = false;  // given up before lwIP answered: free at its callback
    bool finished = false;
    bool found = false;
    u32 address = 0;
    u32 generation = 0;
    u64 owner = 0;
};
Slot g_slots[kSlots];

// The callback's argument: slot index and generation, never a pointer.
void* encode(u32 slot) { return reinterpret_cast<void*>((uptr{g_slots[slot].generation} << 8) | slot); }

void found_cb(const char*, const ip_addr_t* address, void* arg) {
    uptr v = reinterpret_cast<uptr>(arg);
    u32 slot = static_cast<u32>(v & 0xff);
    if (slot >= kSlots) return;
    Slot& s = g_slots[slot];
    // Answered or reused since: not ours.
    if (!s.used || s.finished || s.generation != static_cast<u32>(v >> 8)) return;
    if (s.released) {  // nobody waits for it: lwIP's entry is free now, and so is the slot
        s.used = s.released = false;
        s.generation++;
        return;
    }
    s.finished = true;
    s.found = address != nullptr && IP_IS_V4(address);
    s.address = s.found ? ip4_addr_get_u32(ip_2_ip4(address)) : 0;
}

}  // namespace

Result<ResolveStart> resolve_start(const char* name, u64 owner, u32 limit) {
    u32 slot = kSlots, held = 0;
    for (u32 i = 0; i < kSlots; i++) {
        if (g_slots[i].used) {
            held += g_slots[i].owner == owner;
        } else if (slot == kSlots) {
            slot = i;
        }
    }
    if (held >= limit) return Status::QuotaExceeded;
    if (slot == kSlots) return Status::NoMemory;
    Slot& s = g_slots[slot];
    s.used = true;
    s.owner = owner;
    s.released = s.finished = s.found = false;
    s.address = 0;
    ip_addr_t cached;
    err_t err = dns_gethostbyname(name, &cached, found_cb, encode(slot));
    if (err == ERR_INPROGRESS) return ResolveStart{false, 0, slot};
    s.used = false;  // no lookup under way: lwIP will not call back
    s.generation++;
    if (err == ERR_OK) return ResolveStart{true, ip4_addr_get_u32(ip_2_ip4(&cached)), 0};
    return err == ERR_MEM ? Status::NoMemory : Status::InvalidArgument;
}

bool resolve_result(u32 slot, bool* found, u32* address) {
    if (slot >= kSlots || !g_slots[slot].used || !g_slots[slot].finished) return false;
    *found = g_slots[slot].found;
    *address = g_slots[slot].address;
    return true;
}

void resolve_release(u32 slot) {
    if (slot >= kSlots || !g_slots[slot].used) return;
    Slot& s = g_slots[slot];
    if (!s.finished) {
        s.released = true;  // lwIP's entry is still busy: held until its callback
        return;
    }
    s.used = false;
    s.generation++;
}

u32 resolve_slots_used() {
    u32 n = 0;
    for (auto& s : g_slots) n += s.used;
    return n;
}

}  // namespace netstack
