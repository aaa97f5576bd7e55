// The virtio block device's layouts (virtio 1.1 §5.2): its feature bits,
// its configuration structure (device-specific configuration, cfg_type 4)
// and the request header and status byte that frame every request.
#pragma once

#include <stddef.h>

#include "util/types.h"

namespace virtio::blk {

// §5.2.3 feature bits.
namespace feature {
constexpr u32 kSizeMax = 1;
constexpr u32 kSegMax = 2;
constexpr u32 kGeometry = 4;
constexpr u32 kReadOnly = 5;
constexpr u32 kBlockSize = 6;
constexpr u32 kFlush = 9;
constexpr u32 kTopology = 10;
constexpr u32 kConfigWce = 11;
constexpr u32 kMultiQueue = 12;
constexpr u32 kDiscard = 13;
constexpr u32 kWriteZeroes = 14;
}  // namespace feature

// §5.2.4 struct virtio_blk_config (fields exist whatever was negotiated;
// they are meaningful only with their feature).
struct Config {
    u64 capacity;  // in 512-byte sectors, always
    u32 size_max;  // SIZE_MAX: the largest segment
    u32 seg_max;   // SEG_MAX: segments per request
    struct {
        u16 cylinders;
        u8 heads;
        u8 sectors;
    } geometry;
    u32 blk_size;  // BLK_SIZE: the logical block size
    struct {
        u8 physical_block_exp;  // physical block = blk_size << exp
        u8 alignment_offset;
        u16 min_io_size;  // in logical blocks
        u32 opt_io_size;
    } topology;
    u8 writeback;
    u8 unused0;
    u16 num_queues;  // MQ
    u32 max_discard_sectors;
    u32 max_discard_seg;
    u32 discard_sector_alignment;
    u32 max_write_zeroes_sectors;
    u32 max_write_zeroes_seg;
    u8 write_zeroes_may_unmap;
    u8 unused1[3];
};
static_assert(offsetof(Config, size_max) == 8);
static_assert(offsetof(Config, seg_max) == 12);
static_assert(offsetof(Config, blk_size) == 20);
static_assert(offsetof(Config, topology) == 24);
static_assert(offsetof(Config, writeback) == 32);
static_assert(offsetof(Config, num_queues) == 34);
static_assert(offsetof(Config, max_discard_sectors) == 36);
static_assert(offsetof(Config, max_write_zeroes_sectors) == 48);
static_assert(offsetof(Config, write_zeroes_may_unmap) == 56);
static_assert(offsetof(Config, unused1) + sizeof(Config::unused1) == 60);  // 60 bytes; sizeof pads to 64

// §5.2.6 request types.
enum class RequestType : u32 {
    In = 0,
    Out = 1,
    Flush = 4,
    GetId = 8,
    Discard = 11,
    WriteZeroes = 13,
};

// §5.2.6 the header every request starts with (device-readable).
struct RequestHeader {
    u32 type;  // RequestType
    u32 reserved;
    u64 sector;  // in 512-byte sectors, whatever blk_size is
};
static_assert(sizeof(RequestHeader) == 16);

// §5.2.6 Discard and Write Zeroes carry ranges of these.
struct DiscardWriteZeroes {
    u64 sector;
    u32 num_sectors;
    u32 flags;  // bit 0: unmap (Write Zeroes only)
};
static_assert(sizeof(DiscardWriteZeroes) == 16);

// §5.2.6 the status byte the device writes last.
enum class RequestStatus : u8 { Ok = 0, IoError = 1, Unsupported = 2 };

constexpr u32 kSectorSize = 512;
constexpr u32 kIdBytes = 20;  // GetId: the serial, not NUL-terminated when 20 long

}  // namespace virtio::blk
