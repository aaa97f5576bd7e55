#include "pci/capabilities.h"

namespace pci {

namespace {

// One bit per dword of the 4 KiB extended configuration space; used by both
// walks to refuse revisiting an offset (a loop).
class VisitedSet {
public:
    // Returns false when `offset` was already marked.
    bool mark(u16 offset) {
        const u32 slot = offset / 4;
        const u64 bit = u64{1} << (slot % 64);
        if (m_bits[slot / 64] & bit) return false;
        m_bits[slot / 64] |= bit;
        return true;
    }

private:
    u64 m_bits[kExtendedConfigSpaceSize / 4 / 64] = {};
};

Result<u16> capabilities_pointer_offset(ByteView cfg) {
    const u8 raw_type = TRY(cfg.read_le<u8>(kHeaderTypeOffset));
    switch (raw_type & kHeaderTypeMask) {
        case kHeaderTypeEndpoint:
        case kHeaderTypeBridge: return kCapabilitiesPointerOffset;
        case kHeaderTypeCardbus: return kCardbusCapabilitiesPointerOffset;
        default: return Status::Unsupported;
    }
}

}  // namespace

Result<CapabilityList> walk_capabilities(ByteView cfg) {
    if (cfg.size() < kHeaderSize) return Status::Truncated;

    CapabilityList list{};
    const u16 status = TRY(cfg.read_le<u16>(kStatusOffset));
    if ((status & kStatusCapabilitiesList) == 0) return list;

    const u16 pointer_offset = TRY(capabilities_pointer_offset(cfg));
    u8 raw = TRY(cfg.read_le<u8>(pointer_offset));
    VisitedSet visited;
    while (true) {
        // 0xFF is checked before masking: it is an all-ones read, not a
        // capability at 0xFC.
        if (raw == 0xFF) return Status::Malformed;
        const u16 offset = raw & kCapabilityPointerMask;
        if (offset == 0) return list;
        if (offset < kFirstCapabilityOffset) return Status::Malformed;
        if (!cfg.contains(offset, sizeof(CapabilityHeader))) return Status::Malformed;
        if (!visited.mark(offset)) return Status::Malformed;
        // Unreachable while the visited set holds (48 slots in 0x40..0xFF),
        // kept so the array index never depends on that reasoning.
        if (list.count >= kMaxCapabilities) return Status::Malformed;

        const u8 id = TRY(cfg.read_le<u8>(offset));
        if (id == 0xFF) return Status::Malformed;
        list.caps[list.count++] = Capability{id, offset, 0};
        raw = TRY(cfg.read_le<u8>(offset + 1));
    }
}

Result<CapabilityList> walk_extended_capabilities(ByteView cfg) {
    CapabilityList list{};
    if (cfg.size() < kExtendedConfigSpaceSize) return list;

    u16 offset = kFirstExtendedCapabilityOffset;
    u32 header = TRY(cfg.read_le<u32>(offset));
    if (header == 0 || header == 0xFFFFFFFF) return list;

    VisitedSet visited;
    while (true) {
        if (header == 0xFFFFFFFF) return Status::Malformed;
        if (!visited.mark(offset)) return Status::Malformed;

        const u16 id = static_cast<u16>(header & 0xFFFF);
        const u8 version = static_cast<u8>((header >> 16) & 0xF);
        const u16 next = static_cast<u16>(header >> 20);
        if (id != kExtCapNull) {
            if (list.count >= kMaxCapabilities) return Status::NoMemory;
            list.caps[list.count++] = Capability{id, offset, version};
        }

        if (next == 0) return list;
        // next is 12 bits, so next + 4 <= 4096 always fits the view.
        if (next < kFirstExtendedCapabilityOffset || (next & 0x3) != 0) return Status::Malformed;
        offset = next;
        header = TRY(cfg.read_le<u32>(offset));
    }
}

Result<u16> find_capability(ByteView cfg, u8 id) {
    const CapabilityList list = TRY(walk_capabilities(cfg));
    for (u32 i = 0; i < list.count; i++) {
        if (list.caps[i].id == id) return list.caps[i].offset;
    }
    return Status::NotFound;
}

Result<u16> find_extended_capability(ByteView cfg, u16 id) {
    const CapabilityList list = TRY(walk_extended_capabilities(cfg));
    for (u32 i = 0; i < list.count; i++) {
        if (list.caps[i].id == id) return list.caps[i].offset;
    }
    return Status::NotFound;
}

}  // namespace pci
