// Ends a test's network stack so that nothing of it outlives the test or
// fuzz input (lwIP's state is global and lives for the process): every
// TCP connection aborted, the interface removed, IP reassembly's
// fragments aged out (IP_REASS_MAXAGE, 15 s), what was sent meanwhile
// dropped. Close your own pcbs and socket channels first. True when every
// receive buffer came back: one still out is a buffer the stack lost.
#pragma once

#include "fake_frame_io.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/timeouts.h"
#include "netstack/stack.h"

namespace fake {

inline bool stop_stack_and_drain(netstack::Stack& stack, FrameIo& io, Host& host) {
    while (tcp_active_pcbs != nullptr) tcp_abort(tcp_active_pcbs);
    while (tcp_tw_pcbs != nullptr) tcp_abort(tcp_tw_pcbs);
    stack.stop();
    for (u32 i = 0; i < 20; i++) {
        host.now += 1'000'000'000;
        sys_check_timeouts();
    }
    io.take_sent();
    return io.rx_held() == 0;
}

}  // namespace fake
