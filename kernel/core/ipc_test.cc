#include "kernel/core/ipc.h"

#include <gtest/gtest.h>

#include <vector>

#include "keel/abi.h"
#include "kernel/core/scheduler.h"

namespace keel {
namespace {

using abi::Error;

Thread Make(uint32_t prio) {
  Thread t{};
  t.priority = prio;
  t.state = ThreadState::kRunnable;
  return t;
}

TEST(Scheduler, HighestPriorityFirstFifoWithin) {
  Scheduler s;
  Thread a = Make(10), b = Make(200), c = Make(10), d = Make(0);
  for (Thread* t : {&a, &b, &c, &d}) s.enqueue(t);
  EXPECT_EQ(s.highest(), 200);
  EXPECT_EQ(s.pick(), &b);
  EXPECT_EQ(s.pick(), &a);
  EXPECT_EQ(s.pick(), &c);
  EXPECT_EQ(s.pick(), &d);
  EXPECT_EQ(s.pick(), nullptr);
  EXPECT_TRUE(s.empty());
}

TEST(Scheduler, RemoveFromMiddleAndRoundRobin) {
  Scheduler s;
  Thread a = Make(5), b = Make(5), c = Make(5);
  for (Thread* t : {&a, &b, &c}) s.enqueue(t);
  s.remove(&b);
  EXPECT_FALSE(s.contains(&b));
  s.remove(&b);  // not there: no effect
  EXPECT_EQ(s.pick(), &a);
  s.enqueue(&a);  // a yields: goes behind c
  EXPECT_EQ(s.pick(), &c);
  EXPECT_EQ(s.pick(), &a);
  Thread hi = Make(255), lo = Make(0);
  s.enqueue(&lo);
  s.enqueue(&hi);
  EXPECT_EQ(s.pick(), &hi);
  EXPECT_EQ(s.pick(), &lo);
}

struct IpcTest : ::testing::Test {
  Scheduler s;
  Endpoint ep{};
  Thread client = Make(10), server = Make(10);
  void Message(Thread& t, uint64_t label, std::vector<uint64_t> mrs) {
    t.frame.x[1] = abi::message_info(label, mrs.size());
    for (size_t i = 0; i < mrs.size(); ++i) t.frame.x[2 + i] = mrs[i];
  }
};

TEST_F(IpcTest, CallThenRecvThenReply) {
  Message(client, 7, {11, 22});
  ipc_send(s, &ep, &client, /*badge=*/99, /*blocking=*/true, /*call=*/true);
  EXPECT_EQ(client.state, ThreadState::kBlockedSend);
  EXPECT_EQ(ep.state, EndpointState::kSenders);
  ipc_recv(s, &ep, &server);
  EXPECT_EQ(server.frame.x[0], static_cast<uint64_t>(Error::kOk));
  EXPECT_EQ(abi::info_label(server.frame.x[1]), 7u);
  EXPECT_EQ(abi::info_length(server.frame.x[1]), 2u);
  EXPECT_EQ(server.frame.x[2], 11u);
  EXPECT_EQ(server.frame.x[3], 22u);
  EXPECT_EQ(server.frame.x[4], 0u) << "unused MRs are cleared, not leaked";
  EXPECT_EQ(server.frame.x[6], 99u) << "the badge identifies the client";
  EXPECT_EQ(client.state, ThreadState::kBlockedReply);
  EXPECT_EQ(server.reply_to, &client);
  EXPECT_EQ(ep.state, EndpointState::kIdle);
  Message(server, 0, {33});
  ipc_reply(s, &server);
  EXPECT_EQ(client.state, ThreadState::kRunnable);
  EXPECT_EQ(s.pick(), &client);
  EXPECT_EQ(client.frame.x[2], 33u);
  EXPECT_EQ(client.frame.x[6], 0u);
  EXPECT_EQ(server.reply_to, nullptr);
  ipc_reply(s, &server);  // nobody to reply to: nothing happens
  EXPECT_TRUE(s.empty());
}

TEST_F(IpcTest, RecvFirstThenSendWakesTheReceiver) {
  ipc_recv(s, &ep, &server);
  EXPECT_EQ(server.state, ThreadState::kBlockedRecv);
  Message(client, 1, {5, 6, 7, 8});
  ipc_send(s, &ep, &client, 3, true, false);
  EXPECT_EQ(client.frame.x[0], static_cast<uint64_t>(Error::kOk));
  EXPECT_EQ(client.state, ThreadState::kRunnable) << "Send does not wait for a reply";
  EXPECT_EQ(s.pick(), &server);
  EXPECT_EQ(server.frame.x[5], 8u);
  EXPECT_EQ(server.frame.x[6], 3u);
}

TEST_F(IpcTest, NonBlockingSendWithoutReceiver) {
  ipc_send(s, &ep, &client, 0, /*blocking=*/false, false);
  EXPECT_EQ(client.frame.x[0], static_cast<uint64_t>(Error::kWouldBlock));
  EXPECT_EQ(client.state, ThreadState::kRunnable);
  EXPECT_EQ(ep.state, EndpointState::kIdle);
}

TEST_F(IpcTest, OversizedMessageIsClipped) {
  client.frame.x[1] = abi::message_info(1, 7);  // claims 7 MRs
  ipc_recv(s, &ep, &server);
  ipc_send(s, &ep, &client, 0, true, false);
  EXPECT_EQ(abi::info_length(server.frame.x[1]), abi::kMaxMessageRegisters);
}

TEST_F(IpcTest, SendersQueueInOrder) {
  Thread c2 = Make(10), c3 = Make(10);
  Message(client, 1, {1});
  Message(c2, 1, {2});
  Message(c3, 1, {3});
  for (Thread* t : {&client, &c2, &c3}) ipc_send(s, &ep, t, 0, true, false);
  for (uint64_t want : {1u, 2u, 3u}) {
    ipc_recv(s, &ep, &server);
    EXPECT_EQ(server.frame.x[2], want);
  }
  EXPECT_EQ(s.pick(), &client);
  EXPECT_EQ(s.pick(), &c2);
  EXPECT_EQ(s.pick(), &c3);
}

TEST_F(IpcTest, DestroyingAnEndpointWakesEveryWaiter) {
  Thread r2 = Make(3);
  ipc_recv(s, &ep, &server);
  ipc_recv(s, &ep, &r2);
  endpoint_destroy(s, &ep);
  for (Thread* t : {&server, &r2}) {
    EXPECT_EQ(t->state, ThreadState::kRunnable);
    EXPECT_EQ(t->frame.x[0], static_cast<uint64_t>(Error::kObjectDestroyed));
    EXPECT_EQ(t->blocked_on, nullptr);
  }
  EXPECT_EQ(ep.head, nullptr);
}

TEST_F(IpcTest, DetachingAServerReleasesItsCaller) {
  ipc_recv(s, &ep, &server);
  ipc_send(s, &ep, &client, 0, true, /*call=*/true);
  ASSERT_EQ(s.pick(), &server);
  ASSERT_EQ(client.state, ThreadState::kBlockedReply);
  thread_detach(s, &server);
  EXPECT_EQ(server.state, ThreadState::kInactive);
  EXPECT_EQ(client.state, ThreadState::kRunnable);
  EXPECT_EQ(client.frame.x[0], static_cast<uint64_t>(Error::kObjectDestroyed));
}

TEST_F(IpcTest, DetachingABlockedSenderLeavesTheQueueConsistent) {
  Thread c2 = Make(10);
  ipc_send(s, &ep, &client, 1, true, false);
  ipc_send(s, &ep, &c2, 2, true, false);
  thread_detach(s, &client);
  EXPECT_EQ(ep.head, &c2);
  ipc_recv(s, &ep, &server);
  EXPECT_EQ(server.frame.x[6], 2u);
  EXPECT_EQ(ep.state, EndpointState::kIdle);
}

}  // namespace
}  // namespace keel
