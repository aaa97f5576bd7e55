#include "devices/window_policy.h"

namespace devices {
namespace {

bool overlaps(u64 a0, u64 a1, u64 b0, u64 b1) { return a0 < b1 && b0 < a1; }

u64 page_down(u64 v) { return v & ~(kPageSize - 1); }
u64 page_up(u64 v) { return (v + kPageSize - 1) & ~(kPageSize - 1); }

// NVMe 1.4 §3.1 controller registers. Writable through the filter: the
// interrupt mask set/clear and the admin queue sizes (AQA). Never: ASQ,
// ACQ, BPMBL, CMBMSC, PMRMSC (each holds a device-visible address); CC
// (setting CC.EN makes the controller fetch from whatever ASQ/ACQ hold:
// enabling is the queue broker's job, after the kernel has written them);
// BPRSEL (starts a boot-partition read, a DMA to BPMBL); NSSR; and
// nothing unnamed. Doorbells (0x1000 onwards, stride 4 with CAP.DSTRD = 0)
// are writable: a doorbell for a queue the broker did not create is ignored.
constexpr u64 kNvmeIntms = 0x0c, kNvmeIntmc = 0x10, kNvmeAqa = 0x24, kNvmeDoorbells = 0x1000;

bool nvme_allowed(u64 offset, u32 width) {
    if (width != 4 || (offset & 3)) return false;
    if (offset >= kNvmeDoorbells) return true;
    switch (offset) {
        case kNvmeIntms:
        case kNvmeIntmc:
        case kNvmeAqa: return true;
        default: return false;
    }
}

}  // namespace

Result<void> check_window(const pci::Bar& bar, u8 bar_index, const pci::MsixInfo* msix, u64 offset, u64 length) {
    if (bar.kind != pci::BarKind::Mem32 && bar.kind != pci::BarKind::Mem64) return Status::Unsupported;
    if (length == 0 || (offset % kPageSize) || (length % kPageSize)) return Status::OutOfBounds;
    if (offset > bar.size || length > bar.size - offset) return Status::OutOfBounds;
    if (msix) {
        u64 end = offset + length;
        if (msix->table_bir == bar_index) {
            u64 t0 = page_down(msix->table_offset), t1 = page_up(msix->table_offset + pci::msix_table_bytes(*msix));
            if (overlaps(offset, end, t0, t1)) return Status::NoRights;
        }
        if (msix->pba_bir == bar_index) {
            u64 p0 = page_down(msix->pba_offset), p1 = page_up(msix->pba_offset + pci::msix_pba_bytes(*msix));
            if (overlaps(offset, end, p0, p1)) return Status::NoRights;
        }
    }
    return {};
}

bool direct_window_allowed(RegisterPolicy policy, u64 offset, u64 length) {
    if (policy == RegisterPolicy::Nvme) return !overlaps(offset, offset + length, 0, kNvmeDoorbells);
    return true;
}

bool filtered_write_allowed(RegisterPolicy policy, u64 offset, u32 width) {
    switch (policy) {
        case RegisterPolicy::Nvme: return nvme_allowed(offset, width);
        case RegisterPolicy::DenyAll: return false;
    }
    return false;
}

}  // namespace devices
