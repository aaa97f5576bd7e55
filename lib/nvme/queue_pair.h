// The NVMe queue broker's queue-pair logic (DESIGN §4, brokered lane),
// pure: no memory allocation, no MMIO, no kernel objects. The kernel's
// NvmeQueue (kernel/broker/nvme_queue.h) gives it the queue memory and
// rings the doorbells; unit tests and a fuzzer drive it against a fake
// controller in host memory.
//
// One queue pair: a submission queue only the broker writes, a completion
// queue the device writes, and (I/O queues) a pool of PRP list pages. The
// provider names memory as (DmaBuffer handle, offset, length); the owner
// (a QueueHost, below) turns that into a device address and a ledger entry
// to hold.
//
// Command ids. Each of the provider's ids is in exactly one state:
//   free         it may be submitted;
//   outstanding  submitted, the device has not answered; its buffer's
//                ledger entry is held and, for a long transfer, one PRP
//                list page is taken;
//   completed    the device answered while the broker was waiting for one
//                of its own admin commands (poll_internal()): the holds are
//                released (the device is done with the buffer) and the
//                completion waits in the stash for the provider's next
//                complete(). The id stays unusable until the provider has
//                taken it: an id is never reused before its completion was
//                consumed (issue 11, finding 1: ids freed at stash time let
//                a provider that never takes its admin completions fill an
//                unbounded stash).
// The stash therefore never holds more completions than there are provider
// ids, and each id at most once.
//
// The broker's own commands (admin queue only) use the last id, which the
// provider never gets: one at a time (start_internal(), then
// poll_internal() until it answers, or abandon_internal() when the owner
// gives up waiting). An abandoned command may still complete, so the slot
// is then lost for good: every later start_internal() answers Timeout and
// the owner resets the controller (issue 11, finding 9: a late answer must
// never be taken for a later command's).
//
// Never trusting the device: every completion is read once into a copy and
// checked (phase, SQ id, command id outstanding) before anything acts on
// it; one complete() or poll_internal() call looks at no more than one
// pass of the CQ, so a device that keeps posting cannot hold the CPU.
//
// Threading: none. The owner serializes every call on one queue pair.
#pragma once

#include "abi/nvme.h"
#include "nvme/command.h"
#include "nvme/completion.h"
#include "nvme/policy.h"
#include "nvme/prp.h"
#include "util/page.h"
#include "util/result.h"
#include "util/types.h"

namespace nvme {

// A provider's buffer region, resolved: where the device sees it and the
// ledger entry to hold while the device may use it (never 0).
struct BufferRegion {
    u64 device_address;
    u32 ledger_id;
};

// What the queue pair asks of its owner (the kernel's NvmeQueue; a fake in
// tests), passed to each call that needs it. A template parameter rather
// than a virtual interface: the I/O path makes these calls per command and
// per completion, and under TCG an indirect call costs a trip through the
// translator's lookup; with the owner's type known they inline.
//   Result<BufferRegion> resolve(u32 handle, u64 offset, u64 bytes)
//       [offset, offset + bytes) of the buffer the caller's `handle` names
//       (submit only). Any error refuses the batch with that status
//       (NotOwner, OutOfBounds, Stale, ...).
//   Result<u8> lba_shift(u32 nsid)
//       log2 of namespace `nsid`'s block size (I/O submit). NotFound (no
//       such namespace) or Unsupported (not served) refuse the command.
//   Result<void> hold(u32 id); void unhold(u32 id)
//       The device may use ledger entry `id` from hold() until unhold().
//   void bad_completion(const Cqe& entry, Status why)
//       The device posted an entry that fails the checks (`why`:
//       OutOfBounds cid beyond the queue, InvalidArgument not outstanding or
//       another queue's, Timeout the late answer of an abandoned broker
//       command). It is skipped; the owner logs it.
template <class H>
concept QueueHost = requires(H& h, u32 u, u64 x, const Cqe& e, Status s) {
    h.resolve(u, x, x).ok();
    h.lba_shift(u).ok();
    h.hold(u).ok();
    h.unhold(u);
    h.bad_completion(e, s);
};

class QueuePair {
public:
    static constexpr u32 kMaxEntries = abi::kNvmeMaxEntries;
    static constexpr u32 kMaxListPages = 64;  // the free-page bitmap's width

    struct Shape {
        u16 qid;         // 0: the admin queue
        u16 sq_entries;  // 2..kMaxEntries: also the number of command ids
        u16 cq_entries;  // >= sq_entries, <= 2 * kMaxEntries
        u16 list_pages;  // PRP list pages (I/O queues; 0..kMaxListPages)
    };
    struct Memory {
        Sqe* sq;                   // sq_entries entries: only this class writes them
        const volatile Cqe* cq;    // cq_entries entries: the device writes them
        u64* lists;                // list_pages pages of 512 entries (null when none)
        u64 lists_device_address;  // where the device sees lists[0]
    };

    // Before any other call. InvalidArgument for an impossible shape or
    // missing memory.
    Result<void> init(const Shape& shape, const Memory& memory);

    bool is_admin() const { return m_qid == 0; }
    u16 qid() const { return m_qid; }
    u16 sq_entries() const { return m_entries; }
    u16 cq_entries() const { return m_cq_entries; }
    // Ids the provider may use: the admin queue keeps its last for the broker.
    u16 provider_ids() const { return is_admin() ? static_cast<u16>(m_entries - 1) : m_entries; }
    // Commands that may be outstanding at once: a full SQ keeps one slot
    // empty (NVMe 1.4 §4.1.1) and the admin queue one more for the broker.
    u32 capacity() const { return m_entries - 1u - (is_admin() ? 1u : 0u); }

    // --- The provider's path (NvmeSubmit / NvmeComplete) ---

    // Validates the batch as a whole — one refused command refuses it and
    // nothing is written — then writes the entries at the SQ tail and takes
    // the holds; the owner rings the SQ doorbell (sq_tail()). Returns count.
    //   InvalidArgument  count 0 or above kNvmeMaxBatch; a command with data
    //                    but no buffer, or a buffer on one without; a
    //                    length other than what the command moves
    //   Busy             no room in the queue; an id beyond provider_ids(),
    //                    not free (outstanding, or its completion not yet
    //                    taken) or twice in the batch; no PRP list page free
    //   Forbidden        not on the queue kind's allow-list (nvme/policy.h)
    //   Unsupported      an admin transfer that needs a PRP list; a feature
    //                    whose data size is unknown
    //   and whatever the owner's resolve(), lba_shift() or hold() answer.
    template <QueueHost Host>
    Result<u32> submit(const abi::NvmeCommand* commands, u32 count, Host& host);

    // Hands out up to `max` completions: the stashed ones first (in the
    // order they arrived), then new ones from the CQ. Each frees its id and
    // releases its holds. Afterwards the owner writes the CQ head doorbell
    // if take_cq_moved() says so.
    template <QueueHost Host>
    u32 complete(abi::NvmeCompletion* out, u32 max, Host& host);

    // --- The broker's own commands (admin queue) ---

    // Writes `command` at the SQ tail with the broker's id; the owner rings
    // the SQ doorbell, then calls poll_internal() until it answers.
    //   WrongType  not the admin queue
    //   Busy       one is already waiting, or the queue is full
    //   Timeout    an earlier one was abandoned: the slot is lost
    Result<void> start_internal(const Sqe& command);
    // Consumes what the CQ holds: the provider's completions go to the
    // stash, bad entries are reported and skipped. Returns the broker's
    // answer (whatever its status) once it came, NotFound while it has not,
    // InvalidArgument when none is waiting.
    template <QueueHost Host>
    Result<Cqe> poll_internal(Host& host);
    // The owner stopped waiting: the slot is lost (see above).
    void abandon_internal();
    bool internal_lost() const { return m_internal == Internal::Lost; }

    // --- State the owner needs ---
    u16 sq_tail() const { return m_sq_tail; }
    u16 cq_head() const { return m_cq_head; }
    bool phase() const { return m_phase; }
    u32 in_flight() const { return m_in_flight; }  // provider commands outstanding
    u32 stashed() const { return m_stash_count; }  // completions waiting for the provider
    // Whether the CQ head moved since the last call (then the owner writes
    // the CQ head doorbell with cq_head()); clears the flag.
    bool take_cq_moved() {
        bool moved = m_cq_moved;
        m_cq_moved = false;
        return moved;
    }

    // The device was stopped (a confirmed controller reset): nothing is
    // outstanding any more; every hold taken for a command goes back.
    template <QueueHost Host>
    void release_all(Host& host);

    // Checks every invariant above (ids in one state each, the stash,
    // in-flight count, holds and PRP list pages accounted); for tests and
    // fuzzers. Ok, or Malformed with `why` naming the first broken one.
    Result<void> check_invariants(const char** why = nullptr) const;

    // The state of one provider id, for tests.
    enum class IdState : u8 { Free, Outstanding, Completed };
    IdState id_state(u16 cid) const;

private:
    enum class Internal : u8 { Idle, Waiting, Answered, Lost };

    u16 internal_id() const { return static_cast<u16>(m_entries - 1); }
    static bool bit(const u64* map, u16 i) { return map[i / 64] >> (i % 64) & 1; }
    static void set_bit(u64* map, u16 i, bool on) {
        if (on)
            map[i / 64] |= u64{1} << (i % 64);
        else
            map[i / 64] &= ~(u64{1} << (i % 64));
    }
    Result<u16> take_list_page() {
        if (!m_list_free) return Status::Busy;
        u16 page = static_cast<u16>(__builtin_ctzll(m_list_free));
        m_list_free &= ~(u64{1} << page);
        return page;
    }
    void give_list_page(u16 page) { m_list_free |= u64{1} << page; }
    // PRP1/PRP2 for `bytes` at device address `address`, filling a list
    // page past two pages (I/O queues); `list` gets that page + 1 (0: none).
    [[gnu::always_inline]] Result<void> plan(u64 address, u64 bytes, u64* prp1, u64* prp2, u8* list) {
        PrpPlan plan = TRY(plan_prps(address, bytes));
        *prp1 = plan.prp1;
        *prp2 = plan.prp2;
        *list = 0;
        if (!plan.list_entries) return {};
        if (is_admin()) return Status::Unsupported;  // admin transfers fit two pages, or are refused
        u16 page = TRY(take_list_page());
        auto filled = fill_prp_list(address, bytes, m_lists + u64{page} * kPrpListMaxEntries, kPrpListMaxEntries);
        if (!filled.ok()) {
            give_list_page(page);
            return filled.status();
        }
        *list = static_cast<u8>(page + 1);
        *prp2 = m_lists_device + u64{page} * kPage;
        return {};
    }
    // The device answered provider command `cid`: holds and list page go back.
    template <QueueHost Host>
    void finish(u16 cid, Host& host) {
        if (m_held[cid]) host.unhold(m_held[cid]);
        m_held[cid] = 0;
        if (m_list_of[cid]) give_list_page(static_cast<u16>(m_list_of[cid] - 1));
        m_list_of[cid] = 0;
        set_bit(m_outstanding, cid, false);
        m_in_flight--;
    }
    void advance_cq() {
        m_cq_head = static_cast<u16>(m_cq_head + 1 == m_cq_entries ? 0 : m_cq_head + 1);
        if (m_cq_head == 0) m_phase = !m_phase;
        m_cq_moved = true;
    }
    // Reads the entry at the CQ head into `out`; false when the device has
    // not posted it (phase). One read of the 16 bytes: only the copy is
    // checked and used, so the device cannot change a field between the
    // check and its use.
    bool read_cq(Cqe* out) const {
        __builtin_memcpy(out, const_cast<const Cqe*>(&m_cq[m_cq_head]), sizeof *out);
        return cqe_phase(*out) == m_phase;
    }
    // An entry that is not the provider's: the broker's answer, kept (true),
    // or not (false: the caller reports it with the status to give).
    bool take_internal_answer(const Cqe& entry, Status* why);
    void stash(const Cqe& entry, u16 cid);

    Sqe* m_sq = nullptr;
    const volatile Cqe* m_cq = nullptr;
    u64* m_lists = nullptr;
    u64 m_lists_device = 0;
    u16 m_qid = 0;
    u16 m_entries = 0;
    u16 m_cq_entries = 0;
    u16 m_list_pages = 0;
    u64 m_list_free = 0;  // bit p: PRP list page p free
    u16 m_sq_tail = 0;
    u16 m_cq_head = 0;
    bool m_phase = true;
    bool m_cq_moved = false;
    Internal m_internal = Internal::Idle;
    u32 m_in_flight = 0;
    u16 m_stash_first = 0;  // the stash ring's oldest entry
    u16 m_stash_count = 0;
    Cqe m_internal_answer{};
    u64 m_outstanding[kMaxEntries / 64] = {};  // bit cid: at the device
    u64 m_completed[kMaxEntries / 64] = {};    // bit cid: answered, in the stash
    u32 m_held[kMaxEntries] = {};              // ledger id each outstanding command holds (0: none)
    u8 m_list_of[kMaxEntries] = {};            // PRP list page + 1 of each outstanding command (0: none)
    // The stash: a ring of completions waiting for the provider. Bounded by
    // construction: only a completed id enters it, once, and ids number at
    // most kMaxEntries. (Its indices are with the hot fields above.)
    abi::NvmeCompletion m_stash[kMaxEntries] = {};
};

// ---- The calls that need the owner (templates: see QueueHost) ----
// submit() and complete() are the I/O path: inlined into the owner's system
// call, as the code was before it moved here (docs/benchmarks.md: under
// TCG each call's return is a translator lookup).

template <QueueHost Host>
[[gnu::always_inline]] inline Result<u32> QueuePair::submit(const abi::NvmeCommand* commands, u32 count, Host& host) {
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
    // Inlined (as are plan() and the owner's calls): under TCG every call's
    // return is an indirect jump the translator must look up.
    auto check = [&](const abi::NvmeCommand& c) __attribute__((always_inline))->Result<Data> {
        // Free means neither at the device nor waiting in the stash: an id
        // is reusable only once its completion was taken.
        if (c.cid >= provider_ids() || bit(m_outstanding, c.cid) || bit(m_completed, c.cid) || bit(batch_ids, c.cid))
            return Status::Busy;
        set_bit(batch_ids, c.cid, true);
        TRY(command_allowed(kind, c.opcode, c.cdw10));
        u64 bytes;
        if (is_admin()) {
            bytes = TRY(admin_transfer_bytes(c.opcode, c.cdw10, c.cdw11));
        } else if (c.opcode == kIoFlush || c.opcode == kIoWriteZeroes) {
            bytes = 0;
        } else {
            u8 shift = TRY(host.lba_shift(c.nsid));
            bytes = TRY(io_transfer_bytes(c.opcode, c.cdw10, c.cdw12, shift));
        }
        if (bytes == 0) {
            if (c.buffer || c.length) return Status::InvalidArgument;
            return Data{0, 0, 0, 0};
        }
        if (!c.buffer) return Status::InvalidArgument;  // PRP1 = 0 would aim the device at address 0
        if (c.length != bytes) return Status::InvalidArgument;
        BufferRegion region = TRY(host.resolve(c.buffer, c.offset, bytes));
        Data d{0, 0, region.ledger_id, 0};
        TRY(plan(region.device_address, bytes, &d.prp1, &d.prp2, &d.list));
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
        if (auto h = host.hold(data[i].hold); !h.ok()) {
            for (u32 k = 0; k < i; k++)
                if (data[k].hold) host.unhold(data[k].hold);
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
        m_sq_tail = static_cast<u16>(m_sq_tail + 1 == m_entries ? 0 : m_sq_tail + 1);
    }
    return count;
}

template <QueueHost Host>
[[gnu::always_inline]] inline u32 QueuePair::complete(abi::NvmeCompletion* out, u32 max, Host& host) {
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
            finish(cid.value(), host);
            out[done++] = abi::NvmeCompletion{entry.dw0, cid.value(), cqe_status_code(entry)};
        } else if (Status why = cid.status(); !take_internal_answer(entry, &why)) {
            host.bad_completion(entry, why);
        }
        advance_cq();
    }
    return done;
}

template <QueueHost Host>
Result<Cqe> QueuePair::poll_internal(Host& host) {
    if (m_internal != Internal::Waiting && m_internal != Internal::Answered) return Status::InvalidArgument;
    for (u32 looked = 0; m_internal == Internal::Waiting && looked < m_cq_entries; looked++) {
        Cqe entry;
        if (!read_cq(&entry)) break;
        auto cid = check_completion(entry, m_phase, m_qid, provider_ids(), m_outstanding);
        if (cid.ok()) {
            // The provider's: kept for its next complete(). Its holds go
            // now (the device is done); its id stays taken until then.
            finish(cid.value(), host);
            stash(entry, cid.value());
        } else if (Status why = cid.status(); !take_internal_answer(entry, &why)) {
            host.bad_completion(entry, why);
        }
        advance_cq();
    }
    if (m_internal != Internal::Answered) return Status::NotFound;
    m_internal = Internal::Idle;
    return m_internal_answer;
}

template <QueueHost Host>
void QueuePair::release_all(Host& host) {
    for (u16 cid = 0; cid < m_entries; cid++)
        if (bit(m_outstanding, cid)) finish(cid, host);
}

}  // namespace nvme
