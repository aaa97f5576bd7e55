// The NetDevice service (DESIGN §6): how a network stack named by a NIC
// provider's `serve` lines sends and receives Ethernet frames.
//
// Control goes over the provider's service endpoint, found through the
// service directory as for BlockDevice (lib/protocol/service.h): Info
// describes the interface, Attach sets up the channel, Detach ends it,
// Ping asks whether it is still live. The data path needs no IPC (sDDF's
// shape): four single-producer single-consumer rings of buffer
// descriptors in one memory object, and the frames themselves in one
// packet DmaBuffer the device reads and writes directly — nothing is
// copied between the device and the client.
//
// Buffers: the packet DmaBuffer is `buffer_count` slots of `buffer_bytes`
// each; a descriptor names a slot by its byte offset (a multiple of
// buffer_bytes) and a frame in it starting at the slot's first byte.
// Every slot has one holder at a time. The client holds none at Attach:
// the provider hands it each empty slot through tx_done (length 0) right
// after the reply, and each slot the device still holds (from an earlier
// channel) through rx_used or tx_done when the device gives it back — so
// a client reattaching after a Detach, its own end or a closed channel
// never has to guess which slots are free. The client lends slots to the
// provider, and the provider gives each back exactly once:
//   rx_free  client -> provider: an empty slot to receive into
//   rx_used  provider -> client: a slot holding a received frame
//   tx_ready client -> provider: a slot holding a frame to send
//   tx_done  provider -> client: a sent (or dropped) slot, empty again
// The device's own framing (virtio-net's header) never lives in these
// slots: the provider keeps it in memory of its own, so the client can
// neither read nor forge it.
//
// What the provider trusts of the client: nothing (lib/net/provider_channel.h,
// the ring library's rules). Each descriptor is copied out once and
// checked: a slot offset inside the buffer and on a slot boundary, a
// transmit length from an Ethernet header to mtu + 14, and the slot the
// client's own right now (not lent already: a double return, or a slot
// the device holds). Any violation — or an index that moves back or runs
// ahead — closes the client's channel, logged against it; the provider
// takes its slots back from the device as they complete and keeps
// serving.
//
// One client at a time: a second Attach while a channel is live is
// refused Busy (the first client's Detach, or its end, frees it).
#pragma once

// A protocol between user processes (lib/protocol/), not the kernel's ABI.
#ifdef SLUICE_KERNEL
#error "lib/protocol/ is spoken between user processes: the kernel has no business including it"
#endif

#include <stddef.h>

#include "ring/spsc_ring.h"
#include "util/status.h"
#include "util/types.h"

namespace abi {

// Requests: data[0..4] is always the NetOp (distinct from BlockOp's
// values, so a request sent to the wrong kind of provider is refused
// InvalidArgument rather than misread).
enum class NetOp : u32 {
    Info = 0x4e44'0001,  // NetOpRequest -> NetInfo
    // Attach: NetOpRequest; handles[0] = a notification the provider
    // signals after publishing rx_used or tx_done entries while the client
    // sleeps (NetRings::client_awake) (signal|transfer), the only handle.
    // Reply: NetAttachReply; handles[0] = the ring memory object
    // (kNetRingBytes, NetRings, read|write|map), handles[1] = the packet
    // DmaBuffer (read|write|map), handles[2] = the notification the client
    // signals after publishing rx_free or tx_ready entries while the
    // provider sleeps (NetRings::provider_awake). All
    // three are copies derived from the provider's own. A refusal is a
    // NetStatusReply: Busy while another channel is live.
    Attach = 0x4e44'0002,
    // Detach: NetChannelRequest -> NetStatusReply (Stale when the channel
    // is not this provider's live one). The client's copies are revoked at
    // once; slots the device holds come back to the provider as it
    // completes them.
    Detach = 0x4e44'0003,
    // Ping: NetChannelRequest -> NetStatusReply: Ok while the channel is
    // live at this provider, Stale when not (the provider that had it
    // died, or closed it: attach again).
    Ping = 0x4e44'0004,
};

struct NetOpRequest {  // Info, Attach
    NetOp op;
    u32 reserved;
};
static_assert(sizeof(NetOpRequest) == 8);

constexpr u32 kNetMacBytes = 6;

struct NetInfo {
    Status status;  // Ok
    u8 mac[kNetMacBytes];
    u16 mtu;           // IP MTU: a frame is at most mtu + 14 bytes
    u32 link_up;       // 1 up, 0 down (as of this call; NetRings::link follows it)
    u32 buffer_bytes;  // per slot
    u32 buffer_count;  // slots in a channel's packet buffer
    u64 generation;    // the provider process's (as Attach says)
};
static_assert(sizeof(NetInfo) == 32 && offsetof(NetInfo, mac) == 4 && offsetof(NetInfo, mtu) == 10 &&
              offsetof(NetInfo, link_up) == 12 && offsetof(NetInfo, generation) == 24);

struct NetAttachReply {
    Status status;
    u32 channel;  // opaque: names this attach, not only the slot
    u32 buffer_bytes;
    u32 buffer_count;
    // The provider's generation: differs for every provider process, so a
    // restarted one never takes an old channel for its own.
    u64 generation;
};
static_assert(sizeof(NetAttachReply) == 24 && offsetof(NetAttachReply, buffer_count) == 12 &&
              offsetof(NetAttachReply, generation) == 16);

struct NetChannelRequest {  // Detach, Ping
    NetOp op;
    u32 channel;
    u64 generation;
};
static_assert(sizeof(NetChannelRequest) == 16 && offsetof(NetChannelRequest, generation) == 8);

struct NetStatusReply {  // Detach, Ping, refusals (an unknown op: InvalidArgument)
    Status status;
};
static_assert(sizeof(NetStatusReply) == 4);

// One buffer descriptor: a slot (by its byte offset in the packet buffer)
// and the frame's length in it. rx_free: length is ignored (the slot is
// whole); rx_used, tx_ready: the frame's bytes from the slot's start;
// tx_done: 0 sent, else the Status it was dropped with.
struct NetBuffer {
    u32 offset;
    u32 length;
};
static_assert(sizeof(NetBuffer) == 8);

constexpr u32 kNetRingEntries = 256;
constexpr u32 kNetBufferBytes = 2048;  // a frame of mtu 1500 (1514 bytes) and room to spare
constexpr u32 kNetBufferCount = 256;   // <= kNetRingEntries: every ring holds every slot at once
static_assert(kNetBufferCount <= kNetRingEntries);
constexpr u32 kNetMinFrame = 14;  // an Ethernet header (no FCS: the device adds it)

using NetRing = ring::Ring<NetBuffer, kNetRingEntries>;

// The ring memory object. Each ring has one producer and one consumer as
// above; `link` is the provider's alone (1 up, 0 down, bumped in the high
// bits at every change so a client can tell a flap it missed), written
// before the client's notification is signalled. The provider never reads
// anything back from the client's side but the indices it checks.
//
// Notify-needed words (sDDF's "signal required"), one per direction. A
// consumer says whether it is awake: while `client_awake` is 1 the client
// looks at rx_used and tx_done by itself and the provider does not signal
// it; before it sleeps it writes a token for this sleep (any other value,
// new each time), then (after a full fence) looks at both rings again — so
// an entry published meanwhile is either seen by that look or followed by
// a signal, because the provider publishes, fences, then reads the word.
// The producer signals once per token: a sleeper already told (the signal
// is pending, or woke it) is not told again until it sleeps anew.
// `provider_awake` is the same for rx_free, tx_ready and the client's
// kick. 0 is no token: fresh ring memory (a side that never writes its
// word) is signalled at every publish. Each word is written by its side
// only and read by the other, which trusts it for nothing but whether to
// signal: a peer that says it is awake while it sleeps, or keeps one token,
// misses its own signals; one that writes 0 is signalled once per publish,
// as it could be anyway by kicking.
struct NetRings {
    NetRing rx_free;   // client produces
    NetRing rx_used;   // provider produces
    NetRing tx_ready;  // client produces
    NetRing tx_done;   // provider produces
    alignas(64) u32 link;
    alignas(64) u32 client_awake;    // the client's: 1 awake, else its sleep token (0: none)
    alignas(64) u32 provider_awake;  // the provider's: likewise
};
constexpr u64 kNetRingBytes = 12288;
static_assert(sizeof(NetRings) <= kNetRingBytes);
static_assert(offsetof(NetRings, rx_used) == sizeof(NetRing) && offsetof(NetRings, tx_done) == 3 * sizeof(NetRing));
static_assert(offsetof(NetRings, client_awake) == offsetof(NetRings, link) + 64 &&
              offsetof(NetRings, provider_awake) == offsetof(NetRings, link) + 128);
// The handshake on those words, both sides alike. Going to sleep: write
// the next token to the own word (`sleeps` counts them: 2, 4, ... never 0
// or 1), then fence before looking at the peer's tails again. Awake again:
// write 1 (no fence: an extra signal is harmless). After publishing:
// net_signal_needed fences (the tails before the word) and says whether to
// signal; `told` is the token last signalled.
constexpr u32 kNetAwake = 1;
inline void net_going_to_sleep(u32* own, u32& sleeps) {
    sleeps += 2;
    if (sleeps < 2) sleeps = 2;  // wrapped
    __atomic_store_n(own, sleeps, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
inline void net_awake(u32* own) { __atomic_store_n(own, kNetAwake, __ATOMIC_RELAXED); }
inline bool net_signal_needed(const u32* peer, u32& told) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    u32 word = __atomic_load_n(peer, __ATOMIC_RELAXED);
    if (word == kNetAwake || (word != 0 && word == told)) return false;
    told = word;
    return true;
}

constexpr u32 kNetLinkUp = 1;
constexpr u32 kNetLinkChangeShift = 8;  // link >> this: how many changes the provider has seen

}  // namespace abi
