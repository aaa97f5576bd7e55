#include "nvme/identify.h"

#include "nvme/command.h"
#include "util/le_bytes.h"

namespace nvme {
namespace {

// Identify data is a fixed 4096 bytes (kIdentifyBytes): every offset read
// here is a constant inside it.
using le::get_u16, le::get_u32, le::get_u64;

}  // namespace

ControllerInfo parse_identify_controller(const u8* data) {
    ControllerInfo info{};
    identify_string(data, 4, 20, info.serial);
    identify_string(data, 24, 40, info.model);
    identify_string(data, 64, 8, info.firmware);
    info.mdts = data[77];
    info.oacs = get_u16(data + 256);
    info.nn = get_u32(data + 516);
    info.oncs = get_u16(data + 520);
    info.vwc = data[525];
    return info;
}

u64 max_transfer_bytes(u8 mdts, u64 cap) {
    if (mdts == 0 || mdts >= 32) return cap;  // 0: no limit; 32+ is beyond anything addressable
    u64 bytes = u64{4096} << mdts;
    return bytes < cap ? bytes : cap;
}

namespace {

// LBA Format `index` (NVMe 1.4 §5.15.2.1, Figure 249): MS 15:0, LBADS 23:16.
const u8* lba_format(const u8* data, u8 index) { return data + 128 + 4 * u32{index}; }

bool lba_formats_agree(const u8* data, u8 a, u8 b) {
    return get_u16(lba_format(data, a)) == get_u16(lba_format(data, b)) &&
           lba_format(data, a)[2] == lba_format(data, b)[2];
}

// The in-use format's index. FLBAS bits 3:0 are its low 4 bits; since NVMe
// 2.0 (NVM Command Set 1.0, Identify Namespace, FLBAS) bits 6:5 are its
// high 2 bits, for namespaces with more than 16 formats (up to 64, LBAF0..
// LBAF63 at bytes 128..383). NLBAF is 0's based:
//   NLBAF < 16   at most 16 formats: bits 6:5 are no part of the index
//                (reserved in 1.4; "the host should ignore" in 2.0)
//   NLBAF > 16   the index is bits 6:5 : 3:0
//   NLBAF = 16   17 formats. Format 16 needs bits 6:5, yet 2.0's text says
//                to ignore them "if NLBAF is less than or equal to 16".
//                When both readings name valid formats that differ, the
//                namespace is Malformed: a guessed block size would size
//                transfers wrongly.
Result<u8> format_index(const u8* data, u8 nlbaf, u8 flbas) {
    u8 low = flbas & 0x0f;
    u8 combined = static_cast<u8>(low | ((flbas >> 5) & 0x03) << 4);
    u8 format = nlbaf > 16 ? combined : low;
    if (nlbaf == 16 && combined != low && combined <= nlbaf && !lba_formats_agree(data, low, combined))
        return Status::Malformed;
    if (format > nlbaf) return Status::Malformed;
    return format;
}

}  // namespace

Result<NamespaceInfo> parse_identify_namespace(const u8* data) {
    NamespaceInfo ns{};
    ns.blocks = get_u64(data + 0);
    if (ns.blocks == 0) return Status::NotFound;
    u8 nlbaf = data[25];  // 0's based count of formats
    u8 flbas = data[26];
    const u8* lbaf = lba_format(data, TRY(format_index(data, nlbaf, flbas)));
    ns.metadata = get_u16(lbaf);
    ns.lba_shift = lbaf[2];
    ns.extended = (flbas & 0x10) != 0;
    if (ns.lba_shift < 9 || ns.lba_shift > 16) return Status::Unsupported;
    return ns;
}

Result<u32> parse_active_namespaces(const u8* data, u32* out, u32 max) {
    u32 count = 0;
    u32 previous = 0;
    for (u32 i = 0; i < kIdentifyBytes / 4; i++) {
        u32 nsid = get_u32(data + 4 * i);
        if (nsid == 0) break;
        if (nsid <= previous || nsid == 0xffffffffu) return Status::Malformed;
        previous = nsid;
        if (count < max) out[count++] = nsid;
    }
    return count;
}

}  // namespace nvme
