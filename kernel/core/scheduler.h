// scheduler.h — fixed-priority round-robin run queues, one per CPU.
//
// 256 priorities, FIFO within a priority, a bitmap to find the highest
// non-empty level in O(1). The running thread is not in the queue: pick()
// removes what it returns; a thread that keeps running after a syscall is
// simply not enqueued, one that yields is enqueued at the tail first.
// Portable, host-tested (ipc_test.cc).
#pragma once

#include <stdint.h>

#include "keel/abi.h"
#include "kernel/object/thread.h"

namespace keel {

// The CPU running this code (the kernel: TPIDR_EL1; host tests: 0 unless
// they say otherwise), and the hook that tells another CPU to look at its
// run queue (the kernel: an SGI; host tests: nothing). Weak defaults in
// scheduler.cc.
unsigned current_cpu();
void kick_cpu(unsigned cpu);

// One CPU's run queue.
class RunQueue {
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
  // The highest priority waiting, or -1: one load (inline: every IPC and
  // Yield asks). The lockless paths (fast_paths.cc) read another CPU's
  // writes here without the big lock: a relaxed atomic, one aligned word,
  // so they see the level before or after a concurrent enqueue, never a mix.
  int highest() const { return static_cast<int>(__atomic_load_n(&top_, __ATOMIC_RELAXED)) - 1; }
  void visit(void (*fn)(const Thread*, void*), void* ctx) const;
  // nullptr if the queue is consistent (links both ways, every thread
  // runnable, at its level, of CPU `cpu`; the bitmap says which levels are
  // non-empty; at most `limit` threads); else which rule is broken.
  const char* check(unsigned cpu, uint64_t limit) const;

 private:
  ThreadQueue level_[kLevels] = {};
  uint64_t bitmap_[kLevels / 64] = {};  // bit p: level p is not empty
  uint32_t summary_ = 0;                // bit w: bitmap_[w] is not 0 (the run-queue summary word)
  uint32_t top_ = 0;  // the highest level whose bit is set, plus one; 0: none (kept by enqueue and remove; zero-
                      // initialised like the rest, so the queues stay in .bss)
  // The highest level, from the bitmap (top_ - 1 when consistent).
  int from_bitmap() const {
    if (summary_ == 0) return -1;
    const unsigned w = 31 - static_cast<unsigned>(__builtin_clz(summary_));
    return static_cast<int>(w * 64 + 63 - static_cast<unsigned>(__builtin_clzll(bitmap_[w])));
  }
};

// The run queues of all CPUs. A thread is queued on its own CPU's
// (Thread::cpu); pick/highest/empty look at the calling CPU's. Queuing a
// thread for another CPU asks that CPU to look (kick_cpu).
class Scheduler {
 public:
  static constexpr unsigned kLevels = RunQueue::kLevels;
  static constexpr unsigned kCpus = abi::kMaxCpus;
  void enqueue(Thread* t);
  void remove(Thread* t);
  Thread* pick() { return queue_[current_cpu()].pick(); }
  bool empty() const { return queue_[current_cpu()].empty(); }
  bool contains(const Thread* t) const { return queue_[cpu_of(t)].contains(t); }
  int highest() const { return queue_[current_cpu()].highest(); }
  // The highest priority waiting on CPU `cpu`, or -1.
  int highest_on(unsigned cpu) const { return queue_[cpu < kCpus ? cpu : 0].highest(); }
  // CPU `cpu`'s run queue (the fastpaths keep a pointer to their CPU's: Cpu::run_queue).
  const RunQueue& queue_of(unsigned cpu) const { return queue_[cpu < kCpus ? cpu : 0]; }
  // RunQueue::check on every CPU's queue.
  const char* check(uint64_t limit) const;
  // Calls fn for every queued thread (the invariant checker).
  void visit(void (*fn)(const Thread*, void*), void* ctx) const;

 private:
  static unsigned cpu_of(const Thread* t) { return t->cpu < kCpus ? t->cpu : 0; }
  RunQueue queue_[kCpus];
};

}  // namespace keel
