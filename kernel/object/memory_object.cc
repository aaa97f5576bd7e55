#include "object/memory_object.h"

#include "mm/direct_map.h"
#include "mm/frame_allocator.h"
#include "mm/heap.h"
#include "object/process.h"

namespace object {

Result<RefPtr<MemoryObject>> MemoryObject::create(u64 bytes, mm::Account* account) {
    if (bytes == 0 || bytes > kMaxBytes) return Status::InvalidArgument;
    u64 pages = (bytes + 4095) / 4096;
    // Charged before anything is allocated: past the creator's limit, the
    // frame allocator is never asked.
    auto charge = TRY(mm::Charge::take(account, pages * frames::kFrameSize + heap::block_bytes(pages * sizeof(u64)) +
                                                    mm::object_bytes<MemoryObject>()));
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
    auto m = RefPtr<MemoryObject>::adopt(new (std::nothrow) MemoryObject());
    if (!m) {
        for (u64 i = 0; i < pages; i++) frames::free(frames_list[i]);
        heap::free(frames_list);
        return Status::NoMemory;
    }
    m->m_pages = pages;
    m->m_frames = frames_list;
    m->adopt_charge(static_cast<mm::Charge&&>(charge));
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
    auto frame_of = [](const void* self, u64 i) { return static_cast<const MemoryObject*>(self)->m_frames[i]; };
    return m_mappings.map(this, process, vaddr, m_pages, frame_of, this, mm::MapFlags{writable, false, false}, space_id,
                          handle);
}

}  // namespace object
