// MemoryObject: zeroed, page-granular memory that can be mapped into
// several processes with rights (read, or read/write; never executable).
//
// A mapping lives at most as long as the capability it was made through:
// closing or revoking that capability unmaps it (the capability layer's
// release hook calls unmap_by_cap), and so does the process's death. Each
// mapping holds a reference, so frames stay until the last mapping and the
// last handle are gone.
#pragma once

#include "cap/object.h"
#include "util/result.h"

namespace kobj {

class Process;

class MemoryObject : public Object {
public:
    static constexpr u64 kMaxBytes = 64ull << 20;

    static Result<MemoryObject*> create(u64 bytes);
    ~MemoryObject() override;

    u64 size() const { return m_pages * 4096; }
    // Kernel-side fill (boot data handed to user space).
    void write(u64 offset, const u8* data, u64 len);
    u64 pages() const { return m_pages; }

    // Maps the whole object into `process` at `vaddr` (page aligned; 0 lets
    // the process's map area choose). `space_id`/`handle` name the
    // capability used, for unmap_by_cap. Returns the address.
    Result<u64> map(Process* process, u64 vaddr, bool writable, u32 space_id, u32 handle);
    Result<void> unmap(Process* process, u64 vaddr);
    void unmap_by_cap(u32 space_id, u32 handle);
    void unmap_process(Process* process);
    u32 mapping_count() const;

private:
    struct Mapping {
        Process* process;
        u64 vaddr;
        u32 space_id;
        u32 handle;
        Mapping* next;
    };

    MemoryObject() : Object(Type::MemoryObject) {}
    void remove(Mapping** link);

    u64 m_pages = 0;
    u64* m_frames = nullptr;
    Mapping* m_mappings = nullptr;
};

}  // namespace kobj
