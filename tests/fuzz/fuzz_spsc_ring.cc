// Model-based fuzzer for the shared-memory SPSC ring views
// (lib/ring/spsc_ring.h) against a hostile peer. Two rings: on one our
// Producer faces a consumer that writes whatever it likes into the ring
// (its head, our tail, the slots); on the other our Consumer faces such a
// producer. The input is a sequence of steps — our side's calls and the
// peer's writes, with indices near the real ones, far out, moved back,
// across the u32 wrap. After every step:
//   - a view never touches memory outside its indices and N slots (the
//     slots are their own allocation: ASan sees a stray access);
//   - refresh() is Malformed exactly when the peer's index moved back or
//     past what can exist (the model's rule), and then changes nothing;
//   - our own index only moves by our own puts / takes, whatever the peer
//     wrote over its shared copy, and publish / release store exactly it;
//   - room() and ready() never exceed N; put() writes the slot of our
//     tail and only when there is room; take() copies the slot of our head
//     as it was at that moment.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz_support.h"
#include "ring/spsc_ring.h"

namespace {

using fuzz_support::check;
using fuzz_support::Input;
using fuzz_support::trace;

struct Entry {
    u64 id;
    u32 a, b;
};
constexpr u32 kN = 16;

// A value for the peer to write as an index: near `ours` (ahead or behind
// by a little), far out, or anything at all.
u32 lie(Input& in, u32 ours) {
    switch (in.byte() % 4) {
        case 0: return ours + (in.byte() % (2 * kN + 3));
        case 1: return ours - (in.byte() % (2 * kN + 3));
        case 2: return ours + 0x8000'0000u + in.byte();
        default: return in.u32_();
    }
}

// Is `to - from` within [lo, hi] (u32)?
bool span_in(u32 from, u32 to, u32 lo, u32 hi) { return to - from >= lo && to - from <= hi; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    const u32 start = in.u32_();  // both rings start anywhere, the wrap included

    // Ring P: our Producer, a hostile consumer.
    ring::Indices p_indices{start, start};
    std::unique_ptr<Entry[]> p_slots(new Entry[kN]());
    ring::Producer<Entry, kN> producer(p_indices, *reinterpret_cast<Entry(*)[kN]>(p_slots.get()), start);
    u32 model_tail = start, model_head_seen = start, model_published = start;
    u64 next_id = 1;

    // Ring C: our Consumer, a hostile producer.
    ring::Indices c_indices{start, start};
    std::unique_ptr<Entry[]> c_slots(new Entry[kN]());
    ring::Consumer<Entry, kN> consumer(c_indices, *reinterpret_cast<const Entry(*)[kN]>(c_slots.get()), start);
    u32 model_head = start, model_tail_seen = start, model_released = start;

    for (u32 step = 0; in.size && step < 4096; step++) {
        u8 op = in.byte() % 12;
        switch (op) {
            // --- our producer ---
            case 0: {
                u32 head = p_indices.head;  // what refresh() will read
                bool good = span_in(head, model_tail, 0, model_tail - model_head_seen);
                auto r = producer.refresh();
                trace("P refresh head=%u tail=%u -> %s", head, model_tail, r.ok() ? "ok" : "malformed");
                check(r.ok() == good);
                if (good) {
                    model_head_seen = head;
                    check(r.value() == kN - (model_tail - head));
                } else {
                    check(producer.bad_index() == head);
                }
                break;
            }
            case 1: {
                Entry e{next_id, in.byte(), static_cast<u32>(next_id * 7)};
                bool room = model_tail - model_head_seen < kN;
                bool put = producer.put(e);
                trace("P put id=%llu -> %d", static_cast<unsigned long long>(next_id), put);
                check(put == room);
                if (put) {
                    check(std::memcmp(&p_slots[model_tail % kN], &e, sizeof e) == 0);
                    model_tail++;
                    next_id++;
                }
                break;
            }
            case 2: {
                u32 before = p_indices.tail;
                producer.publish();
                // Stored only when something is new since the last publish;
                // then exactly our tail.
                check(p_indices.tail == (model_published != model_tail ? model_tail : before));
                model_published = model_tail;
                break;
            }
            case 3: p_indices.head = lie(in, model_head_seen); break;  // the consumer's own index
            case 4: p_indices.tail = lie(in, model_tail); break;       // ours, scribbled over
            case 5: {                                                  // the consumer rewrites a slot
                Entry junk{in.u32_(), in.u32_(), in.u32_()};
                p_slots[in.byte() % kN] = junk;
                break;
            }
            // --- our consumer ---
            case 6: {
                u32 tail = c_indices.tail;
                bool good = span_in(model_head, tail, model_tail_seen - model_head, kN);
                auto r = consumer.refresh();
                trace("C refresh tail=%u head=%u -> %s", tail, model_head, r.ok() ? "ok" : "malformed");
                check(r.ok() == good);
                if (good) {
                    model_tail_seen = tail;
                    check(r.value() == tail - model_head);
                } else {
                    check(consumer.bad_index() == tail);
                }
                break;
            }
            case 7: {
                Entry slot = c_slots[model_head % kN];
                Entry e{};
                bool ready = model_tail_seen != model_head;
                bool took = consumer.take(&e);
                trace("C take -> %d", took);
                check(took == ready);
                if (took) {
                    check(std::memcmp(&e, &slot, sizeof e) == 0);
                    model_head++;
                }
                break;
            }
            case 8: {
                u32 before = c_indices.head;
                consumer.release();
                check(c_indices.head == (model_released != model_head ? model_head : before));
                model_released = model_head;
                break;
            }
            case 9: c_indices.tail = lie(in, model_tail_seen); break;  // the producer's own index
            case 10: c_indices.head = lie(in, model_head); break;      // ours, scribbled over
            default: {                                                 // the producer writes a slot (published or not)
                Entry junk{in.u32_(), in.u32_(), in.u32_()};
                c_slots[in.byte() % kN] = junk;
                break;
            }
        }
        check(producer.tail() == model_tail && producer.head_seen() == model_head_seen);
        check(producer.room() <= kN && producer.room() == kN - (model_tail - model_head_seen));
        check(consumer.head() == model_head && consumer.tail_seen() == model_tail_seen);
        check(consumer.ready() <= kN && consumer.ready() == model_tail_seen - model_head);
    }
    return 0;
}
