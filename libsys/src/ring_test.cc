// The driver/client queue (keel/ring.h): order and ownership under two
// threads (10 M descriptors; run it under --config=tsan too), a hostile
// peer's indices, and the wake-up protocol: at every point inside push and
// pop, the other side's "about to sleep" sequence either sees the new state
// or is told to wake — the test fails if the flag check is moved before
// the publish (the lost-wakeup order).
#include "keel/ring.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace keel::ring {
namespace {

struct Desc {
  uint64_t seq;
  uint32_t offset, length;
};

TEST(Ring, FifoFullAndEmpty) {
  static Ring<Desc, 8> r;
  bool signal = true;
  Desc d{};
  EXPECT_FALSE(r.pop(&d, &signal));
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(r.push(Desc{i, uint32_t(i), 1}, &signal));
  EXPECT_FALSE(signal) << "nobody asked";
  EXPECT_FALSE(r.push(Desc{99, 0, 0}, &signal)) << "full";
  EXPECT_EQ(r.size(), 8u);
  for (uint64_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(r.pop(&d, &signal));
    EXPECT_EQ(d.seq, i);
  }
  EXPECT_FALSE(r.pop(&d, &signal));
}

// A peer that writes garbage into the shared header gets refusals, never a
// copy past the slots (the shared page is all the peer controls).
TEST(Ring, HostileIndicesAreRefused) {
  static Ring<Desc, 8> r;
  bool signal = false;
  Desc d{};
  ASSERT_TRUE(r.push(Desc{1, 0, 0}, &signal));
  uint32_t* words = reinterpret_cast<uint32_t*>(&r);
  words[0] = 1000;  // head: 1000 published, says the "producer"
  EXPECT_FALSE(r.pop(&d, &signal)) << "more than N published is broken";
  EXPECT_TRUE(r.prepare_wait()) << "a broken ring is nothing to take: the consumer sleeps rather than spin on it";
  words[0] = 1;
  words[16] = 5000;  // tail, one cache line on
  EXPECT_FALSE(r.push(Desc{2, 0, 0}, &signal)) << "a tail ahead of head is broken";
  EXPECT_TRUE(r.producer_prepare_wait()) << "and the producer sleeps on it";
}

// Two threads, 10 M descriptors; each side sleeps when it must (a
// notification-like binary semaphore per direction) and checks that nothing
// is lost, duplicated or reordered. A wait that times out while there is
// work is a lost wake-up.
struct Notification {
  std::mutex m;
  std::condition_variable cv;
  bool set = false;
  void signal() {
    std::lock_guard<std::mutex> l(m);
    set = true;
    cv.notify_one();
  }
  bool wait() {
    std::unique_lock<std::mutex> l(m);
    bool ok = cv.wait_for(l, std::chrono::seconds(10), [&] { return set; });
    set = false;
    return ok;
  }
};

TEST(Ring, TwoThreadsTenMillion) {
  constexpr uint64_t kCount = 10'000'000;
  static Ring<Desc, 256> r;
  Notification to_consumer, to_producer;
  bool lost = false;
  std::thread producer([&] {
    for (uint64_t i = 0; i < kCount;) {
      bool signal = false;
      if (r.push(Desc{i, uint32_t(i % 256) * 64, 64}, &signal)) {
        if (signal) to_consumer.signal();
        ++i;
      } else if (r.producer_prepare_wait() && !to_producer.wait()) {
        lost = true;
        return;
      }
    }
  });
  uint64_t expect = 0, bad = 0, sleeps = 0;
  while (expect < kCount && !lost) {
    Desc d{};
    bool signal = false;
    if (r.pop(&d, &signal)) {
      if (signal) to_producer.signal();
      bad += d.seq != expect || d.offset != uint32_t(expect % 256) * 64;
      ++expect;
    } else if (r.prepare_wait()) {
      ++sleeps;
      if (!to_consumer.wait()) lost = true;
    }
  }
  producer.join();
  EXPECT_FALSE(lost) << "a side slept through work: lost wake-up";
  EXPECT_EQ(expect, kCount);
  EXPECT_EQ(bad, 0u) << "lost, duplicated or reordered descriptors";
  std::printf("ring: %llu descriptors, consumer slept %llu times\n", static_cast<unsigned long long>(kCount),
              static_cast<unsigned long long>(sleeps));
}

// The protocol, step by step: the other side runs its whole "about to
// sleep" sequence at each hook point inside push (or pop). It must either
// see the change (no sleep) or have the pushing side told to signal it.
template <int kSide>
struct SleepAt {
  static inline int point = -1;
  static inline bool sleeps = false;
  static inline void* ring = nullptr;
  static void at(int p);
};
using ConsumerProbe = SleepAt<0>;
using ProducerProbe = SleepAt<1>;
using ProbeRing = Ring<Desc, 4, ConsumerProbe>;
using FullRing = Ring<Desc, 4, ProducerProbe>;
template <>
void SleepAt<0>::at(int p) {
  if (p == point) sleeps = static_cast<ProbeRing*>(ring)->prepare_wait();
}
template <>
void SleepAt<1>::at(int p) {
  if (p == point) sleeps = static_cast<FullRing*>(ring)->producer_prepare_wait();
}

TEST(Ring, NoLostWakeUpAtAnyPointOfPush) {
  for (int point : {0, 1, 2}) {
    ProbeRing r;
    ConsumerProbe::ring = &r;
    ConsumerProbe::point = point;
    ConsumerProbe::sleeps = false;
    bool signal = false;
    ASSERT_TRUE(r.push(Desc{1, 0, 0}, &signal));
    EXPECT_TRUE(!ConsumerProbe::sleeps || signal)
        << "the consumer went to sleep at point " << point << " and the producer was not told to wake it";
    EXPECT_TRUE(point != 0 || signal) << "asked before the publish: it must be told";
  }
}

TEST(Ring, NoLostWakeUpAtAnyPointOfPop) {
  for (int point : {10, 11, 12}) {
    FullRing r;
    bool signal = false;
    for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(r.push(Desc{i, 0, 0}, &signal));
    ProducerProbe::ring = &r;
    ProducerProbe::point = point;
    ProducerProbe::sleeps = false;
    Desc d{};
    ASSERT_TRUE(r.pop(&d, &signal));
    EXPECT_TRUE(!ProducerProbe::sleeps || signal)
        << "the producer went to sleep at point " << point << " and the consumer was not told to wake it";
  }
}

}  // namespace
}  // namespace keel::ring
