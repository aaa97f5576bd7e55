#include "pci/config_space.h"

namespace pci {

Result<FunctionHeader> parse_header(ByteView cfg) {
    if (cfg.size() < kHeaderSize) return Status::Truncated;

    FunctionHeader h{};
    h.vendor = TRY(cfg.read_le<u16>(kVendorIdOffset));
    if (h.vendor == kInvalidVendorId) return Status::NotFound;
    h.device = TRY(cfg.read_le<u16>(kDeviceIdOffset));
    h.command = TRY(cfg.read_le<u16>(kCommandOffset));
    h.status = TRY(cfg.read_le<u16>(kStatusOffset));
    h.revision = TRY(cfg.read_le<u8>(kRevisionIdOffset));
    h.prog_if = TRY(cfg.read_le<u8>(kProgIfOffset));
    h.subclass = TRY(cfg.read_le<u8>(kSubclassOffset));
    h.class_code = TRY(cfg.read_le<u8>(kClassCodeOffset));

    const u8 raw_type = TRY(cfg.read_le<u8>(kHeaderTypeOffset));
    h.header_type = raw_type & kHeaderTypeMask;
    h.multifunction = (raw_type & kHeaderTypeMultifunction) != 0;

    switch (h.header_type) {
        case kHeaderTypeEndpoint: h.bar_count = kType0BarCount; break;
        case kHeaderTypeBridge:
            h.bar_count = kType1BarCount;
            h.secondary_bus = TRY(cfg.read_le<u8>(kSecondaryBusOffset));
            h.subordinate_bus = TRY(cfg.read_le<u8>(kSubordinateBusOffset));
            break;
        default:
            // CardBus (type 2) and undefined layouts: no BARs we decode.
            h.bar_count = 0;
            break;
    }
    return h;
}

}  // namespace pci
