// The mappings an object (MemoryObject, DeviceMmio) has in user address
// spaces, each tied to the capability it was made through so that closing
// or revoking that capability removes it (DESIGN §2: revocation "removes
// what they mapped"). Every mapping holds a reference on the owner
// (Mapping::owner).
#pragma once

#include "mm/address_space.h"
#include "object/object.h"
#include "util/result.h"

namespace object {

class Process;

class MappingList {
public:
    // Maps `pages` pages whose physical addresses `phys_of(ctx, i)` gives,
    // at `vaddr` (0: the process's map area picks) with `flags`.
    Result<u64> map(Object* owner, Process* process, u64 vaddr, u64 pages, u64 (*phys_of)(const void*, u64),
                    const void* ctx, mm::MapFlags flags, u32 space_id, u32 handle);
    Result<void> unmap(Process* process, u64 vaddr);
    void unmap_by_cap(u32 space_id, u32 handle);
    bool empty() const { return m_head == nullptr; }

    // Process death, after every capability is closed: removes whatever
    // mapping of `process` is still left anywhere (none, if every path
    // that moves or drops a capability undid its mappings — this is the
    // safety net that keeps a dead address space from being referenced).
    // Returns how many it had to remove.
    static u32 unmap_everything_of(Process* process);

    // Removes every mapping, in every process, whose owner `matches`
    // (quarantine: DESIGN §5 "unmapped from everyone"). O(all mappings);
    // for rare events only. Returns how many it removed.
    static u32 unmap_where(bool (*matches)(const Object* owner, const void* ctx), const void* ctx);

    struct Mapping {
        DeferredRef<Object> owner;  // dropped deferred: removal runs inside capability hooks
        MappingList* list;
        Process* process;
        u64 vaddr;
        u64 pages;
        u32 space_id;
        u32 handle;
        Mapping* next;             // in the owner's list
        Mapping* next_in_process;  // in the process's list (Process::mappings_head)
    };

private:
    void remove(Mapping** link);
    Mapping* m_head = nullptr;
};

}  // namespace object
