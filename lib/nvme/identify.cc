#include "nvme/identify.h"

#include "nvme/command.h"

namespace nvme {
namespace {

u16 le16(const u8* p) { return static_cast<u16>(p[0] | p[1] << 8); }
u32 le32(const u8* p) { return u32{p[0]} | u32{p[1]} << 8 | u32{p[2]} << 16 | u32{p[3]} << 24; }
u64 le64(const u8* p) { return u64{le32(p)} | u64{le32(p + 4)} << 32; }

}  // namespace

ControllerInfo parse_identify_controller(const u8* data) {
    ControllerInfo info{};
    identify_string(data, 4, 20, info.serial);
    identify_string(data, 24, 40, info.model);
    identify_string(data, 64, 8, info.firmware);
    info.mdts = data[77];
    info.oacs = le16(data + 256);
    info.nn = le32(data + 516);
    info.oncs = le16(data + 520);
    info.vwc = data[525];
    return info;
}

u64 max_transfer_bytes(u8 mdts, u64 cap) {
    if (mdts == 0 || mdts >= 32) return cap;  // 0: no limit; 32+ is beyond anything addressable
    u64 bytes = u64{4096} << mdts;
    return bytes < cap ? bytes : cap;
}

Result<NamespaceInfo> parse_identify_namespace(const u8* data) {
    NamespaceInfo ns{};
    ns.blocks = le64(data + 0);
    if (ns.blocks == 0) return Status::NotFound;
    u8 nlbaf = data[25];  // 0's based count of formats
    u8 flbas = data[26];
    u8 format = flbas & 0x0f;
    if (format > nlbaf || format > 15) return Status::Malformed;
    const u8* lbaf = data + 128 + 4 * format;
    ns.metadata = le16(lbaf);
    ns.lba_shift = lbaf[2];
    ns.extended = (flbas & 0x10) != 0;
    if (ns.lba_shift < 9 || ns.lba_shift > 16) return Status::Unsupported;
    return ns;
}

Result<u32> parse_active_namespaces(const u8* data, u32* out, u32 max) {
    u32 count = 0;
    u32 previous = 0;
    for (u32 i = 0; i < kIdentifyBytes / 4; i++) {
        u32 nsid = le32(data + 4 * i);
        if (nsid == 0) break;
        if (nsid <= previous || nsid == 0xffffffffu) return Status::Malformed;
        previous = nsid;
        if (count < max) out[count++] = nsid;
    }
    return count;
}

}  // namespace nvme
