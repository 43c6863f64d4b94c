#include "kernel/core/scheduler.h"

namespace keel {
namespace {

unsigned level_of(const Thread* t) { return t->priority < RunQueue::kLevels ? t->priority : RunQueue::kLevels - 1; }

}  // namespace

void RunQueue::enqueue(Thread* t) {
  unsigned p = level_of(t);
  level_[p].append(t);
  t->run_queued = 1;
  bitmap_[p / 64] |= 1ull << (p % 64);
  summary_ |= 1u << (p / 64);
  if (p + 1 > top_) __atomic_store_n(&top_, p + 1, __ATOMIC_RELAXED);
}

bool RunQueue::contains(const Thread* t) const {
  for (const Thread* x = level_[level_of(t)].head; x != nullptr; x = x->q_next) {
    if (x == t) return true;
  }
  return false;
}

// O(1): the thread says whether it is queued (a search made destroying
// 10,000 runnable threads quadratic: 5 M instructions in one kernel entry).
void RunQueue::remove(Thread* t) {
  if (t->run_queued == 0) return;
  t->run_queued = 0;
  unsigned p = level_of(t);
  level_[p].unlink(t);
  if (level_[p].empty()) {
    bitmap_[p / 64] &= ~(1ull << (p % 64));
    if (bitmap_[p / 64] == 0) summary_ &= ~(1u << (p / 64));
    if (p + 1 == top_) __atomic_store_n(&top_, static_cast<uint32_t>(from_bitmap() + 1), __ATOMIC_RELAXED);
  }
}

Thread* RunQueue::pick() {
  int p = highest();
  if (p < 0) return nullptr;
  Thread* t = level_[p].head;
  remove(t);
  return t;
}

bool RunQueue::empty() const { return highest() < 0; }

const char* RunQueue::check(unsigned cpu, uint64_t limit) const {
  uint64_t seen = 0;
  for (unsigned p = 0; p < kLevels; ++p) {
    const ThreadQueue& q = level_[p];
    if (((bitmap_[p / 64] >> (p % 64)) & 1) != (q.empty() ? 0u : 1u)) return "run queue: bitmap disagrees with a level";
    const Thread* prev = nullptr;
    for (const Thread* t = q.head; t != nullptr; prev = t, t = t->q_next) {
      if (++seen > limit) return "run queue: a cycle (more threads than exist)";
      if (t->q_prev != prev) return "run queue: links not symmetric";
      if (t->state != ThreadState::kRunnable) return "run queue: a thread that is not runnable";
      if (level_of(t) != p) return "run queue: a thread at the wrong priority level";
      if ((t->cpu < 8 ? t->cpu : 0) != cpu) return "run queue: a thread in another CPU's queue";
      if (t->blocked_on != nullptr || t->waiting_on != nullptr) return "run queue: a thread also in a wait queue";
      if (t->run_queued != 1) return "run queue: a queued thread that does not say so";
    }
    if (q.tail != prev) return "run queue: tail is not the last thread";
  }
  for (unsigned w = 0; w < kLevels / 64; ++w) {
    if (((summary_ >> w) & 1) != (bitmap_[w] != 0 ? 1u : 0u)) return "run queue: summary disagrees with the bitmap";
  }
  if (static_cast<int>(top_) - 1 != from_bitmap())
    return "run queue: the cached highest level disagrees with the bitmap";
  return nullptr;
}

void RunQueue::visit(void (*fn)(const Thread*, void*), void* ctx) const {
  for (const ThreadQueue& q : level_) {
    for (const Thread* t = q.head; t != nullptr; t = t->q_next) fn(t, ctx);
  }
}

void Scheduler::visit(void (*fn)(const Thread*, void*), void* ctx) const {
  for (const RunQueue& q : queue_) q.visit(fn, ctx);
}

const char* Scheduler::check(uint64_t limit) const {
  for (unsigned c = 0; c < kCpus; ++c) {
    if (const char* why = queue_[c].check(c, limit)) return why;
  }
  return nullptr;
}

void Scheduler::enqueue(Thread* t) {
  unsigned cpu = cpu_of(t);
  queue_[cpu].enqueue(t);
  if (cpu != current_cpu()) kick_cpu(cpu);
}

void Scheduler::remove(Thread* t) { queue_[cpu_of(t)].remove(t); }

__attribute__((weak)) unsigned current_cpu() { return 0; }
__attribute__((weak)) void kick_cpu(unsigned) {}

}  // namespace keel
