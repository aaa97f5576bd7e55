// The stack's part of the Socket service's Info snapshot
// (lib/protocol/socket.h SocketInfo): the interface, its addresses and
// DHCP state, the frames through it and lwIP's protocol counters. The
// netstack program adds what only it knows (the provider behind the
// NetDevice channel, the socket service's clients, its uptime).
//
// Threading: the stack's thread (it reads lwIP's state).
#pragma once

#include "protocol/socket.h"
#include "stack.h"

namespace netstack {

// Overwrites every field fill_info owns; leaves the provider, socket
// service and uptime fields as they were.
void fill_info(Stack& stack, abi::SocketInfo& out);

}  // namespace netstack
