// Model-based fuzzer for nvme::QueuePair (lib/nvme/queue_pair.h), the NVMe
// broker's queue logic, against the fake controller of
// tests/support/fake_nvme_controller.h. The input is a queue shape and a
// sequence of steps — provider submits (valid and not), completes, the
// broker's own commands (start, poll, abandon), and device behaviour:
// fetching, honest answers, late and duplicate answers, garbage, entries of
// the wrong phase or queue, a reset. After every step:
//   - the queue pair's own invariants hold (check_invariants: each id in
//     one state, never more stashed than ids, list pages accounted);
//   - ledger holds are balanced: exactly one per outstanding command with
//     a buffer, never an unhold without a hold;
//   - the provider gets each completion at most once, only for a command
//     it submitted and has not yet been given, and an id is free exactly
//     when nothing of it is owed;
//   - the broker's answer is only ever an answer to the broker's id, and
//     after an abandoned command no other is started;
//   - every entry the device fetches points only into the provider's
//     buffers or the PRP list pages (no MPTR, no FUSE/PSDT bits), and every
//     list entry into the buffer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>

#include "../support/fake_nvme_controller.h"
#include "fuzz_support.h"
#include "nvme/policy.h"

namespace {

using fuzz_support::check;
using fuzz_support::Input;
using fuzz_support::trace;

constexpr u32 kBuffers = 3;
const fake_nvme::Buffer kBufferTable[kBuffers] = {
    {0x100000, 11, 4096},
    {0x200000, 12, 65536},
    {0x1000000, 13, 1 << 20},
};

// Does [address, address + bytes) lie in one of the buffers?
bool in_buffers(u64 address, u64 bytes) {
    for (const auto& b : kBufferTable)
        if (address >= b.device_address && bytes <= b.size && address - b.device_address <= b.size - bytes) return true;
    return false;
}

struct Model {
    std::set<u16> owed;       // submitted, completion not yet handed to the provider
    std::set<u16> with_hold;  // of those, the ones that named a buffer
    std::set<u16> answered;   // ids the device has answered at least once (for late duplicates)
    bool internal_waiting = false;
    bool internal_answered = false;  // while waiting, the host consumed an entry that is the broker's answer
    bool internal_lost = false;
    u64 consumed = 0;  // CQ entries the host has consumed, all passes
};

// The host consumed the entries the device posted at absolute positions
// [from, to): did one of them answer the broker's waiting command? Any
// entry with its id on the admin queue does — the device cannot be told
// apart from one that repeats an old answer, which is why a lost id is
// never used again.
void note_consumed(const fake_nvme::Controller& dev, Model& m, u64 from, u64 to, u16 broker_id, bool admin) {
    for (u64 i = from; i < to && i < dev.posted.size(); i++) {
        const nvme::Cqe& e = dev.posted[i];
        if (admin && m.internal_waiting && !m.internal_answered && e.cid == broker_id && e.sq_id == 0)
            m.internal_answered = true;
    }
}

abi::NvmeCommand random_command(Input& in, bool admin, u16 entries) {
    abi::NvmeCommand c{};
    c.cid = static_cast<u16>(in.byte() % (entries + 2));
    u8 kind = in.byte();
    if (admin) {
        static const u8 ops[] = {nvme::kAdminIdentify,   nvme::kAdminGetFeatures, nvme::kAdminSetFeatures,
                                 nvme::kAdminGetLogPage, nvme::kAdminCreateSq,    nvme::kAdminKeepAlive};
        c.opcode = ops[kind % sizeof ops];
        c.cdw10 = in.byte() % 8 == 0 ? in.u32_() : (kind & 0x10 ? nvme::kFeatureTemperatureThreshold : 1u);
    } else {
        static const u8 ops[] = {nvme::kIoRead, nvme::kIoWrite,   nvme::kIoFlush,
                                 nvme::kIoDsm,  nvme::kIoCompare, nvme::kIoReservationRegister};
        c.opcode = ops[kind % sizeof ops];
        c.nsid = in.byte() % 5;
        c.cdw12 = in.byte() % 4 == 0 ? in.u16_() : in.byte() % 16;
        c.cdw10 = in.byte() % 4;
    }
    u8 b = in.byte();
    c.buffer = b % 5 == 0 ? 0 : b % 5;  // 4 names no buffer
    c.offset = in.byte() % 2 ? u64{in.u16_()} * 4 : in.u32_();
    // Mostly the length the command really moves, so most commands pass.
    Result<u64> bytes = admin ? nvme::admin_transfer_bytes(c.opcode, c.cdw10, c.cdw11)
                              : nvme::io_transfer_bytes(c.opcode, c.cdw10, c.cdw12, c.nsid == 2 ? 12 : 9);
    c.length = (in.byte() % 8 && bytes.ok()) ? bytes.value() : in.u32_();
    if (bytes.ok() && bytes.value() == 0 && in.byte() % 4) c.buffer = 0, c.length = 0;
    return c;
}

void check_fetched(const fake_nvme::Controller& dev, const nvme::Sqe& e, u16 broker_id, bool admin) {
    check(e.mptr == 0);
    check((e.cdw0 & 0xff00u) == 0);                            // FUSE 0, PSDT PRP
    if (admin && nvme::cdw0_cid(e.cdw0) == broker_id) return;  // the broker's own: its addresses, not the provider's
    if (e.prp1) check(in_buffers(e.prp1, 1));
    u64 lists = fake_nvme::Controller::kListsDeviceAddress;
    if (e.prp2 >= lists && e.prp2 < lists + dev.lists.size() * 8) {
        const u64* list = dev.lists.data() + (e.prp2 - lists) / 8;
        check((e.prp2 - lists) % nvme::kPrpPageSize == 0);
        for (u32 i = 0; i < nvme::kPrpListMaxEntries && list[i]; i++) check(in_buffers(list[i], nvme::kPrpPageSize));
    } else if (e.prp2) {
        check(in_buffers(e.prp2, nvme::kPrpPageSize));
    }
}

void check_state(fake_nvme::Controller& dev, const Model& m) {
    const char* why = "";
    if (!dev.qp.check_invariants(&why).ok()) {
        trace("invariant broken: %s", why);
        check(false);
    }
    check(!dev.host.unbalanced);
    check(dev.host.total_holds() == static_cast<int>(m.with_hold.size()));
    check(dev.qp.stashed() <= dev.qp.provider_ids());
    check(dev.qp.stashed() <= m.owed.size());
    for (u16 cid = 0; cid < dev.qp.sq_entries(); cid++) {
        bool free = dev.qp.id_state(cid) == nvme::QueuePair::IdState::Free;
        check(free == (m.owed.count(cid) == 0));
    }
    check(dev.qp.internal_lost() == m.internal_lost);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    auto dev = std::make_unique<fake_nvme::Controller>();
    bool admin = in.byte() & 1;
    u16 entries = static_cast<u16>(2 + in.byte() % 31);
    u16 pages = admin ? 0 : static_cast<u16>(in.byte() % 5);
    u16 cq_entries = admin ? entries : static_cast<u16>(2 * entries);
    check(dev->init(admin ? 0 : 1, entries, cq_entries, pages).ok());
    for (u32 i = 0; i < kBuffers; i++) dev->host.buffers[i + 1] = kBufferTable[i];
    const u16 broker_id = static_cast<u16>(entries - 1);
    trace("queue: %s, %u entries, %u list pages", admin ? "admin" : "I/O", entries, pages);

    Model m;
    abi::NvmeCompletion out[nvme::QueuePair::kMaxEntries];
    for (u32 step = 0; in.size && step < 4096; step++) {
        u8 op = in.byte() % 12;
        const u16 head_before = dev->qp.cq_head();
        const bool phase_before = dev->qp.phase();
        switch (op) {
            case 0:
            case 1: {  // the provider submits a batch
                u32 count = 1 + in.byte() % 4;
                abi::NvmeCommand batch[4];
                for (u32 i = 0; i < count; i++) batch[i] = random_command(in, admin, entries);
                u16 tail = dev->qp.sq_tail();
                auto r = dev->qp.submit(batch, count, dev->host);
                trace("submit %u (cid %u op 0x%x): %s", count, batch[0].cid, batch[0].opcode,
                      status_name(r.ok() ? Status::Ok : r.status()));
                if (!r.ok()) {
                    check(dev->qp.sq_tail() == tail);  // nothing written
                    break;
                }
                check(r.value() == count);
                for (u32 i = 0; i < count; i++) {
                    check(m.owed.count(batch[i].cid) == 0);  // only a free id is accepted
                    m.owed.insert(batch[i].cid);
                    if (batch[i].buffer) m.with_hold.insert(batch[i].cid);
                }
                break;
            }
            case 2: {  // the provider takes completions
                u32 max = 1 + in.byte() % 8;
                u32 n = dev->qp.complete(out, max, dev->host);
                check(n <= max);
                for (u32 i = 0; i < n; i++) {
                    trace("completed cid %u", out[i].cid);
                    check(m.owed.erase(out[i].cid) == 1);  // owed, and only once
                    m.with_hold.erase(out[i].cid);
                }
                break;
            }
            case 3: {  // the broker starts one of its own
                nvme::Sqe e{};
                e.cdw0 = nvme::kAdminCreateCq;
                e.prp1 = 0x5000;
                auto r = dev->qp.start_internal(e);
                trace("start internal: %s", status_name(r.ok() ? Status::Ok : r.status()));
                if (!admin)
                    check(r.status() == Status::WrongType);
                else if (m.internal_lost)
                    check(r.status() == Status::Timeout);
                else if (m.internal_waiting)
                    check(r.status() == Status::Busy);
                else
                    check(r.ok());
                if (r.ok()) m.internal_waiting = true;
                break;
            }
            case 4: {  // the broker polls
                auto r = dev->qp.poll_internal(dev->host);
                trace("poll internal: %s", status_name(r.ok() ? Status::Ok : r.status()));
                u16 moved = static_cast<u16>((dev->qp.cq_head() + cq_entries - head_before) % cq_entries);
                u64 to = m.consumed + moved + (moved == 0 && dev->qp.phase() != phase_before ? cq_entries : 0);
                note_consumed(*dev, m, m.consumed, to, broker_id, admin);
                if (!m.internal_waiting) {
                    check(r.status() == Status::InvalidArgument);
                } else if (m.internal_answered) {
                    check(r.ok() && r.value().cid == broker_id && r.value().sq_id == 0);
                    m.internal_waiting = m.internal_answered = false;
                } else {
                    check(r.status() == Status::NotFound);
                }
                break;
            }
            case 5:  // the broker gives up waiting
                dev->qp.abandon_internal();
                // Unless its answer already came (met by complete()), the
                // slot is lost for good.
                if (m.internal_waiting && !m.internal_answered) m.internal_lost = true;
                m.internal_waiting = m.internal_answered = false;
                break;
            case 6:  // doorbell: the device fetches
                dev->fetch();
                for (const auto& e : dev->fetched) check_fetched(*dev, e, broker_id, admin);
                break;
            case 7:
            case 8: {  // an honest answer to something fetched
                if (dev->fetched.empty() || dev->cq_full()) break;
                u32 index = in.byte() % dev->fetched.size();
                u16 status = in.byte() % 4 == 0 ? in.u16_() & 0x7fff : 0;
                u16 cid = dev->answer(index, status, in.u32_());
                m.answered.insert(cid);
                trace("device answers cid %u", cid);
                break;
            }
            case 9: {  // a late or duplicate answer
                if (m.answered.empty() || dev->cq_full()) break;
                auto it = m.answered.begin();
                std::advance(it, in.byte() % m.answered.size());
                dev->post_raw(dev->entry(*it, 0, in.u32_()));
                trace("device repeats cid %u", *it);
                break;
            }
            case 10: {  // garbage: any id, any queue, any status, maybe the wrong phase
                nvme::Cqe e = dev->entry(in.u16_() % (entries + 4), in.u16_() & 0x7fff, in.u32_(),
                                         in.byte() % 3 == 0 ? in.u16_() : 0xffff);
                if (in.byte() % 2) {
                    e.status ^= 1;  // last pass's phase: written without advancing
                    dev->cq[dev->cq_tail] = e;
                } else if (!dev->cq_full()) {
                    dev->post_raw(e);
                }
                trace("device garbage cid %u sq %u", e.cid, e.sq_id);
                break;
            }
            case 11:                       // the controller was reset and confirmed stopped
                if (in.byte() % 8) break;  // rarely
                dev->qp.release_all(dev->host);
                dev->fetched.clear();
                trace("reset");
                // Nothing is outstanding any more; the stashed completions
                // stay owed (handed out by the next complete()).
                for (auto it = m.owed.begin(); it != m.owed.end();) {
                    if (dev->qp.id_state(*it) == nvme::QueuePair::IdState::Free)
                        it = m.owed.erase(it);
                    else
                        ++it;
                }
                m.with_hold.clear();
                break;
        }
        // What the host consumed (at most one pass per call).
        u16 moved = static_cast<u16>((dev->qp.cq_head() + cq_entries - head_before) % cq_entries);
        u64 consumed = m.consumed + moved + (moved == 0 && dev->qp.phase() != phase_before ? cq_entries : 0);
        note_consumed(*dev, m, m.consumed, consumed, broker_id, admin);
        m.consumed = consumed;
        // A command the device answered (now, or into the stash) holds
        // nothing any more.
        for (u16 cid = 0; cid < entries; cid++)
            if (dev->qp.id_state(cid) != nvme::QueuePair::IdState::Outstanding) m.with_hold.erase(cid);
        check_state(*dev, m);
    }
    return 0;
}
