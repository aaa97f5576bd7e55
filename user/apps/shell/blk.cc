#include "blk.h"

#include "rt/block_client.h"
#include "rt/sys.h"
#include "util/format.h"
#include "util/pattern.h"
#include "util/sha256.h"

namespace shell {
namespace {

constexpr u32 kMaxServices = 8;  // provider instances
constexpr u64 kRequestTimeoutNs = 60'000'000'000ull;
constexpr u64 kDataBytes = 1ull << 20;

// One provider instance's service ("nvme0", "nvme0.1", ...) and the
// client the shell keeps attached to it.
struct Service {
    const char* provider;
    rt::BlockClient* client;
};
rt::ServiceInstance g_instances[kMaxServices];
Service g_services[kMaxServices];
u32 g_service_count;
bool g_scanned;
alignas(rt::BlockClient) u8 g_client_storage[kMaxServices][sizeof(rt::BlockClient)];

void scan() {
    if (g_scanned) return;
    g_scanned = true;
    g_service_count = rt::open_service_instances(g_instances, kMaxServices);
    for (u32 i = 0; i < g_service_count; i++)
        g_services[i] =
            Service{g_instances[i].name, new (g_client_storage[i]) rt::BlockClient(g_instances[i].endpoint.get())};
}

struct Device {
    Service* service;
    u32 index;
    abi::BlockInfo info;
};

// Why the last find_device() failed (NotFound: no such device).
Status g_find_status = Status::Ok;

bool find_device(const char* name, usize len, Device* d) {
    scan();
    auto ref = rt::find_block_device(g_instances, g_service_count, name, len);
    g_find_status = ref.status();
    if (!ref.ok()) return false;
    *d = Device{&g_services[ref.value().instance], ref.value().index, ref.value().info};
    return true;
}

bool next_word(const char*& s, usize& len, const char** w, usize* wlen) {
    while (len && *s == ' ') s++, len--;
    *w = s;
    while (len && *s != ' ') s++, len--;
    *wlen = static_cast<usize>(s - *w);
    return *wlen != 0;
}

bool parse_u64(const char* s, usize len, u64* v) {
    if (len == 0 || len > 19) return false;
    u64 x = 0;
    if (len > 2 && s[0] == '0' && s[1] == 'x') {
        for (usize i = 2; i < len; i++) {
            char c = s[i];
            u64 d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 16;
            if (d == 16) return false;
            x = x * 16 + d;
        }
    } else {
        for (usize i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') return false;
            x = x * 10 + static_cast<u64>(s[i] - '0');
        }
    }
    *v = x;
    return true;
}

Status ensure_attached(Service& svc) {
    if (svc.client->attached()) return Status::Ok;
    auto r = svc.client->attach(kDataBytes);
    return r.ok() ? Status::Ok : r.status();
}

// What became of a request: its Status and, when the device failed it,
// the device's own status (opaque: BlockCompletion::detail).
struct Outcome {
    Status status = Status::Ok;
    u32 detail = 0;
    bool ok() const { return status == Status::Ok; }
};

// "media-error (device status 0x281)"; the text lives in a static buffer,
// valid until the next call. The detail means something only to the
// provider (whose log line names it); the Status is what it means here.
const char* describe(const Outcome& o) {
    static char text[64];
    if (!o.detail) return status_name(o.status);
    format(text, sizeof text, "%s (device status 0x%x)", status_name(o.status), o.detail);
    return text;
}

// What find_device() found instead of a device.
void no_device(const char* name, usize len) {
    if (g_find_status == Status::TornDown)
        return out("blk: %.*s: torn-down: its provider has ended for good (devmgr: restart limit reached or revoked)\n",
                   static_cast<int>(len), name);
    if (g_find_status != Status::NotFound)
        return out("blk: %.*s: %s\n", static_cast<int>(len), name, status_name(g_find_status));
    out("blk: no device '%.*s' (try blk list)\n", static_cast<int>(len), name);
}

// devmgr answers for a provider that will not run again (restart limit
// reached, revoked): say so once per command rather than retrying.
void say_ended(const Service& svc) {
    out("blk: %s: the provider has ended for good (devmgr: restart limit reached or revoked)\n", svc.provider);
}

// Runs one request; on a dead channel (the provider restarted: Stale, or
// no answer at all), attaches again and retries once. `prepare(data)` puts
// the request's outgoing bytes into the channel's data buffer before every
// attempt: a new channel has a new, zeroed buffer, so a write resubmitted
// without it would write zeros (issue 13).
template <class Prepare>
Outcome run_request(Service& svc, abi::BlockRequest r, Prepare prepare) {
    static u64 next_id = 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (Status s = ensure_attached(svc); s != Status::Ok) {
            if (s == Status::TornDown) say_ended(svc);
            return {s, 0};
        }
        prepare(svc.client->data());
        r.id = next_id++;
        Outcome o;
        o.status = svc.client->run(r, kRequestTimeoutNs, &o.detail);
        if (o.status == Status::TornDown) say_ended(svc);
        if (o.status != Status::Timeout && o.status != Status::Stale) return o;
        out("blk: %s: %s; attaching again\n", svc.provider,
            o.status == Status::Stale ? "the provider restarted" : "no answer");
        (void)svc.client->detach();
    }
    return {Status::Timeout, 0};
}

Outcome run_request(Service& svc, abi::BlockRequest r) {
    return run_request(svc, r, [](u8*) {});
}

void cmd_list() {
    scan();
    if (!g_service_count) return out("blk: no block service granted (manifest: serve = shell)\n");
    out("  DEVICE       BLOCKS       BLOCK-SIZE SIZE-MIB MAX-XFER-KIB MODEL                SERIAL\n");
    for (u32 i = 0; i < g_service_count; i++) {
        Service& svc = g_services[i];
        for (u32 index = 0;; index++) {  // until Info answers past the last device
            auto info = svc.client->info(index);
            if (!info.ok()) {
                if (index == 0) out("  %s: %s\n", svc.provider, status_name(info.status()));
                break;
            }
            auto id = svc.client->identity(index);
            char dev[48];
            format(dev, sizeof dev, "%sn%u", svc.provider, info.value().unit);
            out("  %-12s %-12llu %-10u %-8llu %-12u %-20s %s\n", dev,
                static_cast<unsigned long long>(info.value().blocks), info.value().block_size,
                static_cast<unsigned long long>((info.value().blocks * info.value().block_size) >> 20),
                info.value().max_transfer >> 10, id.ok() ? id.value().model : "?", id.ok() ? id.value().serial : "?");
        }
    }
}

// Appends `name` to a comma-separated list in `text` (64 bytes; every
// list here fits).
void list_add(char (&text)[64], const char* name) {
    usize at = 0;
    while (text[at]) at++;
    format(text + at, sizeof text - at, "%s%s", at ? "," : "", name);
}

// blk info <dev>: what the device offers as the provider's Info states it
// (BlockInfo::ops and flags, the per-command limits), on one line, so a
// scenario can tell an operation the device has from one it lacks before
// asking for it.
void cmd_info(const char* args, usize len) {
    const char* w;
    usize wl;
    if (!next_word(args, len, &w, &wl)) return out("usage: blk info <dev>\n");
    Device d;
    if (!find_device(w, wl, &d)) return no_device(w, wl);
    const abi::BlockInfo& i = d.info;
    char ops[64] = {}, flags[64] = {};
    if (i.ops & abi::block_op_bit(abi::BlockRequestOp::Read)) list_add(ops, "read");
    if (i.ops & abi::block_op_bit(abi::BlockRequestOp::Write)) list_add(ops, "write");
    if (i.ops & abi::block_op_bit(abi::BlockRequestOp::Flush)) list_add(ops, "flush");
    if (i.ops & abi::block_op_bit(abi::BlockRequestOp::WriteZeroes)) list_add(ops, "write-zeroes");
    if (i.ops & abi::block_op_bit(abi::BlockRequestOp::Discard)) list_add(ops, "discard");
    if (i.flags & abi::kBlockReadOnly) list_add(flags, "read-only");
    if (i.flags & abi::kBlockVolatileCache) list_add(flags, "volatile-cache");
    if (i.flags & abi::kBlockNativeFua) list_add(flags, "native-fua");
    out("info %.*s: ops %s; flags %s; max write-zeroes %u blocks, max discard %u blocks\n", static_cast<int>(wl), w,
        ops[0] ? ops : "none", flags[0] ? flags : "none", i.max_write_zeroes_blocks, i.max_discard_blocks);
}

enum class Mode { Hash, Write, Verify };

void cmd_range(Mode mode, const char* args, usize len) {
    const char* w[4];
    usize wl[4];
    u32 need = mode == Mode::Hash ? 3 : 4;
    for (u32 i = 0; i < need; i++) {
        if (!next_word(args, len, &w[i], &wl[i]))
            return out("usage: blk %s <dev> <lba> <count>%s\n",
                       mode == Mode::Hash    ? "hash"
                       : mode == Mode::Write ? "write-pattern"
                                             : "verify-pattern",
                       mode == Mode::Hash ? "" : " <seed>");
    }
    Device d;
    if (!find_device(w[0], wl[0], &d)) return no_device(w[0], wl[0]);
    u64 lba, count, seed = 0;
    if (!parse_u64(w[1], wl[1], &lba) || !parse_u64(w[2], wl[2], &count) ||
        (mode != Mode::Hash && !parse_u64(w[3], wl[3], &seed)))
        return out("blk: lba, count and seed are numbers (decimal or 0x hex)\n");
    // write-pattern ... fua: every write with Force Unit Access.
    const char* extra;
    usize extra_len;
    u8 flags = 0;
    if (mode == Mode::Write && next_word(args, len, &extra, &extra_len)) {
        if (extra_len != 3 || extra[0] != 'f' || extra[1] != 'u' || extra[2] != 'a')
            return out("blk: write-pattern takes only 'fua' after the seed\n");
        flags = abi::kBlockFua;
    }
    if (Status s = ensure_attached(*d.service); s != Status::Ok) return out("blk: attach: %s\n", status_name(s));
    rt::BlockClient& c = *d.service->client;
    u64 bs = d.info.block_size;
    // Each chunk starts at a different, non-page-aligned place in the data
    // buffer (a multiple of 8 bytes), so transfers cross PRP-list pages at
    // every alignment.
    u64 chunk_max = (c.data_bytes() - 4096) / bs;
    util::Sha256 sha;
    u64 done = 0;
    u32 chunk_index = 0;
    while (done < count) {
        u64 n = count - done < chunk_max ? count - done : chunk_max;
        u64 mem = (u64{chunk_index++} * 1544) % 4096;
        u64 device_byte = (lba + done) * bs;
        abi::BlockRequest r{};
        r.device = d.index;
        r.lba = lba + done;
        r.blocks = static_cast<u32>(n);
        r.offset = mem;
        r.flags = flags;
        r.op = mode == Mode::Write ? abi::BlockRequestOp::Write : abi::BlockRequestOp::Read;
        Outcome o = run_request(*d.service, r, [&](u8* data) {
            if (mode == Mode::Write) util::fill_pattern(seed, device_byte, data + mem, n * bs);
        });
        if (!o.ok())
            return out("blk: %s of %llu blocks at lba %llu: %s\n", mode == Mode::Write ? "write" : "read",
                       static_cast<unsigned long long>(n), static_cast<unsigned long long>(lba + done), describe(o));
        if (mode == Mode::Hash) sha.update(c.data() + mem, n * bs);
        if (mode == Mode::Verify) {
            u64 bad = util::check_pattern(seed, device_byte, c.data() + mem, n * bs);
            if (bad != n * bs)
                return out("verify-pattern: MISMATCH at lba %llu byte %llu\n",
                           static_cast<unsigned long long>(lba + done + bad / bs),
                           static_cast<unsigned long long>(bad % bs));
        }
        done += n;
    }
    if (mode == Mode::Hash) {
        u8 digest[32];
        char hex[65];
        sha.finish(digest);
        util::hex_digest(digest, hex);
        return out("sha256 %s\n", hex);
    }
    out("%s: %llu blocks at lba %llu %s%s\n", mode == Mode::Write ? "write-pattern" : "verify-pattern",
        static_cast<unsigned long long>(count), static_cast<unsigned long long>(lba),
        mode == Mode::Write ? "written" : "match", flags ? " (fua)" : "");
}

// blk zero|discard <dev> <lba> <count>: Write Zeroes / Dataset Management
// (deallocate), when the controller reports them.
void cmd_blocks(abi::BlockRequestOp op, const char* args, usize len) {
    const char* w[3];
    usize wl[3];
    const char* name = op == abi::BlockRequestOp::WriteZeroes ? "zero" : "discard";
    for (u32 i = 0; i < 3; i++)
        if (!next_word(args, len, &w[i], &wl[i])) return out("usage: blk %s <dev> <lba> <count>\n", name);
    Device d;
    if (!find_device(w[0], wl[0], &d)) return no_device(w[0], wl[0]);
    u64 lba, count;
    if (!parse_u64(w[1], wl[1], &lba) || !parse_u64(w[2], wl[2], &count) || count == 0 || count > 0xffffffffu)
        return out("blk: lba and count are numbers; count 1..2^32-1\n");
    abi::BlockRequest r{};
    r.op = op;
    r.device = d.index;
    r.lba = lba;
    r.blocks = static_cast<u32>(count);
    Outcome o = run_request(*d.service, r);
    out("%s: %llu blocks at lba %llu: %s\n", name, static_cast<unsigned long long>(count),
        static_cast<unsigned long long>(lba), o.ok() ? "done" : describe(o));
}

void cmd_flush(const char* args, usize len) {
    const char* w;
    usize wl;
    if (!next_word(args, len, &w, &wl)) return out("usage: blk flush <dev>\n");
    Device d;
    if (!find_device(w, wl, &d)) return no_device(w, wl);
    abi::BlockRequest r{};
    r.op = abi::BlockRequestOp::Flush;
    r.device = d.index;
    Outcome o = run_request(*d.service, r);
    out("flush: %s\n", o.ok() ? "done" : describe(o));
}

}  // namespace

void blk_command(const char* args, usize len) {
    const char* w;
    usize wl;
    if (!next_word(args, len, &w, &wl))
        return out("usage: blk list|info|hash|write-pattern|verify-pattern|flush|zero|discard ...\n");
    auto is = [&](const char* word) {
        usize i = 0;
        for (; i < wl && word[i]; i++)
            if (w[i] != word[i]) return false;
        return i == wl && !word[i];
    };
    if (is("list")) return cmd_list();
    if (is("info")) return cmd_info(args, len);
    if (is("hash")) return cmd_range(Mode::Hash, args, len);
    if (is("write-pattern")) return cmd_range(Mode::Write, args, len);
    if (is("verify-pattern")) return cmd_range(Mode::Verify, args, len);
    if (is("flush")) return cmd_flush(args, len);
    if (is("zero")) return cmd_blocks(abi::BlockRequestOp::WriteZeroes, args, len);
    if (is("discard")) return cmd_blocks(abi::BlockRequestOp::Discard, args, len);
    out("blk: unknown subcommand '%.*s'\n", static_cast<int>(wl), w);
}

}  // namespace shell
