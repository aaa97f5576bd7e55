#include "object/dma_pool.h"

#include "broker/nvme_queue.h"
#include "broker/virtqueue.h"

namespace object {

Result<RefPtr<DmaPool>> DmaPool::create(u32 function, u64 quota_bytes, u64 lane) {
    auto p = RefPtr<DmaPool>::adopt(new (std::nothrow) DmaPool());
    if (!p) return Status::NoMemory;
    // No session: the destructor has nothing to tear down.
    p->m_session = TRY(kdma::Session::create(function, quota_bytes, lane));
    return p;
}

DmaPool::~DmaPool() {
    // Already done, unless the pool never had a capability; the session's
    // reference goes with the member.
    if (m_session) m_session->teardown("pool released");
}

void DmaPool::last_capability_gone() {
    if (m_session) m_session->teardown("pool released");
}

Result<RefPtr<DmaBuffer>> DmaBuffer::create(kdma::Session* session, u64 bytes) {
    if (bytes == 0 || bytes > kMaxBytes) return Status::InvalidArgument;
    auto b = RefPtr<DmaBuffer>::adopt(new (std::nothrow) DmaBuffer());
    if (!b) return Status::NoMemory;
    u64 phys = 0;
    b->m_ledger_id = TRY(session->allocate(bytes, session->id(), dma::Use::Buffer, &phys));
    b->m_session = util::RefPtr<kdma::Session>::share(session);
    b->m_phys = phys;
    b->m_bytes = (bytes + 4095) & ~u64{4095};
    return b;
}

DmaBuffer::~DmaBuffer() {
    if (m_session) m_session->release(m_ledger_id);  // before the member's reference goes
}

Result<u64> DmaBuffer::map(Process* process, u64 vaddr, bool writable, u32 space_id, u32 handle) {
    if (!m_session->active()) return Status::TornDown;
    auto frame_of = [](const void* self, u64 i) { return static_cast<const DmaBuffer*>(self)->m_phys + i * 4096; };
    return m_mappings.map(this, process, vaddr, m_bytes / 4096, frame_of, this, mm::MapFlags{writable, false, false},
                          space_id, handle);
}

namespace {

// The session whose memory a mapped object maps (the objects MappingList
// holds for DMA memory), or null for anything else (MemoryObject,
// DeviceMmio: not DMA memory).
const kdma::Session* session_of(const Object* o) {
    switch (o->type()) {
        case Type::DmaBuffer: return static_cast<const DmaBuffer*>(o)->session();
        case Type::NvmeQueue: return static_cast<const NvmeQueue*>(o)->session();
        case Type::VirtQueue: return static_cast<const VirtQueue*>(o)->session();
        default: return nullptr;
    }
}

}  // namespace

u32 unmap_session_memory(const kdma::Session* session) {
    return MappingList::unmap_where(
        [](const Object* owner, const void* ctx) {
            return session_of(owner) == static_cast<const kdma::Session*>(ctx);
        },
        session);
}

}  // namespace object
