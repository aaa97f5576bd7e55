#include "netif.h"

#include <string.h>

#include "lwip/etharp.h"
#include "netif/ethernet.h"

namespace netstack {

Result<void> Netif::add(net::FrameIo& io) {
    if (m_added) return Status::Busy;
    net::LinkInfo link = io.link();
    // An MTU below IPv4's minimum (RFC 791: 68) or one a frame could not
    // carry in lwIP's u16 lengths is a provider's lie, not a link.
    if (link.mtu < 68 || link.mtu > 65535 - kEthHeader) return Status::InvalidArgument;
    m_io = &io;
    m_spare_tx = nullptr;
    // IPv4 addresses come later (DHCP or Stack::start's static ones).
    if (netif_add(&m_netif, nullptr, nullptr, nullptr, this, init_cb, ethernet_input) == nullptr) {
        return Status::NoMemory;
    }
    m_added = true;
    netif_set_default(&m_netif);
    netif_set_up(&m_netif);
    return {};
}

void Netif::remove() {
    if (!m_added) return;
    netif_remove(&m_netif);
    // A spare transmit buffer stays taken: FrameIo has no way to return
    // one unsent, and only a provider breaking its promise leaves one.
    m_spare_tx = nullptr;
    flush();
    m_added = false;
}

err_t Netif::init_cb(struct netif* nif) {
    auto* self = static_cast<Netif*>(nif->state);
    net::LinkInfo link = self->m_io->link();
    nif->name[0] = 'e';
    nif->name[1] = 'n';
    nif->hwaddr_len = ETH_HWADDR_LEN;
    static_assert(net::kMacBytes == ETH_HWADDR_LEN);
    memcpy(nif->hwaddr, link.mac, ETH_HWADDR_LEN);
    nif->mtu = link.mtu;
    nif->output = etharp_output;
    nif->linkoutput = linkoutput_cb;
    nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    if (link.link_up) nif->flags |= NETIF_FLAG_LINK_UP;
    netif_set_hostname(nif, "sluice");
    return ERR_OK;
}

err_t Netif::linkoutput_cb(struct netif* nif, struct pbuf* p) {
    auto* self = static_cast<Netif*>(nif->state);
    u32 token = self->m_spare_token, capacity = self->m_spare_capacity;
    u8* buffer = self->m_spare_tx;
    self->m_spare_tx = nullptr;
    if (buffer == nullptr) buffer = self->m_io->tx_buffer(token, capacity);
    if (buffer == nullptr) {
        self->m_counters.tx_busy++;
        return ERR_MEM;
    }
    if (p->tot_len > capacity) {
        // lwIP never builds a frame past the MTU: the provider's buffer is
        // short of what FrameIo promises. Kept for a shorter frame.
        self->m_spare_tx = buffer;
        self->m_spare_token = token;
        self->m_spare_capacity = capacity;
        self->m_counters.tx_too_long++;
        return ERR_BUF;
    }
    // The one copy on transmit (see netif.h).
    u16 copied = pbuf_copy_partial(p, buffer, p->tot_len, 0);
    self->m_io->tx_commit(token, copied);
    self->m_tx_pending = true;
    self->m_counters.tx_frames++;
    self->m_counters.tx_bytes += copied;
    return ERR_OK;
}

u32 Netif::poll_rx(u32 budget) {
    if (!m_added) return 0;
    u32 n = 0;
    net::RxFrame frame;
    while (n < budget && m_io->rx_take(frame)) {
        n++;
        m_counters.rx_frames++;
        if (frame.data == nullptr || frame.length < kEthHeader || frame.length > m_netif.mtu + kEthHeader) {
            m_counters.rx_dropped++;
            m_io->rx_give_back(frame.token);
            m_rx_pending = true;
            continue;
        }
        // The one copy on receive (netif.h): from here on the provider
        // can neither rewrite nor unmap what lwIP parses.
        auto length = static_cast<u16>(frame.length);
        struct pbuf* p = pbuf_alloc(PBUF_RAW, length, PBUF_POOL);
        if (p != nullptr) pbuf_take(p, frame.data, length);
        m_io->rx_give_back(frame.token);
        m_rx_pending = true;
        if (p == nullptr) {
            m_counters.rx_dropped++;
            continue;
        }
        m_counters.rx_bytes += frame.length;
        // ethernet_input frees the pbuf whatever it returns (lwIP 2.1:
        // netif->input owns p when it returns ERR_OK; ethernet_input always does).
        if (m_netif.input(p, &m_netif) != ERR_OK) pbuf_free(p);
    }
    return n;
}

void Netif::update_link() {
    if (!m_added) return;
    bool up = m_io->link().link_up;
    if (up && !netif_is_link_up(&m_netif)) netif_set_link_up(&m_netif);
    if (!up && netif_is_link_up(&m_netif)) netif_set_link_down(&m_netif);
}

void Netif::flush() {
    if (m_io == nullptr) return;
    if (m_tx_pending) m_io->tx_flush();
    if (m_rx_pending) m_io->rx_flush();
    m_tx_pending = m_rx_pending = false;
}

}  // namespace netstack
