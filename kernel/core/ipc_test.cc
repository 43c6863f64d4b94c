#include "kernel/core/ipc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "keel/abi.h"
#include "kernel/core/ipc_fast.h"
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

// highest() is a cached level (RunQueue::top_, one load for the lockless
// paths): it must follow every enqueue and removal, across the bitmap's
// 64-level words, against a model.
TEST(Scheduler, CachedHighestFollowsEveryChange) {
  Scheduler s;
  std::mt19937 rng(26);
  std::vector<Thread> threads;
  threads.reserve(300);
  for (uint32_t i = 0; i < 300; ++i) threads.push_back(Make(rng() % 256));
  std::vector<bool> queued(threads.size(), false);
  for (int step = 0; step < 20000; ++step) {
    const size_t i = rng() % threads.size();
    if (queued[i]) {
      s.remove(&threads[i]);
    } else {
      s.enqueue(&threads[i]);
    }
    queued[i] = !queued[i];
    int want = -1;
    for (size_t j = 0; j < threads.size(); ++j) {
      if (queued[j]) want = std::max(want, static_cast<int>(threads[j].priority));
    }
    ASSERT_EQ(s.highest(), want) << "after step " << step;
    if (step % 1000 == 0) ASSERT_EQ(s.check(1000), nullptr);
  }
  while (s.pick() != nullptr) {
  }
  EXPECT_EQ(s.highest(), -1);
  EXPECT_EQ(s.check(1000), nullptr);
}

TEST(Scheduler, CheckFindsBrokenQueues) {
  Scheduler s;
  Thread a = Make(10), b = Make(10), c = Make(20);
  for (Thread* t : {&a, &b, &c}) s.enqueue(t);
  EXPECT_EQ(s.check(100), nullptr);
  b.state = ThreadState::kBlockedRecv;
  EXPECT_STREQ(s.check(100), "run queue: a thread that is not runnable");
  b.state = ThreadState::kRunnable;
  b.q_prev = &c;
  EXPECT_STREQ(s.check(100), "run queue: links not symmetric");
  b.q_prev = &a;
  EXPECT_STREQ(s.check(2), "run queue: a cycle (more threads than exist)");
  b.priority = 30;
  EXPECT_STREQ(s.check(100), "run queue: a thread at the wrong priority level");
  b.priority = 10;
  EXPECT_EQ(s.check(100), nullptr);
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

// The CPU this test pretends to run on, and the CPUs it was asked to kick
// (the kernel's definitions read TPIDR_EL1 and send SGIs).
unsigned g_cpu = 0;
std::vector<unsigned> g_kicked;

}  // namespace

unsigned current_cpu() { return g_cpu; }
void kick_cpu(unsigned cpu) { g_kicked.push_back(cpu); }

namespace {

struct OnCpu {  // sets the current CPU for a scope
  explicit OnCpu(unsigned cpu) : saved(g_cpu) { g_cpu = cpu; }
  ~OnCpu() { g_cpu = saved; }
  unsigned saved;
};

TEST(Scheduler, EachCpuPicksFromItsOwnQueueAndOthersAreKicked) {
  Scheduler s;
  g_kicked.clear();
  Thread a = Make(10), b = Make(50);
  set_cpu(&b, 3);
  s.enqueue(&a);  // CPU 0's, from CPU 0: nobody to kick
  s.enqueue(&b);  // CPU 3's, from CPU 0: CPU 3 is told
  EXPECT_EQ(g_kicked, std::vector<unsigned>{3});
  EXPECT_EQ(s.highest(), 10);  // CPU 0 does not see b
  EXPECT_EQ(s.highest_on(3), 50);
  {
    OnCpu three(3);
    EXPECT_TRUE(s.contains(&b));
    EXPECT_EQ(s.pick(), &b);
    EXPECT_EQ(s.pick(), nullptr);
    s.enqueue(&b);  // its own CPU: no kick
  }
  EXPECT_EQ(g_kicked.size(), 1u);
  s.remove(&b);  // removal finds it on its own CPU's queue, from anywhere
  EXPECT_FALSE(s.contains(&b));
  EXPECT_EQ(s.pick(), &a);
}

TEST(Fastpath, DeclinesPartnersOfOtherCpus) {
  Scheduler s;
  Endpoint ep{};
  Thread caller = Make(10), server = Make(10);
  set_cpu(&server, 1);
  ipc_recv(s, &ep, &server);  // the server waits, but it belongs to CPU 1
  caller.frame.x[1] = abi::message_info(1, 1);
  EXPECT_EQ(ipc_fastpath_call(cpu_fast_key(0, caller.cpu), s.queue_of(caller.cpu), &ep, &caller,
                              caller.regs().args<abi::IpcArgs>(), 0),
            nullptr);  // the slow path queues it on CPU 1
  EXPECT_EQ(ep.state, EndpointState::kReceivers);
  g_kicked.clear();
  ipc_send(s, &ep, &caller, 0, true, true);
  EXPECT_EQ(g_kicked, std::vector<unsigned>{1});
  EXPECT_EQ(s.pick(), nullptr);  // nothing for CPU 0
  OnCpu one(1);
  EXPECT_EQ(s.pick(), &server);
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
  client.frame.x[1] = abi::message_info(1, 7);  // claims 7 words; no word transfer installed
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
  EXPECT_TRUE(endpoint_destroy(s, &ep, ~uint64_t{0}));
  for (Thread* t : {&server, &r2}) {
    EXPECT_EQ(t->state, ThreadState::kRunnable);
    EXPECT_EQ(t->frame.x[0], static_cast<uint64_t>(Error::kObjectDestroyed));
    EXPECT_EQ(t->blocked_on, nullptr);
  }
  EXPECT_EQ(ep.waiters.head, nullptr);
}

// Bounded kernel time: a destroy releases at most `budget` waiters per
// call and says whether any are left (objects.h: the rest wait on the
// dying list for later steps).
TEST_F(IpcTest, DestroyingAnEndpointReleasesWaitersInBatches) {
  Thread r2 = Make(3), r3 = Make(3);
  for (Thread* t : {&server, &r2, &r3}) ipc_recv(s, &ep, t);
  EXPECT_FALSE(endpoint_destroy(s, &ep, 2));
  EXPECT_EQ(server.state, ThreadState::kRunnable);
  EXPECT_EQ(r2.state, ThreadState::kRunnable);
  EXPECT_EQ(r3.blocked_on, &ep) << "the third still waits";
  EXPECT_TRUE(endpoint_destroy(s, &ep, 2));
  EXPECT_EQ(r3.frame.x[0], static_cast<uint64_t>(Error::kObjectDestroyed));
  EXPECT_EQ(ep.waiters.head, nullptr);
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
  EXPECT_EQ(ep.waiters.head, &c2);
  ipc_recv(s, &ep, &server);
  EXPECT_EQ(server.frame.x[6], 2u);
  EXPECT_EQ(ep.state, EndpointState::kIdle);
}

TEST_F(IpcTest, FaultIsAMessageAndTheReplyResumesWithRegistersIntact) {
  for (int r = 0; r < 7; ++r) client.frame.x[r] = 1000 + r;
  const uint64_t mr[4] = {0x92000046, 0x1000'0000, 0x400040, 0x7fff'0000};
  ipc_recv(s, &ep, &server);
  ipc_send_fault(s, &ep, &client, /*badge=*/5, abi::kFaultMemory, mr);
  EXPECT_EQ(client.state, ThreadState::kBlockedReply);
  EXPECT_EQ(abi::info_label(server.frame.x[1]), abi::kFaultMemory);
  EXPECT_EQ(abi::info_length(server.frame.x[1]), 4u);
  EXPECT_EQ(server.frame.x[2], mr[0]);
  EXPECT_EQ(server.frame.x[3], mr[1]);
  EXPECT_EQ(server.frame.x[6], 5u);
  for (int r = 0; r < 7; ++r) EXPECT_EQ(client.frame.x[r], 1000u + r) << "a fault changes no register";
  Message(server, 0, {42});
  EXPECT_EQ(ipc_fastpath_reply_recv(cpu_fast_key(0, server.cpu), s.queue_of(server.cpu), &ep, &server,
                                    server.regs().args<abi::IpcArgs>()),
            nullptr)
      << "a faulted caller takes the slow path";
  ipc_reply(s, &server);
  EXPECT_EQ(client.state, ThreadState::kRunnable);
  for (int r = 0; r < 7; ++r) EXPECT_EQ(client.frame.x[r], 1000u + r) << "the reply does not overwrite them";
  EXPECT_EQ(client.fault_pending, 0u);
}

TEST_F(IpcTest, UnknownSyscallFaultResumesWithAnError) {
  const uint64_t mr[4] = {0x56000000, 0, 0x400100, 0};
  ipc_send_fault(s, &ep, &client, 0, abi::kFaultUnknownSyscall, mr);  // queued: nobody receives yet
  ipc_recv(s, &ep, &server);
  EXPECT_EQ(abi::info_label(server.frame.x[1]), abi::kFaultUnknownSyscall);
  ipc_reply(s, &server);
  EXPECT_EQ(client.frame.x[0], static_cast<uint64_t>(Error::kUnknownSyscall));
}

TEST(Notification, SignalWaitPollAndBadgesCombine) {
  Scheduler s;
  Notification n{};
  Thread a = Make(1);
  ntfn_wait(&n, &a, /*blocking=*/false);  // poll, nothing pending
  EXPECT_EQ(a.frame.x[1], 0u);
  ntfn_signal(s, &n, 0b0100);
  ntfn_signal(s, &n, 0b0001);
  ntfn_signal(s, &n, 0);  // unbadged counts as bit 0
  ntfn_wait(&n, &a, true);
  EXPECT_EQ(a.frame.x[1], 0b0101u) << "pending signals OR together and do not block";
  EXPECT_EQ(n.word, 0u);
  ntfn_wait(&n, &a, true);
  EXPECT_EQ(a.state, ThreadState::kBlockedWait);
  ntfn_signal(s, &n, 8);
  EXPECT_EQ(a.state, ThreadState::kRunnable);
  EXPECT_EQ(a.frame.x[1], 8u);
  EXPECT_EQ(s.pick(), &a);
  Thread b = Make(1);
  ntfn_wait(&n, &b, true);
  EXPECT_TRUE(ntfn_destroy(s, &n, ~uint64_t{0}));
  EXPECT_EQ(b.frame.x[0], static_cast<uint64_t>(Error::kObjectDestroyed));
  Thread c = Make(1);
  ntfn_wait(&n, &c, true);
  thread_detach(s, &c);
  EXPECT_EQ(n.waiters.head, nullptr) << "a detached waiter leaves the queue";
}

int g_transfers = 0;
bool g_transfer_ok = true;
bool FakeTransfer(Thread*, Thread*) {
  ++g_transfers;
  return g_transfer_ok;
}

TEST_F(IpcTest, CapabilityTravelsOnlyWhenAskedAndWhenTheHookSucceeds) {
  ipc_set_cap_transfer(FakeTransfer);
  g_transfers = 0;
  client.frame.x[1] = abi::message_info(3, 1, /*caps=*/1);
  ipc_recv(s, &ep, &server);
  EXPECT_EQ(ipc_fastpath_call(cpu_fast_key(0, client.cpu), s.queue_of(client.cpu), &ep, &client,
                              client.regs().args<abi::IpcArgs>(), 0),
            nullptr)
      << "capability transfer takes the slow path";
  ipc_send(s, &ep, &client, 0, true, false);
  EXPECT_EQ(g_transfers, 1);
  EXPECT_EQ(abi::info_caps(server.frame.x[1]), 1u);
  g_transfer_ok = false;  // e.g. the receive slot was occupied
  ipc_recv(s, &ep, &server);
  ipc_send(s, &ep, &client, 0, true, false);
  EXPECT_EQ(abi::info_caps(server.frame.x[1]), 0u) << "the message arrives without the capability";
  EXPECT_EQ(server.frame.x[0], static_cast<uint64_t>(Error::kOk));
  client.frame.x[1] = abi::message_info(3, 1, 0);
  ipc_recv(s, &ep, &server);
  ipc_send(s, &ep, &client, 0, true, false);
  EXPECT_EQ(g_transfers, 2) << "no capability asked for, none moved";
  ipc_set_cap_transfer(nullptr);
  g_transfer_ok = true;
}

TEST_F(IpcTest, ReplyObjectsLetAServerAnswerCallersInAnyOrder) {
  Reply r1{}, r2{};
  Thread c2 = Make(10);
  Message(client, 0, {1});
  Message(c2, 0, {2});
  ipc_send(s, &ep, &client, 0, true, /*call=*/true);
  ipc_send(s, &ep, &c2, 0, true, /*call=*/true);
  ipc_recv(s, &ep, &server, &r1);  // takes client's call; its reply right goes into r1
  EXPECT_EQ(r1.caller, &client);
  EXPECT_EQ(server.reply_to, nullptr) << "not the implicit slot";
  ipc_recv(s, &ep, &server, &r2);
  EXPECT_EQ(r2.caller, &c2);
  // Answer the second caller first.
  Message(server, 0, {200});
  ASSERT_TRUE(ipc_reply_object(s, &r2, &server));
  EXPECT_EQ(c2.state, ThreadState::kRunnable);
  EXPECT_EQ(c2.frame.x[2], 200u);
  EXPECT_EQ(client.state, ThreadState::kBlockedReply);
  Message(server, 0, {100});
  ASSERT_TRUE(ipc_reply_object(s, &r1, &server));
  EXPECT_EQ(client.frame.x[2], 100u);
  EXPECT_FALSE(ipc_reply_object(s, &r1, &server)) << "a Reply answers once";
}

TEST_F(IpcTest, DestroyingAReplyReleasesItsCallerAndItsReceiver) {
  Reply r{};
  ipc_send(s, &ep, &client, 0, true, true);
  ipc_recv(s, &ep, &server, &r);
  reply_destroy(s, &r);
  EXPECT_EQ(client.state, ThreadState::kRunnable);
  EXPECT_EQ(client.frame.x[0], static_cast<uint64_t>(Error::kObjectDestroyed));
  EXPECT_EQ(client.reply_object, nullptr);
  Thread srv2 = Make(10);
  Reply r2{};
  Endpoint ep2{};
  ipc_recv(s, &ep2, &srv2, &r2);  // blocked, r2 designated
  reply_destroy(s, &r2);
  EXPECT_EQ(srv2.recv_reply, nullptr) << "no dangling designation";
  Thread c3 = Make(10);
  ipc_send(s, &ep2, &c3, 0, true, true);
  EXPECT_EQ(srv2.reply_to, &c3) << "with its Reply gone, the receive falls back to the implicit reply";
}

TEST(Ipc, RecvWhileHoldingACallerReleasesIt) {
  Scheduler s;
  Endpoint ep{};
  Thread server = Make(10), c1 = Make(5), c2 = Make(5);
  ipc_recv(s, &ep, &server);
  ipc_send(s, &ep, &c1, 1, true, true);
  ASSERT_EQ(c1.state, ThreadState::kBlockedReply);
  ASSERT_EQ(server.reply_to, &c1);
  (void)s.pick();             // the server runs
  ipc_recv(s, &ep, &server);  // without replying
  EXPECT_EQ(c1.state, ThreadState::kRunnable);
  EXPECT_EQ(c1.frame.x[0], static_cast<uint64_t>(Error::kObjectDestroyed));
  EXPECT_EQ(c1.replier, nullptr);
  EXPECT_EQ(server.reply_to, nullptr);
  ipc_send(s, &ep, &c2, 2, true, true);
  EXPECT_EQ(server.reply_to, &c2);
  EXPECT_EQ(c2.replier, &server);
}

// A thread sending its fault to an endpoint that is destroyed is stopped
// with its registers intact; detaching withdraws a pending fault message.
TEST(Ipc, FaultingThreadsAreStoppedNotResumedWithGarbage) {
  Scheduler s;
  Endpoint ep{};
  Thread t = Make(5);
  t.frame.x[0] = 1234;
  const uint64_t mr[4] = {1, 2, 3, 4};
  ipc_send_fault(s, &ep, &t, 7, abi::kFaultMemory, mr);
  ASSERT_EQ(t.state, ThreadState::kBlockedSend);
  EXPECT_TRUE(endpoint_destroy(s, &ep, ~uint64_t{0}));
  EXPECT_EQ(t.state, ThreadState::kStopped);
  EXPECT_EQ(t.frame.x[0], 1234u);
  EXPECT_EQ(t.fault_pending, 0u);
  EXPECT_FALSE(s.contains(&t));

  Thread u = Make(5);
  ipc_send_fault(s, &ep, &u, 7, abi::kFaultMemory, mr);
  thread_detach(s, &u);  // suspended while its fault waits
  EXPECT_EQ(u.fault_pending, 0u) << "a restarted thread must not send a stale fault record";
}

// A chain of fault handlers that fault in turn (t[i] received t[i-1]'s
// fault message, then faulted itself): destroying the fault endpoint stops
// every one of them — iteratively, so the chain costs no kernel stack.
TEST(Ipc, ChainOfFaultedHoldersIsStoppedIteratively) {
  Scheduler s;
  Endpoint faults{};
  constexpr int kN = 1000;
  std::vector<Thread> t(kN + 1);
  for (auto& x : t) x = Make(5);
  const uint64_t mr[4] = {};
  for (int i = 0; i <= kN; ++i) {
    if (i < kN) ipc_recv(s, &faults, &t[i + 1]);  // the next handler waits
    ipc_send_fault(s, &faults, &t[i], 0, abi::kFaultMemory, mr);
    s.remove(&t[i + (i < kN ? 1 : 0)]);  // (the handler runs: not in the run queue)
  }
  ASSERT_EQ(t[kN].state, ThreadState::kBlockedSend);
  ASSERT_EQ(t[0].state, ThreadState::kBlockedReply);
  EXPECT_TRUE(endpoint_destroy(s, &faults, ~uint64_t{0}));
  for (int i = 0; i <= kN; ++i) {
    EXPECT_EQ(t[i].state, ThreadState::kStopped) << i;
    EXPECT_EQ(t[i].reply_to, nullptr) << i;
  }
}

}  // namespace
}  // namespace keel
