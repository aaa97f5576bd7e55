// A user address space: its own PML4 whose upper half is the kernel's
// (shared PDPTs, see paging::init) and whose lower half holds this
// process's mappings. Page-table frames are owned here; the frames mapped
// are owned by whoever mapped them (ELF segments, stacks, MemoryObjects),
// and unmap() hands the physical address back to that owner.
//
// Every page-table frame is charged to the space's kernel memory account
// (the process's, mm/account.h) when it is made — a map that needs a table
// past the limit fails with NoMemory before allocating it — and given back
// when the space is destroyed (tables are not freed at unmap: they stay,
// charged, for the next mapping in their range).
#pragma once

#include "mm/account.h"
#include "util/result.h"
#include "util/types.h"

namespace mm {

struct MapFlags {
    bool write;
    bool exec;
    bool uncached;
};

class AddressSpace {
public:
    // `account` (may be null: uncharged) must outlive the space's tables.
    Result<void> init(mm::Account* account);
    // Frees every lower-half page-table frame. Mappings must already be
    // gone (their owners unmapped them); stray ones are dropped, not freed.
    void destroy();

    u64 root() const { return m_root; }
    Result<void> map(u64 virt, u64 phys, MapFlags flags);
    // Removes the mapping and flushes the TLB entry; NotFound if absent.
    Result<u64> unmap(u64 virt);
    Result<u64> lookup(u64 virt) const;
    u64 page_table_frames() const { return m_table_frames; }

private:
    Result<u64*> entry(u64 virt, bool create);
    Result<u64> new_table();
    mm::Account* m_account = nullptr;
    u64 m_root = 0;
    u64 m_table_frames = 0;
};

}  // namespace mm
