// MemoryObjects: create, map, unmap, size.
#include "object/dma_pool.h"
#include "object/memory_object.h"
#include "syscall/common.h"

namespace sys {

Result<u64> memory_create(u64 bytes) {
    auto m = TRY(object::MemoryObject::create(bytes, self()->kmem()));
    return TRY(kcap::install(self(), std::move(m)));
}

Result<u64> memory_map(u64 h, u64 vaddr, u64 flags) {
    if (flags & ~abi::kMapWrite) return Status::InvalidArgument;
    bool write = flags & abi::kMapWrite;
    cap::Rights need = cap::kRightMap | cap::kRightRead | (write ? cap::kRightWrite : 0);
    auto m = kcap::lookup<object::MemoryObject>(self(), handle_arg(h), need);
    if (!m.ok() && m.status() == Status::WrongType) {
        // DmaBuffers map the same way (DESIGN §3: mappable, shareable).
        auto b = TRY(kcap::lookup<object::DmaBuffer>(self(), handle_arg(h), need));
        return TRY(b->map(self(), vaddr, write, self()->pid(), handle_arg(h)));
    }
    if (!m.ok()) return m.status();
    return TRY(m.value()->map(self(), vaddr, write, self()->pid(), handle_arg(h)));
}

Result<u64> memory_unmap(u64 h, u64 vaddr) {
    auto m = kcap::lookup<object::MemoryObject>(self(), handle_arg(h), cap::kRightMap);
    if (!m.ok() && m.status() == Status::WrongType) {
        auto b = TRY(kcap::lookup<object::DmaBuffer>(self(), handle_arg(h), cap::kRightMap));
        TRY(b->unmap(self(), vaddr));
        return 0;
    }
    if (!m.ok()) return m.status();
    TRY(m.value()->unmap(self(), vaddr));
    return 0;
}

// A memory object's (or DMA buffer's) size, to whoever may map it: a
// process given memory by another checks the size itself before it trusts
// a length the giver claims (a netstack answering "2 MiB" with a 4 KiB
// object would have its client write past its own mapping).
Result<u64> memory_size(u64 h) {
    auto m = kcap::lookup<object::MemoryObject>(self(), handle_arg(h), cap::kRightMap);
    if (!m.ok() && m.status() == Status::WrongType) {
        auto b = TRY(kcap::lookup<object::DmaBuffer>(self(), handle_arg(h), cap::kRightMap));
        return b->size();
    }
    if (!m.ok()) return m.status();
    return m.value()->size();
}

}  // namespace sys
