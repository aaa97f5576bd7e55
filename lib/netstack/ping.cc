#include "ping.h"

#include <string.h>

#include "host.h"
#include "lwip/inet_chksum.h"
#include "lwip/prot/icmp.h"
#include "lwip/prot/ip4.h"

namespace netstack {

Result<void> Ping::start(const ip4_addr_t& target, u32 count, u64 interval_ns, u64 timeout_ns, ResultFn on_result,
                         void* ctx) {
    if (m_pcb != nullptr) return Status::Busy;
    if (count == 0 || count > kMaxCount || on_result == nullptr) return Status::InvalidArgument;
    m_pcb = raw_new(IP_PROTO_ICMP);
    if (m_pcb == nullptr) return Status::NoMemory;
    raw_recv(m_pcb, recv_cb, this);
    raw_bind(m_pcb, IP4_ADDR_ANY);
    ip_addr_copy_from_ip4(m_target, target);
    m_id = static_cast<u16>(host().random());
    m_count = count;
    m_interval_ns = interval_ns;
    m_timeout_ns = timeout_ns;
    m_on_result = on_result;
    m_ctx = ctx;
    m_sent = m_received = m_outstanding = 0;
    m_next_send = host().now_ns();
    for (u64& t : m_sent_at) t = 0;
    return {};
}

void Ping::stop() {
    if (m_pcb == nullptr) return;
    raw_remove(m_pcb);
    m_pcb = nullptr;
}

void Ping::payload(u16 seq, u8* out) const {
    // Different for every request of every ping: a reply echoing another
    // request's data is not this one's.
    for (u32 i = 0; i < kPayload; i++) out[i] = static_cast<u8>(seq * 7 + m_id + i);
}

void Ping::send_next(u64 now) {
    auto seq = static_cast<u16>(m_sent);
    struct pbuf* p = pbuf_alloc(PBUF_IP, sizeof(struct icmp_echo_hdr) + kPayload, PBUF_RAM);
    m_sent++;
    m_next_send = now + m_interval_ns;
    m_sent_at[seq] = now == 0 ? 1 : now;
    m_outstanding++;
    if (p == nullptr) return;  // counted as sent: it times out as lost
    auto* echo = static_cast<struct icmp_echo_hdr*>(p->payload);
    ICMPH_TYPE_SET(echo, ICMP_ECHO);
    ICMPH_CODE_SET(echo, 0);
    echo->id = lwip_htons(m_id);
    echo->seqno = lwip_htons(seq);
    echo->chksum = 0;
    payload(seq, reinterpret_cast<u8*>(echo + 1));
    echo->chksum = inet_chksum(echo, p->len);
    raw_sendto(m_pcb, p, &m_target);
    pbuf_free(p);
}

void Ping::finish(u16 seq, bool replied, u64 now) {
    PingResult result{seq, replied, replied ? now - m_sent_at[seq] : 0};
    m_sent_at[seq] = 0;
    m_outstanding--;
    if (replied) m_received++;
    m_on_result(m_ctx, result);
}

void Ping::poll() {
    if (m_pcb == nullptr) return;
    u64 now = host().now_ns();
    for (u32 seq = 0; seq < m_sent; seq++) {
        if (m_sent_at[seq] != 0 && now - m_sent_at[seq] >= m_timeout_ns) finish(static_cast<u16>(seq), false, now);
    }
    if (m_sent < m_count && now >= m_next_send) send_next(now);
}

u8 Ping::recv_cb(void* arg, struct raw_pcb*, struct pbuf* p, const ip_addr_t* addr) {
    auto* self = static_cast<Ping*>(arg);
    // A raw ICMP pcb sees every ICMP packet, IPv4 header first. Anything
    // not our reply is left to lwIP (return 0): echo requests to us among them.
    if (!ip_addr_cmp(addr, &self->m_target) || p->tot_len < IP_HLEN) return 0;
    u8 version_ihl = 0;
    pbuf_copy_partial(p, &version_ihl, 1, 0);
    u16 ihl = static_cast<u16>((version_ihl & 0x0f) * 4);
    struct {
        struct icmp_echo_hdr echo;
        u8 data[kPayload];
    } reply;
    static_assert(sizeof reply == sizeof(struct icmp_echo_hdr) + kPayload);
    if (ihl < IP_HLEN || p->tot_len != ihl + sizeof reply) return 0;
    if (pbuf_copy_partial(p, &reply, sizeof reply, ihl) != sizeof reply) return 0;
    if (ICMPH_TYPE(&reply.echo) != ICMP_ER || lwip_ntohs(reply.echo.id) != self->m_id) return 0;
    u16 seq = lwip_ntohs(reply.echo.seqno);
    // ip4_input checked the IP header; the ICMP checksum is this one's to check.
    if (inet_chksum(&reply, sizeof reply) != 0) return 0;
    u8 expected[kPayload];
    self->payload(seq, expected);
    if (seq >= self->m_sent || self->m_sent_at[seq] == 0 || memcmp(expected, reply.data, kPayload) != 0) return 0;
    self->finish(seq, true, host().now_ns());
    pbuf_free(p);
    return 1;
}

}  // namespace netstack
