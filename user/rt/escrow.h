// The client side of init's handle escrow (lib/protocol/escrow.h): what a
// restartable service keeps through its own death.
//
// Without an escrow capability ("escrow" at startup) every call is a
// harmless no-op where that keeps the caller's code uniform: keep() leaves
// the handles where they are, revoke() revokes the caller's own handle —
// the process then works exactly as it would without escrow, and simply
// cannot hand anything to its successor.
#pragma once

#include "protocol/escrow.h"
#include "rt/handle.h"
#include "util/result.h"
#include "util/status.h"

namespace rt {

class Escrow {
public:
    Escrow() = default;
    explicit Escrow(u32 endpoint) : m_endpoint(endpoint) {}
    bool available() const { return m_endpoint != 0; }

    // Moves hs[0..n) into the escrow under `key` (replacing what it held)
    // and puts a copy of each back into hs[i]: a child of the escrowed
    // root, so whatever the caller derives from it stays below the root.
    // Refused (quota, ...): hs are still the caller's, unchanged.
    [[nodiscard]] Result<void> keep(u32 key, Handle* hs, u32 n);
    // Copies of what `key` holds into out[0..); returns how many.
    [[nodiscard]] Result<u32> copy(u32 key, Handle* out, u32 max);
    // Revokes what was derived from handle `index` under `key` (or, with
    // no escrow, from `local`, the caller's copy of it).
    [[nodiscard]] Result<u64> revoke(u32 key, u32 index, u32 local);
    // Forgets `key` (its handles closed in init). NotFound: nothing there.
    [[nodiscard]] Result<void> drop(u32 key);

private:
    Result<abi::EscrowReply> call(abi::EscrowOp op, u32 key, u32 index, abi::Message& m);
    u32 m_endpoint = 0;
};

}  // namespace rt
