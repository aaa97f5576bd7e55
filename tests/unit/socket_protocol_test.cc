// The Socket service's ABI (lib/protocol/socket.h): the layout is
// static-asserted there; these check the arithmetic both sides share.
#define GTEST_HAS_CXXABI_H_ 0  // its <cxxabi.h> aliases `namespace abi` (docs/testing.md)
#include <gtest/gtest.h>

#include "protocol/socket.h"

namespace {

TEST(SocketProtocol, RecordsArePaddedSoHeadersNeverStraddleTheRingEnd) {
    EXPECT_EQ(abi::socket_record_bytes(0), 8u);
    EXPECT_EQ(abi::socket_record_bytes(1), 16u);
    EXPECT_EQ(abi::socket_record_bytes(8), 16u);
    EXPECT_EQ(abi::socket_record_bytes(9), 24u);
    EXPECT_EQ(abi::socket_record_bytes(abi::kSocketMaxDatagram), 65520u);
    // The largest datagram fits the largest ring, and every record keeps
    // the next header 8-aligned in a power-of-two ring.
    EXPECT_LE(abi::socket_record_bytes(abi::kSocketMaxDatagram), abi::kSocketMaxRingBytes);
    for (u32 len = 0; len < 64; len++) EXPECT_EQ(abi::socket_record_bytes(len) % abi::kSocketRecordAlign, 0u);
}

}  // namespace
