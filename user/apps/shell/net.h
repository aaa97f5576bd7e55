// The shell's network commands, through the netstack's Socket service
// (manifest `serve = shell` on [process netstack]; handle slot
// "svc.netstack"). Without that grant they say so and do nothing.
//   net     the interface, its addresses, DHCP lease, the NIC provider
//           behind it and the counters (docs/netstack.md "The shell's net")
//   ping <a.b.c.d> [count]
//           `count` (default 4, at most 100) ICMP echo requests, one a
//           second, through the service's Echo: a line per reply (or
//           loss) and a summary, as Linux's ping prints them
#pragma once

#include "util/types.h"

namespace shell {

void net_command(const char* args, usize len);
void ping_command(const char* args, usize len);

}  // namespace shell
