#include "cap/memory_object.h"

#include "cap/process.h"
#include "mm/direct_map.h"
#include "mm/frame_allocator.h"
#include "mm/heap.h"

namespace kobj {

Result<MemoryObject*> MemoryObject::create(u64 bytes) {
    if (bytes == 0 || bytes > kMaxBytes) return Status::InvalidArgument;
    u64 pages = (bytes + 4095) / 4096;
    auto* frames_list = static_cast<u64*>(heap::alloc(pages * sizeof(u64)));
    if (!frames_list) return Status::NoMemory;
    for (u64 i = 0; i < pages; i++) {
        auto f = frames::alloc();
        if (!f.ok()) {
            for (u64 k = 0; k < i; k++) frames::free(frames_list[k]);
            heap::free(frames_list);
            return Status::NoMemory;
        }
        u64* words = direct_map::to_virt<u64>(f.value());
        for (int w = 0; w < 512; w++) words[w] = 0;
        frames_list[i] = f.value();
    }
    auto* m = new MemoryObject();
    m->m_pages = pages;
    m->m_frames = frames_list;
    return m;
}

void MemoryObject::write(u64 offset, const u8* data, u64 len) {
    for (u64 i = 0; i < len && offset + i < size(); i++) {
        u64 at = offset + i;
        direct_map::to_virt<u8>(m_frames[at / 4096])[at % 4096] = data[i];
    }
}

MemoryObject::~MemoryObject() {
    // Mappings hold references, so there are none left here.
    for (u64 i = 0; i < m_pages; i++) frames::free(m_frames[i]);
    heap::free(m_frames);
}

Result<u64> MemoryObject::map(Process* process, u64 vaddr, bool writable, u32 space_id, u32 handle) {
    if (!process->alive()) return Status::Stale;
    if (vaddr == 0) vaddr = TRY(process->reserve_map_area(size()));
    if (vaddr & 0xfff) return Status::InvalidArgument;
    auto* mapping = static_cast<Mapping*>(heap::alloc(sizeof(Mapping)));
    if (!mapping) return Status::NoMemory;
    u64 done = 0;
    for (; done < m_pages; done++) {
        auto r = process->address_space().map(vaddr + done * 4096, m_frames[done], mm::MapFlags{writable, false, false});
        if (!r.ok()) {
            for (u64 k = 0; k < done; k++) (void)process->address_space().unmap(vaddr + k * 4096);
            heap::free(mapping);
            return r.status();
        }
    }
    *mapping = Mapping{process, vaddr, space_id, handle, m_mappings};
    m_mappings = mapping;
    ref();
    return vaddr;
}

void MemoryObject::remove(Mapping** link) {
    Mapping* m = *link;
    *link = m->next;
    for (u64 i = 0; i < m_pages; i++) (void)m->process->address_space().unmap(m->vaddr + i * 4096);
    heap::free(m);
    unref_deferred();  // callers may be inside capability hooks
}

Result<void> MemoryObject::unmap(Process* process, u64 vaddr) {
    for (Mapping** link = &m_mappings; *link; link = &(*link)->next) {
        if ((*link)->process == process && (*link)->vaddr == vaddr) {
            remove(link);
            return {};
        }
    }
    return Status::NotFound;
}

void MemoryObject::unmap_by_cap(u32 space_id, u32 handle) {
    for (Mapping** link = &m_mappings; *link;) {
        if ((*link)->space_id == space_id && (*link)->handle == handle) remove(link);
        else link = &(*link)->next;
    }
}

void MemoryObject::unmap_process(Process* process) {
    for (Mapping** link = &m_mappings; *link;) {
        if ((*link)->process == process) remove(link);
        else link = &(*link)->next;
    }
}

u32 MemoryObject::mapping_count() const {
    u32 n = 0;
    for (Mapping* m = m_mappings; m; m = m->next) n++;
    return n;
}

}  // namespace kobj
