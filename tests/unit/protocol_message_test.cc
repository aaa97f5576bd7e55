// Protocol messages as structs (lib/protocol/message.h): put_body and
// body_of, and the wire format of the BlockDevice, service directory and
// devmgr messages — the bytes are the ones the hand-placed offsets wrote
// before the structs (so old and new ends still understand each other).
#define GTEST_HAS_CXXABI_H_ 0  // its <cxxabi.h> aliases `namespace abi` (docs/testing.md)
#include <gtest/gtest.h>

#include "protocol/block.h"
#include "protocol/devmgr.h"
#include "protocol/message.h"
#include "protocol/service.h"
#include "util/le_bytes.h"

namespace {

TEST(ProtocolMessage, PutSetsTheLengthAndGetZeroFillsWhatWasNotSent) {
    abi::Message m{};
    for (auto& b : m.data) b = 0xee;
    abi::put_body(m, abi::BlockChannelRequest{abi::BlockOp::Ping, 7, 0x1122334455667788ull});
    EXPECT_EQ(m.length, 16u);
    EXPECT_EQ(m.data[16], 0xee);  // nothing past the body is touched
    // A receiver reading a longer struct than was sent sees zeros past
    // the sender's length, whatever the buffer held.
    m.length = 4;
    auto short_read = abi::body_of<abi::BlockChannelRequest>(m);
    EXPECT_EQ(short_read.op, abi::BlockOp::Ping);
    EXPECT_EQ(short_read.channel, 0u);
    EXPECT_EQ(short_read.generation, 0u);
    m.length = 0;
    EXPECT_EQ(abi::body_of<abi::BlockOp>(m), static_cast<abi::BlockOp>(0));
    // A length past the data (never sent by the kernel) reads no further
    // than the struct.
    m.length = 0xffff'ffffu;
    EXPECT_EQ(abi::body_of<abi::BlockChannelRequest>(m).channel, 7u);
}

TEST(ProtocolMessage, ReplyStatusNeedsFourBytes) {
    abi::Message m{};
    abi::put_body(m, abi::BlockStatusReply{Status::Stale});
    EXPECT_EQ(abi::reply_status(m), Status::Stale);
    m.length = 3;
    EXPECT_EQ(abi::reply_status(m), Status::Malformed);
}

TEST(ProtocolMessage, BlockWireFormat) {
    abi::Message m{};
    abi::put_body(m, abi::BlockAttachReply{Status::Ok, 0x0102, 1u << 20, 0xa1a2a3a4a5a6a7a8ull});
    EXPECT_EQ(m.length, 24u);
    EXPECT_EQ(le::get_u32(m.data), 0u);
    EXPECT_EQ(le::get_u32(m.data + 4), 0x0102u);
    EXPECT_EQ(le::get_u64(m.data + 8), 1u << 20);
    EXPECT_EQ(le::get_u64(m.data + 16), 0xa1a2a3a4a5a6a7a8ull);

    abi::put_body(m, abi::BlockAttachRequest{abi::BlockOp::Attach, 65536});
    EXPECT_EQ(m.length, 8u);
    EXPECT_EQ(le::get_u32(m.data), 3u);
    EXPECT_EQ(le::get_u32(m.data + 4), 65536u);

    abi::put_body(m, abi::BlockDescribeRequest{abi::BlockOp::Identity, 2});
    EXPECT_EQ(le::get_u32(m.data), 2u);
    EXPECT_EQ(le::get_u32(m.data + 4), 2u);

    abi::put_body(m, abi::BlockChannelRequest{abi::BlockOp::Detach, 0x305, 42});
    EXPECT_EQ(m.length, 16u);
    EXPECT_EQ(le::get_u32(m.data), 4u);
    EXPECT_EQ(le::get_u32(m.data + 4), 0x305u);
    EXPECT_EQ(le::get_u64(m.data + 8), 42u);

    abi::put_body(m, abi::BlockStatusReply{Status::InvalidArgument});
    EXPECT_EQ(m.length, 4u);
    EXPECT_EQ(le::get_u32(m.data), static_cast<u32>(Status::InvalidArgument));
}

TEST(ProtocolMessage, ServiceAndDevmgrWireFormat) {
    abi::Message m{};
    abi::put_body(m, abi::ServiceOpenRequest{abi::ServiceOp::Open, 3});
    EXPECT_EQ(m.length, 8u);
    EXPECT_EQ(le::get_u32(m.data), 0x5356'0001u);
    EXPECT_EQ(le::get_u32(m.data + 4), 3u);

    abi::ServiceOpenReply reply{Status::NotFound, 2, "nvme0.1"};
    abi::put_body(m, reply);
    EXPECT_EQ(m.length, 8u + abi::kServiceNameBytes);
    EXPECT_EQ(le::get_u32(m.data), static_cast<u32>(Status::NotFound));
    EXPECT_EQ(le::get_u32(m.data + 4), 2u);
    EXPECT_STREQ(reinterpret_cast<const char*>(m.data + 8), "nvme0.1");

    abi::put_body(m, abi::DevmgrRequest{5, abi::DevmgrOp::Events});
    EXPECT_EQ(m.length, 8u);
    EXPECT_EQ(le::get_u32(m.data), 5u);
    EXPECT_EQ(le::get_u32(m.data + 4), 2u);
    // The index alone (4 bytes) is a Describe.
    m.length = 4;
    EXPECT_EQ(abi::body_of<abi::DevmgrRequest>(m).op, abi::DevmgrOp::Describe);
}

}  // namespace
