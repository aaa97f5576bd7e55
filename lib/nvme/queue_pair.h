// The NVMe queue broker's queue-pair logic (DESIGN §4, brokered lane),
// pure: no memory allocation, no MMIO, no kernel objects. The kernel's
// NvmeQueue (kernel/broker/nvme_queue.h) gives it the queue memory and
// rings the doorbells; unit tests and a fuzzer drive it against a fake
// controller in host memory.
//
// One queue pair: a submission queue only the broker writes, a completion
// queue the device writes, and (I/O queues) a pool of PRP list pages. The
// provider names memory as (DmaBuffer handle, offset, length); the
// QueueHost / BufferResolver the owner supplies turn that into a device
// address and a ledger entry to hold.
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
#include "util/result.h"
#include "util/types.h"

namespace nvme {

// A provider's buffer region, resolved: where the device sees it and the
// ledger entry to hold while the device may use it (never 0).
struct BufferRegion {
    u64 device_address;
    u32 ledger_id;
};

// Resolves one command's buffer for one submit() call (the caller's
// handles: the kernel checks rights, pool and bounds).
class BufferResolver {
public:
    // [offset, offset + bytes) of the buffer `handle` names. Any error
    // refuses the batch with that status (NotOwner, OutOfBounds, Stale, ...).
    virtual Result<BufferRegion> resolve(u32 handle, u64 offset, u64 bytes) = 0;

protected:
    ~BufferResolver() = default;
};

// What the queue pair asks of its owner for as long as it lives.
class QueueHost {
public:
    // log2 of namespace `nsid`'s block size. NotFound (no such namespace)
    // or Unsupported (the broker does not serve it) refuse the command.
    virtual Result<u8> lba_shift(u32 nsid) = 0;
    // The device may use ledger entry `id` from now until unhold().
    virtual Result<void> hold(u32 id) = 0;
    virtual void unhold(u32 id) = 0;
    // The device posted an entry that fails the checks (`why`: OutOfBounds
    // cid beyond the queue, InvalidArgument not outstanding or another
    // queue's, Timeout the late answer of an abandoned broker command). It
    // is skipped; the owner logs it.
    virtual void bad_completion(const Cqe& entry, Status why) = 0;

protected:
    ~QueueHost() = default;
};

class QueuePair {
public:
    static constexpr u32 kMaxEntries = abi::kNvmeMaxEntries;
    static constexpr u32 kMaxListPages = 64;  // the free-page bitmap's width
    static constexpr u32 kPage = 4096;

    struct Shape {
        u16 qid;         // 0: the admin queue
        u16 sq_entries;  // 2..kMaxEntries: also the number of command ids
        u16 cq_entries;  // >= sq_entries, <= 2 * kMaxEntries
        u16 list_pages;  // PRP list pages (I/O queues; 0..kMaxListPages)
    };
    struct Memory {
        Sqe* sq;                  // sq_entries entries: only this class writes them
        const volatile Cqe* cq;   // cq_entries entries: the device writes them
        u64* lists;               // list_pages pages of 512 entries (null when none)
        u64 lists_device_address; // where the device sees lists[0]
    };

    // Before any other call. InvalidArgument for an impossible shape or
    // missing memory.
    Result<void> init(const Shape& shape, const Memory& memory, QueueHost* host);

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
    //   and whatever the resolver, lba_shift() or hold() answer.
    Result<u32> submit(const abi::NvmeCommand* commands, u32 count, BufferResolver& resolver);

    // Hands out up to `max` completions: the stashed ones first (in the
    // order they arrived), then new ones from the CQ. Each frees its id and
    // releases its holds. Afterwards the owner writes the CQ head doorbell
    // if take_cq_moved() says so.
    u32 complete(abi::NvmeCompletion* out, u32 max);

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
    Result<Cqe> poll_internal();
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
    void release_all();

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
        if (on) map[i / 64] |= u64{1} << (i % 64);
        else map[i / 64] &= ~(u64{1} << (i % 64));
    }
    Result<u64> transfer_bytes(const abi::NvmeCommand& c);
    Result<u16> take_list_page();
    void give_list_page(u16 page) { m_list_free |= u64{1} << page; }
    // The device answered provider command `cid`: holds and list page go back.
    void finish(u16 cid);
    void advance_cq();
    // Reads the entry at the CQ head into `out`; false when the device has
    // not posted it (phase).
    bool read_cq(Cqe* out) const;
    // An entry that is not the provider's: the broker's answer (kept), or bad.
    void other_entry(const Cqe& entry, Status why);

    QueueHost* m_host = nullptr;
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
    Cqe m_internal_answer{};
    u64 m_outstanding[kMaxEntries / 64] = {};  // bit cid: at the device
    u64 m_completed[kMaxEntries / 64] = {};    // bit cid: answered, in the stash
    u32 m_held[kMaxEntries] = {};              // ledger id each outstanding command holds (0: none)
    u8 m_list_of[kMaxEntries] = {};            // PRP list page + 1 of each outstanding command (0: none)
    // The stash: a ring of completions waiting for the provider. Bounded by
    // construction: only a completed id enters it, once, and ids number at
    // most kMaxEntries.
    abi::NvmeCompletion m_stash[kMaxEntries] = {};
    u16 m_stash_first = 0;
    u16 m_stash_count = 0;
};

}  // namespace nvme
