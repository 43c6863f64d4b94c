// net_test — the network's portable checks (keel/virtio_net.h,
// keel/proto/link.h, keel/proto/socket.h) at their edges.
#include <gtest/gtest.h>

#include "keel/proto/link.h"
#include "keel/proto/socket.h"
#include "keel/virtio_net.h"

namespace {

namespace link = keel::link;
namespace sock = keel::sock;
namespace vnet = keel::virtio::net;

TEST(VirtioNetTest, ReceivedFramesAreCheckedAgainstTheirBuffer) {
  uint32_t frame = 0;
  EXPECT_EQ(vnet::check_rx(12 + 60, 2048, 1, &frame), vnet::Rx::kOk);
  EXPECT_EQ(frame, 60u);
  EXPECT_EQ(vnet::check_rx(12 + 1514, 2048, 1, &frame), vnet::Rx::kOk);
  EXPECT_EQ(frame, 1514u);
  EXPECT_EQ(vnet::check_rx(12 + 1515, 2048, 1, &frame), vnet::Rx::kLong) << "past the MTU";
  EXPECT_EQ(vnet::check_rx(2049, 2048, 1, &frame), vnet::Rx::kLong) << "the device claims more than the buffer";
  EXPECT_EQ(vnet::check_rx(12 + 13, 2048, 1, &frame), vnet::Rx::kShort) << "no whole Ethernet header";
  EXPECT_EQ(vnet::check_rx(10, 2048, 1, &frame), vnet::Rx::kShort) << "the legacy 10-byte header";
  EXPECT_EQ(vnet::check_rx(0, 2048, 1, &frame), vnet::Rx::kShort);
  EXPECT_EQ(vnet::check_rx(100, 2048, 0, &frame), vnet::Rx::kBadNumBuffers);
  EXPECT_EQ(vnet::check_rx(100, 2048, 2, &frame), vnet::Rx::kBadNumBuffers);
}

TEST(VirtioNetTest, AFrameOverSeveralBuffersIsDroppedWithItsContinuations) {
  vnet::RxIntake in;
  uint32_t frame = 0;
  vnet::Rx why = vnet::Rx::kOk;
  EXPECT_FALSE(in.take(2048, 2048, 3, 128, &frame, &why));
  EXPECT_EQ(why, vnet::Rx::kBadNumBuffers);
  EXPECT_EQ(in.pending_skip(), 2u);
  EXPECT_FALSE(in.take(2048, 2048, 1, 128, &frame, &why)) << "continuation 1";
  EXPECT_FALSE(in.take(500, 2048, 1, 128, &frame, &why)) << "continuation 2";
  EXPECT_TRUE(in.take(12 + 64, 2048, 1, 128, &frame, &why)) << "the next frame is whole again";
  EXPECT_EQ(frame, 64u);
  EXPECT_FALSE(in.take(100, 2048, 5000, 128, &frame, &why)) << "an unbelievable count";
  EXPECT_EQ(in.pending_skip(), 0u) << "is not a reason to skip frames";
}

TEST(LinkTest, OnlyBuffersInRangeWithAFrameThatFits) {
  EXPECT_TRUE(link::valid_frame({0, 14}));
  EXPECT_TRUE(link::valid_frame({link::kBuffers - 1, 1514}));
  EXPECT_FALSE(link::valid_frame({link::kBuffers, 60}));
  EXPECT_FALSE(link::valid_frame({0, 13}));
  EXPECT_FALSE(link::valid_frame({0, 1515}));
  EXPECT_FALSE(link::valid_frame({0xffffffff, 60}));
  EXPECT_LE(link::buffer_offset(link::kBuffers - 1) + link::kBufferBytes, 64u * 1024);
}

TEST(SocketTest, RequestsAreCheckedBeforeAnySocketIsLookedAt) {
  EXPECT_EQ(sock::check({.op = sock::kSocket, .arg = sock::kTcp}), sock::kOk);
  EXPECT_EQ(sock::check({.op = sock::kSocket, .arg = 3}), sock::kInvalid);
  EXPECT_EQ(sock::check({.op = 0}), sock::kBadOp);
  EXPECT_EQ(sock::check({.op = sock::kOpEnd}), sock::kBadOp);
  EXPECT_EQ(sock::check({.op = sock::kClose, .sock = sock::kMaxSockets}), sock::kBadSocket);
  EXPECT_EQ(sock::check({.op = sock::kSend, .sock = 1, .offset = 0, .len = sock::kDataBytes}), sock::kOk);
  EXPECT_EQ(sock::check({.op = sock::kSend, .sock = 1, .offset = 1, .len = sock::kDataBytes}), sock::kBadBuffer);
  EXPECT_EQ(sock::check({.op = sock::kRecv, .sock = 1, .offset = 0xffffffff, .len = 2}), sock::kBadBuffer)
      << "no wrap-around";
  EXPECT_EQ(sock::check({.op = sock::kRecv, .sock = 1, .offset = 0, .len = 0}), sock::kBadBuffer);
  EXPECT_EQ(sock::check({.op = sock::kConnect, .sock = 1, .addr = 0x0a000202, .port = 0}), sock::kInvalid);
  EXPECT_EQ(sock::check({.op = sock::kConnect, .sock = 1, .addr = 0x0a000202, .port = 70000}), sock::kInvalid);
  EXPECT_EQ(sock::check({.op = sock::kListen, .sock = 1, .arg = sock::kMaxBacklog + 1}), sock::kInvalid);
  EXPECT_EQ(sock::check({.op = sock::kSendTo, .sock = 1, .offset = 0, .len = sock::kMaxDatagram + 1, .port = 7}),
            sock::kInvalid);
  EXPECT_EQ(sock::check({.op = sock::kStats, .sock = 999, .offset = 0, .len = sizeof(sock::Stats)}), sock::kOk)
      << "statistics name no socket";
}

}  // namespace
