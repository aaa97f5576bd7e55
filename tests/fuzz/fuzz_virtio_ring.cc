// Model-based fuzzer for virtio::SplitRing (lib/virtio/split_ring.h), the
// virtqueue broker's ring logic, against the fake device of
// tests/support/fake_virtio_device.h. The input is a ring shape (size,
// EVENT_IDX, indirect tables) and a sequence of steps: chains added (valid
// and not), publishes, the device fetching, answering honestly or lying
// (ids out of range, inside a chain, twice; lengths too long; index
// jumps), takes, a batch abandoned before it was published, and a device
// reset. After every step:
//   - the ring's own invariants hold (check_invariants);
//   - every token is handed back at most once, and only after its chain
//     was added; after a reset every token added has come back;
//   - an entry reported Ok names a chain the model says the device holds,
//     with a len no more than that chain's writable bytes;
//   - a chain reported LenTooLong keeps every token until the reset (a
//     lying device is not believed to be done with it), and a later entry
//     naming it is ignored;
//   - every chain the device fetches is one the driver added, with exactly
//     the segments it was given (nothing another chain owns).
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "../support/fake_virtio_device.h"
#include "fuzz_support.h"

namespace {

using fuzz_support::check;
using fuzz_support::Input;
using fuzz_support::trace;

struct ModelChain {
    std::vector<virtio::Segment> segments;
    u64 writable = 0;
    bool fetched = false;
    bool condemned = false;  // reported LenTooLong: held until the reset, no longer the device's
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    u16 ring_size = static_cast<u16>(2u << (in.byte() % 8));  // 2..256
    bool event_idx = in.byte() & 1;
    u16 indirect = (in.byte() & 1) ? static_cast<u16>(2 + in.byte() % 7) : 0;
    fake_virtio::Device device(ring_size, event_idx, indirect);
    fake_virtio::Host host;
    virtio::SplitRing ring;
    check(ring.init(ring_size, device.memory, event_idx).ok());
    trace("ring size %u event_idx %d indirect %u", ring_size, event_idx, indirect);

    std::map<u16, ModelChain> outstanding;  // by head
    std::set<u32> tokens_out;               // added, not yet handed back
    std::vector<u16> fetched_heads;         // what the device may honestly return
    std::vector<u16> unpublished;           // added since the last publish (or abandon)
    u32 next_token = 1;

    auto check_releases = [&] {
        for (auto& [token, times] : host.released) {
            check(times == 1);                    // at most once
            check(tokens_out.erase(token) == 1);  // and only a token that was out
        }
        host.released.clear();
    };

    // The owner's answer to a device it no longer trusts, or a teardown: a
    // confirmed reset hands every token back, and the ring starts over.
    auto reset = [&] {
        ring.release_all(host);
        check_releases();
        check(tokens_out.empty());
        outstanding.clear();
        fetched_heads.clear();
        unpublished.clear();
        device = fake_virtio::Device(ring_size, event_idx, indirect);
        check(ring.init(ring_size, device.memory, event_idx).ok());
    };

    while (in.size) {
        switch (in.byte() % 8) {
            case 0:
            case 1: {  // add a chain
                u32 count = 1 + in.byte() % 10;
                std::vector<virtio::Segment> segs;
                bool broken = (in.byte() % 16) == 0;
                for (u32 s = 0; s < count; s++) {
                    bool writes = s >= count / 2;
                    segs.push_back(virtio::Segment{0x100000 + u64{next_token} * 0x1000, 1u + in.byte() * 16u, writes,
                                                   next_token + s});
                }
                if (broken) segs[in.byte() % count].len = 0;
                auto head = ring.add_chain(segs.data(), count);
                trace("add %u segments%s -> %s", count, broken ? " (broken)" : "", status_name(head.status()));
                if (broken) check(head.status() == Status::InvalidArgument);
                if (!head.ok()) break;
                check(!outstanding.count(head.value()));
                ModelChain c{segs, 0, false, false};
                for (auto& s : segs) {
                    if (s.device_writes) c.writable += s.len;
                    tokens_out.insert(s.token);
                }
                outstanding[head.value()] = c;
                unpublished.push_back(head.value());
                next_token += count;
                break;
            }
            case 2: {
                if (in.byte() % 4) {
                    ring.publish();
                    unpublished.clear();
                    break;
                }
                // A batch refused part-way: what was not published comes
                // back, every token of it, and nothing else.
                ring.abandon(host);
                trace("abandon %zu chains", unpublished.size());
                for (u16 h : unpublished) {
                    auto it = outstanding.find(h);
                    check(it != outstanding.end());
                    for (auto& seg : it->second.segments) check(host.released.count(seg.token) == 1);
                    outstanding.erase(it);
                }
                unpublished.clear();
                check_releases();
                break;
            }
            case 3: {  // the device fetches what was published
                for (auto& chain : device.fetch()) {
                    auto it = outstanding.find(chain.head);
                    if (it == outstanding.end()) {
                        // A lying device returned this chain before fetching
                        // it: its descriptors were freed (zeroed) and maybe
                        // reused, so the stale head reaches nothing or a
                        // segment of a chain the device holds now — never
                        // a buffer the driver has taken back.
                        for (auto& seg : chain.segments) {
                            bool held = seg.address == 0 && seg.len == 0;
                            for (auto& [h, c] : outstanding)
                                for (auto& want : c.segments)
                                    held |= seg.address == want.device_address && seg.len == want.len;
                            check(held);
                        }
                        continue;
                    }
                    check(chain.segments.size() == it->second.segments.size());
                    for (size_t s = 0; s < chain.segments.size(); s++) {
                        const auto& want = it->second.segments[s];
                        check(chain.segments[s].address == want.device_address);
                        check(chain.segments[s].len == want.len);
                        check(chain.segments[s].device_writes == want.device_writes);
                    }
                    it->second.fetched = true;
                    fetched_heads.push_back(chain.head);
                }
                check(device.broken == 0);
                break;
            }
            case 4: {  // an honest answer
                if (fetched_heads.empty()) break;
                size_t i = in.byte() % fetched_heads.size();
                u16 head = fetched_heads[i];
                fetched_heads.erase(fetched_heads.begin() + static_cast<long>(i));
                auto it = outstanding.find(head);
                if (it == outstanding.end()) break;  // returned by a lie already
                u32 len = it->second.writable ? static_cast<u32>(in.u16_() % (it->second.writable + 1)) : 0;
                device.post(head, len);
                break;
            }
            case 5: {  // a lie
                u8 kind = in.byte() % 4;
                if (kind == 0) device.post(in.u16_(), in.u16_());  // any id
                if (kind == 1 && !outstanding.empty())             // a real head, too long
                    device.post(outstanding.begin()->first, 0xffffffffu);
                if (kind == 2) device.set_used_idx(static_cast<u16>(device.used_idx() + in.u16_()));  // a jump
                if (kind == 3 && !fetched_heads.empty()) device.post(fetched_heads[0], 0);            // maybe twice
                break;
            }
            case 6: {  // take
                virtio::UsedEntry out[8];
                u32 max = 1 + in.byte() % 8;
                auto n = ring.take_used(out, max, host);
                if (!n.ok()) {
                    check(n.status() == Status::Malformed);
                    // A device that jumped its index is reset by the owner.
                    reset();
                    break;
                }
                for (u32 k = 0; k < n.value(); k++) {
                    const auto& e = out[k];
                    if (e.verdict == virtio::UsedVerdict::Ok) {
                        auto it = outstanding.find(static_cast<u16>(e.id));
                        check(it != outstanding.end());
                        check(!it->second.condemned);
                        check(e.len <= it->second.writable);
                        for (auto& s : it->second.segments) check(host.released.count(s.token) == 1);
                        outstanding.erase(it);
                    } else if (e.verdict == virtio::UsedVerdict::LenTooLong) {
                        auto it = outstanding.find(static_cast<u16>(e.id));
                        check(it != outstanding.end());
                        check(!it->second.condemned);
                        check(e.len == 0);
                        for (auto& s : it->second.segments) check(host.released.count(s.token) == 0);
                        it->second.condemned = true;
                    } else {
                        // Not a chain the device holds: none of ours, one
                        // added but not yet published, or one condemned.
                        bool hidden = false;
                        for (u16 h : unpublished) hidden |= h == e.id;
                        auto it = outstanding.find(static_cast<u16>(e.id));
                        check(it == outstanding.end() || e.id >= ring_size || hidden || it->second.condemned);
                    }
                }
                check_releases();
                break;
            }
            case 7: {  // a confirmed reset
                if (in.byte() % 4) break;
                reset();
                break;
            }
        }
        const char* why = "";
        if (!ring.check_invariants(&why).ok()) {
            trace("invariant broken: %s", why);
            check(false);
        }
        check(ring.chains_outstanding() == outstanding.size());
    }
    return 0;
}
