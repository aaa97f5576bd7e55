// ICMP echo requests [RFC 792] to one address, with round-trip times: the
// sender behind the shell's `ping`. lwIP answers echo requests itself
// (icmp.c); this is the other side, on an lwIP raw pcb.
//
// One request per `interval_ns`, `count` of them; a reply counts when its
// identifier and sequence number are ours and its data is what we sent
// (the payload is checked, a forged or corrupted reply is not a reply);
// a request unanswered after `timeout_ns` is lost. Driven from the stack's
// poll loop: poll() sends what is due and ends timed-out requests.
//
// Threading: the stack's thread.
#pragma once

#include "lwip/ip_addr.h"
#include "lwip/raw.h"
#include "util/result.h"
#include "util/types.h"

namespace netstack {

struct PingResult {
    u16 seq;
    bool replied;
    u64 rtt_ns;  // when replied
};

class Ping {
public:
    static constexpr u32 kMaxCount = 1024;
    static constexpr u32 kPayload = 32;  // bytes after the echo header

    using ResultFn = void (*)(void* ctx, const PingResult& result);

    Ping() = default;
    Ping(const Ping&) = delete;
    Ping& operator=(const Ping&) = delete;
    ~Ping() { stop(); }

    // on_result is called once per request, in order of completion.
    [[nodiscard]] Result<void> start(const ip4_addr_t& target, u32 count, u64 interval_ns, u64 timeout_ns,
                                     ResultFn on_result, void* ctx);
    void poll();
    void stop();
    bool done() const { return m_pcb == nullptr || (m_sent == m_count && m_outstanding == 0); }

    u32 sent() const { return m_sent; }
    u32 received() const { return m_received; }

private:
    static u8 recv_cb(void* arg, struct raw_pcb* pcb, struct pbuf* p, const ip_addr_t* addr);
    void send_next(u64 now);
    void finish(u16 seq, bool replied, u64 now);
    void payload(u16 seq, u8* out) const;

    struct raw_pcb* m_pcb = nullptr;
    ip_addr_t m_target{};
    u16 m_id = 0;
    u32 m_count = 0;
    u64 m_interval_ns = 0;
    u64 m_timeout_ns = 0;
    ResultFn m_on_result = nullptr;
    void* m_ctx = nullptr;
    u32 m_sent = 0;
    u32 m_received = 0;
    u32 m_outstanding = 0;
    u64 m_next_send = 0;
    // Send time per sequence number still outstanding (0: none).
    u64 m_sent_at[kMaxCount]{};
};

}  // namespace netstack
