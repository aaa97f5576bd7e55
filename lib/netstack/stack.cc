#include "stack.h"

#include "host.h"
#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/init.h"
#include "lwip/prot/dhcp.h"
#include "lwip/timeouts.h"
#include "util/format.h"

namespace netstack {
namespace {

void log_status(struct netif* nif) {
    char line[160];
    if (ip4_addr_isany_val(*netif_ip4_addr(nif))) {
        format(line, sizeof line, "netstack: %c%c%u no address", nif->name[0], nif->name[1], nif->num);
    } else {
        char ip[16], mask[16], gw[16], dns[16];
        ip4addr_ntoa_r(netif_ip4_addr(nif), ip, sizeof ip);
        ip4addr_ntoa_r(netif_ip4_netmask(nif), mask, sizeof mask);
        ip4addr_ntoa_r(netif_ip4_gw(nif), gw, sizeof gw);
        ipaddr_ntoa_r(dns_getserver(0), dns, sizeof dns);
        format(line, sizeof line, "netstack: %c%c%u address %s netmask %s gateway %s dns %s", nif->name[0],
               nif->name[1], nif->num, ip, mask, gw, dns);
    }
    host().log(line);
}

void status_cb(struct netif* nif) { log_status(nif); }

void link_cb(struct netif* nif) {
    char line[64];
    format(line, sizeof line, "netstack: %c%c%u link %s", nif->name[0], nif->name[1], nif->num,
           netif_is_link_up(nif) ? "up" : "down");
    host().log(line);
}

}  // namespace

Result<void> Stack::start(net::FrameIo& io, const StackConfig& config) {
    if (m_started) return Status::Busy;
    // lwip_init sets up pools, heap and timers; a second call would queue
    // every cyclic timer twice. Once per process.
    static bool initialised = false;
    if (!initialised) {
        lwip_init();
        initialised = true;
    }
    TRY(m_netif.add(io));
    struct netif* nif = m_netif.lwip();
    netif_set_status_callback(nif, status_cb);
    netif_set_link_callback(nif, link_cb);
    m_started = true;
    m_dhcp = config.dhcp;
    if (config.dhcp) {
        if (dhcp_start(nif) != ERR_OK) {
            stop();
            return Status::NoMemory;
        }
    } else {
        // The resolver first: setting the address logs it all (status_cb).
        ip_addr_t dns;
        ip_addr_copy_from_ip4(dns, config.dns);
        dns_setserver(0, &dns);
        netif_set_addr(nif, &config.address, &config.netmask, &config.gateway);
    }
    return {};
}

void Stack::stop() {
    if (!m_started) return;
    struct netif* nif = m_netif.lwip();
    if (m_dhcp) {
        dhcp_release_and_stop(nif);
        dhcp_cleanup(nif);
    }
    netif_set_status_callback(nif, nullptr);
    netif_set_link_callback(nif, nullptr);
    m_netif.remove();
    m_started = false;
}

u32 Stack::poll() {
    if (!m_started) return 0;
    u32 n = m_netif.poll_rx(kRxBudget);
    m_netif.update_link();
    sys_check_timeouts();
    m_netif.flush();
    return n;
}

void Stack::flush() {
    if (m_started) m_netif.flush();
}

u32 Stack::next_timer_ms() const { return sys_timeouts_sleeptime(); }

AddressInfo Stack::address() const {
    AddressInfo info;
    if (!m_started) return info;
    auto* nif = const_cast<Netif&>(m_netif).lwip();
    info.address = *netif_ip4_addr(nif);
    info.netmask = *netif_ip4_netmask(nif);
    info.gateway = *netif_ip4_gw(nif);
    info.dns = *ip_2_ip4(dns_getserver(0));
    if (m_dhcp) {
        info.bound = dhcp_supplied_address(nif) != 0;
        if (const struct dhcp* d = netif_dhcp_data(nif)) {
            info.lease_s = d->offered_t0_lease;
            info.renew_s = d->offered_t1_renew;
            info.rebind_s = d->offered_t2_rebind;
        }
    } else {
        info.bound = !ip4_addr_isany_val(info.address);
    }
    return info;
}

bool parse_ip4(const char* text, ip4_addr_t& out) {
    u32 parts[4] = {};
    u32 count = 0;
    const char* s = text;
    while (count < 4) {
        if (*s < '0' || *s > '9') return false;
        u32 value = 0, digits = 0;
        while (*s >= '0' && *s <= '9') {
            value = value * 10 + static_cast<u32>(*s++ - '0');
            if (++digits > 3 || value > 255) return false;
        }
        parts[count++] = value;
        if (count < 4 && *s++ != '.') return false;
    }
    if (*s != '\0') return false;
    IP4_ADDR(&out, parts[0], parts[1], parts[2], parts[3]);
    return true;
}

}  // namespace netstack
