// The virtio network device's layouts (virtio 1.1 §5.1): its feature bits,
// its configuration structure (device-specific configuration, cfg_type 4)
// and the header that precedes every packet on both queues.
#pragma once

#include <stddef.h>

#include "util/types.h"

namespace virtio::net {

// §5.1.3 feature bits (bit numbers). Only those the driver decides about
// are named; the rest are refused by not being taken (net_device.h).
namespace feature {
constexpr u32 kCsum = 0;       // device checksums partial TX packets
constexpr u32 kGuestCsum = 1;  // driver handles partial RX checksums
constexpr u32 kCtrlGuestOffloads = 2;
constexpr u32 kMtu = 3;  // config.mtu is valid
constexpr u32 kMac = 5;  // config.mac is valid
constexpr u32 kGuestTso4 = 7;
constexpr u32 kGuestTso6 = 8;
constexpr u32 kGuestEcn = 9;
constexpr u32 kGuestUfo = 10;
constexpr u32 kHostTso4 = 11;
constexpr u32 kHostTso6 = 12;
constexpr u32 kHostEcn = 13;
constexpr u32 kHostUfo = 14;
constexpr u32 kMrgRxbuf = 15;  // RX packets may span several buffers (num_buffers)
constexpr u32 kStatus = 16;    // config.status is valid
constexpr u32 kCtrlVq = 17;
constexpr u32 kCtrlRx = 18;
constexpr u32 kCtrlVlan = 19;
constexpr u32 kGuestAnnounce = 21;
constexpr u32 kMq = 22;  // config.max_virtqueue_pairs is valid
constexpr u32 kCtrlMacAddr = 23;
constexpr u32 kHashReport = 57;  // RX headers carry hash_value, hash_report (the 20-byte header)
constexpr u32 kRscExt = 61;
constexpr u32 kStandby = 62;
constexpr u32 kSpeedDuplex = 63;  // config.speed and duplex are valid
}  // namespace feature

// §5.1.4 config.status bits.
constexpr u16 kStatusLinkUp = 1;
constexpr u16 kStatusAnnounce = 2;

// §5.1.4 struct virtio_net_config: every field exists whatever was
// negotiated, and means something only with its feature. Little-endian.
struct Config {
    u8 mac[6];                // MAC
    u16 status;               // STATUS: kStatusLinkUp | kStatusAnnounce
    u16 max_virtqueue_pairs;  // MQ
    u16 mtu;                  // MTU: the largest IP packet the device takes and sends
    u32 speed;                // SPEED_DUPLEX: Mbit/s, 0xffffffff unknown
    u8 duplex;                // SPEED_DUPLEX: 1 full, 0 half, 0xff unknown
    u8 unused[3];
};
static_assert(offsetof(Config, status) == 6);
static_assert(offsetof(Config, max_virtqueue_pairs) == 8);
static_assert(offsetof(Config, mtu) == 10);
static_assert(offsetof(Config, speed) == 12);
static_assert(offsetof(Config, duplex) == 16);
static_assert(sizeof(Config) == 20);  // 17 bytes the device defines, padded

// §5.1.6 struct virtio_net_hdr, as VERSION_1 lays it out (num_buffers is
// always there: 12 bytes, whether or not MRG_RXBUF is negotiated,
// §5.1.6.1). It is the first thing in every RX and TX buffer.
struct Header {
    u8 flags;     // kHeaderNeedsCsum | kHeaderDataValid | kHeaderRscInfo
    u8 gso_type;  // kGso*
    u16 hdr_len;
    u16 gso_size;
    u16 csum_start;
    u16 csum_offset;
    u16 num_buffers;  // RX: buffers this packet spans (1 without MRG_RXBUF); TX: 0
};
static_assert(sizeof(Header) == 12);
static_assert(offsetof(Header, hdr_len) == 2 && offsetof(Header, csum_start) == 6 &&
              offsetof(Header, num_buffers) == 10);

// The bytes of virtio_net_hdr at the start of every buffer on a receive or
// transmit queue, under the negotiated `features` (§5.1.6): 12 (Header),
// or 20 with HASH_REPORT (hash_value, hash_report, padding). A legacy
// device without MRG_RXBUF uses 10; 12 covers it. The device reads (TX)
// or writes (RX) this many bytes before the frame whatever the chain is:
// QEMU 7.2 asserts (iov_copy, iov_from_buf_full), killing the whole VM,
// when a chain is shorter.
constexpr u32 header_bytes(u64 features) { return (features >> feature::kHashReport) & 1 ? 20 : 12; }

constexpr u8 kHeaderNeedsCsum = 1;
constexpr u8 kHeaderDataValid = 2;
constexpr u8 kHeaderRscInfo = 4;
constexpr u8 kGsoNone = 0;
constexpr u8 kGsoTcpv4 = 1;
constexpr u8 kGsoUdp = 3;
constexpr u8 kGsoTcpv6 = 4;
constexpr u8 kGsoEcn = 0x80;

// §5.1.2 queue indices: receiveq1, transmitq1 (controlq only with CTRL_VQ).
constexpr u16 kRxQueue = 0;
constexpr u16 kTxQueue = 1;

constexpr u32 kEthernetHeader = 14;  // destination, source, EtherType (no FCS, no VLAN tag)
constexpr u16 kMinMtu = 68;          // §5.1.4.1: a device offering MTU sets at least this (RFC 791)
constexpr u16 kDefaultMtu = 1500;    // what a device assumes without MTU (§5.1.6.3.1: 1526-byte buffers)

}  // namespace virtio::net
