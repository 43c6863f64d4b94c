#include "kernel/core/scheduler.h"

namespace keel {

void Scheduler::enqueue(Thread* t) {
  unsigned p = t->priority < kLevels ? t->priority : kLevels - 1;
  t->q_next = nullptr;
  t->q_prev = tail_[p];
  if (tail_[p] != nullptr) {
    tail_[p]->q_next = t;
  } else {
    head_[p] = t;
  }
  tail_[p] = t;
  bitmap_[p / 64] |= 1ull << (p % 64);
}

bool Scheduler::contains(const Thread* t) const {
  unsigned p = t->priority < kLevels ? t->priority : kLevels - 1;
  for (const Thread* x = head_[p]; x != nullptr; x = x->q_next) {
    if (x == t) return true;
  }
  return false;
}

void Scheduler::remove(Thread* t) {
  if (!contains(t)) return;
  unsigned p = t->priority < kLevels ? t->priority : kLevels - 1;
  if (t->q_prev != nullptr) {
    t->q_prev->q_next = t->q_next;
  } else {
    head_[p] = t->q_next;
  }
  if (t->q_next != nullptr) {
    t->q_next->q_prev = t->q_prev;
  } else {
    tail_[p] = t->q_prev;
  }
  t->q_next = t->q_prev = nullptr;
  if (head_[p] == nullptr) bitmap_[p / 64] &= ~(1ull << (p % 64));
}

int Scheduler::highest() const {
  for (int w = kLevels / 64 - 1; w >= 0; --w) {
    if (bitmap_[w] != 0) return w * 64 + 63 - __builtin_clzll(bitmap_[w]);
  }
  return -1;
}

Thread* Scheduler::pick() {
  int p = highest();
  if (p < 0) return nullptr;
  Thread* t = head_[p];
  remove(t);
  return t;
}

bool Scheduler::empty() const { return highest() < 0; }

}  // namespace keel
