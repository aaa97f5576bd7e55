// Doorbells and shadow doorbells (NVMe 1.4 §3.1.24-25 and the Doorbell
// Buffer Config command, admin opcode 7Ch, §5.8 of NVMe 1.3).
//
// With shadow doorbells the host writes each new SQ tail / CQ head into a
// host-memory page the controller reads, and writes the MMIO doorbell only
// when the controller's EventIdx (a second page the controller writes) says
// it is waiting for that update — the virtio event-index scheme. The
// ordering the host must keep, and why: write the shadow value, then a full
// fence, then read EventIdx. Without the fence the CPU may satisfy the
// EventIdx read before the shadow store is visible; the controller can then
// read the old shadow value while the host reads an old EventIdx, and the
// doorbell is lost (Linux nvme_dbbuf_update_and_check_event; SPDK needed
// the same fix).
#pragma once

#include "util/types.h"

namespace nvme {

// Byte offsets in the shadow doorbell and EventIdx pages: the same layout as
// the MMIO doorbells (stride 4 << CAP.DSTRD from offset 0).
// Only DSTRD's 4 bits count, as in sq_tail_doorbell().
inline constexpr u64 shadow_sq_offset(u16 qid, u8 dstrd) { return (2ull * qid) * (4ull << (dstrd & 0xf)); }
inline constexpr u64 shadow_cq_offset(u16 qid, u8 dstrd) { return (2ull * qid + 1) * (4ull << (dstrd & 0xf)); }

// Must the MMIO doorbell be written after the shadow value moved from
// `old_value` to `new_value`? Yes when the controller's `event_idx` lies in
// [old_value, new_value) modulo 2^16: it asked to be told once the value
// passed event_idx, and this update is the one that passes it.
inline constexpr bool doorbell_needs_mmio(u16 new_value, u16 old_value, u16 event_idx) {
    return static_cast<u16>(new_value - event_idx - 1) < static_cast<u16>(new_value - old_value);
}

}  // namespace nvme
