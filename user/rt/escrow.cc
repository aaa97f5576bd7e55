#include "rt/escrow.h"

#include "protocol/message.h"
#include "rt/sys.h"

namespace rt {

Result<abi::EscrowReply> Escrow::call(abi::EscrowOp op, u32 key, u32 index, abi::Message& m) {
    abi::put_body(m, abi::EscrowRequest{op, key, index});
    TRY(endpoint_call(m_endpoint, m));
    if (m.length < sizeof(abi::EscrowReply)) return Status::Malformed;
    return abi::body_of<abi::EscrowReply>(m);
}

Result<void> Escrow::keep(u32 key, Handle* hs, u32 n) {
    if (!available()) return {};
    if (n == 0 || n > abi::kEscrowHandles) return Status::InvalidArgument;
    abi::Message m{};
    for (u32 i = 0; i < n; i++) m.handles[i] = hs[i].get();
    m.handle_count = n;
    auto r = call(abi::EscrowOp::Keep, key, 0, m);
    // Whatever came back is ours: the copies (kept) or the originals
    // (refused); the originals left with the call either way.
    for (u32 i = 0; i < n; i++) {
        (void)hs[i].release();
        if (i < m.handle_count) hs[i] = Handle(m.handles[i]);
    }
    if (!r.ok()) return r.status();
    if (r.value().status != Status::Ok) return r.value().status;
    return {};
}

Result<u32> Escrow::copy(u32 key, Handle* out, u32 max) {
    if (!available()) return Status::NotFound;
    abi::Message m{};
    auto r = call(abi::EscrowOp::Copy, key, 0, m);
    u32 got = 0;
    for (u32 i = 0; i < m.handle_count && i < abi::kMessageHandles; i++) {
        if (i < max)
            out[got++] = Handle(m.handles[i]);
        else
            (void)close(m.handles[i]);
    }
    if (!r.ok()) return r.status();
    if (r.value().status != Status::Ok) return r.value().status;
    return got;
}

Result<u64> Escrow::revoke(u32 key, u32 index, u32 local) {
    if (!available()) return rt::revoke(local);
    abi::Message m{};
    auto r = TRY(call(abi::EscrowOp::Revoke, key, index, m));
    // Nothing kept under that key (its Keep was refused: over quota): the
    // local handle is then the root itself, not a copy — revoke through it
    // rather than report a revoke that reached nothing.
    if (r.status == Status::NotFound) return rt::revoke(local);
    if (r.status != Status::Ok) return r.status;
    return u64{r.count};
}

Result<void> Escrow::drop(u32 key) {
    if (!available()) return {};
    abi::Message m{};
    auto r = TRY(call(abi::EscrowOp::Drop, key, 0, m));
    if (r.status != Status::Ok) return r.status;
    return {};
}

}  // namespace rt
