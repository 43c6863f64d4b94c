#include "kernel/core/scheduler.h"

namespace keel {
namespace {

unsigned level_of(const Thread* t) { return t->priority < RunQueue::kLevels ? t->priority : RunQueue::kLevels - 1; }

}  // namespace

void RunQueue::enqueue(Thread* t) {
  unsigned p = level_of(t);
  level_[p].append(t);
  bitmap_[p / 64] |= 1ull << (p % 64);
}

bool RunQueue::contains(const Thread* t) const {
  for (const Thread* x = level_[level_of(t)].head; x != nullptr; x = x->q_next) {
    if (x == t) return true;
  }
  return false;
}

void RunQueue::remove(Thread* t) {
  if (!contains(t)) return;
  unsigned p = level_of(t);
  level_[p].unlink(t);
  if (level_[p].empty()) bitmap_[p / 64] &= ~(1ull << (p % 64));
}

int RunQueue::highest() const {
  for (int w = kLevels / 64 - 1; w >= 0; --w) {
    if (bitmap_[w] != 0) return w * 64 + 63 - __builtin_clzll(bitmap_[w]);
  }
  return -1;
}

Thread* RunQueue::pick() {
  int p = highest();
  if (p < 0) return nullptr;
  Thread* t = level_[p].head;
  remove(t);
  return t;
}

bool RunQueue::empty() const { return highest() < 0; }

void Scheduler::enqueue(Thread* t) {
  unsigned cpu = cpu_of(t);
  queue_[cpu].enqueue(t);
  if (cpu != current_cpu()) kick_cpu(cpu);
}

void Scheduler::remove(Thread* t) { queue_[cpu_of(t)].remove(t); }

__attribute__((weak)) unsigned current_cpu() { return 0; }
__attribute__((weak)) void kick_cpu(unsigned) {}

}  // namespace keel
