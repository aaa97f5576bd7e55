// What a virtio network device offers, decided from what it says (virtio
// 1.1 §5.1): the features the driver takes, its MAC, MTU and link, and
// the check of every received packet's header and length against the
// buffer it was put in. Pure: the provider reads the registers, config
// bytes and used entries and hands them here, so every rule is
// unit-tested against devices that say odd things.
//
// Never trusting the device: the MAC, MTU and status come from
// device-writable configuration space, and an RX used entry's length from
// the device's used ring. A value the spec does not allow (a multicast or
// zero MAC, an MTU below 68) makes the device Malformed; a packet whose
// length or header is impossible for the buffer it was given is refused
// on its own (the buffer goes back to the device, nothing reaches the
// client).
#pragma once

#include "util/result.h"
#include "util/types.h"
#include "virtio/net_layout.h"

namespace virtio::net {

// The features this driver implements and takes when offered: VERSION_1
// (required: modern layout, 12-byte header), MAC, STATUS, MTU, and of the
// ring's, event indexes (the kernel's virtqueue broker honours them; they
// batch notifications both ways), and ACCESS_PLATFORM (the device goes
// through the IOMMU, where the kernel maps each DMA range at its own
// address: see virtio::blk::driver_features). Everything else — checksum and
// segmentation offloads, MRG_RXBUF, multiqueue, the control queue — is
// refused by not being taken: every packet is whole in one buffer, with a
// zero header.
u64 driver_features();

// The device as the NetDevice service reports it.
struct Device {
    u64 features;     // to write as the driver features
    u8 mac[6];        // the device's (MAC), else the fallback given
    bool device_mac;  // whether mac came from the device
    u16 mtu;          // IP MTU: frames are at most mtu + 14 bytes
    bool has_status;  // STATUS negotiated: link state is the device's
};

// Feature negotiation (§3.1.1 step 4, which lets the driver read the
// configuration before accepting) and what follows from the configuration.
// `max_mtu`: the largest IP MTU the driver's buffers carry (a buffer holds
// a Header, an Ethernet header and max_mtu bytes); at least kDefaultMtu,
// since a device without MTU may send that much (§5.1.6.3.1).
// `fallback_mac`: used without MAC (§5.1.5: the driver picks one; a
// locally administered unicast address).
//   Unsupported      no VERSION_1
//   Malformed        MAC offered with a multicast or all-zero address, MTU
//                    offered below 68
//   InvalidArgument  max_mtu below kDefaultMtu, or a fallback MAC that is not
//                    locally administered unicast
// A device MTU above max_mtu is not an error: MTU is not taken and the
// device keeps to 1500 (§5.1.4.2 lets the driver decline it).
Result<Device> negotiate(u64 offered, const Config& config, u16 max_mtu, const u8 (&fallback_mac)[6]);

// Link state from config.status: up unless STATUS was negotiated and the
// device says down (§5.1.4: without STATUS the link is assumed up).
bool link_up(const Device& device, u16 status);

// A received packet (§5.1.6.4): `used_len` is what the device's used entry
// says it wrote into a buffer of `buffer_len` bytes, whose first bytes are
// `header` (copied out once by the caller). Returns the Ethernet frame's
// length (header excluded).
//   OutOfBounds  used_len past the buffer (a used-ring lie)
//   Truncated    shorter than a Header and an Ethernet header
//   Malformed    a header this driver never allowed: a GSO type (no
//                GUEST_TSO/UFO), NEEDS_CSUM or RSC_INFO (no GUEST_CSUM, no
//                RSC_EXT). num_buffers is not looked at: without MRG_RXBUF it
//                means nothing here (QEMU writes only the first 10 bytes then,
//                leaving whatever the buffer held).
//   InvalidArgument  a frame longer than mtu + 14
Result<u32> rx_frame_length(const Header& header, u32 used_len, u32 buffer_len, u16 mtu);

}  // namespace virtio::net
