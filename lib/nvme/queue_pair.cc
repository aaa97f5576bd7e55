#include "nvme/queue_pair.h"

#include "nvme/completion.h"
#include "nvme/policy.h"
#include "nvme/prp.h"

namespace nvme {

Result<void> QueuePair::init(const Shape& shape, const Memory& memory, QueueHost* host) {
    if (shape.sq_entries < 2 || shape.sq_entries > kMaxEntries) return Status::InvalidArgument;
    if (shape.cq_entries < shape.sq_entries || shape.cq_entries > 2 * kMaxEntries) return Status::InvalidArgument;
    if (shape.list_pages > kMaxListPages || (shape.list_pages && !memory.lists)) return Status::InvalidArgument;
    if (shape.qid == 0 && shape.list_pages) return Status::InvalidArgument;  // admin transfers need no list
    if (!memory.sq || !memory.cq || !host) return Status::InvalidArgument;
    m_host = host;
    m_sq = memory.sq;
    m_cq = memory.cq;
    m_lists = memory.lists;
    m_lists_device = memory.lists_device_address;
    m_qid = shape.qid;
    m_entries = shape.sq_entries;
    m_cq_entries = shape.cq_entries;
    m_list_pages = shape.list_pages;
    m_list_free = m_list_pages == 64 ? ~u64{0} : (u64{1} << m_list_pages) - 1;
    return {};
}

Result<u64> QueuePair::transfer_bytes(const abi::NvmeCommand& c) {
    if (is_admin()) return admin_transfer_bytes(c.opcode, c.cdw10, c.cdw11);
    if (c.opcode == kIoFlush || c.opcode == kIoWriteZeroes) return u64{0};
    u8 shift = TRY(m_host->lba_shift(c.nsid));
    return io_transfer_bytes(c.opcode, c.cdw10, c.cdw12, shift);
}

Result<u16> QueuePair::take_list_page() {
    if (!m_list_free) return Status::Busy;
    u16 page = static_cast<u16>(__builtin_ctzll(m_list_free));
    m_list_free &= ~(u64{1} << page);
    return page;
}

Result<u32> QueuePair::submit(const abi::NvmeCommand* commands, u32 count, BufferResolver& resolver) {
    if (count == 0 || count > abi::kNvmeMaxBatch) return Status::InvalidArgument;
    if (m_in_flight + count > capacity()) return Status::Busy;
    // What validation derives per command (the rest comes from the command).
    struct Data {
        u64 prp1, prp2;
        u32 hold;  // ledger entry the device is handed (0: none)
        u8 list;   // PRP list page + 1 (0: none)
    };
    Data data[abi::kNvmeMaxBatch];
    u64 batch_ids[kMaxEntries / 64] = {};
    u32 validated = 0;
    const QueueKind kind = is_admin() ? QueueKind::Admin : QueueKind::Io;
    auto check = [&](const abi::NvmeCommand& c) -> Result<Data> {
        // Free means neither at the device nor waiting in the stash: an id
        // is reusable only once its completion was taken.
        if (c.cid >= provider_ids() || bit(m_outstanding, c.cid) || bit(m_completed, c.cid) || bit(batch_ids, c.cid))
            return Status::Busy;
        set_bit(batch_ids, c.cid, true);
        TRY(command_allowed(kind, c.opcode, c.cdw10));
        u64 bytes = TRY(transfer_bytes(c));
        if (bytes == 0) {
            if (c.buffer || c.length) return Status::InvalidArgument;
            return Data{0, 0, 0, 0};
        }
        if (!c.buffer) return Status::InvalidArgument;  // PRP1 = 0 would aim the device at address 0
        if (c.length != bytes) return Status::InvalidArgument;
        BufferRegion region = TRY(resolver.resolve(c.buffer, c.offset, bytes));
        PrpPlan plan = TRY(plan_prps(region.device_address, bytes));
        Data d{plan.prp1, plan.prp2, region.ledger_id, 0};
        if (plan.list_entries) {
            if (is_admin()) return Status::Unsupported;  // admin transfers fit two pages, or are refused
            u16 page = TRY(take_list_page());
            auto filled = fill_prp_list(region.device_address, bytes, m_lists + u64{page} * kPrpListMaxEntries,
                                        kPrpListMaxEntries);
            if (!filled.ok()) {
                give_list_page(page);
                return filled.status();
            }
            d.list = static_cast<u8>(page + 1);
            d.prp2 = m_lists_device + u64{page} * kPage;
        }
        return d;
    };
    auto give_back_lists = [&] {
        for (u32 k = 0; k < validated; k++)
            if (data[k].list) give_list_page(static_cast<u16>(data[k].list - 1));
    };
    for (u32 i = 0; i < count; i++) {
        auto d = check(commands[i]);
        if (!d.ok()) {
            give_back_lists();
            return d.status();
        }
        data[i] = d.value();
        validated++;
    }
    // The holds, all or none; nothing is written until they are taken.
    for (u32 i = 0; i < count; i++) {
        if (!data[i].hold) continue;
        if (auto h = m_host->hold(data[i].hold); !h.ok()) {
            for (u32 k = 0; k < i; k++)
                if (data[k].hold) m_host->unhold(data[k].hold);
            give_back_lists();
            return h.status();
        }
    }
    // The entries, built straight into the submission queue.
    for (u32 i = 0; i < count; i++) {
        const abi::NvmeCommand& c = commands[i];
        Sqe& e = m_sq[m_sq_tail];
        e = Sqe{};
        e.cdw0 = cdw0(c.opcode, c.cid);
        e.nsid = c.nsid;
        e.prp1 = data[i].prp1;
        e.prp2 = data[i].prp2;
        e.cdw10 = c.cdw10;
        e.cdw11 = c.cdw11;
        e.cdw12 = c.cdw12;
        e.cdw13 = c.cdw13;
        e.cdw14 = c.cdw14;
        e.cdw15 = c.cdw15;
        m_held[c.cid] = data[i].hold;
        m_list_of[c.cid] = data[i].list;
        set_bit(m_outstanding, c.cid, true);
        m_in_flight++;
        m_sq_tail = static_cast<u16>((m_sq_tail + 1) % m_entries);
    }
    return count;
}

void QueuePair::finish(u16 cid) {
    if (m_held[cid]) m_host->unhold(m_held[cid]);
    m_held[cid] = 0;
    if (m_list_of[cid]) give_list_page(static_cast<u16>(m_list_of[cid] - 1));
    m_list_of[cid] = 0;
    set_bit(m_outstanding, cid, false);
    m_in_flight--;
}

void QueuePair::advance_cq() {
    m_cq_head = static_cast<u16>((m_cq_head + 1) % m_cq_entries);
    if (m_cq_head == 0) m_phase = !m_phase;
    m_cq_moved = true;
}

bool QueuePair::read_cq(Cqe* out) const {
    // One read of the 16 bytes; only the copy is checked and used, so the
    // device cannot change a field between the check and its use.
    __builtin_memcpy(out, const_cast<const Cqe*>(&m_cq[m_cq_head]), sizeof *out);
    return cqe_phase(*out) == m_phase;
}

void QueuePair::other_entry(const Cqe& entry, Status why) {
    if (is_admin() && entry.cid == internal_id() && entry.sq_id == 0) {
        if (m_internal == Internal::Waiting) {
            m_internal_answer = entry;
            m_internal = Internal::Answered;
            return;
        }
        // Lost: the late answer of an abandoned command. Idle or Answered:
        // none is waiting, so the device made it up.
        if (m_internal == Internal::Lost) why = Status::Timeout;
    }
    m_host->bad_completion(entry, why);
}

u32 QueuePair::complete(abi::NvmeCompletion* out, u32 max) {
    u32 done = 0;
    while (done < max && m_stash_count) {
        const abi::NvmeCompletion& c = m_stash[m_stash_first];
        set_bit(m_completed, c.cid, false);  // taken: the id is free again
        out[done++] = c;
        m_stash_first = static_cast<u16>((m_stash_first + 1) % kMaxEntries);
        m_stash_count--;
    }
    for (u32 looked = 0; done < max && looked < m_cq_entries; looked++) {
        Cqe entry;
        if (!read_cq(&entry)) break;  // nothing new
        auto cid = check_completion(entry, m_phase, m_qid, provider_ids(), m_outstanding);
        if (cid.ok()) {
            finish(cid.value());
            out[done++] = abi::NvmeCompletion{entry.dw0, cid.value(), cqe_status_code(entry)};
        } else {
            other_entry(entry, cid.status());
        }
        advance_cq();
    }
    return done;
}

Result<void> QueuePair::start_internal(const Sqe& command) {
    if (!is_admin()) return Status::WrongType;
    if (m_internal == Internal::Lost) return Status::Timeout;
    if (m_internal != Internal::Idle) return Status::Busy;
    if (m_in_flight + 1 > m_entries - 1u) return Status::Busy;
    Sqe& e = m_sq[m_sq_tail];
    e = command;
    e.cdw0 = cdw0(cdw0_opcode(command.cdw0), internal_id());
    m_sq_tail = static_cast<u16>((m_sq_tail + 1) % m_entries);
    m_internal = Internal::Waiting;
    return {};
}

Result<Cqe> QueuePair::poll_internal() {
    if (m_internal != Internal::Waiting && m_internal != Internal::Answered) return Status::InvalidArgument;
    for (u32 looked = 0; m_internal == Internal::Waiting && looked < m_cq_entries; looked++) {
        Cqe entry;
        if (!read_cq(&entry)) break;
        auto cid = check_completion(entry, m_phase, m_qid, provider_ids(), m_outstanding);
        if (cid.ok()) {
            // The provider's: kept for its next complete(). Its holds go
            // now (the device is done); its id stays taken until then.
            u16 c = cid.value();
            finish(c);
            set_bit(m_completed, c, true);
            m_stash[(m_stash_first + m_stash_count) % kMaxEntries] =
                abi::NvmeCompletion{entry.dw0, c, cqe_status_code(entry)};
            m_stash_count++;
        } else {
            other_entry(entry, cid.status());
        }
        advance_cq();
    }
    if (m_internal != Internal::Answered) return Status::NotFound;
    m_internal = Internal::Idle;
    return m_internal_answer;
}

void QueuePair::abandon_internal() {
    if (m_internal == Internal::Waiting) m_internal = Internal::Lost;
    else if (m_internal == Internal::Answered) m_internal = Internal::Idle;  // it came after all
}

void QueuePair::release_all() {
    for (u16 cid = 0; cid < m_entries; cid++) {
        if (bit(m_outstanding, cid)) finish(cid);
    }
}

QueuePair::IdState QueuePair::id_state(u16 cid) const {
    if (cid >= kMaxEntries) return IdState::Free;
    if (bit(m_outstanding, cid)) return IdState::Outstanding;
    if (bit(m_completed, cid)) return IdState::Completed;
    return IdState::Free;
}

Result<void> QueuePair::check_invariants(const char** why) const {
    auto broken = [&](const char* what) -> Result<void> {
        if (why) *why = what;
        return Status::Malformed;
    };
    u32 outstanding = 0, completed = 0;
    u64 lists_used = 0;
    for (u16 cid = 0; cid < kMaxEntries; cid++) {
        bool out = bit(m_outstanding, cid), done = bit(m_completed, cid);
        if (out && done) return broken("an id both outstanding and completed");
        if ((out || done) && cid >= provider_ids()) return broken("a broker or out-of-range id in a provider state");
        if (!out && (m_held[cid] || m_list_of[cid])) return broken("a hold or list page on an id not outstanding");
        if (m_list_of[cid]) {
            if (m_list_of[cid] > m_list_pages) return broken("a list page beyond the pool");
            u64 page = u64{1} << (m_list_of[cid] - 1);
            if (lists_used & page) return broken("a list page taken twice");
            if (m_list_free & page) return broken("a list page both taken and free");
            lists_used |= page;
        }
        outstanding += out;
        completed += done;
    }
    if (outstanding != m_in_flight) return broken("in-flight count differs from the outstanding ids");
    if (m_in_flight > capacity()) return broken("more in flight than the queue holds");
    if (completed != m_stash_count) return broken("stash count differs from the completed ids");
    if (m_stash_count > provider_ids()) return broken("more stashed than there are ids");
    u64 in_stash[kMaxEntries / 64] = {};
    for (u16 i = 0; i < m_stash_count; i++) {
        u16 cid = m_stash[(m_stash_first + i) % kMaxEntries].cid;
        if (cid >= kMaxEntries || !bit(m_completed, cid)) return broken("a stashed completion of an id not completed");
        if (bit(in_stash, cid)) return broken("an id stashed twice");
        set_bit(in_stash, cid, true);
    }
    u64 all = m_list_pages == 64 ? ~u64{0} : (u64{1} << m_list_pages) - 1;
    if ((lists_used | m_list_free) != all || (m_list_free & ~all)) return broken("a list page lost or invented");
    if (m_sq_tail >= m_entries || m_cq_head >= m_cq_entries) return broken("a queue index out of range");
    return {};
}

}  // namespace nvme
