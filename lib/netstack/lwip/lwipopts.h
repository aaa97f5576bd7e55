// lwIP's configuration for Sluice's netstack (lwIP 2.1.3, src/include/lwip/
// opt.h documents every option; anything not set here keeps its default).
// One process runs the stack, single-threaded, driving it from its poll
// loop (lib/netstack/stack.h): the raw API only.
#pragma once

// --- System: no OS layer -------------------------------------------------
// NO_SYS: lwIP runs inside our poll loop, called from one thread only; no
// threads, semaphores or mailboxes (and so no tcpip thread). Timers are
// driven by sys_check_timeouts() from the same loop, reading sys_now().
#define NO_SYS 1
// One thread calls lwIP and nothing interrupts it: no critical sections.
#define SYS_LIGHTWEIGHT_PROT 0
// The sequential APIs need threads (NO_SYS forbids them); applications get
// sockets from the netstack's own socket service instead (docs/netstack.md).
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_NETIF_API 0

// --- Memory ----------------------------------------------------------------
// lwIP's own heap (mem.c) and pools (memp.c), static arrays in the
// process's .bss: no malloc at all, and a fixed, known footprint.
#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
// x86_64: 8 keeps every u64 and pointer in a pbuf or pool element aligned.
#define MEM_ALIGNMENT 8
// The heap holds PBUF_RAM pbufs: TCP's unacknowledged send data (copied in
// by tcp_write) and the replies lwIP builds. 512 KiB is several
// connections' full send buffers (TCP_SND_BUF below, 46 KiB each).
#define MEM_SIZE (512 * 1024)
// PBUF_POOL pbufs hold every received frame: the netif copies each one out
// of the provider's buffer into one (lib/netstack/netif.h says why), and
// lwIP keeps them as long as it needs (out-of-order TCP segments, IP
// fragments, data the socket service has not yet moved into a client's
// ring). Each holds one full frame (PBUF_POOL_BUFSIZE's default, MSS +
// headers); 256 of them (~400 KiB) cover a full receive window of several
// connections at once. None free drops the frame, counted; TCP retransmits.
#define PBUF_POOL_SIZE 256
// Custom pbufs only for lwIP's own IP fragmentation (ip4_frag.h): receive
// copies (above).
#define LWIP_SUPPORT_CUSTOM_PBUF 1
// MEMP_NUM_PBUF counts the PBUF_ROM/REF headers lwIP allocates itself (IP
// fragmentation).
#define MEMP_NUM_PBUF 32
#define MEMP_NUM_RAW_PCB 9   // the boot ping's, and each client's Echo (socket_server.h)
#define MEMP_NUM_UDP_PCB 21  // clients' quotas, DHCP's, one per lookup (socket_server.h)
#define MEMP_NUM_TCP_PCB 32
#define MEMP_NUM_TCP_PCB_LISTEN 8
#define MEMP_NUM_TCP_SEG 256   // >= TCP_SND_QUEUELEN (lwIP checks it)
#define MEMP_NUM_REASSDATA 4   // datagrams being reassembled at once
#define MEMP_NUM_ARP_QUEUE 64  // packets waiting for ARP, all neighbours together

// --- Protocols -------------------------------------------------------------
#define LWIP_IPV4 1
#define LWIP_IPV6 0  // QEMU user networking and our tests are IPv4; later work
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define ARP_TABLE_SIZE 16
// Queue packets sent to a neighbour whose MAC is being resolved (the first
// SYN to the gateway), instead of dropping them.
#define ARP_QUEUEING 1
// Up to 16 per neighbour (lwIP's default is 3, dropping the oldest): the
// first packets to a new neighbour come in bursts — a SYN-ACK and UDP
// replies to the gateway right after DHCP — and a dropped SYN-ACK costs
// the peer lwIP's 3 s retransmission (net_echo_serve saw it). Linux keeps
// 101 (unres_qlen).
#define ARP_QUEUE_LEN 16
#define LWIP_ICMP 1
#define LWIP_RAW 1  // the ping sender (lib/netstack/ping.h) is a raw ICMP pcb
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 1
// No ARP probe of the offered address before binding it: the DHCP server
// (QEMU's, a cloud's) is the authority on its network, and the probe costs
// every boot a second of waiting.
#define DHCP_DOES_ARP_CHECK 0
#define LWIP_DNS 1
#define DNS_MAX_SERVERS 2
// Lookups under way at once: one per client the manifest may name
// (socket_server.h, max_resolves), so that no client's lookups, nor its
// closed channels' (resolve.h), keep another's from starting.
#define DNS_TABLE_SIZE 8
#define LWIP_IGMP 0
#define LWIP_AUTOIP 0
#define IP_FORWARD 0
// Reassembly keeps fragments' RX buffers until the datagram is whole or
// IP_REASS_MAXAGE runs out; IP_REASS_MAX_PBUFS bounds how many it holds.
#define IP_REASSEMBLY 1
#define IP_REASS_MAX_PBUFS 16
#define IP_FRAG 1
#define IP_DEFAULT_TTL 64

// --- TCP -------------------------------------------------------------------
// Sized for a few MiB stream at Ethernet MTU without window scaling: 32
// full segments in flight each way (46 KiB < 64 KiB, the unscaled maximum).
#define TCP_MSS 1460
#define TCP_WND (32 * TCP_MSS)
#define TCP_SND_BUF (32 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
// Out-of-order segments are kept (one lost segment does not cost the whole
// window), but at most 8 pbufs per connection: each may be an RX buffer
// the device needs back (lib/netstack/netif.h).
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_PBUFS 8
// Listeners may cap their connections not yet accepted (tcp_backlog_*).
#define TCP_LISTEN_BACKLOG 1
// Keepalive is per connection and off unless asked for (SOF_KEEPALIVE):
// a server can find out that a peer vanished without a FIN.
#define LWIP_TCP_KEEPALIVE 1
// Hooks: TCP's initial sequence numbers per RFC 6528 (arch/hooks.h).
#define LWIP_HOOK_FILENAME "arch/hooks.h"

// --- Checksums ---------------------------------------------------------------
// All generated and checked in software (lwIP's defaults, written out): the
// virtio-net provider negotiates no checksum offload with this stack, and
// a frame from the device is never trusted to have been checked.
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_ICMP 1

// --- Network interface -------------------------------------------------------
#define LWIP_NETIF_STATUS_CALLBACK 1  // the address DHCP gave, logged
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_NETIF_HOSTNAME 1  // DHCP option 12: "sluice"
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_LOOPBACK 0
// No padding before the Ethernet header: x86_64 reads an unaligned IP
// header at no cost, and transmit frames then start where the provider's
// buffer does.
#define ETH_PAD_SIZE 0

// --- Statistics and debugging ------------------------------------------------
// Counters for the shell's `net` and /status, and the pools' in-use counts
// the unit tests check for leaks. Not printed by lwIP (no stdio).
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
// 32-bit counters (STAT_COUNTER), not 16: the Info snapshot's (lib/protocol/socket.h)
// would wrap after 65536 packets otherwise.
#define LWIP_STATS_LARGE 1
#define MEM_STATS 1
#define MEMP_STATS 1
#define SYS_STATS 0
// Assertions stay on (LWIP_NOASSERT unset): arch/cc.h routes them to the
// log and ends the process, which its supervisor restarts.
