// lwIP's hooks (LWIP_HOOK_FILENAME, lwipopts.h): included by lwIP's core
// files after their own headers, so lwIP's types are known here.
#pragma once

#include "lwip/ip_addr.h"

#ifdef __cplusplus
extern "C" {
#endif
// TCP's initial sequence number for a new connection, RFC 6528
// (lib/netstack/tcp_isn.h): lwIP's own is a global counter stepped by its
// timer ticks, which anyone who saw one connection can predict — and a
// predictable ISN lets an off-path attacker inject into, or reset, a
// connection it cannot see.
u32_t sluice_lwip_tcp_isn(const ip_addr_t* local_ip, u16_t local_port, const ip_addr_t* remote_ip, u16_t remote_port);
#ifdef __cplusplus
}
#endif

#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) \
    sluice_lwip_tcp_isn((local_ip), (local_port), (remote_ip), (remote_port))
