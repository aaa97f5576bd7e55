#include "block_backend.h"

#include "nvme/command.h"
#include "rt/log.h"
#include "rt/sys.h"
#include "util/format.h"

namespace nvme_driver {
namespace {

u8 opcode_of(abi::BlockRequestOp op) {
    switch (op) {
        case abi::BlockRequestOp::Read: return nvme::kIoRead;
        case abi::BlockRequestOp::Write: return nvme::kIoWrite;
        case abi::BlockRequestOp::Flush: return nvme::kIoFlush;
        case abi::BlockRequestOp::WriteZeroes: return nvme::kIoWriteZeroes;
        case abi::BlockRequestOp::Discard: return nvme::kIoDsm;
    }
    return 0xff;
}

}  // namespace

Result<void> BlockBackend::init() {
    m_ranges = TRY(rt::dma_buffer_create(m_ctrl.pool(), Controller::kIoEntries * 16));
    m_ranges_at = reinterpret_cast<volatile u8*>(TRY(rt::memory_map(m_ranges.get(), 0, abi::kMapWrite)));
    describe_namespaces();
    return {};
}

void BlockBackend::describe_namespaces() {
    const nvme::ControllerInfo& info = m_ctrl.info();
    u32 oncs = info.oncs;
    for (u32 i = 0; i < m_ctrl.namespace_count(); i++) {
        const Namespace& ns = m_ctrl.ns(i);
        block::DeviceInfo d{};
        d.blocks = ns.blocks;
        d.block_shift = ns.lba_shift;
        d.unit = ns.nsid;
        d.ops = abi::block_op_bit(abi::BlockRequestOp::Read) | abi::block_op_bit(abi::BlockRequestOp::Write) |
                abi::block_op_bit(abi::BlockRequestOp::Flush) |
                (oncs & nvme::kOncsWriteZeroes ? abi::block_op_bit(abi::BlockRequestOp::WriteZeroes) : 0) |
                (oncs & nvme::kOncsDsm ? abi::block_op_bit(abi::BlockRequestOp::Discard) : 0);
        d.volatile_cache = m_ctrl.volatile_cache();
        d.native_fua = true;
        // NLB is 16 bits: 65536 blocks per command at most, whatever MDTS says.
        u64 transfer = m_ctrl.max_transfer();
        u64 nlb_limit = u64{nvme::kMaxBlocksPerCommand} << ns.lba_shift;
        if (transfer > nlb_limit) transfer = nlb_limit;
        d.max_transfer = static_cast<u32>(transfer);
        d.segment_bytes = 4096;
        d.max_segments = 0;  // the broker builds the PRP list: MDTS is the only limit
        d.alignment = 4;     // PRP entries are dword aligned (§4.3)
        // Write Zeroes moves no data, so MDTS does not bind it (NLB does),
        // but a device may do the work of a write for it — QEMU's model
        // writes the zeros out — and the commands behind a huge one wait:
        // one is kept to a data command's size, as reads and writes are.
        d.max_write_zeroes_blocks = static_cast<u32>(transfer >> ns.lba_shift);
        d.max_discard_blocks = 0xffffffffu;  // one range: a 32-bit length
        __builtin_memcpy(d.model, info.model, sizeof d.model);
        __builtin_memcpy(d.serial, info.serial, sizeof d.serial);
        m_devices[i] = d;
    }
}

abi::NvmeCommand BlockBackend::to_nvme(const block::Command& c, u16 tag) {
    const Namespace& ns = m_ctrl.ns(c.device);
    abi::NvmeCommand cmd{};
    cmd.cid = tag;
    cmd.nsid = ns.nsid;
    cmd.opcode = opcode_of(c.op);
    switch (c.op) {
        case abi::BlockRequestOp::Flush: break;
        case abi::BlockRequestOp::Read:
        case abi::BlockRequestOp::Write:
            cmd.buffer = c.buffer;
            cmd.offset = c.offset;
            cmd.length = u64{c.blocks} << ns.lba_shift;
            [[fallthrough]];
        case abi::BlockRequestOp::WriteZeroes: {
            nvme::BlockRange range = nvme::block_range(c.lba, c.blocks, c.fua);
            cmd.cdw10 = range.cdw10;
            cmd.cdw11 = range.cdw11;
            cmd.cdw12 = range.cdw12;
            break;
        }
        case abi::BlockRequestOp::Discard: {
            // One range (NR = 0), deallocate, in this tag's slot of the
            // range buffer (the device reads it until the command ends).
            u8 range[nvme::kDsmRangeBytes];
            nvme::dsm_range(c.lba, c.blocks, range);
            volatile u8* at = m_ranges_at + u64{tag} * nvme::kDsmRangeBytes;
            for (u32 k = 0; k < nvme::kDsmRangeBytes; k++) at[k] = range[k];
            cmd.cdw11 = nvme::kDsmCdw11Deallocate;
            cmd.buffer = m_ranges.get();
            cmd.offset = u64{tag} * nvme::kDsmRangeBytes;
            cmd.length = nvme::kDsmRangeBytes;
            break;
        }
    }
    return cmd;
}

Status BlockBackend::submit(const block::Command* commands, const u16* tags, u32 count) {
    abi::NvmeCommand batch[abi::kNvmeMaxBatch];
    for (u32 done = 0; done < count;) {
        u32 n = count - done < abi::kNvmeMaxBatch ? count - done : abi::kNvmeMaxBatch;
        for (u32 i = 0; i < n; i++) batch[i] = to_nvme(commands[done + i], tags[done + i]);
        if (auto sent = m_ctrl.submit(batch, n); !sent.ok()) return sent.status();
        done += n;
    }
    return Status::Ok;
}

Result<u32> BlockBackend::poll(block::Outcome* out, u32 max, bool ack_interrupt) {
    abi::NvmeCompletion done[64];
    if (max > 64) max = 64;
    auto n = m_ctrl.complete(done, max, ack_interrupt);
    if (!n.ok()) return n.status();  // TornDown: BlockServer ends the provider
    u32 kept = 0;
    for (u32 i = 0; i < n.value(); i++) {
        if (++m_completions_seen == m_drop_completion) {
            rt::log("nvme: test: ignoring the completion of cid %u", done[i].cid);
            continue;
        }
        u16 status = done[i].status;
        block::Outcome& o = out[kept++];
        o.tag = done[i].cid;
        o.status = status ? nvme::io_status(status) : Status::Ok;
        o.detail = status;
        o.retry = nvme::may_retry(status);
    }
    return kept;
}

Status BlockBackend::reset() {
    // A new admin queue is the reset (Controller::reset): every queue of
    // the old generation is retired and what was in flight released.
    auto r = m_ctrl.reset();
    describe_namespaces();
    return r.ok() ? Status::Ok : r.status();
}

void BlockBackend::describe(const block::Command& c, u16, char* text, usize size) const {
    u32 nsid = c.device < m_ctrl.namespace_count() ? m_ctrl.ns(c.device).nsid : 0;
    format(text, size, "opcode 0x%02x nsid %u lba %llu", opcode_of(c.op), nsid, static_cast<unsigned long long>(c.lba));
}

void BlockBackend::describe_detail(u32 detail, char* text, usize size) const {
    format(text, size, "%s (0x%x)", status_name_of(static_cast<u16>(detail)), detail);
}

}  // namespace nvme_driver
