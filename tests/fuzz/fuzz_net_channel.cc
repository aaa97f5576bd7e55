// Model-based fuzzer for the NetDevice provider channel
// (lib/net/provider_channel.h) against a hostile client and a device that
// completes in any order. The input is a sequence of steps: the client
// lending slots it holds (honestly), lending anything at all (any offset,
// length, a slot twice), writing any index; the provider taking from its
// rings and the device completing, or completing a slot it was never
// given; closes and reopens. After every step:
//   - every slot has exactly one holder, and the device's slots are
//     exactly those the model handed to it (never one twice);
//   - a slot handed to the device was named by a descriptor on a slot
//     boundary inside the buffer, held by the client at that moment, and
//     (to send) with a length from 14 to the largest frame;
//   - a refused call changes no holder but the ones it had already
//     taken back (the channel is closed after a refusal, as the provider
//     does), and a bogus completion changes nothing;
//   - nothing outside the ring memory and the ledger is touched (ASan).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz_support.h"
#include "net/provider_channel.h"

namespace {

using fuzz_support::check;
using fuzz_support::Input;
using fuzz_support::trace;
using net::Holder;

constexpr u32 kBytes = abi::kNetBufferBytes;
constexpr u32 kCount = 24;
constexpr u32 kMaxFrame = 1514;

struct Model {
    net::ProviderChannel channel;
    std::unique_ptr<abi::NetRings> rings;
    std::vector<u32> rx, tx;  // the device's slots, as handed to it
    // The client's honest view: what it was given and can lend.
    std::vector<u32> held;
    ring::Producer<abi::NetBuffer, abi::kNetRingEntries> rx_free, tx_ready;
    ring::Consumer<abi::NetBuffer, abi::kNetRingEntries> rx_used, tx_done;

    void open() {
        rings = std::make_unique<abi::NetRings>();
        check(channel.open(rings.get()).ok());
        channel.publish();
        rx_free = rings->rx_free.producer();
        tx_ready = rings->tx_ready.producer();
        rx_used = rings->rx_used.consumer();
        tx_done = rings->tx_done.consumer();
        held.clear();
    }
    void close() {
        channel.close();
        rings.reset();
    }

    void check_ledger() {
        u32 count[4] = {};
        for (u32 i = 0; i < kCount; i++) count[static_cast<u32>(channel.holder(i))]++;
        check(count[0] + count[1] + count[2] + count[3] == kCount);
        check(count[static_cast<u32>(Holder::Rx)] == rx.size());
        check(count[static_cast<u32>(Holder::Tx)] == tx.size());
        for (u32 s : rx) check(channel.holder(s) == Holder::Rx);
        for (u32 s : tx) check(channel.holder(s) == Holder::Tx);
        if (!channel.is_open()) check(count[static_cast<u32>(Holder::Client)] == 0);
    }

    // The client drains what it was given (an honest client).
    void drain() {
        abi::NetBuffer d;
        for (auto* c : {&rx_used, &tx_done}) {
            if (!c->refresh().ok()) continue;
            while (c->take(&d)) {
                check(d.offset % kBytes == 0 && d.offset / kBytes < kCount);
                held.push_back(d.offset / kBytes);
            }
            c->release();
        }
    }
};

u32 any_offset(Input& in) {
    switch (in.byte() % 4) {
        case 0: return (in.byte() % (kCount + 2)) * kBytes;        // a slot, or just past
        case 1: return (in.byte() % kCount) * kBytes + in.byte();  // inside, misaligned
        case 2: return 0xffffffffu - in.byte();
        default: return in.u32_();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    Model m;
    check(m.channel.init(kBytes, kCount, kMaxFrame).ok());
    m.open();
    for (u32 step = 0; step < 400 && in.size; step++) {
        u8 op = in.byte() % 12;
        trace("step %u op %u", step, op);
        if (!m.channel.is_open()) {
            m.open();
            m.check_ledger();
            continue;
        }
        switch (op) {
            case 0: m.drain(); break;
            case 1:
            case 2: {  // lend honestly: a slot held, to receive into or send from
                if (m.held.empty()) break;
                u32 i = in.byte() % m.held.size();
                u32 slot = m.held[i];
                auto& p = op == 1 ? m.rx_free : m.tx_ready;
                if (!p.refresh().ok() || !p.room()) break;
                p.put(abi::NetBuffer{slot * kBytes, static_cast<u32>(14 + in.u16_() % (kMaxFrame - 13))});
                p.publish();
                m.held.erase(m.held.begin() + i);
                break;
            }
            case 3: {  // lend anything at all, unchecked by the client
                auto& p = in.byte() & 1 ? m.rx_free : m.tx_ready;
                (void)p.refresh();
                p.put(abi::NetBuffer{any_offset(in), in.byte() & 1 ? in.u32_() : in.u16_() % 2048u});
                p.publish();
                break;
            }
            case 4: {  // write any index
                abi::NetRing* r[] = {&m.rings->rx_free, &m.rings->rx_used, &m.rings->tx_ready, &m.rings->tx_done};
                abi::NetRing* ring = r[in.byte() % 4];
                u32 v = in.byte() & 1 ? in.u32_() : ring->indices.tail + static_cast<i8>(in.byte());
                if (in.byte() & 1)
                    ring->indices.head = v;
                else
                    ring->indices.tail = v;
                break;
            }
            case 5:
            case 6: {  // the provider takes what the client lent
                u32 max = in.byte() % 40;
                bool rx = op == 5;
                u32 slots[abi::kNetBufferCount];
                net::TxFrame frames[abi::kNetBufferCount];
                u32 before[kCount];
                for (u32 i = 0; i < kCount; i++) before[i] = static_cast<u32>(m.channel.holder(i));
                auto n = rx ? m.channel.take_rx_free(slots, max) : m.channel.take_tx_ready(frames, max);
                if (!n.ok()) {
                    for (u32 i = 0; i < kCount; i++) check(static_cast<u32>(m.channel.holder(i)) == before[i]);
                    m.close();
                    break;
                }
                check(n.value() <= max);
                for (u32 i = 0; i < n.value(); i++) {
                    u32 slot = rx ? slots[i] : frames[i].slot;
                    check(slot < kCount && before[slot] == static_cast<u32>(Holder::Client));
                    before[slot] = 99;  // never twice in one take
                    if (!rx) check(frames[i].length >= 14 && frames[i].length <= kMaxFrame);
                    (rx ? m.rx : m.tx).push_back(slot);
                }
                break;
            }
            case 7:
            case 8: {  // the device completes one, in any order
                auto& list = op == 7 ? m.rx : m.tx;
                if (list.empty()) break;
                u32 i = in.byte() % list.size();
                u32 slot = list[i];
                auto r = op == 7 ? m.channel.rx_complete(slot, in.u16_() % (kBytes + 1))
                                 : m.channel.tx_complete(slot, Status::Ok);
                if (!r.ok()) {
                    check(r.status() == Status::Malformed);  // the client did not drain
                    check(m.channel.holder(slot) == (op == 7 ? Holder::Rx : Holder::Tx));
                    m.close();
                    break;
                }
                list.erase(list.begin() + i);
                break;
            }
            case 9: {  // the device (or a buggy provider) completes a slot it does not hold
                u32 slot = in.byte() % (kCount + 4);
                Holder h = slot < kCount ? m.channel.holder(slot) : Holder::Free;
                bool rx = in.byte() & 1;
                if (slot < kCount && h == (rx ? Holder::Rx : Holder::Tx)) break;
                auto r = rx ? m.channel.rx_complete(slot, 60) : m.channel.tx_complete(slot, Status::Ok);
                check(r.status() == Status::InvalidArgument);
                if (slot < kCount) check(m.channel.holder(slot) == h);
                break;
            }
            case 10: m.channel.publish(); break;
            default:
                m.close();  // a Detach: the device keeps what it holds
                break;
        }
        m.check_ledger();
    }
    return 0;
}
