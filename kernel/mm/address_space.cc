#include "mm/address_space.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/user_copy.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"
#include "mm/paging.h"

namespace mm {
namespace {

u64* table(u64 phys) { return direct_map::to_virt<u64>(phys); }

Result<u64> zeroed_frame() {
    u64 phys = TRY(frames::alloc());
    u64* t = table(phys);
    for (int i = 0; i < 512; i++) t[i] = 0;
    return phys;
}

void free_tables(u64 phys, int level) {
    if (level > 1) {
        u64* t = table(phys);
        for (int i = 0; i < 512; i++)
            if (t[i] & paging::kPresent) free_tables(t[i] & paging::kAddressMask, level - 1);
    }
    frames::free(phys);
}

}  // namespace

// A zeroed table frame, charged to the account first.
Result<u64> AddressSpace::new_table() {
    if (m_account) TRY(m_account->charge(frames::kFrameSize));
    auto phys = zeroed_frame();
    if (!phys.ok() && m_account) m_account->release(frames::kFrameSize);
    if (phys.ok()) m_table_frames++;
    return phys;
}

Result<void> AddressSpace::init(mm::Account* account) {
    m_account = account;
    m_root = TRY(new_table());
    u64* kernel = table(paging::kernel_root());
    u64* mine = table(m_root);
    for (int i = 256; i < 512; i++) mine[i] = kernel[i];
    return {};
}

void AddressSpace::destroy() {
    if (!m_root) return;
    // A thread without a process may still run on this space (the
    // scheduler does not switch CR3 for it): leave it before its tables go.
    if ((cpu::read_cr3() & paging::kAddressMask) == m_root) cpu::write_cr3(paging::kernel_root());
    u64* t = table(m_root);
    for (int i = 0; i < 256; i++)
        if (t[i] & paging::kPresent) free_tables(t[i] & paging::kAddressMask, 3);
    frames::free(m_root);
    if (m_account) m_account->release(m_table_frames * frames::kFrameSize);
    m_root = 0;
    m_table_frames = 0;
}

Result<u64*> AddressSpace::entry(u64 virt, bool create) {
    if (!user::range_ok(virt, 4096) || (virt & 0xfff)) return Status::OutOfBounds;
    u64 phys = m_root;
    for (int level = 4; level > 1; level--) {
        u64& e = table(phys)[(virt >> (12 + 9 * (level - 1))) & 511];
        if (!(e & paging::kPresent)) {
            if (!create) return Status::NotFound;
            e = TRY(new_table()) | paging::kPresent | paging::kWritable | paging::kUser;
        }
        phys = e & paging::kAddressMask;
    }
    return &table(phys)[(virt >> 12) & 511];
}

Result<void> AddressSpace::map(u64 virt, u64 phys, MapFlags flags) {
    u64* e = TRY(entry(virt, true));
    if (*e & paging::kPresent) return Status::Busy;
    u64 bits = paging::kPresent | paging::kUser;
    if (flags.write) bits |= paging::kWritable;
    if (!flags.exec) bits |= paging::nx_bit();
    if (flags.uncached) bits |= paging::kCacheDisable | paging::kWriteThrough;
    *e = (phys & paging::kAddressMask) | bits;
    return {};
}

Result<u64> AddressSpace::unmap(u64 virt) {
    u64* e = TRY(entry(virt, false));
    if (!(*e & paging::kPresent)) return Status::NotFound;
    u64 phys = *e & paging::kAddressMask;
    *e = 0;
    // Only the running address space can hold a stale TLB entry (one CPU;
    // with SMP this becomes a shootdown to every CPU running this space).
    if ((cpu::read_cr3() & paging::kAddressMask) == m_root) cpu::invlpg(virt);
    return phys;
}

Result<u64> AddressSpace::lookup(u64 virt) const {
    u64 phys = m_root;
    for (int level = 4; level >= 1; level--) {
        u64 e = table(phys)[(virt >> (12 + 9 * (level - 1))) & 511];
        if (!(e & paging::kPresent)) return Status::NotFound;
        phys = e & paging::kAddressMask;
    }
    return phys | (virt & 0xfff);
}

}  // namespace mm
