// The block layer's engine (lib/block/engine.h) against a fake device
// (block::Backend) and a fake host: what every storage provider's
// BlockDevice service does between its consumers' rings and its device.
// Validation before anything reaches the device, splitting at the device's
// limits (transfer size, segments, Write Zeroes / Discard sizes), FUA
// passed through or emulated by a Flush, retries and timeouts, status
// mapping, and a hostile consumer (ring indices no honest consumer writes,
// requests out of range, another channel's buffer).
#define GTEST_HAS_CXXABI_H_ 0  // its <cxxabi.h> aliases `namespace abi` (docs/testing.md)
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "block/engine.h"

namespace {

using abi::BlockRequestOp;

constexpr u32 kAllOps = abi::block_op_bit(BlockRequestOp::Read) | abi::block_op_bit(BlockRequestOp::Write) |
                        abi::block_op_bit(BlockRequestOp::Flush) | abi::block_op_bit(BlockRequestOp::WriteZeroes) |
                        abi::block_op_bit(BlockRequestOp::Discard);

block::DeviceInfo disk(u64 blocks = 1 << 20, u8 shift = 9) {
    block::DeviceInfo d{};
    d.blocks = blocks;
    d.block_shift = shift;
    d.unit = 1;
    d.ops = kAllOps;
    d.volatile_cache = true;
    d.native_fua = true;
    d.max_transfer = 128 * 1024;
    d.alignment = 4;
    d.max_write_zeroes_blocks = 65536;
    d.max_discard_blocks = 0xffffffffu;
    return d;
}

struct Submitted {
    u16 tag;
    block::Command c;
};

class FakeDevice final : public block::Backend {
public:
    std::vector<block::DeviceInfo> devices{disk()};
    u32 tags = 32;
    Status refuse = Status::Ok;        // the next submit's answer
    std::vector<Submitted> submitted;  // not yet completed by the test
    std::vector<Submitted> history;    // everything ever submitted
    std::deque<block::Outcome> outcomes;
    u32 resets = 0;
    Status reset_status = Status::Ok;

    u32 device_count() const override { return static_cast<u32>(devices.size()); }
    const block::DeviceInfo& device(u32 i) const override { return devices[i]; }
    u32 max_in_flight() const override { return tags; }
    Status submit(const block::Command* c, const u16* t, u32 n) override {
        if (refuse != Status::Ok) return refuse;
        for (u32 i = 0; i < n; i++) {
            submitted.push_back({t[i], c[i]});
            history.push_back({t[i], c[i]});
        }
        return Status::Ok;
    }
    Status poll_error = Status::Ok;  // a device whose queue answers this
    Result<u32> poll(block::Outcome* out, u32 max, bool) override {
        if (poll_error != Status::Ok) return poll_error;
        u32 n = 0;
        while (n < max && !outcomes.empty()) {
            out[n++] = outcomes.front();
            outcomes.pop_front();
        }
        return n;
    }
    Status reset() override {
        resets++;
        return reset_status;
    }
    void describe(const block::Command& c, u16 tag, char* text, usize size) const override {
        snprintf(text, size, "op %u tag %u lba %llu", static_cast<unsigned>(c.op), tag,
                 static_cast<unsigned long long>(c.lba));
    }
    void describe_detail(u32 detail, char* text, usize size) const override { snprintf(text, size, "0x%x", detail); }

    // Every command submitted so far succeeds.
    void complete_all(Status s = Status::Ok, u32 detail = 0, bool retry = false) {
        for (auto& one : submitted) outcomes.push_back({one.tag, s, detail, retry});
        submitted.clear();
    }
};

class FakeHost final : public block::Host {
public:
    u64 now = 1'000'000;
    std::vector<std::string> lines;
    std::vector<std::string> closed;  // why, "" for a detach
    std::vector<u32> released_channels;
    u64 now_ns() override { return now; }
    void log(const char* line) override { lines.emplace_back(line); }
    void closing(u32, const char* why) override { closed.emplace_back(why ? why : ""); }
    void released(u32 ch) override { released_channels.push_back(ch); }
    bool logged(const std::string& part) const {
        for (auto& l : lines)
            if (l.find(part) != std::string::npos) return true;
        return false;
    }
};

// One consumer's side of a channel: the rings in "shared memory" and its
// views of them.
struct Consumer {
    std::unique_ptr<abi::BlockRings> rings{new abi::BlockRings{}};
    abi::BlockRequestProducer requests{rings->request, rings->requests};
    abi::BlockCompletionConsumer completions{rings->completion, rings->completions};
    void queue(const abi::BlockRequest& r) {
        ASSERT_TRUE(requests.refresh().ok());
        ASSERT_TRUE(requests.put(r));
        requests.publish();
    }
    std::vector<abi::BlockCompletion> take() {
        std::vector<abi::BlockCompletion> out;
        EXPECT_TRUE(completions.refresh().ok());
        abi::BlockCompletion c;
        while (completions.take(&c)) out.push_back(c);
        completions.release();
        return out;
    }
};

constexpr u32 kBuffer = 0x4242;  // the provider's data buffer handle for channel 0
constexpr u64 kDataBytes = 1 << 20;
constexpr u64 kTimeout = 1'000'000'000;

abi::BlockRequest req(u64 id, BlockRequestOp op, u64 lba, u32 blocks, u64 offset = 0, u8 flags = 0) {
    abi::BlockRequest r{};
    r.id = id;
    r.op = op;
    r.flags = flags;
    r.lba = lba;
    r.blocks = blocks;
    r.offset = offset;
    return r;
}

struct BlockEngine : ::testing::Test {
    FakeDevice dev;
    FakeHost host;
    std::unique_ptr<block::Engine> engine;
    Consumer consumer;
    void start() {
        engine = std::make_unique<block::Engine>(dev, host, "test", kTimeout);
        engine->open(0, consumer.rings.get(), kBuffer, kDataBytes);
    }
    // One pass of the service loop.
    void pass(bool reap = true) {
        if (reap) engine->reap(false);
        engine->take_requests();
        engine->post_ready();
        engine->check_timeouts();
    }
    // Queues one request and runs the loop, completing whatever reaches
    // the device with `s`, until the request is answered.
    abi::BlockCompletion run(const abi::BlockRequest& r) {
        consumer.queue(r);
        for (int i = 0; i < 1000; i++) {
            pass();
            auto got = consumer.take();
            if (!got.empty()) {
                EXPECT_EQ(got.size(), 1u);
                return got[0];
            }
            dev.complete_all();
        }
        ADD_FAILURE() << "never answered";
        return {};
    }
};

// ---- validation -------------------------------------------------------------

TEST_F(BlockEngine, ReapReportsTheBackendsPollError) {
    // TornDown from the device's queue (the grant is gone): the server
    // ends the provider on it, whatever the backend.
    start();
    EXPECT_EQ(engine->reap(false), Status::Ok);
    dev.poll_error = Status::TornDown;
    EXPECT_EQ(engine->reap(true), Status::TornDown);
}

TEST_F(BlockEngine, BadRequestsAreRefusedBeforeTheDevice) {
    dev.devices[0].ops &= ~abi::block_op_bit(BlockRequestOp::Discard);
    start();
    struct Case {
        abi::BlockRequest r;
        Status want;
    } cases[] = {
        {req(1, static_cast<BlockRequestOp>(0x77), 0, 1), Status::InvalidArgument},          // no such op
        {req(2, BlockRequestOp::Read, 0, 1), Status::NotFound},                              // device 999 below
        {req(3, BlockRequestOp::Read, 0, 1, kDataBytes), Status::OutOfBounds},               // past the buffer
        {req(4, BlockRequestOp::Read, 0, 8, ~0ull - 100), Status::OutOfBounds},              // offset + length wraps
        {req(5, BlockRequestOp::Read, 0, 0xffffffffu), Status::OutOfBounds},                 // far more than the device
        {req(6, BlockRequestOp::Read, 0, 1, 2), Status::InvalidArgument},                    // not aligned (4)
        {req(7, BlockRequestOp::Write, 0, 0), Status::InvalidArgument},                      // no blocks
        {req(8, BlockRequestOp::Read, (1 << 20) - 1, 2), Status::OutOfBounds},               // runs off the end
        {req(9, BlockRequestOp::WriteZeroes, 1ull << 63, 1), Status::OutOfBounds},           // far past the end
        {req(10, BlockRequestOp::Discard, 0, 8), Status::Unsupported},                       // not offered
        {req(11, BlockRequestOp::Read, 0, 1, 0, abi::kBlockFua), Status::InvalidArgument},   // FUA on a read
        {req(12, BlockRequestOp::Flush, 0, 0, 0, abi::kBlockFua), Status::InvalidArgument},  // FUA on a flush
        {req(13, BlockRequestOp::Write, 0, 1, 0, 0x80), Status::InvalidArgument},            // unknown flag
        {req(14, BlockRequestOp::Read, 0, (kDataBytes >> 9) + 1), Status::OutOfBounds},      // more than the buffer
        {req(15, BlockRequestOp::Read, 0, 1), Status::InvalidArgument},                      // reserved[1] set
        {req(16, BlockRequestOp::Write, 0, 1), Status::InvalidArgument},                     // reserved2 set
    };
    cases[1].r.device = 999;
    cases[14].r.reserved[1] = 1;
    cases[15].r.reserved2 = 0x8000'0000u;
    for (auto& c : cases) consumer.queue(c.r);
    pass();
    EXPECT_TRUE(dev.submitted.empty()) << "a refused request reached the device";
    auto got = consumer.take();
    ASSERT_EQ(got.size(), std::size(cases));
    for (usize i = 0; i < got.size(); i++) {
        EXPECT_EQ(got[i].id, cases[i].r.id);
        EXPECT_EQ(static_cast<Status>(got[i].status), cases[i].want) << "request " << got[i].id;
        EXPECT_EQ(got[i].detail, 0u);
    }
}

TEST_F(BlockEngine, ReadOnlyDeviceRefusesEveryWrite) {
    dev.devices[0].read_only = true;
    start();
    for (auto op : {BlockRequestOp::Write, BlockRequestOp::WriteZeroes, BlockRequestOp::Discard})
        EXPECT_EQ(static_cast<Status>(run(req(1, op, 0, 8)).status), Status::ReadOnly);
    EXPECT_EQ(static_cast<Status>(run(req(2, BlockRequestOp::Read, 0, 8)).status), Status::Ok);
}

// ---- splitting --------------------------------------------------------------

TEST_F(BlockEngine, ReadsAreSplitAtTheTransferLimitIntoOneAnswer) {
    start();
    consumer.queue(req(7, BlockRequestOp::Read, 100, 2040, 4096));  // to the end of the 1 MiB buffer
    pass();
    ASSERT_EQ(dev.submitted.size(), 8u);  // 128 KiB each, the last 124 KiB
    for (u32 i = 0; i < 8; i++) {
        const auto& c = dev.submitted[i].c;
        EXPECT_EQ(c.op, BlockRequestOp::Read);
        EXPECT_EQ(c.lba, 100u + i * 256);
        EXPECT_EQ(c.blocks, i < 7 ? 256u : 248u);
        EXPECT_EQ(c.offset, 4096u + i * 128 * 1024);
        EXPECT_EQ(c.buffer, kBuffer);
    }
    // Seven of eight done: no answer yet.
    for (u32 i = 0; i < 7; i++) dev.outcomes.push_back({dev.submitted[i].tag, Status::Ok, 0, false});
    pass();
    EXPECT_TRUE(consumer.take().empty());
    dev.outcomes.push_back({dev.submitted[7].tag, Status::Ok, 0, false});
    pass();
    auto got = consumer.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].id, 7u);
    EXPECT_EQ(got[0].status, 0);
}

TEST_F(BlockEngine, SegmentLimitsCountTheSegmentsARangeSpans) {
    // virtio-blk's shape: SEG_MAX 4 segments of a page, SIZE_MAX large.
    dev.devices[0].max_transfer = 1 << 20;
    dev.devices[0].max_segments = 4;
    dev.devices[0].alignment = 1;
    start();
    auto done = run(req(1, BlockRequestOp::Write, 10, 200, 512));  // starts mid-page
    EXPECT_EQ(done.status, 0);
    u64 lba = 10, offset = 512;
    for (auto& one : dev.history) {
        const auto& c = one.c;
        EXPECT_EQ(c.lba, lba);
        EXPECT_EQ(c.offset, offset);
        u64 first = c.offset / 4096, last = (c.offset + (u64{c.blocks} << 9) - 1) / 4096;
        EXPECT_LE(last - first + 1, 4u) << "a command spans more segments than the device takes";
        lba += c.blocks;
        offset += u64{c.blocks} << 9;
    }
    EXPECT_EQ(lba, 210u) << "the parts cover the request exactly";
    // The first part fills its four pages from 512 on: 31 blocks; later
    // parts start at the same place in a page and do the same.
    EXPECT_EQ(dev.history[0].c.blocks, 31u);
    EXPECT_EQ(dev.history.size(), 7u);  // 200 = 6 * 31 + 14
}

TEST_F(BlockEngine, WriteZeroesAndDiscardSplitAtTheirOwnLimits) {
    dev.devices[0].max_write_zeroes_blocks = 1000;
    dev.devices[0].max_discard_blocks = 4096;
    start();
    EXPECT_EQ(run(req(1, BlockRequestOp::WriteZeroes, 5, 2500)).status, 0);
    ASSERT_EQ(dev.history.size(), 3u);
    EXPECT_EQ(dev.history[0].c.blocks, 1000u);
    EXPECT_EQ(dev.history[2].c.lba, 2005u);
    EXPECT_EQ(dev.history[2].c.blocks, 500u);
    EXPECT_EQ(dev.history[0].c.buffer, 0u) << "no data buffer for Write Zeroes";
    dev.history.clear();
    EXPECT_EQ(run(req(2, BlockRequestOp::Discard, 0, 10000)).status, 0);
    ASSERT_EQ(dev.history.size(), 3u);
    EXPECT_EQ(dev.history[2].c.blocks, 10000u - 8192);
}

TEST_F(BlockEngine, AFailedPartFailsTheRequestOnceAndStopsTheRest) {
    dev.devices[0].max_transfer = 4096;
    dev.tags = 2;  // at most 1 for the one channel (3/4 of 2)
    start();
    consumer.queue(req(1, BlockRequestOp::Read, 0, 64));  // 8 parts of 8 blocks
    pass();
    ASSERT_EQ(dev.submitted.size(), 1u);
    dev.complete_all(Status::MediaError, 0x281, false);
    pass();
    auto got = consumer.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(static_cast<Status>(got[0].status), Status::MediaError);
    EXPECT_EQ(got[0].detail, 0x281u);
    EXPECT_EQ(dev.history.size(), 1u) << "parts after a failure were still submitted";
}

// ---- FUA and Flush ------------------------------------------------------------

TEST_F(BlockEngine, FuaPassesToEveryPartOnADeviceWithNativeFua) {
    start();
    EXPECT_EQ(run(req(1, BlockRequestOp::Write, 0, 1024, 0, abi::kBlockFua)).status, 0);
    ASSERT_EQ(dev.history.size(), 4u);
    for (auto& one : dev.history) EXPECT_TRUE(one.c.fua);
    dev.history.clear();
    EXPECT_EQ(run(req(2, BlockRequestOp::Write, 0, 8)).status, 0);
    EXPECT_FALSE(dev.history[0].c.fua) << "FUA without the flag";
}

TEST_F(BlockEngine, FuaWithoutNativeSupportIsAFlushAfterTheWrite) {
    dev.devices[0].native_fua = false;  // virtio-blk has no FUA
    start();
    consumer.queue(req(1, BlockRequestOp::Write, 0, 512, 0, abi::kBlockFua));  // 2 parts
    pass();
    ASSERT_EQ(dev.submitted.size(), 2u);
    for (auto& one : dev.submitted) EXPECT_FALSE(one.c.fua);
    dev.complete_all();
    pass();
    EXPECT_TRUE(consumer.take().empty()) << "answered before the data was flushed";
    ASSERT_EQ(dev.submitted.size(), 1u);
    EXPECT_EQ(dev.submitted[0].c.op, BlockRequestOp::Flush);
    dev.complete_all();
    pass();
    auto got = consumer.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].status, 0);
    EXPECT_EQ(dev.history.size(), 3u);
}

TEST_F(BlockEngine, AFailedFuaFlushFailsTheWrite) {
    dev.devices[0].native_fua = false;
    start();
    consumer.queue(req(1, BlockRequestOp::Write, 0, 8, 0, abi::kBlockFua));
    pass();
    dev.complete_all();
    pass();
    ASSERT_EQ(dev.submitted.size(), 1u);
    dev.complete_all(Status::DeviceError, 0x6, false);
    pass();
    auto got = consumer.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(static_cast<Status>(got[0].status), Status::DeviceError);
}

TEST_F(BlockEngine, WithoutAVolatileCacheFuaAndFlushNeedNoDevice) {
    dev.devices[0].native_fua = false;
    dev.devices[0].volatile_cache = false;
    dev.devices[0].ops &= ~abi::block_op_bit(BlockRequestOp::Flush);  // virtio-blk without FLUSH
    start();
    EXPECT_EQ(run(req(1, BlockRequestOp::Write, 0, 8, 0, abi::kBlockFua)).status, 0);
    EXPECT_EQ(dev.history.size(), 1u) << "a flush was added on a write-through device";
    dev.history.clear();
    EXPECT_EQ(run(req(2, BlockRequestOp::Flush, 0, 0)).status, 0);
    EXPECT_TRUE(dev.history.empty());
    EXPECT_NE(block::offered_ops(dev.devices[0]) & abi::block_op_bit(BlockRequestOp::Flush), 0u);
}

TEST_F(BlockEngine, FlushOnACachedDeviceWithoutFlushIsUnsupported) {
    dev.devices[0].ops &= ~abi::block_op_bit(BlockRequestOp::Flush);
    start();
    EXPECT_EQ(static_cast<Status>(run(req(1, BlockRequestOp::Flush, 0, 0)).status), Status::Unsupported);
    EXPECT_TRUE(dev.history.empty());
}

// Found by fuzz_block_engine: FUA emulated by a Flush the device does not
// have sent that Flush to it anyway.
TEST_F(BlockEngine, FuaOnACachedDeviceWithNeitherFuaNorFlushIsUnsupported) {
    dev.devices[0].ops &= ~abi::block_op_bit(BlockRequestOp::Flush);
    dev.devices[0].native_fua = false;
    start();
    EXPECT_EQ(static_cast<Status>(run(req(1, BlockRequestOp::Write, 0, 8, 0, abi::kBlockFua)).status),
              Status::Unsupported);
    EXPECT_TRUE(dev.history.empty());
}

// ---- retries, timeouts, status mapping ----------------------------------------

TEST_F(BlockEngine, ARetryableFailureGoesAgainOnceThenFails) {
    start();
    consumer.queue(req(1, BlockRequestOp::Read, 2040, 16));
    pass();
    u16 tag = dev.submitted[0].tag;
    dev.complete_all(Status::MediaError, 0x281, true);
    pass();
    ASSERT_EQ(dev.submitted.size(), 1u) << "not submitted again";
    EXPECT_EQ(dev.submitted[0].tag, tag);
    EXPECT_EQ(dev.submitted[0].c.lba, 2040u);
    EXPECT_TRUE(consumer.take().empty());
    dev.complete_all(Status::MediaError, 0x281, true);
    pass();
    EXPECT_TRUE(dev.submitted.empty()) << "a second retry";
    auto got = consumer.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(static_cast<Status>(got[0].status), Status::MediaError);
    EXPECT_EQ(got[0].detail, 0x281u);
    EXPECT_TRUE(host.logged("test: op 1 tag 0 lba 2040: 0x281: submitting it again"));
    EXPECT_TRUE(host.logged("test: op 1 tag 0 lba 2040: 0x281: media-error"));
}

TEST_F(BlockEngine, ARetryThatSucceedsAnswersOk) {
    start();
    consumer.queue(req(1, BlockRequestOp::Write, 0, 8));
    pass();
    dev.complete_all(Status::Busy, 0x21, true);
    pass();
    dev.complete_all();
    pass();
    auto got = consumer.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].status, 0);
    EXPECT_EQ(got[0].detail, 0u);
}

TEST_F(BlockEngine, DeviceStatusesAreMappedToWhatConsumersMayBeTold) {
    start();
    struct Case {
        Status device;
        u32 detail;
        Status want;
    } cases[] = {
        {Status::MediaError, 0x281, Status::MediaError},
        {Status::ReadOnly, 0x20, Status::ReadOnly},
        {Status::NoSpace, 0x81, Status::NoSpace},
        {Status::Ok, 0x7ff, Status::DeviceError},  // a failure naming nothing
        {Status::Stale, 1, Status::DeviceError},   // would read as "the provider restarted"
        {Status::TornDown, 1, Status::DeviceError},
        {Status::Revoked, 1, Status::DeviceError},
    };
    u64 id = 1;
    for (auto& c : cases) {
        consumer.queue(req(id, BlockRequestOp::Read, 0, 1));
        pass();
        dev.complete_all(c.device, c.detail, false);
        pass();
        auto got = consumer.take();
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(static_cast<Status>(got[0].status), c.want) << status_name(c.device);
        EXPECT_EQ(got[0].detail, c.detail);
        id++;
    }
}

TEST_F(BlockEngine, ARefusedBatchFailsItsRequests) {
    start();
    dev.refuse = Status::Forbidden;
    consumer.queue(req(1, BlockRequestOp::Read, 0, 1));
    consumer.queue(req(2, BlockRequestOp::Write, 0, 1));
    dev.refuse = Status::Stale;
    pass();
    auto got = consumer.take();
    ASSERT_EQ(got.size(), 2u);
    for (auto& g : got) EXPECT_EQ(static_cast<Status>(g.status), Status::DeviceError);
    EXPECT_TRUE(host.logged("the device refused a batch of 2: stale"));
    dev.refuse = Status::Ok;
    EXPECT_EQ(run(req(3, BlockRequestOp::Read, 0, 1)).status, 0) << "tags leaked by the refusal";
}

TEST_F(BlockEngine, ATimeoutResetsTheDeviceAndSubmitsAgainOnce) {
    start();
    consumer.queue(req(1, BlockRequestOp::Read, 64, 8));
    consumer.queue(req(2, BlockRequestOp::Read, 128, 8));
    pass();
    ASSERT_EQ(dev.submitted.size(), 2u);
    dev.submitted.clear();  // the device lost them
    host.now += kTimeout + 1;
    pass();
    EXPECT_EQ(dev.resets, 1u);
    ASSERT_EQ(dev.submitted.size(), 2u) << "not submitted again after the reset";
    EXPECT_TRUE(host.logged("resetting the device"));
    EXPECT_TRUE(host.logged("test: device reset done; 2 commands submitted again"));
    // One comes back; the other is lost again and fails Timeout.
    dev.outcomes.push_back({dev.submitted[0].tag, Status::Ok, 0, false});
    dev.submitted.clear();
    pass();
    EXPECT_EQ(consumer.take().size(), 1u);
    host.now += kTimeout + 1;
    pass();
    EXPECT_EQ(dev.resets, 2u);
    pass();  // answers made by check_timeouts() are posted by the next pass
    auto got = consumer.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(static_cast<Status>(got[0].status), Status::Timeout);
    EXPECT_EQ(engine->in_flight(), 0u);
}

// check_timeouts() scans only once the earliest deadline in flight has
// come; a command's deadline is exact (late one nanosecond past it), and
// one queued after the scan computed the earliest is still caught.
TEST_F(BlockEngine, TimeoutDeadlinesAreExactAndFollowTheOldestInFlight) {
    start();
    consumer.queue(req(1, BlockRequestOp::Read, 0, 8));
    pass();
    ASSERT_EQ(dev.submitted.size(), 1u);
    u16 first = dev.submitted[0].tag;
    host.now += kTimeout / 2;
    consumer.queue(req(2, BlockRequestOp::Read, 64, 8));
    pass();
    ASSERT_EQ(dev.submitted.size(), 2u);
    dev.outcomes.push_back({first, Status::Ok, 0, false});  // the first completes, the second is lost
    dev.submitted.clear();
    pass();
    EXPECT_EQ(consumer.take().size(), 1u);
    host.now += kTimeout / 2 + 1;  // past the first's deadline, not the second's
    pass();
    EXPECT_EQ(dev.resets, 0u);
    host.now += kTimeout / 2 - 1;  // exactly the second's deadline
    pass();
    EXPECT_EQ(dev.resets, 0u);
    host.now += 1;
    pass();
    EXPECT_EQ(dev.resets, 1u) << "the second command's timeout was missed";
}

TEST_F(BlockEngine, AFailedResetFailsWhatWasInFlight) {
    start();
    consumer.queue(req(1, BlockRequestOp::Read, 0, 8));
    pass();
    dev.submitted.clear();
    dev.reset_status = Status::Timeout;
    host.now += kTimeout + 1;
    pass();
    pass();
    auto got = consumer.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(static_cast<Status>(got[0].status), Status::Timeout);
}

TEST_F(BlockEngine, OutcomesForTagsNotInFlightAreIgnored) {
    start();
    dev.outcomes.push_back({5, Status::Ok, 0, false});
    dev.outcomes.push_back({9999, Status::Ok, 0, false});
    pass();
    EXPECT_TRUE(consumer.take().empty());
    EXPECT_EQ(run(req(1, BlockRequestOp::Read, 0, 1)).status, 0);
}

// ---- a hostile consumer -------------------------------------------------------

TEST_F(BlockEngine, ARequestTailJumpedAheadClosesOnlyThatChannel) {
    start();
    Consumer other;
    engine->open(1, other.rings.get(), 0x77, kDataBytes);
    consumer.rings->request.tail = 1000;
    other.queue(req(5, BlockRequestOp::Read, 0, 8));
    pass();
    ASSERT_EQ(host.closed.size(), 1u);
    EXPECT_EQ(host.closed[0], "request tail 1000 is not within 128 of head 0");
    EXPECT_EQ(host.released_channels, std::vector<u32>{0});
    EXPECT_FALSE(engine->is_live(0));
    ASSERT_EQ(dev.submitted.size(), 1u) << "the other channel's request";
    EXPECT_EQ(dev.submitted[0].c.buffer, 0x77u);
    dev.complete_all();
    pass();
    EXPECT_EQ(other.take().size(), 1u);
}

TEST_F(BlockEngine, ARequestTailMovedBehindTheHeadClosesTheChannel) {
    start();
    for (u64 i = 0; i < 3; i++) consumer.queue(req(i, BlockRequestOp::Read, 0, 1));
    pass();
    consumer.rings->request.tail = 1;  // behind what the provider took: 2^32 - 2 "ahead"
    pass();
    ASSERT_EQ(host.closed.size(), 1u);
    EXPECT_EQ(host.closed[0], "request tail 1 is not within 128 of head 3");
    EXPECT_EQ(dev.history.size(), 3u) << "a request taken after the breach";
}

TEST_F(BlockEngine, ACompletionHeadOutOfRangeClosesTheChannel) {
    start();
    consumer.queue(req(1, BlockRequestOp::Read, 0, 1));
    pass();
    dev.complete_all();
    consumer.rings->completion.head = 5000;
    pass();
    ASSERT_EQ(host.closed.size(), 1u);
    EXPECT_EQ(host.closed[0], "completion head 5000 is not within 128 behind tail 0");
}

TEST_F(BlockEngine, AChannelClosedWithCommandsInFlightIsReleasedWhenTheyEnd) {
    start();
    consumer.queue(req(1, BlockRequestOp::Read, 0, 8));
    pass();
    engine->close(0, nullptr);
    ASSERT_EQ(host.closed.size(), 1u);
    EXPECT_EQ(host.closed[0], "");
    EXPECT_TRUE(host.released_channels.empty()) << "released while the device may still write its buffer";
    EXPECT_FALSE(engine->is_free(0));
    dev.complete_all();
    pass();
    EXPECT_EQ(host.released_channels, std::vector<u32>{0});
    EXPECT_TRUE(engine->is_free(0));
    u32 posted = consumer.rings->completion.tail;
    EXPECT_EQ(posted, 0u) << "an answer posted into a closed channel";
}

TEST_F(BlockEngine, AnotherChannelsBufferIsOutOfReach) {
    // Channel 1's buffer is small; an offset that would be fine in channel
    // 0's is refused, and every command names the channel's own buffer.
    start();
    Consumer small;
    engine->open(1, small.rings.get(), 0x99, 64 * 1024);
    small.queue(req(1, BlockRequestOp::Read, 0, 8, 512 * 1024));
    small.queue(req(2, BlockRequestOp::Read, 0, 8, 60 * 1024));
    pass();
    ASSERT_EQ(dev.submitted.size(), 1u);
    EXPECT_EQ(dev.submitted[0].c.buffer, 0x99u);
    EXPECT_EQ(dev.submitted[0].c.offset, 60u * 1024);
    dev.complete_all();
    pass();
    auto got = small.take();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(static_cast<Status>(got[0].status), Status::OutOfBounds);
    EXPECT_EQ(got[1].status, 0);
}

TEST_F(BlockEngine, AFloodingChannelLeavesTagsForTheOthers) {
    dev.tags = 16;
    dev.devices[0].max_transfer = 4096;
    start();
    Consumer other;
    engine->open(1, other.rings.get(), 0x77, kDataBytes);
    for (u64 i = 0; i < 100; i++) consumer.queue(req(i, BlockRequestOp::Read, 0, 8));
    pass();
    EXPECT_EQ(dev.submitted.size(), 12u) << "3/4 of the tags";
    other.queue(req(1, BlockRequestOp::Read, 0, 8));
    pass();
    ASSERT_EQ(dev.submitted.size(), 13u);
    EXPECT_EQ(dev.submitted.back().c.buffer, 0x77u);
}

TEST_F(BlockEngine, AConsumerNotTakingAnswersStopsOnlyItself) {
    dev.tags = 256;  // tags are not what stops it here
    start();
    auto fill = [&](u64 base) {
        for (u64 i = 0; i < abi::kBlockRingEntries; i++) consumer.queue(req(base + i, BlockRequestOp::Read, 0, 1));
    };
    fill(0);
    pass();
    dev.complete_all();
    pass();  // 128 answers: its completion ring is full
    fill(1000);
    pass();
    dev.complete_all();
    pass();  // 128 more answered, held: no room for them; every record is taken
    fill(2000);
    pass();
    EXPECT_EQ(engine->in_flight(), 0u) << "requests taken past the records a channel has";
    EXPECT_EQ(consumer.rings->request.head, 2u * abi::kBlockRingEntries);
    EXPECT_TRUE(host.closed.empty());
    // Taking its answers lets it go on, in order.
    auto got = consumer.take();
    ASSERT_EQ(got.size(), abi::kBlockRingEntries);
    EXPECT_EQ(got[0].id, 0u);
    pass();
    got = consumer.take();
    ASSERT_EQ(got.size(), abi::kBlockRingEntries);
    EXPECT_EQ(got[0].id, 1000u);
    pass();
    EXPECT_EQ(engine->in_flight(), abi::kBlockRingEntries);
}

}  // namespace
