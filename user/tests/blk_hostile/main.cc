// blk_hostile: a hostile consumer of the BlockDevice service
// (lib/protocol/block.h), for the block_hostile scenario. It attacks the NVMe
// provider through everything a consumer can touch — the Attach message,
// the capabilities it holds, the shared rings — while honest consumers
// (the shell, blkbench) keep reading and writing the disk; the scenario
// checks from the host that their bytes are right and that the provider
// never died. One line per attack says what the provider did:
//   small-ring      an Attach handing over its own 4 KiB memory object as
//                   the rings (smaller than kBlockRingBytes): what a
//                   consumer could do when consumers supplied the rings
//   revoke-ring     revokes (then closes) the ring and data capabilities it
//                   holds while requests are in flight (when the rings were
//                   the consumer's, a revoke unmapped them under the
//                   provider)
//   bad-requests    requests with bad ops, devices, offsets, lengths
//   rewrite-slot    a second thread rewrites the request slots while the
//                   provider reads them
//   head-rewrite    moves the provider's request.head back
//   tail-ahead      request.tail far ahead of the head
//   tail-backwards  request.tail moved back past the head
//   completion-head completion.head beyond the completion tail
//   revoke-note     revokes the notification it handed the provider
//   handle-stuffing sends handles with every Ping (they would fill the
//                   provider's capability space), then attaches
//   flood           queues requests without end and never takes a
//                   completion; then holds them (the process stays)
// Arguments: attacks=<comma separated names> (default: all, in this order).
// It reads only (blocks from kPlayground on); it never writes the disk.
#include "protocol/block.h"
#include "protocol/message.h"
#include "rt/args.h"
#include "rt/block_client.h"
#include "rt/log.h"
#include "rt/rights.h"
#include "rt/service.h"
#include "rt/sys.h"
#include "rt/thread.h"

namespace {

constexpr u64 kPlayground = 100000;  // first lba it reads (a 64 MiB disk has 131072)
// The largest buffer every time: a provider that kept the buffers of
// channels it closed would run out of pool before the attacks end.
constexpr u64 kDataBytes = abi::kBlockMaxDataBytes;
u32 g_endpoint;
u32 g_device;

const char* name_of(i32 s) { return status_name(static_cast<Status>(s)); }

abi::BlockRequest read_request(u64 id, u64 lba, u64 offset) {
    abi::BlockRequest r{};
    r.id = id;
    r.op = abi::BlockRequestOp::Read;
    r.device = g_device;
    r.lba = lba;
    r.blocks = 8;
    r.offset = offset;
    return r;
}

// Completions until `want` came or `ns` passed.
u32 collect(rt::BlockClient& c, abi::BlockCompletion* out, u32 want, u64 ns) {
    u32 got = 0;
    u64 deadline = rt::clock_ns() + ns;
    while (got < want) {
        u64 now = rt::clock_ns();
        if (now >= deadline) break;
        auto n = c.wait(out + got, want - got, deadline - now);
        if (!n.ok()) break;
        got += n.value();
    }
    return got;
}

// The provider checks the ring when kicked; a Ping right after a kick may
// be served before that. Ask until the answer is not Ok, for up to 3 s.
const char* ping_until_refused(rt::BlockClient& c) {
    Status s = Status::Ok;
    for (u64 until = rt::clock_ns() + 3'000'000'000ull; rt::clock_ns() < until;) {
        rt::sleep_ns(50'000'000);
        s = c.ping().status();
        if (s != Status::Ok) break;
    }
    return status_name(s);
}

bool attach(rt::BlockClient& c, const char* attack) {
    if (auto a = c.attach(kDataBytes); !a.ok()) {
        rt::log("blk_hostile: %s: attach: %s", attack, status_name(a.status()));
        return false;
    }
    return true;
}

void small_ring() {
    // The Attach a consumer could send when consumers supplied the rings:
    // its own memory object (4 KiB, a quarter of kBlockRingBytes) and a
    // notification.
    auto ring = rt::memory_create(4096);
    auto note = rt::notification_create();
    if (!ring.ok() || !note.ok()) return rt::log("blk_hostile: small-ring: FAILED to create objects");
    auto ring_copy = rt::duplicate(ring.value().get(),
                                   cap_rights::kRead | cap_rights::kWrite | cap_rights::kMap | cap_rights::kTransfer);
    auto note_copy = rt::duplicate(note.value().get(), cap_rights::kSignal | cap_rights::kTransfer);
    if (!ring_copy.ok() || !note_copy.ok()) return rt::log("blk_hostile: small-ring: FAILED to duplicate");
    abi::Message m{};
    abi::put_body(m, abi::BlockAttachRequest{abi::BlockOp::Attach, static_cast<u32>(kDataBytes)});
    m.handle_count = 2;
    m.handles[0] = ring_copy.value().release();
    m.handles[1] = note_copy.value().release();
    Status s = rt::endpoint_call(g_endpoint, m).status();
    if (s == Status::Ok) s = abi::reply_status(m);
    if (s != Status::Ok) {
        for (u32 i = 0; i < m.handle_count; i++) (void)rt::close(m.handles[i]);
        return rt::log("blk_hostile: small-ring: attach with my own 4096-byte ring refused: %s", status_name(s));
    }
    // Accepted: the provider mapped 4 KiB and takes it for 16. One request
    // makes it write a completion past the end.
    u32 provider_note = m.handle_count >= 2 ? m.handles[1] : 0;
    auto at = rt::memory_map(ring.value().get(), 0, abi::kMapWrite);
    if (!at.ok()) return rt::log("blk_hostile: small-ring: FAILED to map");
    auto* rings = reinterpret_cast<abi::BlockRings*>(at.value());
    rings->requests[0] = read_request(1, kPlayground, 0);
    __atomic_store_n(&rings->request.tail, 1u, __ATOMIC_RELEASE);
    (void)rt::notification_signal(provider_note, 1);
    auto bits = rt::notification_wait(note.value().get(), 3'000'000'000ull);
    rt::log("blk_hostile: small-ring: attach with my own 4096-byte ring accepted; answer: %s",
            bits.ok() ? "signalled" : status_name(bits.status()));
}

void revoke_ring() {
    rt::BlockClient c(g_endpoint);
    if (!attach(c, "revoke-ring")) return;
    for (u32 i = 0; i < 4; i++) (void)c.queue(read_request(i + 1, kPlayground + i * 8, i * 4096));
    c.kick();
    // Whatever these capabilities are derived from, revoking them must not
    // reach what the provider itself uses.
    Status ring = rt::revoke(c.ring_handle()).status();
    Status data = rt::revoke(c.data_handle()).status();
    abi::BlockCompletion done[4];
    u32 n = collect(c, done, 4, 3'000'000'000ull);
    u32 ok = 0;
    for (u32 i = 0; i < n; i++) ok += done[i].status == 0;
    // And closing them (the mappings go) is this consumer's loss only.
    (void)rt::close(c.ring_handle());
    (void)rt::close(c.data_handle());
    rt::log("blk_hostile: revoke-ring: revoke ring %s, data %s; %u of 4 requests answered ok; copies closed; ping %s",
            status_name(ring), status_name(data), ok, status_name(c.ping().status()));
}

void bad_requests() {
    rt::BlockClient c(g_endpoint);
    if (!attach(c, "bad-requests")) return;
    auto info = c.info(g_device);
    u64 blocks = info.ok() ? info.value().blocks : 0;
    abi::BlockRequest r[10];
    for (u32 i = 0; i < 10; i++) r[i] = read_request(i + 1, kPlayground, 0);
    r[0].op = static_cast<abi::BlockRequestOp>(0x77);  // no such op
    r[1].device = 999;                                 // no such device
    r[2].offset = kDataBytes;                          // data past the buffer
    r[3].offset = ~0ull - 100;                         // offset + length wraps
    r[4].blocks = 0xffffffffu;                         // far more than the buffer
    r[5].op = abi::BlockRequestOp::WriteZeroes;        // past the device
    r[5].lba = 1ull << 63;
    r[6].offset = 2;                       // not dword aligned
    r[7].op = abi::BlockRequestOp::Write;  // no blocks
    r[7].blocks = 0;
    r[8].lba = blocks - 1;  // runs off the end
    r[8].blocks = 2;
    r[9].op = abi::BlockRequestOp::Discard;  // 2^32-1 blocks
    r[9].lba = 0;
    r[9].blocks = 0xffffffffu;
    for (auto& one : r) (void)c.queue(one);
    c.kick();
    abi::BlockCompletion done[10];
    u32 n = collect(c, done, 10, 5'000'000'000ull);
    i32 by_id[10];
    for (auto& s : by_id) s = 1;  // "unanswered" until a completion names it
    for (u32 i = 0; i < n; i++)
        if (done[i].id >= 1 && done[i].id <= 10) by_id[done[i].id - 1] = done[i].status;
    rt::log("blk_hostile: bad-requests: %u answers: %s %s %s %s %s %s %s %s %s %s", n, name_of(by_id[0]),
            name_of(by_id[1]), name_of(by_id[2]), name_of(by_id[3]), name_of(by_id[4]), name_of(by_id[5]),
            name_of(by_id[6]), name_of(by_id[7]), name_of(by_id[8]), name_of(by_id[9]));
}

// rewrite-slot: while the main thread queues valid reads, this thread
// rewrites every request slot, over and over, alternately with a read
// whose data range lies past the buffer and a valid one.
abi::BlockRings* volatile g_race_rings;
volatile bool g_race_stop;
alignas(16) u8 g_race_stack[16384];

void racer(u64) {
    u32 k = 0;
    while (!g_race_stop) {
        abi::BlockRequest bad = read_request(7, kPlayground, k & 1 ? kDataBytes : 0);
        __builtin_memcpy(const_cast<abi::BlockRequest*>(&g_race_rings->requests[k++ % abi::kBlockRingEntries]), &bad,
                         sizeof bad);
        if (k % 4096 == 0) rt::yield();
    }
}

void rewrite_slot() {
    rt::BlockClient c(g_endpoint);
    if (!attach(c, "rewrite-slot")) return;
    g_race_rings = c.rings();
    g_race_stop = false;
    auto t = rt::thread_create(racer, 0, g_race_stack, sizeof g_race_stack, 16);
    if (!t.ok()) return rt::log("blk_hostile: rewrite-slot: FAILED thread_create: %s", status_name(t.status()));
    constexpr u32 kTotal = 512;
    u32 queued = 0, answered = 0, ok = 0, out_of_bounds = 0, other = 0;
    while (answered < kTotal) {
        while (queued < kTotal && queued - answered < 32 && c.queue(read_request(7, kPlayground, (queued % 16) * 4096)))
            queued++;
        abi::BlockCompletion done[32];
        auto n = c.wait(done, 32, 5'000'000'000ull, true);
        if (!n.ok()) break;
        for (u32 i = 0; i < n.value(); i++) {
            answered++;
            if (done[i].status == 0)
                ok++;
            else if (done[i].status == static_cast<i32>(Status::OutOfBounds))
                out_of_bounds++;
            else
                other++;
        }
    }
    g_race_stop = true;
    rt::sleep_ns(20'000'000);
    rt::log("blk_hostile: rewrite-slot: %u of %u requests answered: %u ok, %u out-of-bounds, %u other", answered,
            kTotal, ok, out_of_bounds, other);
}

void head_rewrite() {
    rt::BlockClient c(g_endpoint);
    if (!attach(c, "head-rewrite")) return;
    abi::BlockCompletion done[128];
    (void)c.queue(read_request(1, kPlayground, 0));
    c.kick();
    u32 first = collect(c, done, 1, 3'000'000'000ull);
    // Tell the provider it has not yet taken the last 100 slots.
    abi::BlockRings* rings = c.rings();
    __atomic_store_n(&rings->request.head, rings->request.tail - 100, __ATOMIC_RELEASE);
    c.kick();
    u32 extra = collect(c, done, 128, 1'000'000'000ull);
    rt::log("blk_hostile: head-rewrite: %u answer(s) to my request, %u to requests I never queued", first, extra);
}

void tail_ahead() {
    rt::BlockClient c(g_endpoint);
    if (!attach(c, "tail-ahead")) return;
    abi::BlockRings* rings = c.rings();
    __atomic_store_n(&rings->request.tail, rings->request.tail + 1000, __ATOMIC_RELEASE);
    c.kick();
    rt::log("blk_hostile: tail-ahead: request tail 1000 past the head; my channel: %s", ping_until_refused(c));
}

void tail_backwards() {
    rt::BlockClient c(g_endpoint);
    if (!attach(c, "tail-backwards")) return;
    abi::BlockCompletion done[3];
    for (u32 i = 0; i < 3; i++) (void)c.queue(read_request(i + 1, kPlayground, i * 4096));
    c.kick();
    u32 n = collect(c, done, 3, 3'000'000'000ull);
    abi::BlockRings* rings = c.rings();
    __atomic_store_n(&rings->request.tail, rings->request.tail - 2, __ATOMIC_RELEASE);
    c.kick();
    rt::log("blk_hostile: tail-backwards: %u answered, then the tail moved back 2; my channel: %s", n,
            ping_until_refused(c));
}

void completion_head() {
    rt::BlockClient c(g_endpoint);
    if (!attach(c, "completion-head")) return;
    abi::BlockRings* rings = c.rings();
    __atomic_store_n(&rings->completion.head, 5000u, __ATOMIC_RELEASE);
    (void)c.queue(read_request(1, kPlayground, 0));
    c.kick();
    rt::log("blk_hostile: completion-head: completion head 5000 past the tail; my channel: %s", ping_until_refused(c));
}

void revoke_note() {
    rt::BlockClient c(g_endpoint);
    if (!attach(c, "revoke-note")) return;
    auto revoked = rt::revoke(c.note_handle());
    (void)c.queue(read_request(1, kPlayground, 0));
    c.kick();
    rt::log("blk_hostile: revoke-note: revoked %s copies of my notification; my channel: %s",
            revoked.ok() ? (revoked.value() ? "the provider's" : "no") : status_name(revoked.status()),
            ping_until_refused(c));
}

void handle_stuffing() {
    u32 sent = 0;
    Status failed = Status::Ok;
    for (u32 i = 0; i < 300 && failed == Status::Ok; i++) {
        abi::Message m{};
        abi::put_body(m, abi::BlockChannelRequest{abi::BlockOp::Ping, 0, 0});
        for (u32 k = 0; k < 4; k++) {
            auto n = rt::notification_create();
            if (!n.ok()) return rt::log("blk_hostile: handle-stuffing: FAILED notification_create");
            m.handles[m.handle_count++] = n.value().release();
        }
        failed = rt::endpoint_call(g_endpoint, m).status();
        if (failed == Status::Ok) sent += 4;
    }
    rt::BlockClient c(g_endpoint);
    rt::log("blk_hostile: handle-stuffing: %u handles sent along with Pings (%s); attach afterwards: %s", sent,
            status_name(failed), status_name(c.attach(kDataBytes).status()));
}

// hog: take every channel the provider has. It keeps kChannelsPerConsumer
// per consumer: each attach past that replaces this consumer's oldest, so
// the others always find one free (the shell attaches later in the run).
void hog() {
    static rt::BlockClient clients[4] = {rt::BlockClient(g_endpoint), rt::BlockClient(g_endpoint),
                                         rt::BlockClient(g_endpoint), rt::BlockClient(g_endpoint)};
    u32 attached = 0, live = 0;
    for (auto& c : clients) attached += c.attach(kDataBytes).ok() ? 1 : 0;
    for (auto& c : clients) live += c.ping().ok() ? 1 : 0;
    rt::log("blk_hostile: hog: attached %u channels, %u still live", attached, live);
}

[[noreturn]] void flood() {
    static rt::BlockClient c(g_endpoint);
    if (attach(c, "flood")) {
        abi::BlockRings* rings = c.rings();
        u64 queued = 0;
        for (u64 until = rt::clock_ns() + 3'000'000'000ull; rt::clock_ns() < until;) {
            bool any = false;
            while (c.queue(read_request(queued, kPlayground + (queued % 64) * 8, (queued % 16) * 4096)))
                queued++, any = true;
            if (any) c.kick();
            rt::sleep_ns(10'000'000);
        }
        rt::log("blk_hostile: flood: the provider took %u of my requests and answered %u; holding them",
                __atomic_load_n(&rings->request.head, __ATOMIC_ACQUIRE),
                __atomic_load_n(&rings->completion.tail, __ATOMIC_ACQUIRE));
    }
    rt::log("blk_hostile: holding");
    for (;;) rt::sleep_ns(1'000'000'000ull);
}

struct Attack {
    const char* name;
    void (*run)();
};
constexpr Attack kAttacks[] = {
    {"small-ring", small_ring},
    {"revoke-ring", revoke_ring},
    {"bad-requests", bad_requests},
    {"rewrite-slot", rewrite_slot},
    {"head-rewrite", head_rewrite},
    {"tail-ahead", tail_ahead},
    {"tail-backwards", tail_backwards},
    {"completion-head", completion_head},
    {"revoke-note", revoke_note},
    {"handle-stuffing", handle_stuffing},
    {"hog", hog},
};

// Is `name` in the comma separated list after "attacks=" (or is there no list)?
bool chosen(const char* name) {
    Args::Value list;
    if (!rt::args().find("attacks", &list)) return true;
    usize len = 0;
    while (name[len]) len++;
    for (const char *p = list.text, *stop = list.text + list.len; p < stop;) {
        const char* end = p;
        while (end < stop && *end != ',') end++;
        if (static_cast<usize>(end - p) == len && __builtin_memcmp(p, name, len) == 0) return true;
        p = end < stop ? end + 1 : end;
    }
    return false;
}

}  // namespace

int main(u64) {
    static rt::ServiceInstance instances[1];
    if (rt::open_service_instances(instances, 1) != 1) return rt::log("blk_hostile: FAILED: no block service"), 1;
    g_endpoint = instances[0].endpoint.get();
    g_device = 0;
    rt::log("blk_hostile: attacking %s", instances[0].name);
    for (const Attack& a : kAttacks)
        if (chosen(a.name)) a.run();
    if (chosen("flood")) flood();
    rt::log("blk_hostile: done");
    return 0;
}
