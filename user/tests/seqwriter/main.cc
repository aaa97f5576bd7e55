// seqwriter: one consumer of the "zero lost acknowledged writes" test
// (issue 13; docs/testing.md). It writes its range of a BlockDevice again
// and again, one self-checking record (record.h) per `bs` bytes, the pass
// number in every record, while the provider is killed under it. Each pass
// ends only when every record of it was acknowledged. Everything not yet
// acknowledged is kept ready to be sent again: when the provider says the
// channel is gone (Stale; asked after 200 ms of silence), seqwriter attaches
// again and resubmits it, its record made again in the new channel's
// buffer (a new channel's buffer starts zeroed). At the end it prints what
// was acknowledged; the harness ([[record_checks]], scripts/harness/
// records.py) then reads the image and checks every record.
// Arguments:
//   dev=nvme0n1 id=1   the device and this consumer's id (in every record)
//   lba=0 records=256 bs=4096 qd=8   the range: `records` records of bs bytes
//   seconds=20         start no new pass after this long (at least 2 passes)
//   lie=K              TEST ONLY: never write record K, yet count it as
//                      acknowledged (shows the host check fails)
// Prints, last:
//   seqwriter: consumer <id> on <dev>: <P> passes over <N> records of <bs> B
//   at byte <offset> acknowledged, <E> errors, <R> reattached
#include "record.h"
#include "rt/args.h"
#include "rt/block_client.h"
#include "rt/log.h"
#include "rt/sys.h"

namespace {

using ull = unsigned long long;

constexpr u32 kMaxQd = 32;
// Silence this long makes seqwriter ask the provider whether the channel
// is still there (sooner than BlockClient::wait's own check, so a kill is
// noticed, and the next one lands, while writes are in flight); a live
// provider that answers nothing for kNoAnswerNs is an error.
constexpr u64 kPingAfterNs = 200'000'000ull;
constexpr u64 kNoAnswerNs = 20'000'000'000ull;
constexpr u32 kMaxAttaches = 1000;

struct Slot {
    bool busy = false;
    u64 index = 0;  // the record it writes
};

}  // namespace

int main(u64) {
    const Args args = rt::args();
    char dev[32] = "nvme0n1";
    args.copy("dev", dev, sizeof dev);
    const u64 id = args.number("id", 1), first_lba = args.number("lba", 0), records = args.number("records", 256);
    const u64 bs = args.number("bs", 4096), qd = args.number("qd", 8), seconds = args.number("seconds", 20);
    const u64 lie = args.number("lie", ~0ull);

    usize dev_len = 0;
    while (dev[dev_len]) dev_len++;
    static rt::ServiceInstance instances[8];
    u32 instance_count = rt::open_service_instances(instances, 8);
    auto ref = rt::find_block_device(instances, instance_count, dev, dev_len);
    if (!ref.ok()) return rt::log("seqwriter: no device %s: %s", dev, status_name(ref.status())), 1;
    const abi::BlockInfo info = ref.value().info;
    const u64 block = info.block_size;
    if (!block || bs < 64 || bs % block || bs % 8 || !qd || qd > kMaxQd || qd * bs > abi::kBlockMaxDataBytes ||
        !records || first_lba + records * (bs / block) > info.blocks)
        return rt::log("seqwriter: bad arguments for %s (blocks of %llu B)", dev, static_cast<ull>(block)), 1;
    const u64 per_record = bs / block;

    rt::BlockClient client(instances[ref.value().instance].endpoint.get());
    if (auto a = client.attach(qd * bs); !a.ok()) return rt::log("seqwriter: attach: %s", status_name(a.status())), 1;
    rt::log("seqwriter: consumer %llu writing %llu records of %llu B at lba %llu of %s, %llu in flight",
            static_cast<ull>(id), static_cast<ull>(records), static_cast<ull>(bs), static_cast<ull>(first_lba), dev,
            static_cast<ull>(qd));

    Slot slots[kMaxQd];
    u64 errors = 0, reattached = 0, passes = 0;
    bool failed = false;
    // Queues slot s's record of `pass` (made again in the buffer: after a
    // new attach the buffer is a new, zeroed one).
    auto submit = [&](u32 s, u64 pass) {
        abi::BlockRequest r{};
        r.id = s;
        r.op = abi::BlockRequestOp::Write;
        r.device = ref.value().index;
        r.lba = first_lba + slots[s].index * per_record;
        r.blocks = static_cast<u32>(per_record);
        r.offset = s * bs;
        seqwriter::fill_record(client.data() + r.offset, bs, id, slots[s].index, pass, r.lba * block);
        (void)client.queue(r);  // qd <= kBlockRingEntries: never full
    };
    const u64 end = rt::clock_ns() + seconds * 1'000'000'000ull;
    for (u64 pass = 1; !failed && (pass <= 2 || rt::clock_ns() < end); pass++) {
        u64 next = 0, acked = 0;
        u64 last_progress = rt::clock_ns();
        while (acked < records && !failed) {
            bool queued = false;
            for (u32 s = 0; s < qd && next < records; s++) {
                if (slots[s].busy) continue;
                if (next == lie) {  // the test-only lie: acknowledged, never written
                    next++, acked++;
                    continue;
                }
                slots[s] = Slot{true, next++};
                submit(s, pass);
                queued = true;
            }
            if (acked == records) break;
            abi::BlockCompletion done[kMaxQd];
            auto n = client.wait(done, kMaxQd, kPingAfterNs, queued);
            u64 now = rt::clock_ns();
            if (!n.ok()) {
                // Silence: is the channel still there? (The call waits
                // until a provider serves; a successor answers Stale.)
                Status s = n.status() == Status::Timeout ? client.ping().status() : n.status();
                if (s == Status::Ok && now - last_progress < kNoAnswerNs) continue;
                if (s != Status::Stale) {
                    errors++;
                    rt::log("seqwriter: consumer %llu: %s", static_cast<ull>(id),
                            s == Status::Ok ? "a live provider answered nothing for 20 s" : status_name(s));
                }
                // The provider is gone (or silent): attach to its successor
                // (the call waits until one serves) and send again
                // everything not acknowledged.
                (void)client.detach();
                auto a = client.attach(qd * bs);
                for (u32 tries = 1; !a.ok() && tries < kMaxAttaches; tries++) {
                    rt::sleep_ns(10'000'000);
                    a = client.attach(qd * bs);
                }
                if (!a.ok()) {
                    errors++;
                    failed = true;
                    rt::log("seqwriter: consumer %llu: attach again: %s", static_cast<ull>(id),
                            status_name(a.status()));
                    break;
                }
                reattached++;
                for (u32 s = 0; s < qd; s++)
                    if (slots[s].busy) submit(s, pass);
                client.kick();
                last_progress = rt::clock_ns();
                continue;
            }
            last_progress = now;
            for (u32 i = 0; i < n.value(); i++) {
                u64 s = done[i].id;
                if (s >= qd || !slots[s].busy) {
                    errors++;
                    rt::log("seqwriter: consumer %llu: a completion for id %llu, not in flight", static_cast<ull>(id),
                            static_cast<ull>(s));
                    continue;
                }
                if (done[i].status) {
                    // Sent again below; the run still fails (errors > 0).
                    if (errors++ < 5)
                        rt::log("seqwriter: consumer %llu: record %llu: %s (device status 0x%x)", static_cast<ull>(id),
                                static_cast<ull>(slots[s].index), status_name(static_cast<Status>(done[i].status)),
                                done[i].detail);
                    if (errors > 100) {
                        failed = true;
                        break;
                    }
                    submit(static_cast<u32>(s), pass);
                    client.kick();
                    continue;
                }
                slots[s].busy = false;
                acked++;
            }
        }
        if (!failed) passes = pass;
    }
    rt::log(
        "seqwriter: consumer %llu on %s: %llu passes over %llu records of %llu B at byte %llu acknowledged, "
        "%llu errors, %llu reattached",
        static_cast<ull>(id), dev, static_cast<ull>(passes), static_cast<ull>(records), static_cast<ull>(bs),
        static_cast<ull>(first_lba * block), static_cast<ull>(errors), static_cast<ull>(reattached));
    return errors ? 1 : 0;
}
