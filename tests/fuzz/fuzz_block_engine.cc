// Model-based fuzzer for the block layer's engine (lib/block/engine.h):
// the parser-like surface is what consumers write into the shared rings
// (requests with any field, ring indices anywhere) and what a device
// reports (any tag, any status), interleaved with time passing, batches
// refused, resets failing and channels closed and reopened.
//
// Channel 0 is an honest consumer with unique ids; channel 1 does anything.
// Checked on every command that reaches the (fake) device: its tag is free,
// its device exists, its blocks lie on the device, the device offers the
// operation (and is writable for a write), FUA only where native, and a
// Read/Write names the data buffer of a channel not yet released, within
// that buffer, aligned, within the transfer and segment limits. After each
// pass the engine's in-flight count matches the device's, and the honest
// consumer never sees an id it did not queue or one answered twice; at the
// end, with the device answering everything, every honest request is
// answered.
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "block/engine.h"
#include "fuzz_support.h"

namespace {

using abi::BlockRequestOp;
using fuzz_support::check;
using fuzz_support::Input;
using fuzz_support::trace;

constexpr u64 kTimeout = 1000;
constexpr u32 kChannels = 2;

struct Device final : block::Backend {
    block::DeviceInfo devices[2];
    u32 count = 1;
    u32 tags = 8;
    std::map<u16, block::Command> in_flight;
    std::map<u32, u64> buffers;  // live data buffer handle -> bytes
    Status refuse = Status::Ok;
    Status reset_status = Status::Ok;

    u32 device_count() const override { return count; }
    const block::DeviceInfo& device(u32 i) const override { return devices[i]; }
    u32 max_in_flight() const override { return tags; }
    Status submit(const block::Command* c, const u16* t, u32 n) override {
        if (refuse != Status::Ok) return refuse;
        for (u32 i = 0; i < n; i++) {
            check_command(c[i], t[i]);
            in_flight[t[i]] = c[i];
        }
        return Status::Ok;
    }
    void check_command(const block::Command& c, u16 tag) {
        check(tag < tags);
        check(!in_flight.count(tag));
        check(c.device < count);
        const block::DeviceInfo& d = devices[c.device];
        check(block::offered_ops(d) & abi::block_op_bit(c.op));
        check(d.ops & abi::block_op_bit(c.op));  // never a Flush the device lacks
        bool write =
            c.op == BlockRequestOp::Write || c.op == BlockRequestOp::WriteZeroes || c.op == BlockRequestOp::Discard;
        check(!(write && d.read_only));
        check(!c.fua || (d.native_fua && (c.op == BlockRequestOp::Write || c.op == BlockRequestOp::WriteZeroes)));
        if (c.op == BlockRequestOp::Flush) return;
        check(c.blocks > 0);
        check(c.lba <= d.blocks && c.blocks <= d.blocks - c.lba);
        if (c.op == BlockRequestOp::WriteZeroes) check(c.blocks <= d.max_write_zeroes_blocks);
        if (c.op == BlockRequestOp::Discard) check(c.blocks <= d.max_discard_blocks);
        if (c.op != BlockRequestOp::Read && c.op != BlockRequestOp::Write) return;
        auto b = buffers.find(c.buffer);
        check(b != buffers.end());
        u64 bytes = u64{c.blocks} << d.block_shift;
        check(c.offset <= b->second && bytes <= b->second - c.offset);
        check(c.offset % d.alignment == 0);
        check(bytes <= d.max_transfer);
        if (d.max_segments) {
            u64 first = c.offset / d.segment_bytes, last = (c.offset + bytes - 1) / d.segment_bytes;
            check(last - first + 1 <= d.max_segments);
        }
    }
    std::vector<block::Outcome> outcomes;
    std::set<u16> answered;  // tags with an outcome posted, not yet polled
    Result<u32> poll(block::Outcome* out, u32 max, bool) override {
        u32 n = 0;
        while (n < max && !outcomes.empty()) {
            out[n++] = outcomes.front();
            answered.erase(outcomes.front().tag);
            outcomes.erase(outcomes.begin());
        }
        return n;
    }
    Status reset() override {
        in_flight.clear();
        outcomes.clear();
        answered.clear();
        return reset_status;
    }
    void describe(const block::Command&, u16, char* text, usize size) const override { snprintf(text, size, "cmd"); }
    void describe_detail(u32, char* text, usize size) const override { snprintf(text, size, "detail"); }
};

struct Host final : block::Host {
    u64 now = 0;
    std::set<u32> closed;
    Device* device = nullptr;
    u32 buffer_of[kChannels] = {};
    u64 now_ns() override { return now; }
    void log(const char* line) override { trace("log: %s", line); }
    void closing(u32 ch, const char*) override { closed.insert(ch); }
    void released(u32 ch) override { device->buffers.erase(buffer_of[ch]); }
};

block::DeviceInfo make_device(Input& in) {
    block::DeviceInfo d{};
    u8 shape = in.byte();
    d.block_shift = shape & 1 ? 12 : 9;
    d.blocks = 1 + in.u16_();
    d.ops = abi::block_op_bit(BlockRequestOp::Read) | abi::block_op_bit(BlockRequestOp::Write) |
            (shape & 2 ? abi::block_op_bit(BlockRequestOp::Flush) : 0) |
            (shape & 4 ? abi::block_op_bit(BlockRequestOp::WriteZeroes) : 0) |
            (shape & 8 ? abi::block_op_bit(BlockRequestOp::Discard) : 0);
    d.volatile_cache = shape & 16;
    d.native_fua = shape & 32;
    d.read_only = shape & 64;
    d.max_transfer = (1u + in.byte() % 64) << d.block_shift;
    d.segment_bytes = 4096;
    d.max_segments = in.byte() % 5;  // 0: none
    d.alignment = shape & 128 ? 4 : 1;
    // At least 64 blocks a command: the drain at the end stays short.
    d.max_write_zeroes_blocks = 64 + in.byte();
    d.max_discard_blocks = 64 + in.u16_();
    return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    Device dev;
    Host host;
    host.device = &dev;
    dev.count = 1 + in.byte() % 2;
    for (u32 i = 0; i < dev.count; i++) dev.devices[i] = make_device(in);
    dev.tags = 1 + in.byte() % 16;
    block::Engine engine(dev, host, "fuzz", kTimeout);

    std::unique_ptr<abi::BlockRings> rings[kChannels];
    abi::BlockRequestProducer producers[kChannels];
    abi::BlockCompletionConsumer consumers[kChannels];
    u32 next_buffer = 100;
    auto open = [&](u32 ch) {
        rings[ch].reset(new abi::BlockRings{});
        producers[ch] = abi::BlockRequestProducer(rings[ch]->request, rings[ch]->requests);
        consumers[ch] = abi::BlockCompletionConsumer(rings[ch]->completion, rings[ch]->completions);
        u64 bytes = (1 + u64{in.byte()} % 64) * 4096;
        host.buffer_of[ch] = next_buffer++;
        dev.buffers[host.buffer_of[ch]] = bytes;
        host.closed.erase(ch);
        engine.open(ch, rings[ch].get(), host.buffer_of[ch], bytes);
    };
    for (u32 ch = 0; ch < kChannels; ch++) open(ch);

    std::set<u64> honest_waiting;  // ids channel 0 queued, not yet answered
    u64 next_id = 1;
    bool honest = true;  // channel 0 never closed
    auto take_honest = [&]() {
        if (host.closed.count(0)) return;
        auto ready = consumers[0].refresh();
        check(ready.ok());
        abi::BlockCompletion c;
        while (consumers[0].take(&c)) {
            check(honest_waiting.erase(c.id) == 1);  // queued, and answered once
        }
        consumers[0].release();
    };
    auto pass = [&](bool reap, bool ack) {
        if (reap) engine.reap(ack);
        engine.take_requests();
        engine.post_ready();
        engine.check_timeouts();
        check(engine.in_flight() == dev.in_flight.size() + dev.answered.size());
    };
    auto any_request = [&]() {
        abi::BlockRequest r{};
        r.op = static_cast<BlockRequestOp>(in.byte() % 7);
        r.flags = in.byte() % 3 == 0 ? in.byte() : 0;
        r.device = in.byte() % 3;
        r.lba = in.byte() & 1 ? in.u16_() : u64{in.u32_()} << 32 | in.u32_();
        r.blocks = in.byte() & 1 ? in.byte() : in.u32_();
        r.offset = in.byte() & 1 ? u64{in.u16_()} * 4 : u64{in.u32_()} << 8 | in.byte();
        return r;
    };

    for (u32 step = 0; step < 400 && in.size; step++) {
        u8 op = in.byte() % 14;
        trace("step %u op %u", step, op);
        switch (op) {
            case 0: {  // channel 1 writes any slot with anything
                abi::BlockRequest r = any_request();
                r.id = in.u32_();
                rings[1]->requests[in.byte() % abi::kBlockRingEntries] = r;
                break;
            }
            case 1: rings[1]->request.tail += in.byte() % 2 ? in.byte() : in.u32_(); break;
            case 2: rings[1]->completion.head += in.byte() % 2 ? in.byte() : in.u32_(); break;
            case 3:
            case 4: {  // an honest request on channel 0, or channel 1 queueing the same way
                u32 ch = op == 3 ? 0 : 1;
                if (host.closed.count(ch)) break;
                abi::BlockRequest r = any_request();
                r.id = next_id++;
                if (!producers[ch].refresh().ok() || !producers[ch].put(r)) break;
                producers[ch].publish();
                if (ch == 0) honest_waiting.insert(r.id);
                trace("queued %llu on %u: op %u flags %u device %u lba %llu blocks %u offset %llu",
                      static_cast<unsigned long long>(r.id), ch, static_cast<unsigned>(r.op), r.flags, r.device,
                      static_cast<unsigned long long>(r.lba), r.blocks, static_cast<unsigned long long>(r.offset));
                break;
            }
            case 5:
            case 6: {  // the device completes something in flight
                if (dev.in_flight.empty()) break;
                auto it = dev.in_flight.begin();
                std::advance(it, in.byte() % dev.in_flight.size());
                u8 how = in.byte();
                Status s = how % 4 == 0 ? static_cast<Status>(in.byte() % 24) : Status::Ok;
                dev.outcomes.push_back({it->first, s, how % 8 == 0 ? in.u32_() : 0, (how & 16) != 0});
                dev.answered.insert(it->first);
                dev.in_flight.erase(it);
                break;
            }
            case 7:  // a tag it was never given
                dev.outcomes.push_back(
                    {static_cast<u16>(dev.tags + in.u16_() % (0x10000 - dev.tags)), Status::Ok, 0, false});
                break;
            case 8: host.now += in.byte() % 2 ? kTimeout + 1 : in.byte(); break;
            case 9: take_honest(); break;
            case 10: {  // channel 1 closed (a Detach) and, later, a new attach in its slot
                if (engine.is_live(1))
                    engine.close(1, nullptr);
                else if (engine.is_free(1))
                    open(1);
                break;
            }
            case 11: dev.refuse = in.byte() % 4 == 0 ? Status::Busy : Status::Ok; break;
            case 12: dev.reset_status = in.byte() % 4 == 0 ? Status::Timeout : Status::Ok; break;
            default: break;
        }
        if (dev.refuse == Status::Ok) pass(op != 9 || in.byte() % 2, in.byte() % 2);
        if (host.closed.count(0)) honest = false;
    }
    // The device answers everything from now on: every honest request is
    // answered.
    dev.refuse = Status::Ok;
    dev.reset_status = Status::Ok;
    for (u32 round = 0; round < (1u << 20) && honest && !honest_waiting.empty(); round++) {
        for (auto& [tag, c] : dev.in_flight) {
            dev.outcomes.push_back({tag, Status::Ok, 0, false});
            dev.answered.insert(tag);
        }
        dev.in_flight.clear();
        pass(true, false);
        take_honest();
        if (host.closed.count(0)) honest = false;
        // Nothing on the device and nothing answered: a request is stuck.
        if (honest && !honest_waiting.empty() && !engine.in_flight()) {
            pass(true, false);
            take_honest();
            check(honest_waiting.empty() || engine.in_flight());
        }
    }
    for (u64 id : honest_waiting) trace("never answered: %llu", static_cast<unsigned long long>(id));
    trace("engine in flight %u, device %zu", engine.in_flight(), dev.in_flight.size());
    check(!honest || honest_waiting.empty());
    return 0;
}
