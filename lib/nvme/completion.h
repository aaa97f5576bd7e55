// Checks a completion queue entry before the broker acts on it (NVMe 1.4
// §4.6). The CQ is device-writable memory, so nothing in an entry is
// trusted: a buggy or hostile device could post a stale entry, a CID we
// never issued or one that already completed, or name another queue. Acting
// on any of those would release ledger references of work still in flight.
//
// Call it on a *copy* of the entry: read the 16 bytes out of the CQ once,
// then check and use only the copy, so the device cannot change a field
// between the check and its use.
#pragma once

#include "nvme/command.h"
#include "util/result.h"
#include "util/types.h"

namespace nvme {

// Returns the entry's CID when it is a new completion of a command we have
// outstanding on `expected_sq`. `outstanding` is a bitmap of `depth` bits
// (bit cid of word cid / 64): the CIDs submitted and not yet completed.
//   NotFound         phase != expected_phase: the device has not posted this
//                    slot yet (not an error: nothing new; §4.6, phase tag)
//   OutOfBounds      cid >= depth
//   InvalidArgument  cid not outstanding (never issued, or completed twice);
//                    sq_id != expected_sq; depth 0 or no bitmap
Result<u16> check_completion(const Cqe& c, bool expected_phase, u16 expected_sq, u16 depth, const u64* outstanding);

// Returns the entry's SQ Head Pointer when it names a slot of a submission
// queue of `sq_depth` entries; the broker frees slots up to it.
//   OutOfBounds  sq_head >= sq_depth (or sq_depth 0)
Result<u16> check_sq_head(const Cqe& c, u16 sq_depth);

}  // namespace nvme
