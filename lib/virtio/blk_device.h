// What a virtio block device offers, decided from what it says (virtio 1.1
// §5.2): the features a driver takes, its configuration read into limits
// the block layer can use, and its id string. Pure: the provider reads the
// registers and config bytes and hands them here, so every rule below is
// unit-tested against devices that say odd things.
//
// Never trusting the device: capacity, block size and limits come from
// device-writable configuration space. A value the spec does not allow (a
// block size that is not a power of two in 512..64 KiB, a capacity that is
// not whole blocks, SEG_MAX 0, SIZE_MAX below a sector) makes the device Malformed rather than
// something the driver works around; limits are clamped to what the driver
// itself can do.
#pragma once

#include "util/result.h"
#include "util/types.h"
#include "virtio/blk_layout.h"

namespace virtio::blk {

// Feature negotiation (§2.2, §3.1.1 step 4-5). `required` must all be
// offered or the device is Unsupported; of the rest, only `wanted` bits are
// taken. Returns the driver features to write.
Result<u64> negotiate(u64 offered, u64 wanted, u64 required);

// The features this driver implements (it accepts no others): the block
// device's own, and of the ring's, indirect tables and event indexes (the
// kernel's virtqueue broker builds the one and honours the other), and
// ACCESS_PLATFORM: a device offering it goes through the platform's IOMMU,
// where the kernel maps each DMA range at its own address (the brokered
// lane's domain), so the addresses the broker writes are right either way
// — and QEMU refuses FEATURES_OK to a driver that declines it.
u64 driver_features();
// The features it cannot work without (VERSION_1: modern layout, little-endian).
u64 required_features();

// The device as the block layer sees it.
struct Geometry {
    u64 blocks;             // logical blocks
    u32 block_size;         // logical block, bytes: 512 unless BLK_SIZE says more
    u32 physical_block;     // bytes (TOPOLOGY), >= block_size
    u32 max_segments;       // data segments per request (SEG_MAX, else `fallback_segments`)
    u32 max_segment_bytes;  // SIZE_MAX, else 0 = no limit but the driver's
    bool read_only;         // RO
    bool flush;             // FLUSH: a volatile write cache to flush
    bool discard;           // DISCARD offered
    bool write_zeroes;      // WRITE_ZEROES offered
    u32 max_discard_sectors, max_discard_segments;
    u32 max_write_zeroes_sectors, max_write_zeroes_segments;
    bool write_zeroes_may_unmap;
};

// `features` are the negotiated ones; `fallback_segments` is what the
// driver assumes without SEG_MAX (the queue's size minus header and status,
// §5.2.6.1 says requests may use the whole queue).
//   Malformed  a value the spec does not allow (see above)
Result<Geometry> read_geometry(const Config& config, u64 features, u32 fallback_segments);

// The id string GET_ID returns (§5.2.6: up to 20 bytes, NUL-terminated only
// when shorter), as printable ASCII: other bytes become '?', trailing
// spaces and NULs dropped. `out` holds at least kIdBytes + 1.
void id_string(const u8* raw, char* out);

}  // namespace virtio::blk
