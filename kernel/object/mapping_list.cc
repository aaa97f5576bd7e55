#include "object/mapping_list.h"

#include "mm/heap.h"
#include "object/process.h"

namespace object {
namespace {
// What one Mapping record costs its process's account.
u64 record_bytes() { return heap::block_bytes(sizeof(MappingList::Mapping)); }
}  // namespace

Result<u64> MappingList::map(Object* owner, Process* process, u64 vaddr, u64 pages, u64 (*phys_of)(const void*, u64),
                             const void* ctx, mm::MapFlags flags, u32 space_id, u32 handle) {
    if (!process->alive()) return Status::Stale;
    if (vaddr == 0) vaddr = TRY(process->reserve_map_area(pages * 4096));
    if (vaddr & 0xfff) return Status::InvalidArgument;
    // The record is the mapping process's to pay for, like the page tables
    // the address space makes (and charges) for it below. A failure part
    // way leaves those tables in place, charged until the space goes:
    // they are the space's, and the next mapping in their range uses them.
    TRY(process->kmem()->charge(record_bytes()));
    auto* mapping = static_cast<Mapping*>(heap::alloc(sizeof(Mapping)));
    if (!mapping) {
        process->kmem()->release(record_bytes());
        return Status::NoMemory;
    }
    for (u64 done = 0; done < pages; done++) {
        auto r = process->address_space().map(vaddr + done * 4096, phys_of(ctx, done), flags);
        if (!r.ok()) {
            for (u64 k = 0; k < done; k++) (void)process->address_space().unmap(vaddr + k * 4096);
            heap::free(mapping);
            process->kmem()->release(record_bytes());
            return r.status();
        }
    }
    new (mapping) Mapping{DeferredRef<Object>::share(owner),
                          this,
                          process,
                          vaddr,
                          pages,
                          space_id,
                          handle,
                          m_head,
                          process->mappings_head};
    m_head = mapping;
    process->mappings_head = mapping;
    return vaddr;
}

void MappingList::remove(Mapping** link) {
    Mapping* m = *link;
    *link = m->next;
    for (Mapping** p = &m->process->mappings_head; *p; p = &(*p)->next_in_process) {
        if (*p == m) {
            *p = m->next_in_process;
            break;
        }
    }
    for (u64 i = 0; i < m->pages; i++) (void)m->process->address_space().unmap(m->vaddr + i * 4096);
    DeferredRef<Object> owner = std::move(m->owner);  // dropped (deferred) on return
    m->process->kmem()->release(record_bytes());
    m->~Mapping();
    heap::free(m);
}

Result<void> MappingList::unmap(Process* process, u64 vaddr) {
    for (Mapping** link = &m_head; *link; link = &(*link)->next) {
        if ((*link)->process == process && (*link)->vaddr == vaddr) {
            remove(link);
            return {};
        }
    }
    return Status::NotFound;
}

void MappingList::unmap_by_cap(u32 space_id, u32 handle) {
    for (Mapping** link = &m_head; *link;) {
        if ((*link)->space_id == space_id && (*link)->handle == handle)
            remove(link);
        else
            link = &(*link)->next;
    }
}

u32 MappingList::unmap_everything_of(Process* process) {
    u32 removed = 0;
    while (Mapping* m = process->mappings_head) {
        Mapping** link = &m->list->m_head;
        while (*link && *link != m) link = &(*link)->next;
        if (!*link) {  // not in its owner's list: only unlink it from the process
            process->mappings_head = m->next_in_process;
            continue;
        }
        m->list->remove(link);
        removed++;
    }
    return removed;
}

u32 MappingList::unmap_where(bool (*matches)(const Object* owner, const void* ctx), const void* ctx) {
    u32 removed = 0;
    for (Process* p = first_process(); p; p = p->next_in_table) {
        for (Mapping* m = p->mappings_head; m;) {
            Mapping* following = m->next_in_process;
            if (matches(m->owner.get(), ctx)) {
                Mapping** link = &m->list->m_head;
                while (*link && *link != m) link = &(*link)->next;
                if (*link) {
                    m->list->remove(link);  // also unlinks it from p's list
                    removed++;
                }
            }
            m = following;
        }
    }
    return removed;
}

}  // namespace object
