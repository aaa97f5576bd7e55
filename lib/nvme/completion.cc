#include "nvme/completion.h"

namespace nvme {

Result<u16> check_completion(const Cqe& c, bool expected_phase, u16 expected_sq, u16 depth, const u64* outstanding) {
    // Phase first: until the device posts the slot, every other field is
    // left over from the previous pass and means nothing.
    if (cqe_phase(c) != expected_phase) return Status::NotFound;
    if (depth == 0 || outstanding == nullptr) return Status::InvalidArgument;
    if (c.cid >= depth) return Status::OutOfBounds;
    if (c.sq_id != expected_sq) return Status::InvalidArgument;
    if ((outstanding[c.cid / 64] & (u64{1} << (c.cid % 64))) == 0) return Status::InvalidArgument;
    return c.cid;
}

Result<u16> check_sq_head(const Cqe& c, u16 sq_depth) {
    if (c.sq_head >= sq_depth) return Status::OutOfBounds;
    return c.sq_head;
}

}  // namespace nvme
