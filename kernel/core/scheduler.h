// scheduler.h — fixed-priority round-robin run queue (one per CPU).
//
// 256 priorities, FIFO within a priority, a bitmap to find the highest
// non-empty level in O(1). The running thread is not in the queue: pick()
// removes what it returns; a thread that keeps running after a syscall is
// simply not enqueued, one that yields is enqueued at the tail first.
// Portable, host-tested (scheduler_test.cc).
#pragma once

#include <stdint.h>

#include "kernel/core/thread.h"

namespace keel {

class Scheduler {
 public:
  static constexpr unsigned kLevels = 256;

  // Appends t (which must be in no queue) at its priority's tail.
  void enqueue(Thread* t);
  // Removes t from the run queue if it is there.
  void remove(Thread* t);
  // Removes and returns the first thread of the highest non-empty level.
  Thread* pick();
  bool empty() const;
  bool contains(const Thread* t) const;
  // The highest priority waiting, or -1.
  int highest() const;

 private:
  ThreadQueue level_[kLevels] = {};
  uint64_t bitmap_[kLevels / 64] = {};
};

}  // namespace keel
