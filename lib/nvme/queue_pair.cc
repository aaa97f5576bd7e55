#include "nvme/queue_pair.h"

namespace nvme {

Result<void> QueuePair::init(const Shape& shape, const Memory& memory) {
    if (shape.sq_entries < 2 || shape.sq_entries > kMaxEntries) return Status::InvalidArgument;
    if (shape.cq_entries < shape.sq_entries || shape.cq_entries > 2 * kMaxEntries) return Status::InvalidArgument;
    if (shape.list_pages > kMaxListPages || (shape.list_pages && !memory.lists)) return Status::InvalidArgument;
    if (shape.qid == 0 && shape.list_pages) return Status::InvalidArgument;  // admin transfers need no list
    if (!memory.sq || !memory.cq) return Status::InvalidArgument;
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

bool QueuePair::take_internal_answer(const Cqe& entry, Status* why) {
    if (!is_admin() || entry.cid != internal_id() || entry.sq_id != 0) return false;
    if (m_internal == Internal::Waiting) {
        m_internal_answer = entry;
        m_internal = Internal::Answered;
        return true;
    }
    // Lost: the late answer of an abandoned command. Idle or Answered: none
    // is waiting, so the device made it up.
    if (m_internal == Internal::Lost) *why = Status::Timeout;
    return false;
}

void QueuePair::stash(const Cqe& entry, u16 cid) {
    // Room by construction: only an id that was outstanding enters, once,
    // and there are at most kMaxEntries ids.
    set_bit(m_completed, cid, true);
    m_stash[(m_stash_first + m_stash_count) % kMaxEntries] =
        abi::NvmeCompletion{entry.dw0, cid, cqe_status_code(entry)};
    m_stash_count++;
}

Result<void> QueuePair::start_internal(const Sqe& command) {
    if (!is_admin()) return Status::WrongType;
    if (m_internal == Internal::Lost) return Status::Timeout;
    if (m_internal != Internal::Idle) return Status::Busy;
    if (m_in_flight + 1 > m_entries - 1u) return Status::Busy;
    Sqe& e = m_sq[m_sq_tail];
    e = command;
    e.cdw0 = cdw0(cdw0_opcode(command.cdw0), internal_id());
    m_sq_tail = static_cast<u16>(m_sq_tail + 1 == m_entries ? 0 : m_sq_tail + 1);
    m_internal = Internal::Waiting;
    return {};
}

void QueuePair::abandon_internal() {
    if (m_internal == Internal::Waiting)
        m_internal = Internal::Lost;
    else if (m_internal == Internal::Answered)
        m_internal = Internal::Idle;  // it came after all
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
