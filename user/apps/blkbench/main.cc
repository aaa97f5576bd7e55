// blkbench: drives a BlockDevice (lib/protocol/block.h) and reports what it
// measured. Arguments (space separated key=value, from the manifest's args):
//   dev=nvme0n1     the device (<provider>n<nsid>; the manifest must serve us)
//   mode=randread   randread | randwrite | read | write (sequential) |
//                   verify (write the util/pattern.h pattern over the range
//                   with qd requests in flight, then read it all back and
//                   check every byte)
//   bs=4096 qd=32 seconds=10 lba=0 blocks=0 (0: the whole device) seed=1
//   reattach=1      when the provider says the channel is gone (it died and
//                   devmgr restarted it: BlockOp::Ping answers Stale) or
//                   nothing answers for 2 s, attach again and resubmit
// Prints IOPS, MB/s and mean / p50 / p99 / p99.9 latency, then
// "blkbench: done". Timing is for `make bench`; tests check its counts and
// the bytes it wrote, never its speed.
#include "rt/args.h"
#include "rt/block_client.h"
#include "rt/log.h"
#include "rt/sys.h"
#include "util/pattern.h"

namespace {

struct Options {
    char dev[32] = "nvme0n1";
    char mode[16] = "randread";
    u64 bs = 4096, qd = 32, seconds = 10, lba = 0, blocks = 0, seed = 1;
    bool reattach = false;
};

bool same(const char* a, const char* b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

// Latencies in 1 us buckets up to 200 ms; beyond that one overflow bucket.
constexpr u32 kBuckets = 200000;
u32 g_histogram[kBuckets + 1];
u64 g_samples, g_latency_sum_ns, g_latency_max_ns;

void record(u64 ns) {
    u64 us = ns / 1000;
    g_histogram[us < kBuckets ? us : kBuckets]++;
    g_samples++;
    g_latency_sum_ns += ns;
    if (ns > g_latency_max_ns) g_latency_max_ns = ns;
}

u64 percentile_us(u64 per_mille_x10) {  // 9990 = 99.9%
    if (!g_samples) return 0;
    u64 want = (g_samples * per_mille_x10 + 9999) / 10000;
    u64 seen = 0;
    for (u32 i = 0; i <= kBuckets; i++) {
        seen += g_histogram[i];
        if (seen >= want) return i;
    }
    return kBuckets;
}

u64 g_rng = 0x853c49e6748fea9bull;
u64 next_random() {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

struct Slot {
    bool busy = false;
    u64 lba = 0;
    u64 started = 0;
    bool write = false;
};
constexpr u32 kMaxQd = abi::kBlockRingEntries;
Slot g_slots[kMaxQd];

}  // namespace

int main(u64) {
    const Args args = rt::args();
    Options o;
    args.copy("dev", o.dev, sizeof o.dev);
    args.copy("mode", o.mode, sizeof o.mode);
    o.bs = args.number("bs", o.bs);
    o.qd = args.number("qd", o.qd);
    o.seconds = args.number("seconds", o.seconds);
    o.lba = args.number("lba", o.lba);
    o.blocks = args.number("blocks", o.blocks);
    o.seed = args.number("seed", o.seed);
    o.reattach = args.number("reattach", 0) != 0;
    g_rng ^= o.seed * 0x9E3779B97F4A7C15ull;

    usize dev_len = 0;
    while (o.dev[dev_len]) dev_len++;
    static rt::ServiceInstance instances[8];
    u32 instance_count = rt::open_service_instances(instances, 8);
    auto dev = rt::find_block_device(instances, instance_count, o.dev, dev_len);
    if (!dev.ok()) return rt::log("blkbench: no device %s: %s", o.dev, status_name(dev.status())), 1;
    const abi::BlockInfo info = dev.value().info;
    u64 block = info.block_size;
    bool verify = same(o.mode, "verify");
    bool random = same(o.mode, "randread") || same(o.mode, "randwrite");
    bool writes = same(o.mode, "randwrite") || same(o.mode, "write");
    if (!verify && !random && !same(o.mode, "read") && !same(o.mode, "write"))
        return rt::log("blkbench: unknown mode '%s'", o.mode), 1;
    if (o.bs == 0 || o.bs % block || o.qd == 0 || o.qd > kMaxQd)
        return rt::log("blkbench: bs must be a multiple of %llu, qd 1..%u", static_cast<unsigned long long>(block),
                       kMaxQd),
               1;
    u64 range = o.blocks ? o.blocks : info.blocks - o.lba;
    u64 per_io = o.bs / block;
    if (o.lba + range > info.blocks || range < per_io) return rt::log("blkbench: range outside the device"), 1;
    u64 data_bytes = o.qd * o.bs;
    if (data_bytes > abi::kBlockMaxDataBytes) data_bytes = abi::kBlockMaxDataBytes;
    u64 slots_in_buffer = data_bytes / o.bs;

    rt::BlockClient client(instances[dev.value().instance].endpoint.get());
    if (auto a = client.attach(data_bytes); !a.ok()) return rt::log("blkbench: attach: %s", status_name(a.status())), 1;
    rt::log("blkbench: %s %s bs=%llu qd=%llu %s on %llu blocks of %llu B", o.dev, o.mode,
            static_cast<unsigned long long>(o.bs), static_cast<unsigned long long>(o.qd),
            verify ? "(write then read back)" : "", static_cast<unsigned long long>(range),
            static_cast<unsigned long long>(block));

    u64 ios = 0, errors = 0, mismatches = 0, reattached = 0;
    u64 next_seq = 0;  // sequential / verify: next I/O index in the range
    u64 total_ios = range / per_io;
    int phase = verify ? 0 : 2;  // verify: 0 writing, 1 reading; 2 timed run
    u64 start = rt::clock_ns();
    u64 end = start + o.seconds * 1'000'000'000ull;
    u32 in_flight = 0;
    u64 last_progress = start;

    auto buffer_of = [&](u32 slot) { return (slot % slots_in_buffer) * o.bs; };
    auto submit = [&](u32 slot, u64 lba, bool write) {
        abi::BlockRequest r{};
        r.id = slot;
        r.op = write ? abi::BlockRequestOp::Write : abi::BlockRequestOp::Read;
        r.device = dev.value().index;
        r.lba = lba;
        r.blocks = static_cast<u32>(per_io);
        r.offset = buffer_of(slot);
        if (write && (verify || o.reattach)) util::fill_pattern(o.seed, lba * block, client.data() + r.offset, o.bs);
        g_slots[slot] = Slot{true, lba, rt::clock_ns(), write};
        (void)client.queue(r);
        in_flight++;
    };
    auto more = [&]() {
        if (phase == 2) return rt::clock_ns() < end;
        return next_seq < total_ios;
    };
    for (;;) {
        // Fill the queue.
        bool queued = false;
        for (u32 s = 0; s < o.qd && more(); s++) {
            if (g_slots[s].busy) continue;
            u64 index = random ? next_random() % total_ios : next_seq++ % total_ios;
            bool write = phase == 0 || (phase == 2 && writes);
            submit(s, o.lba + index * per_io, write);
            queued = true;
        }
        if (!in_flight) {
            if (phase == 0) {
                phase = 1;
                next_seq = 0;
                rt::log("blkbench: verify: %llu writes done, reading back", static_cast<unsigned long long>(ios));
                continue;
            }
            break;
        }
        abi::BlockCompletion done[64];
        // The kick for what was just queued goes with the wait (one system
        // call when it blocks).
        auto n = client.wait(done, 64, 2'000'000'000ull, queued);
        u64 now = rt::clock_ns();
        if (!n.ok()) {
            bool stale = n.status() == Status::Stale;  // the provider said the channel is gone
            if (!o.reattach || (!stale && now - last_progress < 2'000'000'000ull)) continue;
            // The provider is gone. Attach to its successor (the endpoint
            // call waits until it serves) and submit what was in flight
            // again.
            rt::log("blkbench: %u requests unanswered (%s); attaching again", in_flight,
                    stale ? "the provider restarted" : "nothing for 2 s");
            (void)client.detach();
            if (auto a = client.attach(data_bytes); !a.ok())
                return rt::log("blkbench: attach again: %s", status_name(a.status())), 1;
            reattached++;
            in_flight = 0;
            for (u32 s = 0; s < o.qd; s++)
                if (g_slots[s].busy) submit(s, g_slots[s].lba, g_slots[s].write);
            client.kick();
            last_progress = rt::clock_ns();
            continue;
        }
        last_progress = now;
        for (u32 i = 0; i < n.value(); i++) {
            u64 slot = done[i].id;
            if (slot >= o.qd || !g_slots[slot].busy) continue;  // a stale answer after reattaching
            Slot& sl = g_slots[slot];
            sl.busy = false;
            in_flight--;
            if (done[i].status) {
                if (errors++ < 5)
                    rt::log("blkbench: %s lba %llu: %s (device status 0x%x)", sl.write ? "write" : "read",
                            static_cast<unsigned long long>(sl.lba), status_name(static_cast<Status>(done[i].status)),
                            done[i].detail);
                continue;
            }
            ios++;
            record(now - sl.started);
            if (phase == 1) {
                u64 bad = util::check_pattern(o.seed, sl.lba * block, client.data() + buffer_of(static_cast<u32>(slot)),
                                              o.bs);
                if (bad != o.bs && mismatches++ < 5)
                    rt::log("blkbench: verify: MISMATCH at lba %llu byte %llu",
                            static_cast<unsigned long long>(sl.lba + bad / block),
                            static_cast<unsigned long long>(bad % block));
            }
        }
    }
    u64 elapsed = rt::clock_ns() - start;
    u64 iops = elapsed ? ios * 1'000'000'000ull / elapsed : 0;
    u64 kib_s = elapsed ? ios * o.bs / 1024 * 1'000'000'000ull / elapsed : 0;
    u64 mean_us = g_samples ? g_latency_sum_ns / g_samples / 1000 : 0;
    rt::log(
        "blkbench: %llu I/Os in %llu ms: %llu IOPS, %llu.%02llu MB/s; latency us mean %llu p50 %llu p99 %llu "
        "p99.9 %llu max %llu",
        static_cast<unsigned long long>(ios), static_cast<unsigned long long>(elapsed / 1'000'000),
        static_cast<unsigned long long>(iops), static_cast<unsigned long long>(kib_s * 1024 / 1'000'000),
        static_cast<unsigned long long>(kib_s * 1024 % 1'000'000 / 10'000), static_cast<unsigned long long>(mean_us),
        static_cast<unsigned long long>(percentile_us(5000)), static_cast<unsigned long long>(percentile_us(9900)),
        static_cast<unsigned long long>(percentile_us(9990)), static_cast<unsigned long long>(g_latency_max_ns / 1000));
    if (verify)
        rt::log("blkbench: verify: %llu requests of %llu B, %llu in flight, %llu mismatches",
                static_cast<unsigned long long>(total_ios), static_cast<unsigned long long>(o.bs),
                static_cast<unsigned long long>(o.qd), static_cast<unsigned long long>(mismatches));
    rt::log("blkbench: done: %llu errors, %llu reattached", static_cast<unsigned long long>(errors),
            static_cast<unsigned long long>(reattached));
    return errors || mismatches ? 1 : 0;
}
