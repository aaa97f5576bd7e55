#include "virtio/blk_device.h"

#include "virtio/pci_layout.h"

namespace virtio::blk {

namespace {
constexpr u64 bit(u32 n) { return u64{1} << n; }
constexpr bool power_of_two(u64 v) { return v && !(v & (v - 1)); }
}  // namespace

Result<u64> negotiate(u64 offered, u64 wanted, u64 required) {
    if ((offered & required) != required) return Status::Unsupported;
    return offered & (wanted | required);
}

u64 driver_features() {
    return bit(feature::kSizeMax) | bit(feature::kSegMax) | bit(feature::kReadOnly) | bit(feature::kBlockSize) |
           bit(feature::kFlush) | bit(feature::kTopology) | bit(feature::kDiscard) | bit(feature::kWriteZeroes) |
           bit(virtio::feature::kVersion1) | bit(virtio::feature::kIndirectDesc) | bit(virtio::feature::kEventIdx) |
           bit(virtio::feature::kAccessPlatform);
}

u64 required_features() { return bit(virtio::feature::kVersion1); }

Result<Geometry> read_geometry(const Config& c, u64 features, u32 fallback_segments) {
    Geometry g{};
    g.block_size = kSectorSize;
    if (features & bit(feature::kBlockSize)) {
        if (c.blk_size < kSectorSize || c.blk_size > 65536 || !power_of_two(c.blk_size)) return Status::Malformed;
        g.block_size = c.blk_size;
    }
    // Capacity is in 512-byte sectors whatever the block size (§5.2.4).
    u64 sectors_per_block = g.block_size / kSectorSize;
    if (c.capacity % sectors_per_block) return Status::Malformed;
    if (c.capacity > (~u64{0} >> 9)) return Status::Malformed;  // bytes would not fit 64 bits
    g.blocks = c.capacity / sectors_per_block;
    g.physical_block = g.block_size;
    if (features & bit(feature::kTopology)) {
        // In 64 bits: 64 KiB blocks << 16 would wrap a u32 to 0.
        u64 physical = u64{g.block_size} << (c.topology.physical_block_exp > 16 ? 0 : c.topology.physical_block_exp);
        if (c.topology.physical_block_exp > 16 || physical > (u64{1} << 31)) return Status::Malformed;
        g.physical_block = static_cast<u32>(physical);
    }
    g.max_segments = fallback_segments;
    if (features & bit(feature::kSegMax)) {
        if (c.seg_max == 0) return Status::Malformed;
        if (c.seg_max < g.max_segments) g.max_segments = c.seg_max;
    }
    if (features & bit(feature::kSizeMax)) {
        // 0 says nothing (some devices offer the bit with no value): no limit.
        // Below a sector, no request could be built at all.
        if (c.size_max != 0 && c.size_max < kSectorSize) return Status::Malformed;
        g.max_segment_bytes = c.size_max;
    }
    g.read_only = features & bit(feature::kReadOnly);
    g.flush = features & bit(feature::kFlush);
    if (features & bit(feature::kDiscard)) {
        if (c.max_discard_sectors == 0 || c.max_discard_seg == 0) return Status::Malformed;
        g.discard = true;
        g.max_discard_sectors = c.max_discard_sectors;
        g.max_discard_segments = c.max_discard_seg;
    }
    if (features & bit(feature::kWriteZeroes)) {
        if (c.max_write_zeroes_sectors == 0 || c.max_write_zeroes_seg == 0) return Status::Malformed;
        g.write_zeroes = true;
        g.max_write_zeroes_sectors = c.max_write_zeroes_sectors;
        g.max_write_zeroes_segments = c.max_write_zeroes_seg;
        g.write_zeroes_may_unmap = c.write_zeroes_may_unmap != 0;
    }
    return g;
}

void id_string(const u8* raw, char* out) {
    usize n = 0;
    while (n < kIdBytes && raw[n]) n++;
    for (usize i = 0; i < n; i++) out[i] = raw[i] >= 0x20 && raw[i] < 0x7f ? static_cast<char>(raw[i]) : '?';
    while (n > 0 && out[n - 1] == ' ') n--;
    out[n] = '\0';
}

}  // namespace virtio::blk
