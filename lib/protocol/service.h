// Device service directories (DESIGN §6): how a consumer named by a
// provider entry's `serve` lines reaches each device that entry drives.
//
// One [provider] entry may bind several PCI functions — a cloud VM has one
// NVMe controller per volume on AWS Nitro, and a manifest should not have
// to pin each by address. Every bound function is an *instance* with an
// endpoint of its own, speaking the device's protocol (lib/protocol/block.h).
// The endpoint a consumer is granted ("svc.<provider>") is the entry's
// directory, served by the device manager: it hands out the instances'
// endpoints with `call` (and `transfer`, which moving a handle needs),
// each Open under a badge of its own, so a provider can tell its consumers
// apart (a channel answers only to the badge that attached it). Holding
// the directory is the authority (init grants it from the manifest);
// nobody looks a service up by name.
//
// Who the consumer is travels with it: init grants each consumer a copy of
// the directory badged with its manifest identity (kServiceConsumerShift),
// the same across the consumer's restarts, and devmgr puts that identity
// in the high half of every instance badge it mints for that consumer. A
// provider can so bound what one consumer holds (BlockDevice: channels per
// consumer) and let a restarted consumer reclaim what its previous
// incarnation left behind, while each Open still gets a badge of its own.
//
// Instances are numbered in PCI order among the functions the entry bound
// (refused functions are skipped) and named after the entry: instance 0 is
// "<provider>", instance k "<provider>.<k>" — so devices read "nvme0n1",
// "nvme0.1n1". An instance's endpoint outlives its provider: a restarted
// provider serves the same one, so consumers only attach again.
#pragma once

// A protocol between user processes (lib/protocol/), not the kernel's ABI.
#ifdef SLUICE_KERNEL
#error "lib/protocol/ is spoken between user processes: the kernel has no business including it"
#endif

#include <stddef.h>

#include "util/status.h"
#include "util/types.h"

namespace abi {

// Directory requests: data[0..4] = op (lib/protocol/message.h puts and
// gets the structs). The values cannot be mistaken for a device
// protocol's (BlockOp is small): a device request sent to a directory is
// answered InvalidArgument.
enum class ServiceOp : u32 {
    // ServiceOpenRequest -> ServiceOpenReply (NotFound past the last
    // instance); handles[0] = the instance's endpoint (call|transfer).
    Open = 0x5356'0001,
};
constexpr u32 kServiceNameBytes = 32;

struct ServiceOpenRequest {
    ServiceOp op;
    u32 instance;  // index among the entry's instances
};
static_assert(sizeof(ServiceOpenRequest) == 8 && offsetof(ServiceOpenRequest, instance) == 4);

struct ServiceOpenReply {
    Status status;
    u32 count;                     // instances the entry has (also with NotFound)
    char name[kServiceNameBytes];  // the instance's, NUL-terminated
};
static_assert(sizeof(ServiceOpenReply) == 8 + kServiceNameBytes && offsetof(ServiceOpenReply, count) == 4 &&
              offsetof(ServiceOpenReply, name) == 8);

// The badge of a consumer's directory capability is its identity (init:
// the consumer's manifest index + 1). Instance badge = identity <<
// kServiceConsumerShift | a count unique to the Open. Identity 0: a caller
// init did not name (an unbadged directory capability).
constexpr u32 kServiceConsumerShift = 32;
constexpr u64 service_consumer(u64 badge) { return badge >> kServiceConsumerShift; }

// ---------------------------------------------------------------------------
// A plain process's service (`serve = CONSUMER [ports=..] [sockets=N]` on a
// [process], docs/manifest.md "Serving from a process"). No directory:
// there is one instance, the server itself. init creates the endpoint and
// keeps it across the server's restarts; the server gets it with
// serve|wait under kServeSlot; each consumer a call-only copy under
// "svc.<server>", badged with its identity (manifest index + 1, the same
// across both sides' restarts; the consumer can neither see nor change
// it). What each consumer may do comes with the server at startup, from
// the manifest, in a read-only memory object under kServeClientsSlot: the
// table below. A badge not in the table is nobody the manifest named
// (never one init minted): refuse it.
//
// A directory walker (rt::open_service_instances) that meets such a slot
// sends ServiceOp::Open; the server answers NotFound with count 0, which
// the walker takes as "no instances" and skips quietly.

constexpr char kServeSlot[] = "service";
constexpr char kServeClientsSlot[] = "clients";
constexpr u32 kServeMaxClients = 8;            // = manifest::kMaxServed
constexpr u32 kServeMaxPorts = 8;              // = manifest::kMaxServePorts
constexpr u32 kServeTableMagic = 0x5356'4354;  // "SVCT"

struct ServeClient {
    u64 badge;                     // the consumer's copy of the endpoint carries it
    char name[kServiceNameBytes];  // the consumer's manifest name, NUL-terminated
    u16 ports[kServeMaxPorts];     // ports= (distinct, non-zero), port_count of them
    u32 port_count;
    u32 sockets;  // sockets= (1..32)
};
static_assert(sizeof(ServeClient) == 64 && offsetof(ServeClient, name) == 8 && offsetof(ServeClient, ports) == 40 &&
              offsetof(ServeClient, sockets) == 60);

struct ServeClientTable {
    u32 magic;  // kServeTableMagic
    u32 count;  // <= kServeMaxClients
    ServeClient clients[kServeMaxClients];
};
static_assert(sizeof(ServeClientTable) == 8 + 64 * kServeMaxClients && offsetof(ServeClientTable, clients) == 8);

}  // namespace abi
