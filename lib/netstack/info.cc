#include "info.h"

#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/prot/dhcp.h"
#include "lwip/stats.h"

namespace netstack {
namespace {

abi::SocketInfoCounters counters(const struct stats_proto& p) {
    return {static_cast<u32>(p.recv), static_cast<u32>(p.xmit), static_cast<u32>(p.drop), static_cast<u32>(p.chkerr)};
}

abi::SocketDhcpState dhcp_state(struct netif* nif) {
    const struct dhcp* d = netif_dhcp_data(nif);
    if (d == nullptr) return abi::SocketDhcpState::Off;
    switch (d->state) {
        case DHCP_STATE_OFF: return abi::SocketDhcpState::Off;
        case DHCP_STATE_BOUND: return abi::SocketDhcpState::Bound;
        case DHCP_STATE_RENEWING: return abi::SocketDhcpState::Renewing;
        case DHCP_STATE_REBINDING: return abi::SocketDhcpState::Rebinding;
        default:  // selecting, requesting, checking, backing off, ...
            return abi::SocketDhcpState::Searching;
    }
}

}  // namespace

void fill_info(Stack& stack, abi::SocketInfo& out) {
    struct netif* nif = stack.netif().lwip();
    __builtin_memset(out.name, 0, sizeof out.name);
    out.name[0] = nif->name[0];
    out.name[1] = nif->name[1];
    // lwIP's netif_index_to_name form: two letters, then the number.
    out.name[2] = static_cast<char>('0' + nif->num % 10);
    __builtin_memcpy(out.mac, nif->hwaddr, sizeof out.mac);
    out.mtu = nif->mtu;
    out.link_up = netif_is_link_up(nif) ? 1 : 0;
    AddressInfo a = stack.address();
    out.bound = a.bound ? 1 : 0;
    out.address = ip4_addr_get_u32(&a.address);
    out.netmask = ip4_addr_get_u32(&a.netmask);
    out.gateway = ip4_addr_get_u32(&a.gateway);
    static_assert(DNS_MAX_SERVERS >= 2);
    for (u32 i = 0; i < 2; i++) out.dns[i] = ip4_addr_get_u32(ip_2_ip4(dns_getserver(static_cast<u8>(i))));
    out.dhcp = dhcp_state(nif);
    out.lease_s = out.lease_left_s = 0;
    if (const struct dhcp* d = netif_dhcp_data(nif); d != nullptr && a.bound && out.dhcp != abi::SocketDhcpState::Off) {
        out.lease_s = d->offered_t0_lease;
        // t0_timeout and lease_used count lwIP's coarse timer's ticks.
        if (d->t0_timeout > d->lease_used)
            out.lease_left_s = static_cast<u32>(d->t0_timeout - d->lease_used) * DHCP_COARSE_TIMER_SECS;
    }
    const NetifCounters& c = stack.netif().counters();
    out.rx_frames = c.rx_frames;
    out.rx_bytes = c.rx_bytes;
    out.rx_dropped = c.rx_dropped;
    out.tx_frames = c.tx_frames;
    out.tx_bytes = c.tx_bytes;
    out.tx_dropped = c.tx_busy + c.tx_too_long;
    out.ip = counters(lwip_stats.ip);
    out.icmp = counters(lwip_stats.icmp);
    out.udp = counters(lwip_stats.udp);
    out.tcp = counters(lwip_stats.tcp);
}

}  // namespace netstack
