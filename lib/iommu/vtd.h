// Intel VT-d (Intel Virtualization Technology for Directed I/O,
// Architecture Specification rev. 4.1, chapters 9-11): the remapping
// unit's registers and capabilities, and the entry formats of the root,
// context and second-level tables the kernel builds for the remapped lane
// (DESIGN §4, issue 15). Pure decoding and encoding: no MMIO here; the
// kernel's driver reads the registers and writes the tables.
#pragma once

#include "util/result.h"
#include "util/types.h"

namespace vtd {

// §11.4 register offsets in a DRHD unit's page.
namespace reg {
constexpr u32 kVersion = 0x00, kCapability = 0x08, kExtCapability = 0x10, kGlobalCommand = 0x18, kGlobalStatus = 0x1c,
              kRootTable = 0x20, kContextCommand = 0x28, kFaultStatus = 0x34, kFaultEventControl = 0x38,
              kFaultEventData = 0x3c, kFaultEventAddress = 0x40, kFaultEventUpperAddress = 0x44,
              kInvalidationQueueHead = 0x80, kInvalidationQueueTail = 0x88, kInvalidationQueueAddress = 0x90,
              kInterruptRemapTable = 0xb8;
// In the IOTLB registers (at ECAP.IRO): the invalidate address, then the command.
constexpr u32 kIotlbAddress = 0x0, kIotlbCommand = 0x8;
}  // namespace reg

// §11.4.4 GCMD_REG / GSTS_REG: each command bit has its status bit at the
// same position.
namespace global {
constexpr u32 kTranslation = 1u << 31, kSetRootTable = 1u << 30, kWriteBufferFlush = 1u << 27,
              kQueuedInvalidation = 1u << 26, kInterruptRemapping = 1u << 25, kSetInterruptTable = 1u << 24;
// What to write to GCMD to turn `bit` on or off, from GSTS as read (§11.4.4:
// the one-shot bits — root table, fault log, write buffer, interrupt table
// pointer — read back as status and must not be written again).
constexpr u32 command(u32 status, u32 bit, bool on) {
    const u32 kept = status & 0x96ff'ffffu;
    return on ? kept | bit : kept & ~bit;
}
}  // namespace global

// §11.4.5 FSTS_REG and §11.4.6 FECTL_REG.
namespace fault_status {
constexpr u32 kOverflow = 1u << 0, kPending = 1u << 1, kQueueError = 1u << 4, kCompletionError = 1u << 5,
              kTimeoutError = 1u << 6;
constexpr u32 kInterruptMask = 1u << 31;                             // FECTL.IM
constexpr u32 first_record(u32 fsts) { return (fsts >> 8) & 0xff; }  // FRI
}  // namespace fault_status

// §11.4.2 CAP_REG.
struct Capability {
    u64 raw = 0;

    u32 domains() const { return 1u << (4 + 2 * (raw & 7)); }                               // ND
    bool required_write_buffer_flush() const { return (raw >> 4) & 1; }                     // RWBF
    bool caching_mode() const { return (raw >> 7) & 1; }                                    // CM
    u32 sagaw() const { return static_cast<u32>((raw >> 8) & 0x1f); }                       // SAGAW bits
    u32 mgaw() const { return static_cast<u32>((raw >> 16) & 0x3f) + 1; }                   // MGAW, bits
    u32 fault_record_offset() const { return static_cast<u32>((raw >> 24) & 0x3ff) * 16; }  // FRO
    u32 second_level_large_pages() const { return static_cast<u32>((raw >> 34) & 0xf); }    // SLLPS
    bool page_selective_invalidation() const { return (raw >> 39) & 1; }                    // PSI
    u32 max_invalidation_order() const { return static_cast<u32>((raw >> 48) & 0x3f); }     // MAMV
    u32 fault_records() const { return static_cast<u32>((raw >> 40) & 0xff) + 1; }          // NFR
};

// §11.4.3 ECAP_REG.
struct ExtCapability {
    u64 raw = 0;

    bool coherent() const { return raw & 1; }                                                // C: page walks snoop
    bool queued_invalidation() const { return (raw >> 1) & 1; }                              // QI
    bool interrupt_remapping() const { return (raw >> 3) & 1; }                              // IR
    bool extended_interrupt_mode() const { return (raw >> 4) & 1; }                          // EIM
    bool pass_through() const { return (raw >> 6) & 1; }                                     // PT
    u32 iotlb_register_offset() const { return static_cast<u32>((raw >> 8) & 0x3ff) * 16; }  // IRO
};

// How many levels of second-level tables to build for an address width of
// at least `min_bits` (39: 3 levels, 48: 4 levels; §3.6, SAGAW bit 1 and 2),
// within what the unit supports (SAGAW) and its MGAW. Unsupported when it
// supports neither.
Result<u32> second_level_levels(const Capability& cap, u32 min_bits);
// The address width a number of levels gives (3: 39, 4: 48).
constexpr u32 address_bits(u32 levels) { return 12 + 9 * levels; }
// The IOVAs a domain with `levels` may use on this unit: the tables'
// width, but no more than MGAW (a unit offering only 4-level tables with a
// 39-bit MGAW translates no IOVA past 39 bits).
constexpr u32 iova_bits(const Capability& cap, u32 levels) {
    return address_bits(levels) < cap.mgaw() ? address_bits(levels) : cap.mgaw();
}

// §9.1 root entry (legacy mode): present, the context table's address.
struct RootEntry {
    u64 low = 0, high = 0;
};
static_assert(sizeof(RootEntry) == 16);
RootEntry root_entry(u64 context_table);

// §9.3 context entry (legacy mode): present, translation type 00 (untranslated
// requests through the second-level tables), the second-level table root,
// the address width (AW: 1 = 3 levels, 2 = 4 levels) and the domain id.
struct ContextEntry {
    u64 low = 0, high = 0;
};
static_assert(sizeof(ContextEntry) == 16);
Result<ContextEntry> context_entry(u64 table_root, u32 levels, u16 domain);

// §9.8 second-level paging entry: read and write permission, the address.
constexpr u64 kSlRead = 1, kSlWrite = 2;
constexpr u64 kSlAddressMask = 0x000f'ffff'ffff'f000ull;  // bits 51:12

// §6.5.2 queued invalidation: 128-bit descriptors (legacy mode).
struct Descriptor {
    u64 low = 0, high = 0;
};
static_assert(sizeof(Descriptor) == 16);
namespace invalidate {
// Context-cache invalidation: every entry, or one function's (source id
// bus << 8 | devfn) in domain `domain`.
constexpr Descriptor context_global() { return {0x1 | (1u << 4), 0}; }
constexpr Descriptor context_device(u16 domain, u16 source) {
    return {0x1 | (3u << 4) | (u64{domain} << 16) | (u64{source} << 32), 0};
}
// IOTLB invalidation, draining the device's reads and writes first: every
// entry, one domain's, or 2^order pages from `iova` (aligned to them).
constexpr u64 kDrain = (1u << 6) | (1u << 7);
constexpr Descriptor iotlb_global() { return {0x2 | (1u << 4) | kDrain, 0}; }
constexpr Descriptor iotlb_domain(u16 domain) { return {0x2 | (2u << 4) | kDrain | (u64{domain} << 16), 0}; }
constexpr Descriptor iotlb_pages(u16 domain, u64 iova, u32 order) {
    return {0x2 | (3u << 4) | kDrain | (u64{domain} << 16), (iova & ~0xfffull) | (order & 0x3f)};
}
// Invalidation wait: once every descriptor before it is done, the unit
// writes `data` to the 4-byte aligned `status_address`.
constexpr Descriptor wait(u64 status_address, u32 data) {
    return {0x5 | (1u << 5) | (u64{data} << 32), status_address & ~0x3ull};
}
}  // namespace invalidate

// The same invalidations through registers, for units without queued
// invalidation (§11.4.7 CCMD_REG, §11.4.8 IOTLB_REG): the command word,
// whose top bit (ICC / IVT) the unit clears when it is done.
namespace register_invalidate {
constexpr u64 kBusy = 1ull << 63;
constexpr u64 context_global() { return kBusy | (1ull << 61); }
constexpr u64 context_device(u16 domain, u16 source) { return kBusy | (3ull << 61) | domain | (u64{source} << 16); }
constexpr u64 iotlb_global() { return kBusy | (1ull << 60) | (3ull << 48); }
constexpr u64 iotlb_domain(u16 domain) { return kBusy | (2ull << 60) | (3ull << 48) | (u64{domain} << 32); }
}  // namespace register_invalidate

// The smallest page-selective invalidation covering [iova, iova + bytes):
// an order (2^order pages, aligned) no larger than `max_order` (CAP.MAMV);
// NotFound when none is (invalidate the domain instead).
Result<u32> invalidation_order(u64 iova, u64 bytes, u32 max_order);

// Interrupt remapping (§5.1, §9.10): the table entry (IRTE) a remappable
// interrupt request names by its handle, and the request formats that name
// it. Fixed delivery, physical destination (xAPIC: the APIC ID in DST bits
// 15:8), and source validation: only requests whose source id equals `source`
// (all 16 bits: SVT 01, SQ 00) may use the entry — a device cannot raise
// another's interrupt even knowing its handle.
struct InterruptEntry {
    u64 low = 0, high = 0;
};
static_assert(sizeof(InterruptEntry) == 16);
constexpr InterruptEntry interrupt_entry(u8 vector, u8 apic_id, u16 source, bool level) {
    return {1 | (level ? 1u << 4 : 0) | (u64{vector} << 16) | (u64{apic_id} << 40), u64{source} | (1ull << 18)};
}
// The compatibility-format MSI address (SDM Vol. 3A §10.11): fixed
// delivery to the xAPIC `apic_id`, physical destination.
constexpr u32 compatible_msi_address(u8 apic_id) { return 0xfee0'0000u | (u32{apic_id} << 12); }
// §5.1.5.2 remappable MSI address (data 0: no subhandle): 0xFEE, handle
// bits 14:0 at 19:5, the remappable-format bit 4, handle bit 15 at bit 2.
constexpr u32 remappable_msi_address(u16 handle) {
    return 0xfee0'0000u | ((handle & 0x7fffu) << 5) | (1u << 4) | ((handle >> 15) << 2);
}
// §5.1.5.1 I/O APIC redirection entry in remappable format: the handle's
// bits 14:0 at 63:49, bit 15 at 11, the format bit 48; the vector field
// repeats the IRTE's (end-of-interrupt broadcasts match on it); trigger
// mode and mask as in a compatible entry.
constexpr u64 remappable_ioapic_entry(u16 handle, u8 vector, bool level, bool masked) {
    return (u64{handle & 0x7fffu} << 49) | (1ull << 48) | (masked ? 1ull << 16 : 0) | (level ? 1ull << 15 : 0) |
           (static_cast<u64>(handle >> 15) << 11) | vector;
}
// IRTA_REG: the table's address and size (2^(size_log2) entries, 2..65536).
constexpr u64 interrupt_table_register(u64 table, u32 size_log2) {
    return (table & ~0xfffull) | ((size_log2 - 1) & 0xf);
}
namespace invalidate {
// Interrupt entry cache invalidation: every entry, or one.
constexpr Descriptor interrupt_entries_all() { return {0x4, 0}; }
constexpr Descriptor interrupt_entry(u16 index) { return {0x4 | (1u << 4) | (u64{index} << 32), 0}; }
}  // namespace invalidate

// The remapping fault record (§10.4.14): what the kernel turns into a
// refusal against the provider owning the source id.
struct FaultRecord {
    u64 address;  // the page the device tried
    u16 source;   // bus << 8 | device << 3 | function
    u8 reason;    // §7.2.3 fault reason
    bool read;    // T bit set: a read (else a write)
};
// Decodes a 128-bit fault recording register; NotFound when its F bit
// (fault) is clear.
Result<FaultRecord> fault_record(u64 low, u64 high);

}  // namespace vtd
