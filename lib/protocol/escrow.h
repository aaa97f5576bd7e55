// Handle escrow (served by init): what a supervised process keeps through
// its own restarts.
//
// A process that dies loses every handle it held; its successor starts
// with only the manifest's grants. For most processes that is right. The
// device manager is different: it holds the roots of every provider's
// authority (the binding anchors, the per-provider register and DMA copies
// everything a provider was granted descends from), the providers' process
// handles and the instance endpoints their consumers call. Were those lost
// with devmgr, a devmgr restart would orphan every running provider — still
// driving its device, with grants no one can revoke any more — and strand
// every consumer. With escrow, devmgr *moves* each such root into init as it
// creates it and works on copies init hands back (children of the roots in
// the capability derivation tree). When devmgr dies its copies close (their
// children move up to init's roots, close() re-parents); its successor asks
// init for copies again, and adopts the running providers: nothing stops,
// no consumer notices, and a revoke through the escrow still reaches every
// grant any incarnation handed out.
//
// Authority: the manifest's `escrow = N` on a [process] (docs/manifest.md).
// init grants such a process "escrow", a call capability badged with its
// manifest identity, the same across its restarts; entries are per
// identity, so no process can see, take or revoke another's. N bounds the
// handles init keeps for it (they live in init's capability space), so a
// hostile holder can fill only its own quota: past it, Keep is refused
// QuotaExceeded and its handles come back.
//
// Keys are the holder's own numbering; an entry holds 1..kEscrowHandles
// handles.
#pragma once

#ifdef SLUICE_KERNEL
#error "lib/protocol/ is spoken between user processes: the kernel has no business including it"
#endif

#include <stddef.h>

#include "abi/ipc.h"
#include "util/status.h"
#include "util/types.h"

namespace abi {

enum class EscrowOp : u32 {
    // handles[0..n) moved in (n = 1..kEscrowHandles) and kept under `key`,
    // replacing (closing) what the key held. The reply carries a copy of
    // each, in order: the caller works on those. Refused — n outside
    // 1..kEscrowHandles or a zero handle (InvalidArgument), the quota
    // (QuotaExceeded) — the handles come back in the reply as they went
    // (moved), nothing is kept and the old entry is untouched.
    Keep = 0x4553'0001,
    // Copies of the handles under `key` (NotFound: nothing there).
    Copy = 0x4553'0002,
    // Revokes everything derived from handle `index` of the entry (the
    // entry's own handle stays): the reply's `count` is how many
    // capabilities went. NotFound: nothing kept under the key (the caller's
    // own handle is then the root); OutOfBounds: an index past the entry's.
    Revoke = 0x4553'0003,
    // Closes the entry's handles and forgets the key (NotFound: nothing
    // there). Their children move up, as on any close.
    Drop = 0x4553'0004,
};

constexpr u32 kEscrowHandles = kMessageHandles;
constexpr u32 kMaxEscrowQuota = 512;  // `escrow = N`: N handles at most

struct EscrowRequest {
    EscrowOp op;
    u32 key;
    u32 index;  // Revoke: which handle of the entry
};
static_assert(sizeof(EscrowRequest) == 12 && offsetof(EscrowRequest, key) == 4 && offsetof(EscrowRequest, index) == 8);

struct EscrowReply {
    Status status;
    u32 count;  // Keep / Copy: handles in the reply; Revoke: capabilities revoked (saturated)
    u32 used;   // handles init now keeps for the caller
    u32 quota;  // and how many it may
};
static_assert(sizeof(EscrowReply) == 16 && offsetof(EscrowReply, count) == 4 && offsetof(EscrowReply, used) == 8 &&
              offsetof(EscrowReply, quota) == 12);

}  // namespace abi
