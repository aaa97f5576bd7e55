// The NVMe provider's block::Backend (lib/block/backend.h): how the block
// layer's generic commands become NVMe I/O commands through the kernel's
// queue broker (DESIGN §4, brokered lane), and how their completions come
// back. Everything else the BlockDevice service does — channels, rings,
// validation, splitting, retries, timeouts — is the shared block layer's
// (lib/block/engine.h, user/rt/block_server.h).
//
// The mapping (NVMe 1.4 §6): Read 0x02 / Write 0x01 with FUA as CDW12 bit
// 30 (every controller honours it); Flush 0x00 (mandatory; it matters when
// VWC reports a volatile write cache); Write Zeroes 0x08 (with FUA) where
// ONCS bit 3 offers it; Discard as Dataset Management 0x09 with one
// deallocate range (§6.7) where ONCS bit 2 offers it. Limits: MDTS (capped
// at what one broker PRP list reaches), NLB's 16 bits, PRP entries dword
// aligned. The tag is the command id; the I/O queue keeps one slot empty,
// so kIoEntries - 1 are in flight at most.
#pragma once

#include "abi/nvme.h"
#include "block/backend.h"
#include "controller.h"
#include "rt/handle.h"

namespace nvme_driver {

class BlockBackend final : public block::Backend {
public:
    // drop_completion: tests only — the Nth I/O completion (1-based) is
    // ignored, as if never posted; 0: none.
    BlockBackend(Controller& ctrl, u64 drop_completion) : m_ctrl(ctrl), m_drop_completion(drop_completion) {}
    // After the controller started: describes its namespaces.
    Result<void> init();

    u32 device_count() const override { return m_ctrl.namespace_count(); }
    const block::DeviceInfo& device(u32 index) const override { return m_devices[index]; }
    u32 max_in_flight() const override { return Controller::kIoEntries - 1; }
    Status submit(const block::Command* commands, const u16* tags, u32 count) override;
    Result<u32> poll(block::Outcome* out, u32 max, bool ack_interrupt) override;
    Status reset() override;
    void describe(const block::Command& c, u16 tag, char* text, usize size) const override;
    void describe_detail(u32 detail, char* text, usize size) const override;

private:
    void describe_namespaces();
    abi::NvmeCommand to_nvme(const block::Command& c, u16 tag);

    Controller& m_ctrl;
    u64 m_drop_completion;
    u64 m_completions_seen = 0;
    block::DeviceInfo m_devices[Controller::kMaxNamespaces];
    rt::Handle m_ranges;  // Dataset Management range lists, 16 bytes per command id
    volatile u8* m_ranges_at = nullptr;
};

}  // namespace nvme_driver
