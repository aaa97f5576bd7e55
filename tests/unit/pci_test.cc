// Unit tests for lib/pci: header parsing, capability walks, MSI/MSI-X and
// BAR decoding, against synthetic configuration-space snapshots.
#include <gtest/gtest.h>

#include <cstring>
#include <ostream>

#include "pci/bar.h"
#include "pci/capabilities.h"
#include "pci/config_space.h"
#include "pci/msi.h"
#include "pci/msix.h"

static void PrintTo(Status s, std::ostream* os) { *os << status_name(s); }

namespace {

using namespace pci;

// A configuration-space snapshot under construction. Starts as a 4 KiB
// all-zero space; view() hands out a prefix of it.
class FakeConfig {
public:
    FakeConfig() { std::memset(m_bytes, 0, sizeof(m_bytes)); }

    FakeConfig& set8(usize off, u8 v) {
        m_bytes[off] = v;
        return *this;
    }
    FakeConfig& set16(usize off, u16 v) {
        set8(off, static_cast<u8>(v));
        return set8(off + 1, static_cast<u8>(v >> 8));
    }
    FakeConfig& set32(usize off, u32 v) {
        set16(off, static_cast<u16>(v));
        return set16(off + 2, static_cast<u16>(v >> 16));
    }

    // A type 0 endpoint with the capabilities-list status bit set.
    FakeConfig& endpoint(u16 vendor, u16 device) {
        set16(kVendorIdOffset, vendor);
        set16(kDeviceIdOffset, device);
        set8(kHeaderTypeOffset, kHeaderTypeEndpoint);
        return set16(kStatusOffset, kStatusCapabilitiesList);
    }

    // A legacy capability: ID and next pointer.
    FakeConfig& cap(u8 at, u8 id, u8 next) {
        set8(at, id);
        return set8(at + 1, next);
    }

    // An extended capability header.
    FakeConfig& ext_cap(u16 at, u16 id, u8 version, u16 next) {
        return set32(at, static_cast<u32>(id) | (static_cast<u32>(version) << 16) | (static_cast<u32>(next) << 20));
    }

    ByteView view(usize size = kConfigSpaceSize) const { return ByteView(m_bytes, size); }
    ByteView ecam() const { return view(kExtendedConfigSpaceSize); }

private:
    u8 m_bytes[kExtendedConfigSpaceSize];
};

// QEMU's NVMe controller (1b36:0010) as it appears on the q35 machine: MSI-X
// at 0x40, PCIe at 0x80, power management at 0x60 — plus an MSI capability
// at 0xA0 so one device carries all three of interest.
FakeConfig qemu_nvme() {
    FakeConfig c;
    c.endpoint(0x1B36, 0x0010);
    c.set8(kRevisionIdOffset, 0x02)
        .set8(kProgIfOffset, 0x02)
        .set8(kSubclassOffset, 0x08)
        .set8(kClassCodeOffset, 0x01)
        .set16(kCommandOffset, kCommandMemorySpace | kCommandBusMaster)
        .set16(kStatusOffset, kStatusCapabilitiesList);
    c.set8(kCapabilitiesPointerOffset, 0x40);
    c.cap(0x40, kCapMsix, 0x80);
    c.set16(0x42, 64);          // table size field: 65 vectors
    c.set32(0x44, 0x2000 | 0);  // table in BAR0 at 0x2000
    c.set32(0x48, 0x3000 | 0);  // PBA in BAR0 at 0x3000
    c.cap(0x80, kCapPciExpress, 0x60);
    c.set16(0x82, 0x0002);  // PCIe capability version 2, endpoint
    c.cap(0x60, kCapPowerManagement, 0xA0);
    c.cap(0xA0, kCapMsi, 0x00);
    c.set16(0xA2, kMsiControl64Bit | kMsiControlPerVectorMasking | (2u << kMsiControlMultipleMessageCapableShift));
    return c;
}

// ---------------------------------------------------------------- header

TEST(PciHeader, ParsesEndpoint) {
    FakeConfig c = qemu_nvme();
    c.set8(kHeaderTypeOffset, kHeaderTypeMultifunction | kHeaderTypeEndpoint);
    auto r = parse_header(c.view());
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const FunctionHeader& h = r.value();
    EXPECT_EQ(h.vendor, 0x1B36);
    EXPECT_EQ(h.device, 0x0010);
    EXPECT_EQ(h.revision, 0x02);
    EXPECT_EQ(h.class_code, 0x01);
    EXPECT_EQ(h.subclass, 0x08);
    EXPECT_EQ(h.prog_if, 0x02);
    EXPECT_EQ(h.header_type, kHeaderTypeEndpoint);
    EXPECT_TRUE(h.multifunction);
    EXPECT_EQ(h.command, kCommandMemorySpace | kCommandBusMaster);
    EXPECT_EQ(h.status, kStatusCapabilitiesList);
    EXPECT_EQ(h.bar_count, 6u);
    EXPECT_EQ(h.secondary_bus, 0);
    EXPECT_EQ(h.subordinate_bus, 0);
}

TEST(PciHeader, ParsesBridgeWithBusNumbers) {
    // QEMU's pcie-root-port (1b36:000c), class 06 04 00, type 1.
    FakeConfig c;
    c.set16(kVendorIdOffset, 0x1B36).set16(kDeviceIdOffset, 0x000C);
    c.set8(kClassCodeOffset, 0x06).set8(kSubclassOffset, 0x04);
    c.set8(kHeaderTypeOffset, kHeaderTypeBridge);
    c.set8(kPrimaryBusOffset, 0).set8(kSecondaryBusOffset, 1).set8(kSubordinateBusOffset, 3);
    auto r = parse_header(c.view());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().header_type, kHeaderTypeBridge);
    EXPECT_FALSE(r.value().multifunction);
    EXPECT_EQ(r.value().secondary_bus, 1);
    EXPECT_EQ(r.value().subordinate_bus, 3);
    EXPECT_EQ(r.value().bar_count, 2u);
}

TEST(PciHeader, CardbusAndUnknownLayoutsHaveNoBars) {
    for (u8 type : {u8{2}, u8{0x7F}}) {
        FakeConfig c;
        c.set16(kVendorIdOffset, 0x8086).set8(kHeaderTypeOffset, type);
        auto r = parse_header(c.view());
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r.value().header_type, type);
        EXPECT_EQ(r.value().bar_count, 0u);
    }
}

TEST(PciHeader, AbsentFunctionIsNotFound) {
    FakeConfig c;
    for (usize i = 0; i < kConfigSpaceSize; i++) c.set8(i, 0xFF);
    EXPECT_EQ(parse_header(c.view()).status(), Status::NotFound);
}

TEST(PciHeader, ShortViewIsTruncated) {
    FakeConfig c = qemu_nvme();
    EXPECT_EQ(parse_header(c.view(63)).status(), Status::Truncated);
    EXPECT_EQ(parse_header(ByteView()).status(), Status::Truncated);
    EXPECT_TRUE(parse_header(c.view(64)).ok());
}

TEST(PciHeader, LayoutOffsetsMatchSpec) {
    EXPECT_EQ(kHeaderTypeOffset, 0x0E);
    EXPECT_EQ(kCapabilitiesPointerOffset, 0x34);
    EXPECT_EQ(kSecondaryBusOffset, 0x19);
    EXPECT_EQ(kSubordinateBusOffset, 0x1A);
    EXPECT_EQ(bar_offset(5), 0x24);
    EXPECT_EQ(kInterruptLineOffset, 0x3C);
}

// ---------------------------------------------------------- legacy caps

TEST(PciCapabilities, WalksMsiMsixPcieInListOrder) {
    FakeConfig c = qemu_nvme();
    auto r = walk_capabilities(c.view());
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const CapabilityList& l = r.value();
    ASSERT_EQ(l.count, 4u);
    EXPECT_EQ(l.caps[0].id, kCapMsix);
    EXPECT_EQ(l.caps[0].offset, 0x40);
    EXPECT_EQ(l.caps[1].id, kCapPciExpress);
    EXPECT_EQ(l.caps[1].offset, 0x80);
    EXPECT_EQ(l.caps[2].id, kCapPowerManagement);
    EXPECT_EQ(l.caps[2].offset, 0x60);
    EXPECT_EQ(l.caps[3].id, kCapMsi);
    EXPECT_EQ(l.caps[3].offset, 0xA0);
    for (u32 i = 0; i < l.count; i++) EXPECT_EQ(l.caps[i].version, 0);

    EXPECT_EQ(find_capability(c.view(), kCapMsix).value_or(0), 0x40);
    EXPECT_EQ(find_capability(c.view(), kCapMsi).value_or(0), 0xA0);
    EXPECT_EQ(find_capability(c.view(), kCapPciExpress).value_or(0), 0x80);
    EXPECT_EQ(find_capability(c.view(), kCapVendorSpecific).status(), Status::NotFound);
}

TEST(PciCapabilities, SameResultFromEcamSnapshot) {
    FakeConfig c = qemu_nvme();
    auto r = walk_capabilities(c.ecam());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().count, 4u);
}

TEST(PciCapabilities, StatusBitClearMeansNoList) {
    FakeConfig c = qemu_nvme();
    c.set16(kStatusOffset, 0);
    auto r = walk_capabilities(c.view());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().count, 0u);
    EXPECT_EQ(find_capability(c.view(), kCapMsix).status(), Status::NotFound);
}

TEST(PciCapabilities, NullPointerWithStatusBitIsEmpty) {
    FakeConfig c;
    c.endpoint(0x8086, 0x1234);
    auto r = walk_capabilities(c.view());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().count, 0u);
}

TEST(PciCapabilities, LowPointerBitsAreMasked) {
    FakeConfig c;
    c.endpoint(0x8086, 0x1234);
    c.set8(kCapabilitiesPointerOffset, 0x43);  // reserved bits set: means 0x40
    c.cap(0x40, kCapMsi, 0x52);                // means 0x50
    c.cap(0x50, kCapMsix, 0x03);               // masks to 0: end of list
    auto r = walk_capabilities(c.view());
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    ASSERT_EQ(r.value().count, 2u);
    EXPECT_EQ(r.value().caps[0].offset, 0x40);
    EXPECT_EQ(r.value().caps[1].offset, 0x50);
}

TEST(PciCapabilities, SelfLoopIsMalformed) {
    FakeConfig c;
    c.endpoint(0x8086, 0x1234);
    c.set8(kCapabilitiesPointerOffset, 0x40);
    c.cap(0x40, kCapMsi, 0x40);
    EXPECT_EQ(walk_capabilities(c.view()).status(), Status::Malformed);
    EXPECT_EQ(find_capability(c.view(), kCapMsi).status(), Status::Malformed);
}

TEST(PciCapabilities, TwoCycleIsMalformed) {
    FakeConfig c;
    c.endpoint(0x8086, 0x1234);
    c.set8(kCapabilitiesPointerOffset, 0x40);
    c.cap(0x40, kCapMsi, 0x50);
    c.cap(0x50, kCapMsix, 0x40);
    EXPECT_EQ(walk_capabilities(c.view()).status(), Status::Malformed);
}

TEST(PciCapabilities, LoopThroughMaskedPointerIsMalformed) {
    // 0x41 masks to 0x40: a loop even though the raw bytes differ.
    FakeConfig c;
    c.endpoint(0x8086, 0x1234);
    c.set8(kCapabilitiesPointerOffset, 0x40);
    c.cap(0x40, kCapMsi, 0x41);
    EXPECT_EQ(walk_capabilities(c.view()).status(), Status::Malformed);
}

TEST(PciCapabilities, OutOfRangeFirstPointerIsMalformed) {
    for (u8 ptr : {u8{0x10}, u8{0x3C}, u8{0x3F}, u8{0xFF}, u8{0x04}}) {
        FakeConfig c;
        c.endpoint(0x8086, 0x1234);
        c.set8(kCapabilitiesPointerOffset, ptr);
        c.cap(0xFC, kCapMsi, 0);  // so 0xFF cannot "work" by masking to 0xFC
        EXPECT_EQ(walk_capabilities(c.view()).status(), Status::Malformed) << "pointer " << int(ptr);
    }
}

TEST(PciCapabilities, OutOfRangeNextPointerIsMalformed) {
    for (u8 next : {u8{0x10}, u8{0x3C}, u8{0xFF}}) {
        FakeConfig c;
        c.endpoint(0x8086, 0x1234);
        c.set8(kCapabilitiesPointerOffset, 0x40);
        c.cap(0x40, kCapMsi, next);
        EXPECT_EQ(walk_capabilities(c.view()).status(), Status::Malformed) << "next " << int(next);
    }
}

TEST(PciCapabilities, CapabilityAtLastDwordIsAccepted) {
    FakeConfig c;
    c.endpoint(0x8086, 0x1234);
    c.set8(kCapabilitiesPointerOffset, 0xFC);
    c.cap(0xFC, kCapVendorSpecific, 0);
    auto r = walk_capabilities(c.view());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().count, 1u);
    EXPECT_EQ(r.value().caps[0].offset, 0xFC);
}

TEST(PciCapabilities, PointerBeyondViewIsMalformed) {
    // A snapshot of only the header: any capability lies outside it.
    FakeConfig c = qemu_nvme();
    EXPECT_EQ(walk_capabilities(c.view(64)).status(), Status::Malformed);
    // A view ending inside the second capability's 2-byte header.
    EXPECT_EQ(walk_capabilities(c.view(0x81)).status(), Status::Malformed);
    EXPECT_EQ(walk_capabilities(c.view(63)).status(), Status::Truncated);
}

TEST(PciCapabilities, AllOnesCapabilityIdIsMalformed) {
    FakeConfig c;
    c.endpoint(0x8086, 0x1234);
    c.set8(kCapabilitiesPointerOffset, 0x40);
    c.cap(0x40, 0xFF, 0x00);
    EXPECT_EQ(walk_capabilities(c.view()).status(), Status::Malformed);
}

TEST(PciCapabilities, FullListOf48IsAcceptedAndClosingItIsALoop) {
    FakeConfig c;
    c.endpoint(0x8086, 0x1234);
    c.set8(kCapabilitiesPointerOffset, 0x40);
    for (u32 off = 0x40; off <= 0xFC; off += 4) {
        c.cap(static_cast<u8>(off), kCapVendorSpecific, off == 0xFC ? 0 : static_cast<u8>(off + 4));
    }
    auto r = walk_capabilities(c.view());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().count, kMaxCapabilities);
    EXPECT_EQ(r.value().caps[47].offset, 0xFC);

    c.cap(0xFC, kCapVendorSpecific, 0x80);  // back into the middle
    EXPECT_EQ(walk_capabilities(c.view()).status(), Status::Malformed);
}

TEST(PciCapabilities, BridgeUsesSamePointer) {
    FakeConfig c;
    c.set16(kVendorIdOffset, 0x1B36).set8(kHeaderTypeOffset, kHeaderTypeBridge);
    c.set16(kStatusOffset, kStatusCapabilitiesList);
    c.set8(kCapabilitiesPointerOffset, 0x54);
    c.cap(0x54, kCapPciExpress, 0);
    EXPECT_EQ(find_capability(c.view(), kCapPciExpress).value_or(0), 0x54);
}

TEST(PciCapabilities, CardbusPointerIsAt0x14) {
    FakeConfig c;
    c.set16(kVendorIdOffset, 0x104C).set8(kHeaderTypeOffset, kHeaderTypeCardbus);
    c.set16(kStatusOffset, kStatusCapabilitiesList);
    c.set8(kCardbusCapabilitiesPointerOffset, 0xA0);
    c.cap(0xA0, kCapPowerManagement, 0);
    EXPECT_EQ(find_capability(c.view(), kCapPowerManagement).value_or(0), 0xA0);
}

TEST(PciCapabilities, UnknownHeaderLayoutIsUnsupported) {
    FakeConfig c;
    c.endpoint(0x8086, 0x1234).set8(kHeaderTypeOffset, 0x05);
    EXPECT_EQ(walk_capabilities(c.view()).status(), Status::Unsupported);
}

// -------------------------------------------------------- extended caps

FakeConfig with_extended_caps() {
    FakeConfig c = qemu_nvme();
    c.ext_cap(0x100, kExtCapAer, 2, 0x148);
    c.ext_cap(0x148, kExtCapSriov, 1, 0x180);
    c.ext_cap(0x180, kExtCapDeviceSerialNumber, 1, 0);
    return c;
}

TEST(PciExtendedCapabilities, WalksChain) {
    FakeConfig c = with_extended_caps();
    auto r = walk_extended_capabilities(c.ecam());
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const CapabilityList& l = r.value();
    ASSERT_EQ(l.count, 3u);
    EXPECT_EQ(l.caps[0].id, kExtCapAer);
    EXPECT_EQ(l.caps[0].offset, 0x100);
    EXPECT_EQ(l.caps[0].version, 2);
    EXPECT_EQ(l.caps[1].id, kExtCapSriov);
    EXPECT_EQ(l.caps[1].offset, 0x148);
    EXPECT_EQ(l.caps[2].id, kExtCapDeviceSerialNumber);
    EXPECT_EQ(l.caps[2].offset, 0x180);
    EXPECT_EQ(find_extended_capability(c.ecam(), kExtCapSriov).value_or(0), 0x148);
    EXPECT_EQ(find_extended_capability(c.ecam(), kExtCapAts).status(), Status::NotFound);
}

TEST(PciExtendedCapabilities, ConventionalViewIsEmptyNotError) {
    FakeConfig c = with_extended_caps();
    for (usize size : {usize{256}, usize{4095}, usize{0}}) {
        auto r = walk_extended_capabilities(c.view(size));
        ASSERT_TRUE(r.ok()) << size;
        EXPECT_EQ(r.value().count, 0u);
    }
    EXPECT_EQ(find_extended_capability(c.view(), kExtCapAer).status(), Status::NotFound);
}

TEST(PciExtendedCapabilities, ZeroOrAllOnesAt0x100IsEmpty) {
    for (u32 header : {u32{0}, u32{0xFFFFFFFF}}) {
        FakeConfig c = qemu_nvme();
        c.set32(0x100, header);
        auto r = walk_extended_capabilities(c.ecam());
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r.value().count, 0u);
    }
}

TEST(PciExtendedCapabilities, LoopIsMalformed) {
    FakeConfig c = with_extended_caps();
    c.ext_cap(0x180, kExtCapDeviceSerialNumber, 1, 0x100);
    EXPECT_EQ(walk_extended_capabilities(c.ecam()).status(), Status::Malformed);

    FakeConfig self = qemu_nvme();
    self.ext_cap(0x100, kExtCapAer, 2, 0x100);
    EXPECT_EQ(walk_extended_capabilities(self.ecam()).status(), Status::Malformed);
}

TEST(PciExtendedCapabilities, MisalignedNextIsMalformed) {
    FakeConfig c = with_extended_caps();
    c.ext_cap(0x148, kExtCapSriov, 1, 0x182);
    EXPECT_EQ(walk_extended_capabilities(c.ecam()).status(), Status::Malformed);
}

TEST(PciExtendedCapabilities, NextBelow0x100IsMalformed) {
    for (u16 next : {u16{0x0FC}, u16{0x040}, u16{0x004}}) {
        FakeConfig c = with_extended_caps();
        c.ext_cap(0x148, kExtCapSriov, 1, next);
        EXPECT_EQ(walk_extended_capabilities(c.ecam()).status(), Status::Malformed) << next;
    }
}

TEST(PciExtendedCapabilities, AllOnesMidChainIsMalformed) {
    FakeConfig c = with_extended_caps();
    c.set32(0x180, 0xFFFFFFFF);
    EXPECT_EQ(walk_extended_capabilities(c.ecam()).status(), Status::Malformed);
}

TEST(PciExtendedCapabilities, NullCapabilityIsFollowedNotListed) {
    FakeConfig c = with_extended_caps();
    c.ext_cap(0x148, kExtCapNull, 0, 0x180);
    auto r = walk_extended_capabilities(c.ecam());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value().count, 2u);
    EXPECT_EQ(r.value().caps[1].offset, 0x180);
}

TEST(PciExtendedCapabilities, CapabilityInLastDword) {
    FakeConfig c = qemu_nvme();
    c.ext_cap(0x100, kExtCapAer, 2, 0xFFC);
    c.ext_cap(0xFFC, kExtCapAcs, 1, 0);
    auto r = walk_extended_capabilities(c.ecam());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value().count, 2u);
    EXPECT_EQ(r.value().caps[1].offset, 0xFFC);
}

TEST(PciExtendedCapabilities, TooManyEntriesIsNoMemory) {
    FakeConfig c = qemu_nvme();
    const u32 n = kMaxCapabilities + 1;
    for (u32 i = 0; i < n; i++) {
        const u16 at = static_cast<u16>(0x100 + i * 0x10);
        c.ext_cap(at, kExtCapVirtualChannel, 1, i + 1 == n ? 0 : static_cast<u16>(at + 0x10));
    }
    EXPECT_EQ(walk_extended_capabilities(c.ecam()).status(), Status::NoMemory);
}

// ------------------------------------------------------------------ MSI

TEST(PciMsi, Decodes64BitMaskedFourVectors) {
    FakeConfig c = qemu_nvme();
    auto r = parse_msi(c.view(), 0xA0);
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const MsiInfo& m = r.value();
    EXPECT_EQ(m.vectors_capable, 4);
    EXPECT_TRUE(m.is_64bit);
    EXPECT_TRUE(m.per_vector_masking);
    EXPECT_FALSE(m.enabled);
    EXPECT_EQ(m.address_offset, 0xA4);
    EXPECT_EQ(m.upper_address_offset, 0xA8);
    EXPECT_EQ(m.data_offset, 0xAC);
    EXPECT_EQ(m.mask_offset, 0xB0);
    EXPECT_EQ(m.pending_offset, 0xB4);
    EXPECT_EQ(m.length, 24);
}

TEST(PciMsi, DecodesAllFourLayouts) {
    struct Case {
        u16 control;
        u16 data;
        u16 mask;
        u16 length;
    } cases[] = {
        {0, 0x48, 0, 10},
        {kMsiControl64Bit, 0x4C, 0, 14},
        {kMsiControlPerVectorMasking, 0x48, 0x4C, 20},
        {kMsiControl64Bit | kMsiControlPerVectorMasking, 0x4C, 0x50, 24},
    };
    for (const Case& k : cases) {
        FakeConfig c;
        c.endpoint(0x8086, 0x1234).set8(kCapabilitiesPointerOffset, 0x40);
        c.cap(0x40, kCapMsi, 0).set16(0x42, k.control);
        auto r = parse_msi(c.view(), 0x40);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r.value().vectors_capable, 1);
        EXPECT_EQ(r.value().address_offset, 0x44);
        EXPECT_EQ(r.value().upper_address_offset, (k.control & kMsiControl64Bit) ? 0x48 : 0);
        EXPECT_EQ(r.value().data_offset, k.data);
        EXPECT_EQ(r.value().mask_offset, k.mask);
        EXPECT_EQ(r.value().length, k.length);
    }
}

TEST(PciMsi, VectorCountsAndEnable) {
    for (u16 mmc = 0; mmc <= 5; mmc++) {
        FakeConfig c = qemu_nvme();
        c.set16(0xA2, static_cast<u16>((mmc << kMsiControlMultipleMessageCapableShift) | kMsiControlEnable));
        auto r = parse_msi(c.view(), 0xA0);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r.value().vectors_capable, 1u << mmc);
        EXPECT_TRUE(r.value().enabled);
        EXPECT_FALSE(r.value().is_64bit);
    }
}

TEST(PciMsi, ReservedMultipleMessageCapableIsMalformed) {
    for (u16 mmc : {u16{6}, u16{7}}) {
        FakeConfig c = qemu_nvme();
        c.set16(0xA2, static_cast<u16>(mmc << kMsiControlMultipleMessageCapableShift));
        EXPECT_EQ(parse_msi(c.view(), 0xA0).status(), Status::Malformed);
    }
}

TEST(PciMsi, WrongCapabilityIsInvalidArgument) {
    FakeConfig c = qemu_nvme();
    EXPECT_EQ(parse_msi(c.view(), 0x40).status(), Status::InvalidArgument);  // that is MSI-X
}

TEST(PciMsi, StructurePastConfigSpaceIsMalformed) {
    FakeConfig c;
    c.endpoint(0x8086, 0x1234).set8(kCapabilitiesPointerOffset, 0xF0);
    c.cap(0xF0, kCapMsi, 0).set16(0xF2, kMsiControl64Bit | kMsiControlPerVectorMasking);  // 24 bytes
    EXPECT_EQ(parse_msi(c.view(), 0xF0).status(), Status::Malformed);
    EXPECT_EQ(parse_msi(c.ecam(), 0xF0).status(), Status::Malformed);
    c.set16(0xF2, kMsiControl64Bit);  // 14 bytes: fits
    EXPECT_TRUE(parse_msi(c.view(), 0xF0).ok());
}

TEST(PciMsi, OffsetOutsideViewIsOutOfBounds) {
    FakeConfig c = qemu_nvme();
    EXPECT_EQ(parse_msi(c.view(0xA2), 0xA0).status(), Status::OutOfBounds);
    EXPECT_EQ(parse_msi(c.view(), 0xFFFF).status(), Status::OutOfBounds);
}

// ---------------------------------------------------------------- MSI-X

TEST(PciMsix, DecodesQemuNvme) {
    FakeConfig c = qemu_nvme();
    const u16 at = find_capability(c.view(), kCapMsix).value_or(0);
    ASSERT_EQ(at, 0x40);
    auto r = parse_msix(c.view(), at);
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const MsixInfo& m = r.value();
    EXPECT_EQ(m.table_size, 65);
    EXPECT_EQ(m.table_bir, 0);
    EXPECT_EQ(m.table_offset, 0x2000u);
    EXPECT_EQ(m.pba_bir, 0);
    EXPECT_EQ(m.pba_offset, 0x3000u);
    EXPECT_FALSE(m.enabled);
    EXPECT_FALSE(m.function_masked);
    EXPECT_EQ(msix_table_bytes(m), 65u * 16);
    EXPECT_EQ(msix_pba_bytes(m), 16u);  // 65 bits -> two QWORDs

    // QEMU NVMe BAR0: 64-bit, 16 KiB.
    const Bar bar0{BarKind::Mem64, false, 0xFEBF0000, 0x4000};
    EXPECT_TRUE(check_msix_bars(m, bar0, bar0).ok());
}

TEST(PciMsix, ControlBitsAndBirs) {
    FakeConfig c = qemu_nvme();
    c.set16(0x42, kMsixControlEnable | kMsixControlFunctionMask | 0x7FF);
    c.set32(0x44, 0x0000 | 4);
    c.set32(0x48, 0x0800 | 5);
    auto r = parse_msix(c.view(), 0x40);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().table_size, 2048);
    EXPECT_TRUE(r.value().enabled);
    EXPECT_TRUE(r.value().function_masked);
    EXPECT_EQ(r.value().table_bir, 4);
    EXPECT_EQ(r.value().table_offset, 0u);
    EXPECT_EQ(r.value().pba_bir, 5);
    EXPECT_EQ(r.value().pba_offset, 0x800u);
}

TEST(PciMsix, ReservedBirIsMalformed) {
    for (u32 bir : {6u, 7u}) {
        FakeConfig c = qemu_nvme();
        c.set32(0x44, 0x2000 | bir);
        EXPECT_EQ(parse_msix(c.view(), 0x40).status(), Status::Malformed) << bir;
        FakeConfig d = qemu_nvme();
        d.set32(0x48, 0x3000 | bir);
        EXPECT_EQ(parse_msix(d.view(), 0x40).status(), Status::Malformed) << bir;
    }
}

TEST(PciMsix, BridgeBirAboveOneIsMalformed) {
    FakeConfig c = qemu_nvme();
    c.set8(kHeaderTypeOffset, kHeaderTypeBridge);
    c.set32(0x44, 0x0000 | 1);
    c.set32(0x48, 0x1000 | 1);
    EXPECT_TRUE(parse_msix(c.view(), 0x40).ok());
    c.set32(0x48, 0x1000 | 2);
    EXPECT_EQ(parse_msix(c.view(), 0x40).status(), Status::Malformed);
}

TEST(PciMsix, OverlappingTableAndPbaIsMalformed) {
    FakeConfig c = qemu_nvme();
    c.set32(0x48, 0x2400 | 0);  // inside the 0x410-byte table at 0x2000
    EXPECT_EQ(parse_msix(c.view(), 0x40).status(), Status::Malformed);
    c.set32(0x48, 0x2410 | 0);  // right after it: fine
    EXPECT_TRUE(parse_msix(c.view(), 0x40).ok());
    c.set32(0x48, 0x2400 | 1);  // same offset, different BAR: fine
    EXPECT_TRUE(parse_msix(c.view(), 0x40).ok());
}

TEST(PciMsix, WrongCapabilityAndBounds) {
    FakeConfig c = qemu_nvme();
    EXPECT_EQ(parse_msix(c.view(), 0xA0).status(), Status::InvalidArgument);  // MSI
    EXPECT_EQ(parse_msix(c.view(0x4B), 0x40).status(), Status::OutOfBounds);
    EXPECT_EQ(parse_msix(c.view(), 0xFC).status(), Status::OutOfBounds);
}

TEST(PciMsix, TableMustFitItsBar) {
    FakeConfig c = qemu_nvme();
    const MsixInfo m = parse_msix(c.view(), 0x40).value_or(MsixInfo{});
    const Bar small{BarKind::Mem32, false, 0xFEB00000, 0x2000};  // table starts at its end
    const Bar ok{BarKind::Mem32, false, 0xFEB00000, 0x4000};
    const Bar exact_pba{BarKind::Mem32, false, 0xFEB00000, 0x3010};
    const Bar io{BarKind::Io, false, 0xC000, 0x4000};
    const Bar none{BarKind::None, false, 0, 0};
    EXPECT_EQ(check_msix_bars(m, small, ok).status(), Status::Malformed);
    EXPECT_EQ(check_msix_bars(m, ok, small).status(), Status::Malformed);
    EXPECT_TRUE(check_msix_bars(m, exact_pba, exact_pba).ok());
    EXPECT_EQ(check_msix_bars(m, io, ok).status(), Status::Malformed);
    EXPECT_EQ(check_msix_bars(m, ok, none).status(), Status::Malformed);
}

// ----------------------------------------------------------------- BARs

TEST(PciBar, UnimplementedIsNone) {
    auto r = decode_bar(0, 0, 0, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().kind, BarKind::None);
    EXPECT_EQ(r.value().size, 0u);
    EXPECT_STREQ(bar_kind_name(r.value().kind), "none");
}

TEST(PciBar, Io32Bytes) {
    // QEMU NVMe has no I/O BAR; this is e.g. a legacy virtio BAR0 at 0xC000.
    auto r = decode_bar(0x0000C001, 0, 0xFFFFFFE1, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().kind, BarKind::Io);
    EXPECT_EQ(r.value().address, 0xC000u);
    EXPECT_EQ(r.value().size, 32u);
    EXPECT_FALSE(r.value().prefetchable);
    EXPECT_STREQ(bar_kind_name(BarKind::Io), "io");
}

TEST(PciBar, Io16BitDecoderWithZeroUpperHalf) {
    auto r = decode_bar(0x0000C041, 0, 0x0000FFC1, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().kind, BarKind::Io);
    EXPECT_EQ(r.value().address, 0xC040u);
    EXPECT_EQ(r.value().size, 64u);
}

TEST(PciBar, IoSmallestSizeIsFourBytes) {
    auto r = decode_bar(0x00000CF9, 0, 0xFFFFFFFD, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().address, 0xCF8u);
    EXPECT_EQ(r.value().size, 4u);
}

TEST(PciBar, Mem32) {
    auto r = decode_bar(0xFEBD1000, 0, 0xFFFFF000, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().kind, BarKind::Mem32);
    EXPECT_EQ(r.value().address, 0xFEBD1000u);
    EXPECT_EQ(r.value().size, 0x1000u);
    EXPECT_FALSE(r.value().prefetchable);
    EXPECT_STREQ(bar_kind_name(BarKind::Mem32), "mem32");
}

TEST(PciBar, Mem32Prefetchable) {
    // The std-vga framebuffer BAR: 16 MiB, prefetchable.
    auto r = decode_bar(0xFD000008, 0, 0xFF000008, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().kind, BarKind::Mem32);
    EXPECT_TRUE(r.value().prefetchable);
    EXPECT_EQ(r.value().address, 0xFD000000u);
    EXPECT_EQ(r.value().size, 16u << 20);
}

TEST(PciBar, Mem64QemuNvme) {
    EXPECT_TRUE(bar_is_mem64(0xFEBF0004));
    auto r = decode_bar(0xFEBF0004, 0x00000000, 0xFFFFC004, 0xFFFFFFFF);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().kind, BarKind::Mem64);
    EXPECT_EQ(r.value().address, 0xFEBF0000u);
    EXPECT_EQ(r.value().size, 0x4000u);
    EXPECT_FALSE(r.value().prefetchable);
    EXPECT_STREQ(bar_kind_name(BarKind::Mem64), "mem64");
}

TEST(PciBar, Mem64PrefetchableAbove4GiB) {
    // 16 GiB at 32 GiB: the size lives entirely in the upper half.
    auto r = decode_bar(0x0000000C, 0x00000008, 0x0000000C, 0xFFFFFFFC);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().kind, BarKind::Mem64);
    EXPECT_TRUE(r.value().prefetchable);
    EXPECT_EQ(r.value().address, u64{0x8} << 32);
    EXPECT_EQ(r.value().size, u64{16} << 30);
}

TEST(PciBar, Mem64UnassignedHasAddressZero) {
    auto r = decode_bar(0x00000004, 0, 0xFFF00004, 0xFFFFFFFF);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().address, 0u);
    EXPECT_EQ(r.value().size, 1u << 20);
}

TEST(PciBar, Below1MiBTypeIsTreatedAsMem32) {
    auto r = decode_bar(0x000D0002, 0, 0xFFFF0002, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().kind, BarKind::Mem32);
    EXPECT_EQ(r.value().address, 0xD0000u);
    EXPECT_EQ(r.value().size, 0x10000u);
    EXPECT_FALSE(bar_is_mem64(0x000D0002));
}

TEST(PciBar, ReservedTypeIsMalformed) {
    EXPECT_EQ(decode_bar(0xFEB00006, 0, 0xFFFFF006, 0).status(), Status::Malformed);
    EXPECT_FALSE(bar_is_mem64(0xFEB00006));
}

TEST(PciBar, TypeBitsChangingDuringSizingIsMalformed) {
    EXPECT_EQ(decode_bar(0xFEB00000, 0, 0xFFFFF004, 0).status(), Status::Malformed);  // 32 -> 64
    EXPECT_EQ(decode_bar(0xFEB00000, 0, 0xFFFFF008, 0).status(), Status::Malformed);  // prefetch appears
    EXPECT_EQ(decode_bar(0xFEB00000, 0, 0xFFFFF001, 0).status(), Status::Malformed);  // mem -> io
}

TEST(PciBar, NoWritableAddressBitsIsMalformed) {
    EXPECT_EQ(decode_bar(0x00000001, 0, 0x00000001, 0).status(), Status::Malformed);
    EXPECT_EQ(decode_bar(0x00000008, 0, 0x00000008, 0).status(), Status::Malformed);
    EXPECT_EQ(decode_bar(0x00000004, 0, 0x00000004, 0).status(), Status::Malformed);
}

TEST(PciBar, MisalignedAddressIsMalformed) {
    EXPECT_EQ(decode_bar(0xFEB00800, 0, 0xFFFFF000, 0).status(), Status::Malformed);
    EXPECT_EQ(decode_bar(0x0000C011, 0, 0xFFFFFFE1, 0).status(), Status::Malformed);
    EXPECT_EQ(decode_bar(0x80000004, 0x1, 0x00000004, 0xFFFFFFFE).status(), Status::Malformed);
}

TEST(PciBar, WalkingSlotsSkipsUpperHalf) {
    // BAR0 mem64 (slots 0+1), BAR2 io, BAR3..5 unimplemented: a caller
    // iterating with bar_is_mem64 sees three decodable BARs.
    const u32 original[6] = {0xFEBF0004, 0, 0xC001, 0, 0, 0};
    const u32 sized[6] = {0xFFFFC004, 0xFFFFFFFF, 0xFFFFFFE1, 0, 0, 0};
    BarKind kinds[6] = {};
    u32 n = 0;
    for (u32 i = 0; i < 6; i++) {
        const bool wide = bar_is_mem64(original[i]);
        ASSERT_FALSE(wide && i == 5);
        auto r = decode_bar(original[i], wide ? original[i + 1] : 0, sized[i], wide ? sized[i + 1] : 0);
        ASSERT_TRUE(r.ok());
        kinds[n++] = r.value().kind;
        if (wide) i++;
    }
    ASSERT_EQ(n, 5u);
    EXPECT_EQ(kinds[0], BarKind::Mem64);
    EXPECT_EQ(kinds[1], BarKind::Io);
    EXPECT_EQ(kinds[2], BarKind::None);
}

}  // namespace
