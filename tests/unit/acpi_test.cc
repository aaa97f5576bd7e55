// Unit tests for lib/acpi. The "QEMU" tables below are rebuilt byte for
// byte from QEMU 7.2's generators (hw/i386/acpi-common.c acpi_build_madt,
// hw/acpi/pci.c build_mcfg, hw/i386/acpi-build.c build_dmar_q35 / build_dsdt,
// hw/acpi/aml-build.c build_fadt) for `-machine q35 -device intel-iommu`.
// Real captures dropped into tests/unit/data/acpi/ are picked up by
// AcpiCaptured automatically.
#include "acpi/acpi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<u8>;

ByteView view(const Bytes& b) { return ByteView(b.data(), b.size()); }
ByteView view(const Bytes& b, usize n) { return ByteView(b.data(), n); }

void put_le(Bytes& b, usize offset, u64 v, usize width) {
    for (usize i = 0; i < width; i++) b[offset + i] = static_cast<u8>(v >> (8 * i));
}

u8 sum(const Bytes& b, usize n) {
    u8 s = 0;
    for (usize i = 0; i < n; i++) s = static_cast<u8>(s + b[i]);
    return s;
}

// Builds an ACPI table the way QEMU's acpi_table_begin/end does: a 36-byte
// header ("BOCHS " / "BXPC    " / creator "BXPC" rev 1), body appended
// little-endian, length and checksum fixed by finish().
class TableBuilder {
public:
    explicit TableBuilder(const char* sig, u8 revision = 1) {
        m_bytes.assign(36, 0);
        std::memcpy(&m_bytes[0], sig, 4);
        m_bytes[8] = revision;
        std::memcpy(&m_bytes[10], "BOCHS ", 6);
        std::memcpy(&m_bytes[16], "BXPC    ", 8);
        put_le(m_bytes, 24, 1, 4);
        std::memcpy(&m_bytes[28], "BXPC", 4);
        put_le(m_bytes, 32, 1, 4);
    }
    TableBuilder& u8_(u64 v) { return le(v, 1); }
    TableBuilder& u16_(u64 v) { return le(v, 2); }
    TableBuilder& u32_(u64 v) { return le(v, 4); }
    TableBuilder& u64_(u64 v) { return le(v, 8); }
    TableBuilder& raw(std::initializer_list<u8> bytes) {
        m_bytes.insert(m_bytes.end(), bytes);
        return *this;
    }
    TableBuilder& raw(const Bytes& bytes) {
        m_bytes.insert(m_bytes.end(), bytes.begin(), bytes.end());
        return *this;
    }
    TableBuilder& zeros(usize n) {
        m_bytes.insert(m_bytes.end(), n, 0);
        return *this;
    }
    usize size() const { return m_bytes.size(); }
    Bytes finish() const {
        Bytes b = m_bytes;
        put_le(b, 4, b.size(), 4);
        b[9] = 0;
        b[9] = static_cast<u8>(-sum(b, b.size()));
        return b;
    }

private:
    TableBuilder& le(u64 v, usize width) {
        for (usize i = 0; i < width; i++) m_bytes.push_back(static_cast<u8>(v >> (8 * i)));
        return *this;
    }
    Bytes m_bytes;
};

// Re-checksums a table after a test edited it (keeps the length field).
void fix_checksum(Bytes& b) {
    u32 length = 0;
    for (int i = 0; i < 4; i++) length |= u32{b[4 + i]} << (8 * i);
    b[9] = 0;
    b[9] = static_cast<u8>(-sum(b, std::min<usize>(length, b.size())));
}

// ---------------------------------------------------------------------------
// QEMU 7.2 q35 tables

// acpi_build_madt for `-smp 2,maxcpus=3`: possible-but-absent CPUs are
// listed disabled; then the IOAPIC, ISO 0->2, ISOs for PCI IRQs 5, 9, 10,
// 11 (pci_irq_mask) level/high, and the LINT1 NMI.
Bytes qemu_madt() {
    TableBuilder t("APIC", 1);
    t.u32_(0xFEE00000).u32_(1);       // LAPIC address, PCAT_COMPAT
    for (u8 uid = 0; uid < 3; uid++)  // Processor Local APIC
        t.u8_(0).u8_(8).u8_(uid).u8_(uid).u32_(uid < 2 ? 1 : 0);
    t.u8_(1).u8_(12).u8_(0).u8_(0).u32_(0xFEC00000).u32_(0);  // I/O APIC 0, GSI 0
    t.u8_(2).u8_(10).u8_(0).u8_(0).u32_(2).u16_(0);           // ISA IRQ0 -> GSI2
    for (u8 irq : {5, 9, 10, 11}) t.u8_(2).u8_(10).u8_(0).u8_(irq).u32_(irq).u16_(0xD);
    t.u8_(4).u8_(6).u8_(0xFF).u16_(0).u8_(1);  // Local APIC NMI, all CPUs, LINT1
    return t.finish();
}

// build_mcfg: one 256-bus window at the q35 default base.
Bytes qemu_mcfg() {
    TableBuilder t("MCFG", 1);
    t.zeros(8);
    t.u64_(0xB0000000).u16_(0).u8_(0).u8_(255).u32_(0);
    return t.finish();
}

struct Dev {
    u8 type, bus, device, function;
};

// build_dmar_q35 in QEMU 7.2 (since the 6.x bypass_iommu work): DRHD flags
// are 0 -- *not* INCLUDE_PCI_ALL -- and every device on the root bus gets
// its own single-hop scope (type 2 for bridges, 1 otherwise) after the
// IOAPIC scope (enum id 0, pseudo bus 0xFF, devfn 00.0). HAW = aw_bits - 1
// = 38 for the default 39-bit width; flags = INTR_REMAP with intremap on.
const std::vector<Dev> kQemuRootBus = {
    {1, 0, 0x00, 0},  // MCH
    {1, 0, 0x01, 0},  // VGA
    {1, 0, 0x02, 0},  // e1000e
    {2, 0, 0x03, 0},  // pcie-root-port (bus 1 behind it)
    {1, 0, 0x04, 0},  // nvme
    {1, 0, 0x1F, 0},  // ICH9 LPC
    {1, 0, 0x1F, 2},  // ICH9 AHCI
    {1, 0, 0x1F, 3},  // ICH9 SMBus
};

Bytes qemu_dmar(const std::vector<Dev>& devices = kQemuRootBus, bool atsr = false) {
    TableBuilder t("DMAR", 1);
    t.u8_(38).u8_(1).zeros(10);
    t.u16_(0).u16_(16 + 8 + 8 * devices.size());  // DRHD
    t.u8_(0).u8_(0).u16_(0).u64_(0xFED90000);
    t.u8_(3).u8_(8).u16_(0).u8_(0).u8_(0xFF).u8_(0).u8_(0);  // IOAPIC scope
    for (const Dev& d : devices) t.u8_(d.type).u8_(8).u16_(0).u8_(0).u8_(d.bus).u8_(d.device).u8_(d.function);
    if (atsr) t.u16_(2).u16_(8).u8_(1).u8_(0).u16_(0);  // device-iotlb=on
    return t.finish();
}

// build_fadt, revision 3 (244 bytes) as q35 uses, ICH9 PM at 0x600.
constexpr u32 kDsdtAddress = 0x7FFE0040;
Bytes qemu_fadt() {
    TableBuilder t("FACP", 3);
    t.u32_(0x7FFE0000).u32_(kDsdtAddress);      // FACS, DSDT
    t.u8_(0).u8_(0).u16_(9);                    // reserved, profile, SCI_INT
    t.u32_(0xB2).u8_(2).u8_(3).u8_(0).u8_(0);   // SMI_CMD, ACPI_ENABLE/DISABLE
    t.u32_(0x600).u32_(0).u32_(0x604).u32_(0);  // PM1a/b EVT, PM1a/b CNT
    t.u32_(0).u32_(0x608).u32_(0x620).u32_(0);  // PM2, PM_TMR, GPE0, GPE1
    t.u8_(4).u8_(2).u8_(0).u8_(4).u8_(0x10).u8_(0).u8_(0).u8_(0);
    t.u16_(0xFFF).u16_(0xFFF).u16_(0).u16_(0);            // C2/C3 latency: unsupported
    t.u8_(0).u8_(0).u8_(0).u8_(0).u8_(0x32);              // duty, alarms, RTC century
    t.u16_(0x0002).u8_(0).u32_(0x000084A5);               // IAPC_BOOT_ARCH 8042, flags
    t.u8_(1).u8_(8).u8_(0).u8_(0).u64_(0xCF9).u8_(0x0F);  // RESET_REG, value
    t.u16_(0).u8_(0);                                     // ARM boot arch, minor version
    t.u64_(0x7FFE0000).u64_(kDsdtAddress);                // X_FACS, X_DSDT
    for (u32 port : {0x600u, 0u, 0x604u, 0u, 0u, 0x608u, 0x620u, 0u})
        t.u8_(port ? 1 : 0).u8_(0).u8_(0).u8_(0).u64_(port);
    return t.finish();
}

// PkgLength (ACPI 6.5 §20.2.4) for a package body of n bytes.
Bytes pkg_length(usize body) {
    if (body + 1 < 0x40) return {static_cast<u8>(body + 1)};
    const usize len = body + 2;
    return {static_cast<u8>(0x40 | (len & 0x0F)), static_cast<u8>(len >> 4)};
}

// Name(<name>, Package(n){elements...}) with the given element encoding.
Bytes name_package(const char* name, const Bytes& elements, u8 count) {
    Bytes body = {count};
    body.insert(body.end(), elements.begin(), elements.end());
    Bytes out = {0x08};
    out.insert(out.end(), name, name + std::strlen(name));
    out.push_back(0x12);
    const Bytes len = pkg_length(body.size());
    out.insert(out.end(), len.begin(), len.end());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

// Scope(\) { Name(_S3_, {1,1,0,0}) Name(_S4_, {2,0,0,0}) Name(_S5_, {0,0,0,0}) }
// as build_dsdt emits it (aml_int(0/1) -> ZeroOp/OneOp, 2 -> BytePrefix),
// preceded by unrelated AML that mentions _S5_ without defining it.
Bytes qemu_dsdt_aml(const Bytes& s5 = name_package("_S5_", {0x00, 0x00, 0x00, 0x00}, 4)) {
    Bytes names;
    for (const Bytes& n : {name_package("_S3_", {0x01, 0x01, 0x00, 0x00}, 4),
                           name_package("_S4_", {0x0A, 0x02, 0x00, 0x00, 0x00}, 4), s5})
        names.insert(names.end(), n.begin(), n.end());
    Bytes aml = {0x10};  // ScopeOp
    const Bytes len = pkg_length(names.size() + 1);
    aml.insert(aml.end(), len.begin(), len.end());
    aml.push_back('\\');
    aml.insert(aml.end(), names.begin(), names.end());
    // Method(PTS_) { Store(_S5_, Local0) }: a reference, not a definition.
    const Bytes prefix = {0x14, 0x0B, 'P', 'T', 'S', '_', 0x00, 0x70, '_', 'S', '5', '_', 0x60};
    aml.insert(aml.begin(), prefix.begin(), prefix.end());
    return aml;
}

Bytes dsdt_with(const Bytes& aml) { return TableBuilder("DSDT", 1).raw(aml).finish(); }

Bytes rsdp_v1(u32 rsdt) {
    Bytes b(20, 0);
    std::memcpy(&b[0], "RSD PTR ", 8);
    std::memcpy(&b[9], "BOCHS ", 6);
    b[15] = 0;
    put_le(b, 16, rsdt, 4);
    b[8] = static_cast<u8>(-sum(b, 20));
    return b;
}

// ACPI 2.0+ RSDP as OVMF installs it.
Bytes rsdp_v2(u32 rsdt, u64 xsdt, u32 length = 36) {
    Bytes b(std::max<usize>(36, length), 0);
    std::memcpy(&b[0], "RSD PTR ", 8);
    std::memcpy(&b[9], "BOCHS ", 6);
    b[15] = 2;
    put_le(b, 16, rsdt, 4);
    put_le(b, 20, length, 4);
    put_le(b, 24, xsdt, 8);
    b[8] = static_cast<u8>(-sum(b, 20));
    b[32] = static_cast<u8>(-sum(b, std::min<usize>(length, b.size())));
    return b;
}

// ---------------------------------------------------------------------------
// Generic properties every table parser must have

using Parser = Status (*)(ByteView);
Status madt_status(ByteView v) { return acpi::parse_madt(v).status(); }
Status mcfg_status(ByteView v) { return acpi::parse_mcfg(v).status(); }
Status dmar_status(ByteView v) { return acpi::parse_dmar(v).status(); }
Status fadt_status(ByteView v) { return acpi::parse_fadt(v).status(); }
Status s5_status(ByteView v) { return acpi::find_s5_sleep_type(v).status(); }

struct Case {
    const char* name;
    Bytes table;
    Parser parse;
};

std::vector<Case> qemu_cases() {
    return {{"madt", qemu_madt(), madt_status},
            {"mcfg", qemu_mcfg(), mcfg_status},
            {"dmar", qemu_dmar(), dmar_status},
            {"fadt", qemu_fadt(), fadt_status},
            {"dsdt", dsdt_with(qemu_dsdt_aml()), s5_status}};
}

TEST(AcpiTables, QemuTablesParse) {
    for (const Case& c : qemu_cases()) EXPECT_EQ(c.parse(view(c.table)), Status::Ok) << c.name;
}

TEST(AcpiTables, EveryShortViewIsTruncated) {
    for (const Case& c : qemu_cases())
        for (usize n = 0; n < c.table.size(); n++)
            ASSERT_EQ(c.parse(view(c.table, n)), Status::Truncated) << c.name << " cut at " << n;
}

TEST(AcpiTables, EveryFlippedByteIsCaught) {
    // Any single-byte change breaks the checksum (or, for the checksum
    // byte itself, the sum), so no corruption reaches a body parser.
    for (const Case& c : qemu_cases()) {
        for (usize i = 0; i < c.table.size(); i++) {
            Bytes b = c.table;
            b[i] ^= 0x5A;
            const Status s = c.parse(view(b));
            if (i >= 4 && i < 8) {
                EXPECT_NE(s, Status::Ok) << c.name << " length byte " << i;
            } else {
                EXPECT_EQ(s, Status::BadChecksum) << c.name << " byte " << i;
            }
        }
    }
}

TEST(AcpiTables, TrailingBytesBeyondLengthAreIgnored) {
    // The kernel maps whole pages; bytes after `length` are not the table.
    for (const Case& c : qemu_cases()) {
        Bytes b = c.table;
        b.insert(b.end(), {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07});
        EXPECT_EQ(c.parse(view(b)), Status::Ok) << c.name;
    }
}

TEST(AcpiTables, WrongSignatureIsInvalidArgument) {
    const Bytes mcfg = qemu_mcfg();
    EXPECT_EQ(acpi::parse_madt(view(mcfg)).status(), Status::InvalidArgument);
    EXPECT_EQ(acpi::parse_dmar(view(mcfg)).status(), Status::InvalidArgument);
    EXPECT_EQ(acpi::parse_fadt(view(mcfg)).status(), Status::InvalidArgument);
    EXPECT_EQ(acpi::find_s5_sleep_type(view(mcfg)).status(), Status::InvalidArgument);
    EXPECT_EQ(acpi::parse_mcfg(view(qemu_madt())).status(), Status::InvalidArgument);
}

// ---------------------------------------------------------------------------
// SDT header

TEST(AcpiSdt, ValidateReportsHeaderFields) {
    const Bytes madt = qemu_madt();
    auto h = acpi::validate_table(view(madt));
    ASSERT_TRUE(h.ok());
    EXPECT_STREQ(h.value().signature, "APIC");
    EXPECT_EQ(h.value().length, madt.size());
    EXPECT_EQ(h.value().revision, 1);
    EXPECT_STREQ(h.value().oem_id, "BOCHS ");
    EXPECT_STREQ(h.value().oem_table_id, "BXPC    ");
    EXPECT_TRUE(acpi::signature_is(h.value(), "APIC"));
    EXPECT_FALSE(acpi::signature_is(h.value(), "APIX"));
}

TEST(AcpiSdt, TableLength) {
    const Bytes madt = qemu_madt();
    auto len = acpi::table_length(view(madt, 36));
    ASSERT_TRUE(len.ok());
    EXPECT_EQ(len.value(), madt.size());
    EXPECT_EQ(acpi::table_length(view(madt, 35)).status(), Status::Truncated);
    Bytes b = madt;
    put_le(b, 4, 35, 4);
    EXPECT_EQ(acpi::table_length(view(b)).status(), Status::Malformed);
}

TEST(AcpiSdt, LengthLargerThanViewIsTruncated) {
    Bytes b = qemu_mcfg();
    put_le(b, 4, b.size() + 1, 4);
    fix_checksum(b);  // sums only what the view has; still must not pass
    EXPECT_EQ(acpi::validate_table(view(b)).status(), Status::Truncated);
    put_le(b, 4, 0xFFFFFFFF, 4);
    EXPECT_EQ(acpi::validate_table(view(b)).status(), Status::Truncated);
}

TEST(AcpiSdt, LengthBelowHeaderIsMalformed) {
    Bytes b = qemu_mcfg();
    put_le(b, 4, 0, 4);
    EXPECT_EQ(acpi::validate_table(view(b)).status(), Status::Malformed);
}

TEST(AcpiSdt, BadChecksum) {
    Bytes b = qemu_mcfg();
    b[9] ^= 1;
    EXPECT_EQ(acpi::validate_table(view(b)).status(), Status::BadChecksum);
}

TEST(AcpiSdt, OpenTableTrimsToLength) {
    Bytes b = qemu_mcfg();
    const usize length = b.size();
    b.resize(4096, 0xEE);
    auto t = acpi::open_table(view(b), "MCFG");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t.value().size(), length);
    EXPECT_EQ(acpi::open_table(view(b), "APIC").status(), Status::InvalidArgument);
}

// ---------------------------------------------------------------------------
// RSDP

TEST(AcpiRsdp, SeabiosV1UsesRsdt) {
    const Bytes b = rsdp_v1(0x7FFE1F00);
    auto r = acpi::parse_rsdp(view(b));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().revision, 0);
    EXPECT_FALSE(r.value().use_xsdt);
    EXPECT_EQ(r.value().root_address, 0x7FFE1F00u);
    EXPECT_STREQ(r.value().oem_id, "BOCHS ");
}

TEST(AcpiRsdp, V2UsesXsdt) {
    const Bytes b = rsdp_v2(0x7FB7E074, 0x7FB7E0E8);
    auto r = acpi::parse_rsdp(view(b));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().revision, 2);
    EXPECT_TRUE(r.value().use_xsdt);
    EXPECT_EQ(r.value().root_address, 0x7FB7E0E8u);
}

TEST(AcpiRsdp, V2WithZeroXsdtFallsBackToRsdt) {
    const Bytes b = rsdp_v2(0x7FB7E074, 0);
    auto r = acpi::parse_rsdp(view(b));
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r.value().use_xsdt);
    EXPECT_EQ(r.value().root_address, 0x7FB7E074u);
}

TEST(AcpiRsdp, V2WithHighXsdt) {
    const Bytes b = rsdp_v2(0, 0x1'2345'6780ull);
    auto r = acpi::parse_rsdp(view(b));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().root_address, 0x1'2345'6780ull);
}

TEST(AcpiRsdp, V2WithInvalidLengthFieldFallsBackToRsdt) {
    Bytes b = rsdp_v2(0x7FB7E074, 0x7FB7E0E8, 20);
    auto r = acpi::parse_rsdp(view(b));
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r.value().use_xsdt);
    EXPECT_EQ(r.value().root_address, 0x7FB7E074u);
}

TEST(AcpiRsdp, V2LongerThanViewIsTruncated) {
    Bytes b = rsdp_v2(0x7FB7E074, 0x7FB7E0E8, 40);
    EXPECT_TRUE(acpi::parse_rsdp(view(b)).ok());
    EXPECT_EQ(acpi::parse_rsdp(view(b, 36)).status(), Status::Truncated);
}

TEST(AcpiRsdp, BadV1Checksum) {
    Bytes v1 = rsdp_v1(0x7FFE1F00);
    v1[16] ^= 0x10;
    EXPECT_EQ(acpi::parse_rsdp(view(v1)).status(), Status::BadChecksum);
    Bytes v2 = rsdp_v2(0x7FB7E074, 0x7FB7E0E8);
    v2[8] ^= 1;
    EXPECT_EQ(acpi::parse_rsdp(view(v2)).status(), Status::BadChecksum);
}

TEST(AcpiRsdp, BadExtendedChecksum) {
    Bytes b = rsdp_v2(0x7FB7E074, 0x7FB7E0E8);
    b[24] ^= 0x40;  // XSDT address: only the extended checksum covers it
    EXPECT_EQ(acpi::parse_rsdp(view(b)).status(), Status::BadChecksum);
    b = rsdp_v2(0x7FB7E074, 0x7FB7E0E8);
    b[32] ^= 1;
    EXPECT_EQ(acpi::parse_rsdp(view(b)).status(), Status::BadChecksum);
}

TEST(AcpiRsdp, ShortViews) {
    const Bytes v1 = rsdp_v1(0x7FFE1F00);
    EXPECT_EQ(acpi::parse_rsdp(view(v1, 19)).status(), Status::Truncated);
    EXPECT_EQ(acpi::parse_rsdp(ByteView()).status(), Status::Truncated);
    const Bytes v2 = rsdp_v2(0x7FB7E074, 0x7FB7E0E8);
    EXPECT_EQ(acpi::parse_rsdp(view(v2, 20)).status(), Status::Truncated);
    EXPECT_EQ(acpi::parse_rsdp(view(v2, 35)).status(), Status::Truncated);
}

TEST(AcpiRsdp, WrongSignatureIsNotFound) {
    Bytes b = rsdp_v1(0x7FFE1F00);
    b[3] = 'X';
    EXPECT_EQ(acpi::parse_rsdp(view(b)).status(), Status::NotFound);
}

TEST(AcpiRsdp, NoRootTableIsMalformed) {
    const Bytes b = rsdp_v1(0);
    EXPECT_EQ(acpi::parse_rsdp(view(b)).status(), Status::Malformed);
}

// ---------------------------------------------------------------------------
// RSDT / XSDT

TEST(AcpiRoot, RsdtEntries) {
    const Bytes b = TableBuilder("RSDT").u32_(0x7FFE1000).u32_(0x7FFE2000).u32_(0x7FFE3000).finish();
    auto n = acpi::root_entry_count(view(b), false);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n.value(), 3u);
    EXPECT_EQ(acpi::root_entry(view(b), false, 0).value_or(0), 0x7FFE1000u);
    EXPECT_EQ(acpi::root_entry(view(b), false, 2).value_or(0), 0x7FFE3000u);
    EXPECT_EQ(acpi::root_entry(view(b), false, 3).status(), Status::OutOfBounds);
}

TEST(AcpiRoot, XsdtEntriesAreUnaligned) {
    // Entries start at offset 36: 64-bit values on a 4-byte boundary.
    const Bytes table = TableBuilder("XSDT").u64_(0x7FB7D000).u64_(0x1'0000'2000ull).finish();
    Bytes backing(table.size() + 1);
    std::memcpy(backing.data() + 1, table.data(), table.size());  // odd address too
    const ByteView v(backing.data() + 1, table.size());
    EXPECT_EQ(acpi::root_entry_count(v, true).value_or(0), 2u);
    EXPECT_EQ(acpi::root_entry(v, true, 0).value_or(0), 0x7FB7D000u);
    EXPECT_EQ(acpi::root_entry(v, true, 1).value_or(0), 0x1'0000'2000ull);
    EXPECT_EQ(acpi::root_entry(v, true, 2).status(), Status::OutOfBounds);
}

TEST(AcpiRoot, EmptyRoot) {
    const Bytes b = TableBuilder("XSDT").finish();
    EXPECT_EQ(acpi::root_entry_count(view(b), true).value_or(99), 0u);
    EXPECT_EQ(acpi::root_entry(view(b), true, 0).status(), Status::OutOfBounds);
}

TEST(AcpiRoot, PartialTrailingEntryIsMalformed) {
    const Bytes x = TableBuilder("XSDT").u64_(0x7FB7D000).u32_(0x1234).finish();
    EXPECT_EQ(acpi::root_entry_count(view(x), true).status(), Status::Malformed);
    EXPECT_EQ(acpi::root_entry(view(x), true, 0).status(), Status::Malformed);
    const Bytes r = TableBuilder("RSDT").u32_(0x7FFE1000).u16_(0x1234).finish();
    EXPECT_EQ(acpi::root_entry_count(view(r), false).status(), Status::Malformed);
}

TEST(AcpiRoot, KindMustMatchSignature) {
    const Bytes r = TableBuilder("RSDT").u64_(0x7FFE1000).finish();
    EXPECT_EQ(acpi::root_entry_count(view(r), true).status(), Status::InvalidArgument);
    EXPECT_EQ(acpi::root_entry_count(view(r), false).value_or(0), 2u);
}

TEST(AcpiRoot, BadChecksumAndTruncation) {
    Bytes b = TableBuilder("RSDT").u32_(0x7FFE1000).finish();
    EXPECT_EQ(acpi::root_entry_count(view(b, b.size() - 1), false).status(), Status::Truncated);
    b[36] ^= 1;
    EXPECT_EQ(acpi::root_entry_count(view(b), false).status(), Status::BadChecksum);
}

// ---------------------------------------------------------------------------
// MADT

TEST(AcpiMadt, QemuQ35) {
    const Bytes b = qemu_madt();
    auto r = acpi::parse_madt(view(b));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const acpi::MadtInfo& m = r.value();
    EXPECT_EQ(m.lapic_address, 0xFEE00000u);
    EXPECT_EQ(m.flags, 1u);
    ASSERT_EQ(m.lapic_count, 2u);  // the third, absent CPU is disabled
    EXPECT_EQ(m.lapic_ids[0], 0u);
    EXPECT_EQ(m.lapic_ids[1], 1u);
    ASSERT_EQ(m.ioapic_count, 1u);
    EXPECT_EQ(m.ioapics[0].id, 0);
    EXPECT_EQ(m.ioapics[0].address, 0xFEC00000u);
    EXPECT_EQ(m.ioapics[0].gsi_base, 0u);
    ASSERT_EQ(m.override_count, 5u);
    EXPECT_EQ(m.overrides[0].bus, 0);
    EXPECT_EQ(m.overrides[0].source, 0);
    EXPECT_EQ(m.overrides[0].gsi, 2u);
    EXPECT_EQ(m.overrides[0].flags, 0);
    const u8 level_irqs[] = {5, 9, 10, 11};
    for (u32 i = 0; i < 4; i++) {
        EXPECT_EQ(m.overrides[1 + i].source, level_irqs[i]);
        EXPECT_EQ(m.overrides[1 + i].gsi, level_irqs[i]);
        EXPECT_EQ(m.overrides[1 + i].flags, 0xD);  // active high, level
    }
    EXPECT_EQ(m.lapic_address_override, 0u);
    EXPECT_EQ(acpi::effective_lapic_address(m), 0xFEE00000u);
    EXPECT_FALSE(m.truncated_lists);
}

TEST(AcpiMadt, X2ApicAndAddressOverride) {
    TableBuilder t("APIC", 3);
    t.u32_(0xFEE00000).u32_(0);
    t.u8_(9).u8_(16).u16_(0).u32_(0x100).u32_(1).u32_(0);  // x2APIC id 256, enabled
    t.u8_(9).u8_(16).u16_(0).u32_(0x101).u32_(2).u32_(1);  // online-capable, not enabled
    t.u8_(5).u8_(12).u16_(0).u64_(0x1'FEE0'0000ull);
    t.u8_(0).u8_(8).u8_(0).u8_(7).u32_(1);
    auto r = acpi::parse_madt(view(t.finish()));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value().lapic_count, 2u);
    EXPECT_EQ(r.value().lapic_ids[0], 0x100u);
    EXPECT_EQ(r.value().lapic_ids[1], 7u);
    EXPECT_EQ(acpi::effective_lapic_address(r.value()), 0x1'FEE0'0000ull);
}

TEST(AcpiMadt, UnknownAndLongerEntriesAreSkipped) {
    TableBuilder t("APIC", 5);
    t.u32_(0xFEE00000).u32_(1);
    t.u8_(0x7F).u8_(5).raw({1, 2, 3});                         // unknown type
    t.u8_(0).u8_(10).u8_(0).u8_(3).u32_(1).raw({0xAA, 0xBB});  // LAPIC + 2 future bytes
    t.u8_(4).u8_(2);                                           // bare header
    auto r = acpi::parse_madt(view(t.finish()));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value().lapic_count, 1u);
    EXPECT_EQ(r.value().lapic_ids[0], 3u);
}

TEST(AcpiMadt, EntryLengthZeroOrOneIsMalformed) {
    for (u8 len : {0, 1}) {
        TableBuilder t("APIC");
        t.u32_(0xFEE00000).u32_(1).u8_(0).u8_(len).zeros(6);
        EXPECT_EQ(acpi::parse_madt(view(t.finish())).status(), Status::Malformed) << int(len);
    }
}

TEST(AcpiMadt, EntryOverrunningTableIsMalformed) {
    TableBuilder t("APIC");
    t.u32_(0xFEE00000).u32_(1).u8_(1).u8_(12).u8_(0).u8_(0).u32_(0xFEC00000);  // 4 bytes short
    EXPECT_EQ(acpi::parse_madt(view(t.finish())).status(), Status::Malformed);
    TableBuilder lone("APIC");
    lone.u32_(0xFEE00000).u32_(1).u8_(0);  // half an entry header
    EXPECT_EQ(acpi::parse_madt(view(lone.finish())).status(), Status::Malformed);
}

TEST(AcpiMadt, EntryShorterThanItsTypeIsMalformed) {
    TableBuilder t("APIC");
    t.u32_(0xFEE00000).u32_(1).u8_(1).u8_(8).u8_(0).u8_(0).u32_(0xFEC00000);  // IOAPIC of 8 bytes
    t.u8_(0).u8_(8).u8_(0).u8_(1).u32_(1);
    EXPECT_EQ(acpi::parse_madt(view(t.finish())).status(), Status::Malformed);
}

TEST(AcpiMadt, CutMidEntryIsTruncated) {
    // A view that ends inside an entry (length field still covering it).
    const Bytes b = qemu_madt();
    EXPECT_EQ(acpi::parse_madt(view(b, 44 + 3)).status(), Status::Truncated);
}

TEST(AcpiMadt, HeaderOnlyIsTruncated) {
    TableBuilder t("APIC");
    t.u32_(0xFEE00000);  // flags missing
    EXPECT_EQ(acpi::parse_madt(view(t.finish())).status(), Status::Truncated);
}

TEST(AcpiMadt, FullListsSetTruncatedFlag) {
    TableBuilder t("APIC");
    t.u32_(0xFEE00000).u32_(1);
    for (u32 i = 0; i < acpi::kMaxCpus + 3; i++) t.u8_(9).u8_(16).u16_(0).u32_(i).u32_(1).u32_(i);
    for (u32 i = 0; i < acpi::kMaxIoApics + 1; i++)
        t.u8_(1).u8_(12).u8_(i).u8_(0).u32_(0xFEC00000 + i * 0x1000).u32_(i * 24);
    for (u32 i = 0; i < acpi::kMaxOverrides + 1; i++) t.u8_(2).u8_(10).u8_(0).u8_(i).u32_(i).u16_(0);
    auto r = acpi::parse_madt(view(t.finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.value().truncated_lists);
    EXPECT_EQ(r.value().lapic_count, acpi::kMaxCpus);
    EXPECT_EQ(r.value().lapic_ids[acpi::kMaxCpus - 1], acpi::kMaxCpus - 1);
    EXPECT_EQ(r.value().ioapic_count, acpi::kMaxIoApics);
    EXPECT_EQ(r.value().override_count, acpi::kMaxOverrides);
}

// ---------------------------------------------------------------------------
// MCFG

TEST(AcpiMcfg, QemuQ35) {
    auto r = acpi::parse_mcfg(view(qemu_mcfg()));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value().count, 1u);
    EXPECT_EQ(r.value().entries[0].base, 0xB0000000u);
    EXPECT_EQ(r.value().entries[0].segment, 0);
    EXPECT_EQ(r.value().entries[0].start_bus, 0);
    EXPECT_EQ(r.value().entries[0].end_bus, 255);
    EXPECT_FALSE(r.value().truncated_lists);
}

TEST(AcpiMcfg, NoEntries) {
    auto r = acpi::parse_mcfg(view(TableBuilder("MCFG").zeros(8).finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().count, 0u);
}

TEST(AcpiMcfg, PartialEntryIsMalformed) {
    const Bytes b = TableBuilder("MCFG").zeros(8).u64_(0xB0000000).u16_(0).u8_(0).u8_(255).finish();
    EXPECT_EQ(acpi::parse_mcfg(view(b)).status(), Status::Malformed);
}

TEST(AcpiMcfg, MissingReservedIsTruncated) {
    EXPECT_EQ(acpi::parse_mcfg(view(TableBuilder("MCFG").zeros(4).finish())).status(), Status::Truncated);
}

TEST(AcpiMcfg, InvertedBusRangeIsMalformed) {
    const Bytes b = TableBuilder("MCFG").zeros(8).u64_(0xB0000000).u16_(0).u8_(9).u8_(8).u32_(0).finish();
    EXPECT_EQ(acpi::parse_mcfg(view(b)).status(), Status::Malformed);
}

TEST(AcpiMcfg, ManySegments) {
    TableBuilder t("MCFG");
    t.zeros(8);
    for (u32 i = 0; i < acpi::kMaxMcfgEntries + 2; i++)
        t.u64_(0xB0000000ull + (u64{i} << 28)).u16_(i).u8_(0).u8_(i).u32_(0);
    auto r = acpi::parse_mcfg(view(t.finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().count, acpi::kMaxMcfgEntries);
    EXPECT_TRUE(r.value().truncated_lists);
    EXPECT_EQ(r.value().entries[7].segment, 7);
    EXPECT_EQ(r.value().entries[7].end_bus, 7);
}

// ---------------------------------------------------------------------------
// DMAR

TEST(AcpiDmar, QemuQ35IntelIommu) {
    auto r = acpi::parse_dmar(view(qemu_dmar()));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const acpi::DmarInfo& d = r.value();
    EXPECT_EQ(d.host_address_width, 39);
    EXPECT_EQ(d.flags, acpi::kDmarFlagIntrRemap);
    EXPECT_EQ(d.rmrr_count, 0u);
    EXPECT_EQ(d.atsr_count, 0u);
    EXPECT_FALSE(d.truncated_lists);
    ASSERT_EQ(d.unit_count, 1u);
    const acpi::DmarUnit& u = d.units[0];
    EXPECT_EQ(u.register_base, 0xFED90000u);
    EXPECT_EQ(u.segment, 0);
    EXPECT_EQ(u.flags, 0);  // QEMU 7.2 lists devices instead of INCLUDE_PCI_ALL
    ASSERT_EQ(u.scope_count, 1 + kQemuRootBus.size());
    const acpi::DmarScope& io = u.scopes[0];
    EXPECT_EQ(io.type, acpi::kScopeIoApic);
    EXPECT_EQ(io.enumeration_id, 0);
    EXPECT_EQ(io.start_bus, 0xFF);
    ASSERT_EQ(io.path_count, 1);
    EXPECT_EQ(io.path[0].device, 0);
    EXPECT_EQ(io.path[0].function, 0);
    const acpi::DmarScope& rp = u.scopes[4];
    EXPECT_EQ(rp.type, acpi::kScopePciSubHierarchy);
    EXPECT_EQ(rp.start_bus, 0);
    EXPECT_EQ(rp.path[0].device, 3);
}

TEST(AcpiDmar, QemuQ35Coverage) {
    const acpi::DmarInfo d = acpi::parse_dmar(view(qemu_dmar())).value();
    const acpi::DmarUnit& u = d.units[0];
    EXPECT_TRUE(acpi::dmar_unit_covers(u, 0, 0, 0x04, 0));   // nvme
    EXPECT_TRUE(acpi::dmar_unit_covers(u, 0, 0, 0x1F, 2));   // AHCI
    EXPECT_TRUE(acpi::dmar_unit_covers(u, 0, 0, 0x03, 0));   // the root port itself
    EXPECT_FALSE(acpi::dmar_unit_covers(u, 0, 0, 0x1F, 1));  // not listed
    EXPECT_FALSE(acpi::dmar_unit_covers(u, 1, 0, 0x04, 0));  // other segment
    EXPECT_FALSE(acpi::dmar_unit_covers(u, 0, 0xFF, 0, 0));  // IOAPIC scope is no PCI device
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 0, 0x04, 0).value_or(99), 0u);
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 0, 0x05, 0).status(), Status::NotFound);
    // Behind the root port: needs its bus numbers from config space.
    EXPECT_FALSE(acpi::dmar_unit_covers(u, 0, 1, 0, 0));
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 1, 0, 0).status(), Status::Unsupported);
}

// A fake config space: bridges at 00:03.0 (bus 1..2) and 01:00.0 (bus 2).
Result<acpi::PciBridgeBuses> fake_bridges(void* ctx, u16 segment, u8 bus, u8 device, u8 function) {
    ++*static_cast<int*>(ctx);
    if (segment != 0 || function != 0) return Status::NotFound;
    if (bus == 0 && device == 3) return acpi::PciBridgeBuses{1, 2};
    if (bus == 1 && device == 0) return acpi::PciBridgeBuses{2, 2};
    return Status::NotFound;
}

TEST(AcpiDmar, SubHierarchyWithResolver) {
    const acpi::DmarInfo d = acpi::parse_dmar(view(qemu_dmar())).value();
    int calls = 0;
    const acpi::PciBridgeResolver resolver{fake_bridges, &calls};
    EXPECT_TRUE(acpi::dmar_unit_covers(d.units[0], 0, 1, 0, 0, &resolver));
    EXPECT_TRUE(acpi::dmar_unit_covers(d.units[0], 0, 2, 5, 1, &resolver));
    EXPECT_FALSE(acpi::dmar_unit_covers(d.units[0], 0, 3, 0, 0, &resolver));
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 2, 0, 0, &resolver).value_or(99), 0u);
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 3, 0, 0, &resolver).status(), Status::NotFound);
    EXPECT_GT(calls, 0);
}

// DRHDs built by hand: unit 0 lists 00:02.0 and a two-hop endpoint
// 00:03.0 -> 00.0 on the bridge's secondary bus; unit 1 is INCLUDE_PCI_ALL.
Bytes two_unit_dmar() {
    TableBuilder t("DMAR");
    t.u8_(47).u8_(0).zeros(10);
    t.u16_(0).u16_(16 + 8 + 10).u8_(0).u8_(0).u16_(0).u64_(0xFED91000);
    t.u8_(1).u8_(8).u16_(0).u8_(0).u8_(0).u8_(2).u8_(0);
    t.u8_(1).u8_(10).u16_(0).u8_(0).u8_(0).u8_(3).u8_(0).u8_(0).u8_(0);
    t.u16_(0).u16_(16 + 8).u8_(1).u8_(0).u16_(0).u64_(0xFED90000);
    t.u8_(3).u8_(8).u16_(0).u8_(2).u8_(0xF0).u8_(0x1F).u8_(0);
    t.u16_(1).u16_(24).u32_(0).u64_(0x7F000000).u64_(0x7F0FFFFF);  // RMRR
    return t.finish();
}

TEST(AcpiDmar, IncludePciAllYieldsToExplicitScopes) {
    auto r = acpi::parse_dmar(view(two_unit_dmar()));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const acpi::DmarInfo& d = r.value();
    ASSERT_EQ(d.unit_count, 2u);
    EXPECT_EQ(d.host_address_width, 48);
    EXPECT_EQ(d.rmrr_count, 1u);
    EXPECT_EQ(d.units[1].flags & acpi::kDrhdIncludePciAll, acpi::kDrhdIncludePciAll);
    // dmar_unit_covers alone says yes for the catch-all unit...
    EXPECT_TRUE(acpi::dmar_unit_covers(d.units[1], 0, 0, 2, 0));
    // ...but the device belongs to the unit that lists it.
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 0, 2, 0).value_or(99), 0u);
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 0, 5, 0).value_or(99), 1u);
    EXPECT_EQ(acpi::dmar_find_unit(d, 1, 0, 5, 0).status(), Status::NotFound);
}

TEST(AcpiDmar, MultiHopPathNeedsResolver) {
    const acpi::DmarInfo d = acpi::parse_dmar(view(two_unit_dmar())).value();
    const acpi::DmarScope& s = d.units[0].scopes[1];
    ASSERT_EQ(s.path_count, 2);
    // Without config space: a device on bus 0 cannot be behind hop 0 ...
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 0, 5, 0).value_or(99), 1u);
    // ... but one on bus 1 might be the scope's endpoint: refuse to guess.
    EXPECT_FALSE(acpi::dmar_unit_covers(d.units[0], 0, 1, 0, 0));
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 1, 0, 0).status(), Status::Unsupported);
    int calls = 0;
    const acpi::PciBridgeResolver resolver{fake_bridges, &calls};
    EXPECT_TRUE(acpi::dmar_unit_covers(d.units[0], 0, 1, 0, 0, &resolver));
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 1, 0, 0, &resolver).value_or(99), 0u);
    EXPECT_EQ(acpi::dmar_find_unit(d, 0, 1, 1, 0, &resolver).value_or(99), 1u);
}

TEST(AcpiDmar, DeviceClaimedByTwoUnitsIsMalformed) {
    TableBuilder t("DMAR");
    t.u8_(38).u8_(0).zeros(10);
    for (u64 base : {0xFED90000ull, 0xFED91000ull}) {
        t.u16_(0).u16_(16 + 8).u8_(0).u8_(0).u16_(0).u64_(base);
        t.u8_(1).u8_(8).u16_(0).u8_(0).u8_(0).u8_(2).u8_(0);
    }
    auto r = acpi::parse_dmar(view(t.finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(acpi::dmar_find_unit(r.value(), 0, 0, 2, 0).status(), Status::Malformed);
    EXPECT_EQ(acpi::dmar_find_unit(r.value(), 0, 0, 3, 0).status(), Status::NotFound);
}

TEST(AcpiDmar, ZeroUnits) {
    auto r = acpi::parse_dmar(view(TableBuilder("DMAR").u8_(38).u8_(0).zeros(10).finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().unit_count, 0u);
    EXPECT_EQ(acpi::dmar_find_unit(r.value(), 0, 0, 4, 0).status(), Status::NotFound);
}

TEST(AcpiDmar, AtsrCounted) {
    auto r = acpi::parse_dmar(view(qemu_dmar(kQemuRootBus, true)));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().atsr_count, 1u);
}

TEST(AcpiDmar, ManyScopesBeyondCapacity) {
    std::vector<Dev> devs;
    for (u8 dev = 0; dev < acpi::kMaxDmarScopes + 4; dev++)
        devs.push_back({1, 0, static_cast<u8>(dev % 32), static_cast<u8>(dev / 32)});
    auto r = acpi::parse_dmar(view(qemu_dmar(devs)));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().units[0].scope_count, acpi::kMaxDmarScopes);
    EXPECT_TRUE(r.value().truncated_lists);
    // A dropped scope might name the device: no answer rather than a wrong one.
    EXPECT_EQ(acpi::dmar_find_unit(r.value(), 0, 0, 1, 1).status(), Status::Unsupported);
}

TEST(AcpiDmar, ManyUnitsBeyondCapacity) {
    TableBuilder t("DMAR");
    t.u8_(38).u8_(0).zeros(10);
    for (u32 i = 0; i < acpi::kMaxDmarUnits + 2; i++)
        t.u16_(0).u16_(16).u8_(0).u8_(0).u16_(0).u64_(0xFED90000 + i * 0x1000);
    t.u16_(0).u16_(16 + 5).u8_(0).u8_(0).u16_(0).u64_(0).u8_(1).u8_(5).raw({0, 0, 0});  // bad scope in a dropped unit
    EXPECT_EQ(acpi::parse_dmar(view(t.finish())).status(), Status::Malformed);
}

TEST(AcpiDmar, LongPathIsKeptTruncated) {
    TableBuilder t("DMAR");
    t.u8_(38).u8_(0).zeros(10);
    const u8 hops = acpi::kMaxDmarPath + 2;
    t.u16_(0).u16_(16 + 6 + 2 * hops).u8_(0).u8_(0).u16_(0).u64_(0xFED90000);
    t.u8_(1).u8_(6 + 2 * hops).u16_(0).u8_(0).u8_(0);
    for (u8 i = 0; i < hops; i++) t.u8_(i).u8_(0);
    auto r = acpi::parse_dmar(view(t.finish()));
    ASSERT_TRUE(r.ok());
    const acpi::DmarScope& s = r.value().units[0].scopes[0];
    EXPECT_EQ(s.path_count, acpi::kMaxDmarPath);
    EXPECT_TRUE(s.path_truncated);
    EXPECT_EQ(acpi::dmar_find_unit(r.value(), 0, 9, 0, 0).status(), Status::Unsupported);
}

TEST(AcpiDmar, StructureLengthBelowFourIsMalformed) {
    for (u16 len : {0, 1, 2, 3}) {
        TableBuilder t("DMAR");
        t.u8_(38).u8_(0).zeros(10).u16_(0x99).u16_(len).zeros(12);
        EXPECT_EQ(acpi::parse_dmar(view(t.finish())).status(), Status::Malformed) << len;
    }
}

TEST(AcpiDmar, StructureOverrunIsMalformed) {
    Bytes b = qemu_dmar();
    put_le(b, 48 + 2, b.size() - 48 + 1, 2);  // DRHD one byte longer than the table
    fix_checksum(b);
    EXPECT_EQ(acpi::parse_dmar(view(b)).status(), Status::Malformed);
    TableBuilder t("DMAR");
    t.u8_(38).u8_(0).zeros(10).u16_(0);  // half a structure header
    EXPECT_EQ(acpi::parse_dmar(view(t.finish())).status(), Status::Malformed);
}

TEST(AcpiDmar, ShortDrhdIsMalformed) {
    TableBuilder t("DMAR");
    t.u8_(38).u8_(0).zeros(10).u16_(0).u16_(12).u8_(1).u8_(0).u16_(0).u32_(0xFED90000);
    EXPECT_EQ(acpi::parse_dmar(view(t.finish())).status(), Status::Malformed);
}

TEST(AcpiDmar, BadScopeLengths) {
    for (u8 len : {0, 1, 5, 7, 9}) {
        TableBuilder t("DMAR");
        t.u8_(38).u8_(0).zeros(10).u16_(0).u16_(16 + 10).u8_(0).u8_(0).u16_(0).u64_(0xFED90000);
        t.u8_(1).u8_(len).zeros(8);
        EXPECT_EQ(acpi::parse_dmar(view(t.finish())).status(), Status::Malformed) << int(len);
    }
}

TEST(AcpiDmar, ScopeAtDrhdEndIsMalformed) {
    TableBuilder t("DMAR");  // one trailing byte inside the DRHD
    t.u8_(38).u8_(0).zeros(10).u16_(0).u16_(17).u8_(0).u8_(0).u16_(0).u64_(0xFED90000).u8_(1);
    EXPECT_EQ(acpi::parse_dmar(view(t.finish())).status(), Status::Malformed);
}

TEST(AcpiDmar, ShortRmrrIsMalformed) {
    TableBuilder t("DMAR");
    t.u8_(38).u8_(0).zeros(10).u16_(1).u16_(8).u32_(0);
    EXPECT_EQ(acpi::parse_dmar(view(t.finish())).status(), Status::Malformed);
}

TEST(AcpiDmar, AbsurdHostAddressWidthIsMalformed) {
    Bytes b = qemu_dmar();
    b[36] = 64;
    fix_checksum(b);
    EXPECT_EQ(acpi::parse_dmar(view(b)).status(), Status::Malformed);
    b[36] = 63;
    fix_checksum(b);
    EXPECT_EQ(acpi::parse_dmar(view(b)).value().host_address_width, 64);
}

TEST(AcpiDmar, MissingFixedPartIsTruncated) {
    EXPECT_EQ(acpi::parse_dmar(view(TableBuilder("DMAR").u8_(38).u8_(0).finish())).status(), Status::Truncated);
}

TEST(AcpiDmar, ParseIntoReusesStorage) {
    static acpi::DmarInfo info;  // how a small-stack kernel caller would hold it
    ASSERT_TRUE(acpi::parse_dmar_into(view(qemu_dmar()), info).ok());
    EXPECT_EQ(info.units[0].scope_count, 9u);
    ASSERT_TRUE(acpi::parse_dmar_into(view(TableBuilder("DMAR").u8_(38).u8_(0).zeros(10).finish()), info).ok());
    EXPECT_EQ(info.unit_count, 0u);
    EXPECT_EQ(info.units[0].scope_count, 0u);  // cleared, not stale
}

// ---------------------------------------------------------------------------
// FADT

TEST(AcpiFadt, QemuQ35) {
    auto r = acpi::parse_fadt(view(qemu_fadt()));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    const acpi::FadtInfo& f = r.value();
    EXPECT_EQ(f.dsdt, kDsdtAddress);
    EXPECT_EQ(f.x_dsdt, kDsdtAddress);
    EXPECT_EQ(acpi::dsdt_address(f), kDsdtAddress);
    EXPECT_EQ(f.sci_int, 9);
    EXPECT_EQ(f.smi_cmd, 0xB2u);
    EXPECT_EQ(f.acpi_enable, 2);
    EXPECT_EQ(f.pm1a_cnt_blk, 0x604u);
    EXPECT_EQ(f.pm1b_cnt_blk, 0u);
    EXPECT_EQ(f.iapc_boot_arch, acpi::kBootArch8042);
    EXPECT_EQ(f.flags, 0x84A5u);
    EXPECT_EQ(qemu_fadt().size(), 244u);
}

TEST(AcpiFadt, Revision1ShortTable) {
    // ACPI 1.0 FADT: 116 bytes, no X_ fields; QEMU's i440fx used this.
    Bytes full = qemu_fadt();
    Bytes b(full.begin(), full.begin() + 116);
    b[8] = 1;
    put_le(b, 4, 116, 4);
    fix_checksum(b);
    auto r = acpi::parse_fadt(view(b));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().pm1a_cnt_blk, 0x604u);
    EXPECT_EQ(r.value().flags, 0x84A5u);
    EXPECT_EQ(r.value().x_dsdt, 0u);
    EXPECT_EQ(acpi::dsdt_address(r.value()), kDsdtAddress);
}

TEST(AcpiFadt, FieldsBeyondLengthReadAsZero) {
    // Cut inside PM1a_CNT_BLK: the partial field must read as 0, and the
    // bytes after `length` (still in the view) must not be used.
    Bytes b = qemu_fadt();
    put_le(b, 4, 66, 4);
    fix_checksum(b);
    auto r = acpi::parse_fadt(view(b));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().dsdt, kDsdtAddress);
    EXPECT_EQ(r.value().sci_int, 9);
    EXPECT_EQ(r.value().pm1a_cnt_blk, 0u);
    EXPECT_EQ(r.value().flags, 0u);
    EXPECT_EQ(r.value().x_dsdt, 0u);
}

TEST(AcpiFadt, HeaderOnly) {
    auto r = acpi::parse_fadt(view(TableBuilder("FACP").finish()));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().dsdt, 0u);
}

TEST(AcpiFadt, XDsdtWins) {
    Bytes b = qemu_fadt();
    put_le(b, 140, 0x1'0000'0000ull, 8);
    fix_checksum(b);
    EXPECT_EQ(acpi::dsdt_address(acpi::parse_fadt(view(b)).value()), 0x1'0000'0000ull);
}

// ---------------------------------------------------------------------------
// \_S5

TEST(AcpiS5, QemuDsdt) {
    auto r = acpi::find_s5_sleep_type(view(dsdt_with(qemu_dsdt_aml())));
    ASSERT_TRUE(r.ok()) << status_name(r.status());
    EXPECT_EQ(r.value(), 0);  // ICH9: SLP_TYP 0 is soft-off
}

TEST(AcpiS5, ElementEncodings) {
    struct {
        Bytes element;
        u8 expect;
    } cases[] = {{{0x00}, 0},
                 {{0x01}, 1},
                 {{0x0A, 0x05}, 5},
                 {{0x0B, 0x07, 0x00}, 7},
                 {{0x0C, 0x06, 0, 0, 0}, 6},
                 {{0x0E, 0x03, 0, 0, 0, 0, 0, 0, 0}, 3}};
    for (const auto& c : cases) {
        Bytes elements = c.element;
        elements.push_back(0x00);
        auto r = acpi::find_s5_sleep_type_in_aml(view(name_package("_S5_", elements, 2)));
        ASSERT_TRUE(r.ok()) << int(c.element[0]);
        EXPECT_EQ(r.value(), c.expect);
    }
}

TEST(AcpiS5, RootPrefixedName) {
    auto r = acpi::find_s5_sleep_type_in_aml(view(name_package("\\_S5_", {0x0A, 0x05, 0x0A, 0x05}, 2)));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), 5);
}

TEST(AcpiS5, MultiByteLength) {
    Bytes elements = {0x0A, 0x07};
    elements.insert(elements.end(), 80, 0x00);
    const Bytes aml = name_package("_S5_", elements, 82);
    ASSERT_EQ(aml[6] >> 6, 1);  // two-byte PkgLength
    EXPECT_EQ(acpi::find_s5_sleep_type_in_aml(view(aml)).value_or(99), 7);
}

TEST(AcpiS5, Absent) {
    const Bytes aml = qemu_dsdt_aml(name_package("_S6_", {0x00}, 1));
    EXPECT_EQ(acpi::find_s5_sleep_type(view(dsdt_with(aml))).status(), Status::NotFound);
    EXPECT_EQ(acpi::find_s5_sleep_type_in_aml(ByteView()).status(), Status::NotFound);
    const Bytes only_name = {'_', 'S', '5', '_'};
    EXPECT_EQ(acpi::find_s5_sleep_type_in_aml(view(only_name)).status(), Status::NotFound);
}

TEST(AcpiS5, TruncatedAml) {
    // Valid DSDT whose AML stops inside the _S5_ package; every cut point.
    const Bytes full = name_package("_S5_", {0x0A, 0x05, 0x00}, 2);
    for (usize n = 5; n < full.size(); n++) {
        const Bytes aml(full.begin(), full.begin() + n);
        EXPECT_EQ(acpi::find_s5_sleep_type(view(dsdt_with(aml))).status(), Status::Truncated) << n;
    }
}

TEST(AcpiS5, MalformedPackages) {
    // Not a package; zero elements; package length too small for its element.
    EXPECT_EQ(acpi::find_s5_sleep_type_in_aml(view(Bytes{0x08, '_', 'S', '5', '_', 0x0A, 0x05})).status(),
              Status::Malformed);
    EXPECT_EQ(acpi::find_s5_sleep_type_in_aml(view(name_package("_S5_", {}, 0))).status(), Status::Malformed);
    EXPECT_EQ(
        acpi::find_s5_sleep_type_in_aml(view(Bytes{0x08, '_', 'S', '5', '_', 0x12, 0x03, 0x02, 0x0A, 0x05})).status(),
        Status::Malformed);
    EXPECT_EQ(acpi::find_s5_sleep_type_in_aml(view(Bytes{0x08, '_', 'S', '5', '_', 0x12, 0x01, 0x02})).status(),
              Status::Malformed);
    // Sleep types are 3 bits; OnesOp or 8 cannot be written to SLP_TYP.
    EXPECT_EQ(acpi::find_s5_sleep_type_in_aml(view(name_package("_S5_", {0xFF}, 1))).status(), Status::Malformed);
    EXPECT_EQ(acpi::find_s5_sleep_type_in_aml(view(name_package("_S5_", {0x0A, 0x08}, 1))).status(), Status::Malformed);
}

TEST(AcpiS5, NonConstantElementIsUnsupported) {
    const Bytes aml = name_package("_S5_", {'S', 'L', 'P', '5'}, 1);
    EXPECT_EQ(acpi::find_s5_sleep_type_in_aml(view(aml)).status(), Status::Unsupported);
}

TEST(AcpiS5, LaterGoodDefinitionWins) {
    Bytes aml = {0x08, '_', 'S', '5', '_', 0x0A, 0x01};  // bogus candidate first
    const Bytes good = name_package("_S5_", {0x0A, 0x05}, 1);
    aml.insert(aml.end(), good.begin(), good.end());
    EXPECT_EQ(acpi::find_s5_sleep_type_in_aml(view(aml)).value_or(99), 5);
}

TEST(AcpiS5, DsdtChecksumChecked) {
    Bytes b = dsdt_with(qemu_dsdt_aml());
    b.back() ^= 1;
    EXPECT_EQ(acpi::find_s5_sleep_type(view(b)).status(), Status::BadChecksum);
}

// ---------------------------------------------------------------------------
// Captured firmware tables: every file in tests/unit/data/acpi/ (raw table
// bytes, e.g. from `acpidump -b` or the kernel's log) must parse with the
// parser its signature selects. Files starting "RSD PTR " are RSDPs.

Status parse_by_signature(const Bytes& b, std::string& kind) {
    const ByteView v = view(b);
    if (b.size() >= 8 && std::memcmp(b.data(), "RSD PTR ", 8) == 0) {
        kind = "RSDP";
        return acpi::parse_rsdp(v).status();
    }
    auto h = acpi::validate_table(v);
    if (!h.ok()) return h.status();
    kind = h.value().signature;
    if (kind == "APIC") return acpi::parse_madt(v).status();
    if (kind == "MCFG") return acpi::parse_mcfg(v).status();
    if (kind == "DMAR") return acpi::parse_dmar(v).status();
    if (kind == "FACP") return acpi::parse_fadt(v).status();
    if (kind == "DSDT") return acpi::find_s5_sleep_type(v).status();
    if (kind == "RSDT" || kind == "XSDT") return acpi::root_entry_count(v, kind == "XSDT").status();
    return Status::Ok;  // validated; no body parser for it
}

TEST(AcpiCaptured, EveryCapturedTableParses) {
    const std::filesystem::path dir = std::filesystem::path(SLUICE_TEST_DATA) / "acpi";
    // The captured tables are part of the repository (scripts/capture_acpi.py
    // wrote them): missing data is a broken checkout, never a reason to skip.
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << "no captured tables in " << dir;
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        const Bytes b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::string kind = "?";
        EXPECT_EQ(parse_by_signature(b, kind), Status::Ok) << entry.path() << " (" << kind << ")";
        files++;
    }
    EXPECT_GT(files, 0) << "no captured tables in " << dir;
}

}  // namespace
