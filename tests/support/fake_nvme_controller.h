// A fake NVMe controller in host memory for nvme::QueuePair (lib/nvme/
// queue_pair.h): the queue memory the kernel would give it, a device side
// that fetches submitted entries and posts completions — honest ones, or
// late, duplicate, out-of-phase, wrong-queue, unknown-id and lying ones on
// request — and a host (nvme::QueueHost) that keeps count of every ledger
// hold. Shared by tests/unit/nvme_queue_pair_test.cc and
// tests/fuzz/fuzz_nvme_queue.cc.
#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "nvme/prp.h"
#include "nvme/queue_pair.h"

namespace fake_nvme {

// Buffers the provider holds, as the kernel's DmaBuffer lookup would see
// them: handle -> device address, ledger id, size.
struct Buffer {
    u64 device_address;
    u32 ledger_id;
    u64 size;
};

class Host {
public:
    std::map<u32, Buffer> buffers;  // by handle
    std::map<u32, int> holds;       // ledger id -> holds taken and not released
    std::vector<std::pair<nvme::Cqe, Status>> bad;
    bool unbalanced = false;  // an unhold without a hold
    Status hold_fails = Status::Ok;

    // The nvme::QueueHost calls.
    Result<nvme::BufferRegion> resolve(u32 handle, u64 offset, u64 bytes) {
        auto it = buffers.find(handle);
        if (it == buffers.end()) return Status::BadHandle;
        const Buffer& b = it->second;
        if (offset > b.size || bytes > b.size - offset) return Status::OutOfBounds;
        return nvme::BufferRegion{b.device_address + offset, b.ledger_id};
    }
    Result<u8> lba_shift(u32 nsid) {
        if (nsid == 1) return u8{9};
        if (nsid == 2) return u8{12};
        if (nsid == 3) return Status::Unsupported;  // e.g. separate metadata
        return Status::NotFound;
    }
    Result<void> hold(u32 id) {
        if (hold_fails != Status::Ok) return hold_fails;
        holds[id]++;
        return {};
    }
    void unhold(u32 id) {
        if (--holds[id] < 0) unbalanced = true;
    }
    void bad_completion(const nvme::Cqe& entry, Status why) { bad.push_back({entry, why}); }

    int total_holds() const {
        int n = 0;
        for (auto& [id, count] : holds) n += count;
        return n;
    }
};

// The device side of one queue pair, over memory this object owns.
class Controller {
public:
    static constexpr u64 kListsDeviceAddress = 0x7700000000ull;

    nvme::Sqe sq[nvme::QueuePair::kMaxEntries] = {};
    nvme::Cqe cq[2 * nvme::QueuePair::kMaxEntries] = {};
    std::vector<u64> lists;
    Host host;
    nvme::QueuePair qp;

    // Device state.
    u16 sq_head = 0;                 // next SQ slot the device fetches
    u16 cq_tail = 0;                 // next CQ slot it posts to
    bool cq_phase = true;            // the phase it posts with
    std::vector<nvme::Sqe> fetched;  // fetched, not yet answered, in order
    std::vector<nvme::Cqe> posted;   // every entry posted, in order (index = absolute CQ position)

    Result<void> init(u16 qid, u16 sq_entries, u16 cq_entries, u16 list_pages) {
        lists.assign(u64{list_pages} * nvme::kPrpListMaxEntries, 0);
        nvme::QueuePair::Memory m{sq, cq, list_pages ? lists.data() : nullptr, kListsDeviceAddress};
        m_sq_entries = sq_entries;
        m_cq_entries = cq_entries;
        return qp.init({qid, sq_entries, cq_entries, list_pages}, m);
    }

    // The doorbell: the device fetches everything up to the SQ tail.
    void fetch() {
        while (sq_head != qp.sq_tail()) {
            fetched.push_back(sq[sq_head]);
            sq_head = static_cast<u16>((sq_head + 1) % m_sq_entries);
        }
    }

    // Posts a raw entry (anything a broken or hostile device could write).
    void post_raw(nvme::Cqe e) {
        posted.push_back(e);
        cq[cq_tail] = e;
        cq_tail = static_cast<u16>((cq_tail + 1) % m_cq_entries);
        if (cq_tail == 0) cq_phase = !cq_phase;
    }
    nvme::Cqe entry(u16 cid, u16 status = 0, u32 dw0 = 0, u16 sq_id = 0xffff) const {
        nvme::Cqe e{};
        e.dw0 = dw0;
        e.sq_head = sq_head;
        e.sq_id = sq_id == 0xffff ? qp.qid() : sq_id;
        e.cid = cid;
        e.status = static_cast<u16>(status << 1 | (cq_phase ? 1 : 0));
        return e;
    }
    // Posts the answer to fetched command `index` (in fetch order) and
    // forgets it. Returns its id.
    u16 answer(u32 index, u16 status = 0, u32 dw0 = 0) {
        u16 cid = nvme::cdw0_cid(fetched[index].cdw0);
        post_raw(entry(cid, status, dw0));
        fetched.erase(fetched.begin() + index);
        return cid;
    }
    // Answers the fetched command with id `cid`; false if none was fetched.
    bool answer_cid(u16 cid, u16 status = 0, u32 dw0 = 0) {
        for (u32 i = 0; i < fetched.size(); i++) {
            if (nvme::cdw0_cid(fetched[i].cdw0) == cid) {
                answer(i, status, dw0);
                return true;
            }
        }
        return false;
    }
    // Would one more post overwrite an entry the host has not consumed?
    bool cq_full() const { return static_cast<u16>((cq_tail + 1) % m_cq_entries) == qp.cq_head(); }

private:
    u16 m_sq_entries = 0, m_cq_entries = 0;
};

static_assert(nvme::QueueHost<Host>);

}  // namespace fake_nvme
