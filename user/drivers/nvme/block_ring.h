// The provider's side of one BlockDevice channel's rings (lib/protocol/block.h):
// the only code in the provider that reads or writes the shared ring
// memory. The consumer can write any byte of it at any moment, so:
//  - the indices the provider owns (request_head, completion_tail) live
//    here; their shared copies are written for the consumer to see and
//    never read back;
//  - each index the consumer owns is read once per use and checked before
//    anything depends on it: request_tail may run at most
//    kBlockRingEntries ahead of our request_head, and completion_head may
//    lag our completion_tail by at most kBlockRingEntries and never pass
//    it (u32 arithmetic). Anything else — a tail far ahead, a tail moved
//    back past the head, a head beyond the tail — cannot come from a
//    consumer that follows the protocol: Malformed, and the caller closes
//    the channel;
//  - a request is copied out of its slot once; the caller validates and
//    uses only that copy (the consumer may be rewriting the slot).
// The ring memory itself is the provider's (it created it and keeps the
// capability the consumer's copy derives from), so it stays mapped here
// whatever the consumer does with its copy.
#pragma once

#include "protocol/block.h"
#include "util/result.h"

namespace nvme_driver {

class BlockRing {
public:
    BlockRing() = default;
    explicit BlockRing(abi::BlockRings* shared) : m_shared(shared) {}

    // How many requests wait to be taken; Malformed when the consumer's
    // tail is not within a ring's length ahead of our head. The value
    // holds for take() calls until the next pending().
    Result<u32> pending() {
        u32 tail = __atomic_load_n(&m_shared->request_tail, __ATOMIC_ACQUIRE);
        return span(m_request_head, tail, tail);
    }
    // The next request, copied once; only after pending() said there is one.
    abi::BlockRequest take() {
        abi::BlockRequest r;
        __builtin_memcpy(&r, &m_shared->requests[m_request_head % abi::kBlockRingEntries], sizeof r);
        m_request_head++;
        __atomic_store_n(&m_shared->request_head, m_request_head, __ATOMIC_RELEASE);
        return r;
    }

    // Free completion slots; Malformed when the consumer's head is beyond
    // our tail or more than a ring's length behind it.
    Result<u32> completion_room() {
        u32 head = __atomic_load_n(&m_shared->completion_head, __ATOMIC_ACQUIRE);
        return abi::kBlockRingEntries - TRY(span(head, m_completion_tail, head));
    }
    // Writes one completion (only into room completion_room() reported);
    // the consumer sees it at the next publish().
    void post(const abi::BlockCompletion& c) {
        m_shared->completions[m_completion_tail % abi::kBlockRingEntries] = c;
        m_completion_tail++;
    }
    void publish() { __atomic_store_n(&m_shared->completion_tail, m_completion_tail, __ATOMIC_RELEASE); }

    // For the log line after Malformed: the index as the consumer wrote it,
    // and ours it was checked against.
    u32 bad_index() const { return m_bad_index; }
    u32 request_head() const { return m_request_head; }
    u32 completion_tail() const { return m_completion_tail; }

private:
    // to - from when it is at most a ring's length (u32 arithmetic), else
    // Malformed, remembering the consumer's index for the log.
    Result<u32> span(u32 from, u32 to, u32 consumers) {
        if (to - from > abi::kBlockRingEntries) {
            m_bad_index = consumers;
            return Status::Malformed;
        }
        return to - from;
    }

    abi::BlockRings* m_shared = nullptr;
    u32 m_request_head = 0;     // ours; the shared copy is for the consumer
    u32 m_completion_tail = 0;  // ours; likewise
    u32 m_bad_index = 0;
};

}  // namespace nvme_driver
