// DmaPool and DmaBuffer (DESIGN §3): a device's quota of DMA memory and the
// buffers allocated from it. A pool is one kdma::Session (the DMA grant of
// one function, with its ledger); it is minted from the PciFunction
// capability, so revoking devmgr's PciFunction revokes it. When the pool's
// last capability goes, the grant is torn down (kdma::Session::teardown),
// and when a process dies holding one of them, whatever copies exist
// elsewhere (Process::close_dma_pools): a grant lives no longer than its
// holder, so copies handed to another process cannot keep it.
//
// A DmaBuffer is zeroed, physically contiguous memory the holder may map
// and share (a consumer's copy keeps the frames alive, not the grant). Its
// device-visible address never leaves the kernel: brokers put it into
// commands from the ledger. Freed while in flight, it is deferred by the
// ledger until the work completes or the device is quiesced.
#pragma once

#include "dma/session.h"
#include "object/mapping_list.h"
#include "object/object.h"
#include "util/result.h"

namespace object {

class Process;

class DmaPool : public Object {
public:
    static constexpr Type kType = Type::DmaPool;
    // Bound what buffers and queues minted from the pool may do.
    static constexpr cap::Rights kDefaultRights = cap::kRightRead | cap::kRightWrite | cap::kRightMap |
                                                  cap::kRightInspect | cap::kRightManage | cap::kRightRevoke |
                                                  kPassRights;

    static Result<RefPtr<DmaPool>> create(u32 function, u64 quota_bytes, u64 lane = abi::kDmaLaneBrokered);
    ~DmaPool() override;
    kdma::Session* session() const { return m_session.get(); }
    // The grant ends with the pool's last capability, not its last
    // reference: nothing else may keep a device's DMA authority alive.
    void last_capability_gone() override;

private:
    DmaPool() : Object(kType) {}
    util::RefPtr<kdma::Session> m_session;
};

class DmaBuffer : public Object {
public:
    static constexpr Type kType = Type::DmaBuffer;
    static constexpr cap::Rights kDefaultRights =
        cap::kRightRead | cap::kRightWrite | cap::kRightMap | cap::kRightRevoke | kPassRights;

    static constexpr u64 kMaxBytes = 2ull << 20;  // one PRP list page's reach

    static Result<RefPtr<DmaBuffer>> create(kdma::Session* session, u64 bytes);
    ~DmaBuffer() override;

    u64 size() const { return m_bytes; }
    kdma::Session* session() const { return m_session.get(); }
    u32 ledger_id() const { return m_ledger_id; }
    // Kernel only (brokers): the device-visible address of `offset`.
    u64 device_address(u64 offset) const { return m_phys + offset; }

    Result<u64> map(Process* process, u64 vaddr, bool writable, u32 space_id, u32 handle);
    Result<void> unmap(Process* process, u64 vaddr) { return m_mappings.unmap(process, vaddr); }
    void cap_released(u32 space_id, u32 handle) override { m_mappings.unmap_by_cap(space_id, handle); }

private:
    DmaBuffer() : Object(kType) {}
    util::RefPtr<kdma::Session> m_session;
    u32 m_ledger_id = 0;
    u64 m_phys = 0;
    u64 m_bytes = 0;
    MappingList m_mappings;
};

// Quarantine (DESIGN §5: "unmapped from everyone, never reused"): removes
// every user mapping of `session`'s memory — DmaBuffers, NVMe completion
// queues, virtqueue used rings — from every process, whoever holds the
// capability it was made through. New mappings are refused already (the
// session is no longer active). Returns how many were removed.
u32 unmap_session_memory(const kdma::Session* session);

}  // namespace object
