// escrow_probe: exercises init's handle escrow (lib/protocol/escrow.h)
// from a hostile-ish holder's side, across its own restart.
//
// First start (nothing under key 1): writes a word into a fresh
// MemoryObject and keeps it under key 1; fills the rest of its quota
// (`escrow = 4` in the scenario) and shows the next Keep refused
// QuotaExceeded with its handles back and still usable; shows Copy and
// Revoke of keys and indexes it never kept answered NotFound, an unknown
// op InvalidArgument; then faults on purpose so init restarts it.
// Second start: copies key 1 back and reads the word its predecessor
// wrote, then drops everything and exits 0.
// With `peer=1` in its args it keeps a notification under key 1 (the key
// the probe uses) and copies key 1 back: its own notification, not the
// probe's memory — entries are per holder.
#include "protocol/escrow.h"
#include "protocol/message.h"
#include "rt/args.h"
#include "rt/escrow.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/sys.h"

namespace {

constexpr u64 kWord = 0x5e5c'0e5c'0e5c'0e5cull;

u64* map_word(u32 h) {
    auto at = rt::memory_map(h, 0, abi::kMapWrite);
    return at.ok() ? reinterpret_cast<u64*>(at.value()) : nullptr;
}

Status raw_call(u32 ep, abi::EscrowOp op, u32 key, u32 index) {
    abi::Message m{};
    abi::put_body(m, abi::EscrowRequest{op, key, index});
    if (auto r = rt::endpoint_call(ep, m); !r.ok()) return r.status();
    return abi::reply_status(m);
}

}  // namespace

int main(u64) {
    u32 ep = rt::startup_handle("escrow");
    rt::Escrow escrow(ep);
    const auto args = rt::args();
    if (args.has("peer")) {
        if (!ep) return rt::log("escrow_probe: peer: no escrow granted"), 0;
        rt::Handle note = static_cast<rt::Handle&&>(rt::notification_create().value());
        auto k = escrow.keep(1, &note, 1);
        rt::Handle back;
        auto got = escrow.copy(1, &back, 1);
        auto map = rt::memory_map(back.get(), 0, 0);
        rt::log("escrow_probe: peer: escrow granted; its key 1 holds its own %s (map: %s)",
                k.ok() && got.ok() ? "notification" : "nothing", status_name(map.ok() ? Status::Ok : map.status()));
        return 0;
    }
    if (!ep) {
        rt::log("escrow_probe: no escrow granted");
        return 1;
    }
    rt::Handle kept;
    if (auto got = escrow.copy(1, &kept, 1); got.ok() && got.value() == 1) {
        u64* w = map_word(kept.get());
        rt::log("escrow_probe: restarted: key 1 holds the word 0x%llx (%s)",
                static_cast<unsigned long long>(w ? *w : 0), w && *w == kWord ? "the predecessor's" : "wrong");
        for (u32 k = 1; k <= 3; k++) (void)escrow.drop(k);
        rt::log("escrow_probe: dropped; key 1 now: %s", status_name(escrow.copy(1, &kept, 1).status()));
        return 0;
    }
    auto mem = rt::memory_create(4096);
    if (!mem.ok()) return 1;
    rt::Handle h = static_cast<rt::Handle&&>(mem.value());
    if (u64* w = map_word(h.get())) *w = kWord;
    auto k1 = escrow.keep(1, &h, 1);
    rt::log("escrow_probe: keep key 1: %s", status_name(k1.ok() ? Status::Ok : k1.status()));
    // Three more fill the quota of 4 (keys 2 and 3); a fifth is refused.
    rt::Handle n[3];
    for (auto& x : n) x = static_cast<rt::Handle&&>(rt::notification_create().value());
    auto k2 = escrow.keep(2, n, 2);
    auto k3 = escrow.keep(3, &n[2], 1);
    rt::log("escrow_probe: keep keys 2 and 3: %s, %s", status_name(k2.ok() ? Status::Ok : k2.status()),
            status_name(k3.ok() ? Status::Ok : k3.status()));
    rt::Handle extra = static_cast<rt::Handle&&>(rt::notification_create().value());
    auto over = escrow.keep(4, &extra, 1);
    auto usable = rt::notification_signal(extra.get(), 1);
    rt::log("escrow_probe: keep past the quota: %s; the handle %s and signals: %s",
            status_name(over.ok() ? Status::Ok : over.status()), extra ? "came back" : "was lost",
            status_name(usable.ok() ? Status::Ok : usable.status()));
    rt::log("escrow_probe: copy of key 9: %s", status_name(escrow.copy(9, n, 1).status()));
    rt::log("escrow_probe: revoke of key 2 index 2: %s", status_name(raw_call(ep, abi::EscrowOp::Revoke, 2, 2)));
    rt::log("escrow_probe: drop of key 9: %s", status_name(raw_call(ep, abi::EscrowOp::Drop, 9, 0)));
    rt::log("escrow_probe: op 0x77: %s", status_name(raw_call(ep, static_cast<abi::EscrowOp>(0x77), 1, 0)));
    // A handle init may not copy (no duplicate right): refused whole, the
    // handle back, key 1 untouched.
    rt::Handle plain = static_cast<rt::Handle&&>(rt::notification_create().value());
    rt::Handle narrow =
        static_cast<rt::Handle&&>(rt::duplicate(plain.get(), cap_rights::kSignal | cap_rights::kTransfer).value());
    auto nodup = escrow.keep(1, &narrow, 1);
    rt::Handle still;
    auto k1_after = escrow.copy(1, &still, 1);
    u64* w1 = k1_after.ok() ? map_word(still.get()) : nullptr;
    rt::log("escrow_probe: keep of a handle without the duplicate right: %s; it %s; key 1 still holds the word: %s",
            status_name(nodup.ok() ? Status::Ok : nodup.status()), narrow ? "came back" : "was lost",
            w1 && *w1 == kWord ? "yes" : "no");
    // A call whose handle cannot be taken (a forged value): answered with
    // the error, and the escrow keeps serving (it used to stay Busy).
    abi::Message forged{};
    abi::put_body(forged, abi::EscrowRequest{abi::EscrowOp::Keep, 5, 0});
    forged.handle_count = 1;
    forged.handles[0] = 0x7fff'1234;
    auto fr = rt::endpoint_call(ep, forged);
    Status fs = fr.ok() ? abi::reply_status(forged) : fr.status();
    rt::log("escrow_probe: a keep with a forged handle: %s; the escrow then answers a copy of key 1: %s",
            status_name(fs), status_name(escrow.copy(1, &still, 1).status()));
    rt::log("escrow_probe: faulting so that init restarts it");
    *reinterpret_cast<volatile u64*>(8) = 1;
    return 1;
}
