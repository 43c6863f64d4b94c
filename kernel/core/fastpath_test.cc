// The IPC fastpaths against the slow path they shortcut, on generated
// states (ipc.h: each does exactly what the slow path would, or declines
// having changed nothing).
#include <gtest/gtest.h>

#include <random>

#include "keel/abi.h"
#include "kernel/core/ipc.h"
#include "kernel/core/ipc_fast.h"
#include "kernel/core/scheduler.h"

namespace keel {
namespace {

// ---- fastpath == slow path ------------------------------------------------

// A small world built deterministically from a seed, so two copies start
// identical: threads with random priorities, some queued as runnable, some
// receivers or senders on the endpoint, maybe a caller awaiting a reply.
struct World {
  static constexpr int kThreads = 8;
  Thread th[kThreads];
  Endpoint ep{};
  Scheduler s;
  int actor = 0;

  explicit World(uint32_t seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < kThreads; ++i) {
      th[i] = Thread{};
      th[i].priority = rng() % 3 * 50;
      th[i].state = ThreadState::kInactive;
      for (int r = 0; r < 7; ++r) th[i].frame.x[r] = rng() % 1000;
      th[i].frame.x[1] = abi::message_info(rng() % 16, rng() % 6);
    }
    actor = 0;
    th[0].state = ThreadState::kRunnable;  // the caller / replier, on the CPU
    int mode = rng() % 3;
    for (int i = 1; i < kThreads; ++i) {
      switch (rng() % 3) {
        case 0: wake_(i); break;
        case 1:
          if (mode == 0) ipc_recv(s, &ep, &th[i]);
          if (mode == 1) ipc_send(s, &ep, &th[i], i, true, rng() % 2);
          break;
        default: break;
      }
    }
    if (rng() % 2) {  // th[1] called th[0] and waits for its reply
      if (th[1].blocked_on != nullptr || s.contains(&th[1])) thread_detach(s, &th[1]);
      th[1].state = ThreadState::kBlockedReply;
      th[1].replier = &th[0];
      th[0].reply_to = &th[1];
    }
  }
  void wake_(int i) {
    th[i].state = ThreadState::kRunnable;
    s.enqueue(&th[i]);
  }
  int index(const Thread* t) const { return t == nullptr ? -1 : static_cast<int>(t - th); }
};

void ExpectSame(const World& a, const World& b, Thread* next_a, Thread* next_b) {
  EXPECT_EQ(a.index(next_a), b.index(next_b));
  for (int i = 0; i < World::kThreads; ++i) {
    const Thread &x = a.th[i], &y = b.th[i];
    EXPECT_EQ(x.state, y.state) << "thread " << i;
    for (int r = 0; r < 7; ++r) EXPECT_EQ(x.frame.x[r], y.frame.x[r]) << "thread " << i << " x" << r;
    EXPECT_EQ(a.index(x.reply_to), b.index(y.reply_to)) << i;
    EXPECT_EQ(a.index(x.replier), b.index(y.replier)) << i;
    EXPECT_EQ(a.index(x.q_next), b.index(y.q_next)) << i;
    EXPECT_EQ(x.blocked_on != nullptr, y.blocked_on != nullptr) << i;
  }
  EXPECT_EQ(a.ep.state, b.ep.state);
  EXPECT_EQ(a.index(a.ep.waiters.head), b.index(b.ep.waiters.head));
  EXPECT_EQ(a.s.highest(), b.s.highest());
}

TEST(Fastpath, CallMatchesTheSlowPath) {
  int taken = 0;
  for (uint32_t seed = 0; seed < 3000; ++seed) {
    World slow(seed), fast(seed);
    if (slow.th[0].reply_to != nullptr) continue;  // a caller awaiting a reply is not Calling
    Thread* next_fast = ipc_fastpath_call(cpu_fast_key(0, fast.th[0].cpu), fast.s.queue_of(fast.th[0].cpu), &fast.ep,
                                          &fast.th[0], fast.th[0].regs().args<abi::IpcArgs>(), 77);
    if (next_fast == nullptr) {
      ExpectSame(slow, fast, nullptr, nullptr);  // declined: nothing changed
      continue;
    }
    ++taken;
    ipc_send(slow.s, &slow.ep, &slow.th[0], 77, true, true);
    Thread* next_slow = slow.s.pick();
    ExpectSame(slow, fast, next_slow, next_fast);
    if (HasFailure()) FAIL() << "seed " << seed;
  }
  EXPECT_GT(taken, 50) << "the fast case must actually occur";
}

TEST(Fastpath, ReplyRecvMatchesTheSlowPath) {
  int taken = 0;
  for (uint32_t seed = 0; seed < 3000; ++seed) {
    World slow(seed), fast(seed);
    Thread* next_fast = ipc_fastpath_reply_recv(cpu_fast_key(0, fast.th[0].cpu), fast.s.queue_of(fast.th[0].cpu),
                                                &fast.ep, &fast.th[0], fast.th[0].regs().args<abi::IpcArgs>());
    if (next_fast == nullptr) {
      ExpectSame(slow, fast, nullptr, nullptr);
      continue;
    }
    ++taken;
    ipc_reply(slow.s, &slow.th[0]);
    ipc_recv(slow.s, &slow.ep, &slow.th[0]);
    Thread* next_slow = slow.s.pick();
    ExpectSame(slow, fast, next_slow, next_fast);
    if (HasFailure()) FAIL() << "seed " << seed;
  }
  EXPECT_GT(taken, 50) << "the fast case must actually occur";
}

// A Recv (not ReplyRecv) by a receiver that still holds an implicit caller
// releases that caller: it never waits forever, and no pointer to the
// receiver stays behind in it.
}  // namespace
}  // namespace keel
