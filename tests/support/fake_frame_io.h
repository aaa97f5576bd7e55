// A net::FrameIo over host memory (lib/net/frame_io.h) and a netstack::Host
// on a clock the test moves, for the netstack's unit tests and fuzzer: the
// test delivers frames as a NIC would, and reads what the stack sent.
//
// The fake keeps the FrameIo contract strictly and counts every breach by
// the stack: a token given back that is not out, a transmit buffer
// committed twice or longer than it is. RX buffers the stack holds are
// visible (rx_held()), so a test can tell that every one came back.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "net/frame_io.h"
#include "netstack/host.h"
#include "util/xorshift.h"

namespace fake {

class Host final : public netstack::Host {
public:
    u64 now = 1'000'000'000;  // never goes back: lwIP's timers are global
    bool quiet = false;
    std::vector<std::string>* lines = nullptr;

    u64 now_ns() override { return now; }
    void log(const char* line) override {
        if (lines != nullptr) lines->push_back(line);
        if (!quiet) std::printf("  [netstack] %s\n", line);
    }
    u32 random() override { return static_cast<u32>(m_random.next()); }
    [[noreturn]] void fatal(const char* why) override {
        std::fprintf(stderr, "netstack fatal: %s\n", why);
        std::abort();
    }

private:
    util::XorShift64 m_random{42};
};

class FrameIo final : public net::FrameIo {
public:
    static constexpr u32 kRxBuffers = 64;
    static constexpr u32 kTxBuffers = 32;
    static constexpr u32 kBufferBytes = 2048;

    net::LinkInfo info{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, 1500, true};

    // Frames the stack sent, in order, after its tx_flush().
    std::vector<std::vector<u8>> sent;
    u32 tx_flushes = 0;
    u32 rx_flushes = 0;
    u32 contract_breaches = 0;
    bool tx_exhausted = false;  // pretend every transmit buffer is in flight

    FrameIo() {
        for (u32 i = 0; i < kRxBuffers; i++) m_rx_free.push_back(i);
    }

    // The device wrote `frame` into a free RX buffer. False: none free
    // (the stack holds them all), the frame is dropped as a NIC would.
    bool deliver(const std::vector<u8>& frame) {
        if (m_rx_free.empty() || frame.size() > kBufferBytes) return false;
        u32 token = m_rx_free.front();
        m_rx_free.pop_front();
        if (!frame.empty()) std::memcpy(m_rx_mem[token], frame.data(), frame.size());
        m_rx_ready.push_back({token, static_cast<u32>(frame.size())});
        m_rx_state[token] = Ready;
        return true;
    }
    // RX buffers not free: waiting to be taken, or taken and not given back.
    u32 rx_held() const { return kRxBuffers - static_cast<u32>(m_rx_free.size()); }
    // A hostile provider rewriting every RX buffer, the ones the stack was
    // given included (the device, or the provider, may write them at any time).
    void scribble_rx(u8 value) { std::memset(m_rx_mem, value, sizeof m_rx_mem); }
    bool in_rx_buffer(const void* p) const {
        auto* b = static_cast<const u8*>(p);
        return b >= &m_rx_mem[0][0] && b < &m_rx_mem[0][0] + sizeof m_rx_mem;
    }
    std::vector<std::vector<u8>> take_sent() {
        auto out = std::move(sent);
        sent.clear();
        return out;
    }

    net::LinkInfo link() const override { return info; }

    bool rx_take(net::RxFrame& frame) override {
        if (m_rx_ready.empty()) return false;
        auto [token, length] = m_rx_ready.front();
        m_rx_ready.pop_front();
        m_rx_state[token] = Taken;
        frame = {m_rx_mem[token], length, token};
        return true;
    }
    void rx_give_back(u32 token) override {
        if (token >= kRxBuffers || m_rx_state[token] != Taken) {
            contract_breaches++;
            return;
        }
        m_rx_state[token] = Free;
        m_rx_free.push_back(token);
    }
    void rx_flush() override { rx_flushes++; }

    u8* tx_buffer(u32& token, u32& capacity) override {
        if (tx_exhausted) return nullptr;
        for (u32 i = 0; i < kTxBuffers; i++) {
            if (m_tx_state[i] == Free) {
                m_tx_state[i] = Taken;
                token = i;
                capacity = kBufferBytes;
                return m_tx_mem[i];
            }
        }
        return nullptr;
    }
    void tx_commit(u32 token, u32 length) override {
        if (token >= kTxBuffers || m_tx_state[token] != Taken || length > kBufferBytes) {
            contract_breaches++;
            return;
        }
        m_tx_state[token] = Ready;
        m_tx_queued.push_back({token, length});
    }
    void tx_flush() override {
        tx_flushes++;
        // The device sends at once and completes: the buffers are free again.
        for (auto [token, length] : m_tx_queued) {
            sent.emplace_back(m_tx_mem[token], m_tx_mem[token] + length);
            m_tx_state[token] = Free;
        }
        m_tx_queued.clear();
    }

private:
    enum State : u8 { Free, Ready, Taken };
    struct Queued {
        u32 token, length;
    };
    u8 m_rx_mem[kRxBuffers][kBufferBytes]{};
    State m_rx_state[kRxBuffers]{};
    std::deque<u32> m_rx_free;
    std::deque<Queued> m_rx_ready;
    u8 m_tx_mem[kTxBuffers][kBufferBytes]{};
    State m_tx_state[kTxBuffers]{};
    std::vector<Queued> m_tx_queued;
};

}  // namespace fake
