// The shell's network commands, through the netstack's Socket service
// (manifest `serve = shell` on [process netstack]; handle slot
// "svc.netstack"). Without that grant they say so and do nothing.
//   net     the interface, its addresses, DHCP lease, the NIC provider
//           behind it and the counters (docs/netstack.md "The shell's net")
//   ping <a.b.c.d | name> [count]
//           `count` (default 4, at most 100) ICMP echo requests, one a
//           second, through the service's Echo: a line per reply (or
//           loss) and a summary, as Linux's ping prints them; a name is
//           resolved first (Resolve) and printed "PING name (a.b.c.d)"
//   resolve <name>
//           the name's IPv4 address through the service's Resolve (the
//           DNS server of the DHCP lease): "name has address a.b.c.d"
#pragma once

#include "util/types.h"

namespace shell {

void net_command(const char* args, usize len);
void ping_command(const char* args, usize len);
void resolve_command(const char* args, usize len);

}  // namespace shell
