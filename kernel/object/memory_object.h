// MemoryObject: zeroed, page-granular memory that can be mapped into
// several processes with rights (read, or read/write; never executable).
//
// A mapping lives at most as long as the capability it was made through:
// closing or revoking that capability unmaps it (the capability layer's
// release hook calls cap_released), and so does the process's death. Each
// mapping holds a reference, so frames stay until the last mapping and the
// last handle are gone.
#pragma once

#include "object/mapping_list.h"
#include "object/object.h"
#include "util/page.h"
#include "util/result.h"

namespace object {

class Process;

class MemoryObject : public Object {
public:
    static constexpr Type kType = Type::MemoryObject;
    // MemoryCreate (the boot manifest init gets is read-only).
    static constexpr cap::Rights kDefaultRights =
        cap::kRightRead | cap::kRightWrite | cap::kRightMap | cap::kRightInspect | cap::kRightRevoke | kPassRights;

    static constexpr u64 kMaxBytes = 64ull << 20;

    // Its frames, their list and this object are charged to `account` (the
    // creator's; null: kernel-owned) until the object is destroyed.
    static Result<RefPtr<MemoryObject>> create(u64 bytes, mm::Account* account);
    ~MemoryObject() override;

    u64 size() const { return m_pages * kPage; }
    // Kernel-side fill (boot data handed to user space).
    void write(u64 offset, const u8* data, u64 len);
    u64 pages() const { return m_pages; }

    // Maps the whole object into `process` at `vaddr` (page aligned; 0 lets
    // the process's map area choose). `space_id`/`handle` name the
    // capability used. Returns the address.
    Result<u64> map(Process* process, u64 vaddr, bool writable, u32 space_id, u32 handle);
    Result<void> unmap(Process* process, u64 vaddr) { return m_mappings.unmap(process, vaddr); }
    void cap_released(u32 space_id, u32 handle) override { m_mappings.unmap_by_cap(space_id, handle); }

private:
    MemoryObject() : Object(kType) {}

    u64 m_pages = 0;
    u64* m_frames = nullptr;
    MappingList m_mappings;
};

}  // namespace object
