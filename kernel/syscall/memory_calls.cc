// MemoryObjects: create, map, unmap.
#include "cap/dma_pool.h"
#include "cap/memory_object.h"
#include "syscall/common.h"

namespace sys {

i64 memory_create(u64 bytes) {
    auto m = kobj::MemoryObject::create(bytes, self()->kmem());
    if (!m.ok()) return err(m.status());
    auto h = kcap::install(self(), m.release_value());
    return h.ok() ? h.value() : err(h.status());
}

i64 memory_map(u64 h, u64 vaddr, u64 flags) {
    if (flags & ~abi::kMapWrite) return err(Status::InvalidArgument);
    bool write = flags & abi::kMapWrite;
    cap::Rights need = cap::kRightMap | cap::kRightRead | (write ? cap::kRightWrite : 0);
    auto m = kcap::lookup<kobj::MemoryObject>(self(), handle_arg(h), need);
    if (!m.ok() && m.status() == Status::WrongType) {
        // DmaBuffers map the same way (DESIGN §3: mappable, shareable).
        auto b = kcap::lookup<kobj::DmaBuffer>(self(), handle_arg(h), need);
        if (!b.ok()) return err(b.status());
        auto at = b.value()->map(self(), vaddr, write, self()->pid(), handle_arg(h));
        return at.ok() ? static_cast<i64>(at.value()) : err(at.status());
    }
    if (!m.ok()) return err(m.status());
    auto at = m.value()->map(self(), vaddr, write, self()->pid(), handle_arg(h));
    return at.ok() ? static_cast<i64>(at.value()) : err(at.status());
}

i64 memory_unmap(u64 h, u64 vaddr) {
    auto m = kcap::lookup<kobj::MemoryObject>(self(), handle_arg(h), cap::kRightMap);
    if (!m.ok() && m.status() == Status::WrongType) {
        auto b = kcap::lookup<kobj::DmaBuffer>(self(), handle_arg(h), cap::kRightMap);
        return b.ok() ? ok_or(b.value()->unmap(self(), vaddr), 0) : err(b.status());
    }
    if (!m.ok()) return err(m.status());
    return ok_or(m.value()->unmap(self(), vaddr), 0);
}

}  // namespace sys
