// The virtio-net provider's rt::NetBackend (user/rt/net_server.h): the
// NetDevice service's slots become virtio-net buffers (virtio 1.1 §5.1.6)
// on the receive and transmit virtqueues the kernel brokers (DESIGN §4,
// brokered lane).
//
// Every buffer is a chain of two descriptors: the 12-byte virtio_net_hdr
// in a DMA buffer of the provider's own, then the slot in the packet
// buffer the client shares — so the device reads and writes frames where
// the client does (no copy), while the header, which steers offloads, is
// out of the client's reach: the transmit header is one zeroed header the
// provider never changes, and each receive header is read only by the
// provider (lib/virtio/net_device.h checks it and the used length).
//
// Fails closed (fault()): the first used-ring lie the kernel reports (a
// length past the chain, an id not given or past the queue — each leaves a
// chain the device holds for good — or a used index that jumped),
// DEVICE_NEEDS_RESET (read at every link check: the configuration
// interrupt and the server's 200 ms wake), and a transmit deadline: with
// transmits posted, none completed for kTxDeadlineNs. QEMU completes a
// transmit at once, even with the link down (it drops the frame); a real
// NIC drains its 128 transmit chains in milliseconds, so 5 s of nothing is a
// device that stopped, well before a TCP peer gives up on the connection.
// The deadline is judged only after a reap that took every transmit
// completion there was, so a provider that was not scheduled for a while
// does not blame the device.
//
// Refill is one VirtQueueSubmit per abi::kVirtioMaxBatch slots (the
// server hands over whatever the client lent since the last pass), and
// completions are reaped up to 64 per VirtQueueComplete. Interrupts:
// irq0 the receive queue, irq1 the transmit queue, irq2 (when granted)
// configuration changes (the link).
//
// The transmit interrupt is masked while fewer than kTxIrqOnAt chains are
// with the device, and masked again once a reap leaves fewer than
// kTxIrqOffBelow: completions are reaped on every receive interrupt and
// on the server's periodic check anyway, and the client still holds most
// of its transmit slots. An interrupt per transmit woke the provider, and
// then the netstack for the slot it gave back, once more per round trip.
// Under a transmit stream the interrupt comes back on at kTxIrqOnAt
// (the device's pending one is delivered at once) and reaps in batches.
#pragma once

#include "abi/virtio.h"
#include "rt/handle.h"
#include "rt/net_server.h"
#include "rt/virtio_transport.h"
#include "virtio/net_device.h"

namespace virtio_net {

class NetBackend final : public rt::NetBackend {
public:
    static constexpr u16 kQueueSize = 256;
    static constexpr u32 kChains = kQueueSize / 2;  // two descriptors a buffer
    static constexpr u32 kHeaderStride = 16;        // a receive header per slot, then the transmit header
    static constexpr u64 kTxDeadlineNs = 5'000'000'000;
    static constexpr u32 kTxIrqOnAt = kChains / 2, kTxIrqOffBelow = kChains / 8;

    NetBackend(rt::VirtioTransport& transport, u32 pool, const u32* irqs, u32 irq_count)
        : m_transport(transport), m_pool(pool), m_irq_count(irq_count) {
        for (u32 i = 0; i < irq_count && i < 3; i++) m_irqs[i] = irqs[i];
    }

    // Negotiation, configuration, the two queues, DRIVER_OK.
    Result<void> start();
    const virtio::net::Device& device() const { return m_device; }

    net::LinkInfo link() override;
    Result<void> use_packet_buffer(u32 buffer, u32 slot_bytes, u32 slot_count) override;
    u32 rx_room() const override { return kChains - m_rx_posted; }
    u32 post_rx(const u32* slots, u32 count, Status& why) override;
    u32 tx_room() const override { return kChains - m_tx_posted; }
    u32 post_tx(const net::TxFrame* frames, u32 count, Status& why) override;
    Result<u32> reap(Completion* out, u32 max, bool& more, bool every_queue) override;
    u32 irq_count() const override { return m_irq_count; }
    u32 irq(u32 i) const override { return m_irqs[i]; }
    bool acknowledge(u32 i) override;
    const char* fault() const override { return m_fault; }

    u64 refill_calls() const { return m_refill_calls; }

private:
    // Submits the chains built so far (one broker call); false when refused
    // (`why`).
    bool flush(rt::Handle& queue, u32* slot_of_head, u32 first, u32& posted, Status& why);
    template <typename Chain>
    u32 post(bool rx, u32 count, Status& why, Chain chain);
    Result<u32> reap_queue(bool rx, Completion* out, u32 max, bool& more);
    // Masks or unmasks the transmit queue's interrupt (irq1), if it has one.
    void tx_interrupts(bool on);

    rt::VirtioTransport& m_transport;
    u32 m_pool;
    u32 m_irqs[3] = {};
    u32 m_irq_count;
    virtio::net::Device m_device{};
    rt::Handle m_rx, m_tx, m_headers;
    u8* m_headers_at = nullptr;
    u32 m_packet = 0, m_slot_bytes = 0, m_slot_count = 0;
    u32 m_rx_posted = 0, m_tx_posted = 0;
    static constexpr u32 kNoSlot = 0xffffffffu;
    u32 m_rx_slot_of_head[kQueueSize] = {};
    u32 m_tx_slot_of_head[kQueueSize] = {};
    // The batch being built.
    abi::VirtioChain m_chains[abi::kVirtioMaxBatch] = {};
    u32 m_chain_slots[abi::kVirtioMaxBatch] = {};
    abi::VirtioSegment m_segments[2 * abi::kVirtioMaxBatch] = {};
    u32 m_chain_count = 0;
    u64 m_refill_calls = 0;
    u64 m_refused_frames = 0;
    const char* m_fault = nullptr;  // the first reason the device cannot be trusted
    u64 m_tx_progress_ns = 0;       // the last transmit completion, or the first post with none outstanding
    bool m_tx_irq_on = true;        // irq1 unmasked (as the kernel starts it)
    bool m_tx_irq_fired = false;    // irq1 acknowledged since the last transmit reap
};

}  // namespace virtio_net
