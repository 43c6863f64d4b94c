// ring.h — the one queue between a driver and its clients: a bounded
// single-producer / single-consumer ring of fixed-size descriptors in memory
// both tasks map (a connection's shared frames), with a notification each
// way for wake-ups. Portable (no syscalls): host-tested, TSan-checked.
//
//   shared memory (one Ring<T, N>):
//   +--------------------------+  cache line 0: producer's: head, the
//   | head   producer_waiting  |                consumer's request to be told
//   +--------------------------+  cache line 1: consumer's: tail, the
//   | tail   consumer_waiting  |                producer's request to be told
//   +--------------------------+
//   | slot[0] ... slot[N - 1]  |  descriptors (T: trivially copyable)
//   +--------------------------+
//
// Rules (each side trusts nothing the other writes beyond them):
//  - Only the producer writes head and the slots it has not published; only
//    the consumer writes tail. head - tail (mod 2^32) is the number of
//    published, untaken descriptors; a value above N from a hostile peer is
//    treated as "broken" (pop/push refuse) — never as a length to copy.
//  - Publishing: the slot is written, then head is stored with release; the
//    consumer loads head with acquire before reading the slot (Ordering:
//    head release <-> head acquire; tail likewise for slot reuse).
//  - **Pushing a descriptor hands over its buffer**: whatever the
//    descriptor names (an offset in the shared data area) belongs to the
//    consumer until it comes back in a descriptor the other way.
//  - Wake-ups without lost ones: a consumer about to sleep sets
//    consumer_waiting, then (full fence) looks at head again, and sleeps
//    only if the ring is still empty; a producer publishes, then (full
//    fence) reads consumer_waiting, and signals only if it is set. Either
//    the consumer sees the new head, or the producer sees the flag (the two
//    fences order the store-then-load pairs: Arm ARM B2.3, DMB ISH). A busy
//    consumer is not signalled per descriptor. The same the other way
//    (producer_waiting) when the ring is full.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace keel::ring {

// Points inside push() where a test may act (ring_test.cc runs the other
// side's wait protocol at each, to prove no wake-up is lost).
struct NoHook {
  static void at(int) {}
};

template <class T, uint32_t N, class Hook = NoHook>
class Ring {
  static_assert(N > 0 && (N & (N - 1)) == 0, "N is a power of two");
  static_assert(__is_trivially_copyable(T), "descriptors are plain data");

 public:
  static constexpr uint32_t kCapacity = N;

  // ---- producer ----
  // Queues d; false if the ring is full (or broken). *signal: the consumer
  // asked to be woken — signal its notification.
  bool push(const T& d, bool* signal) {
    const uint32_t head = relaxed(head_), tail = acquire(tail_);
    if (static_cast<uint32_t>(head - tail) >= N) return false;  // full, or a peer's bad tail
    slots_[head % N] = d;
    Hook::at(0);
    __atomic_store_n(&head_, head + 1, __ATOMIC_RELEASE);  // Ordering: publishes the slot (consumer's acquire)
    Hook::at(1);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // Ordering: head store before the flag load (pairs with prepare_wait)
    *signal = __atomic_exchange_n(&consumer_waiting_, 0u, __ATOMIC_RELAXED) != 0;
    Hook::at(2);
    return true;
  }
  // The producer found the ring full and wants a signal when a slot frees:
  // true if it must sleep (still full after asking), false to retry now.
  bool producer_prepare_wait() {
    __atomic_store_n(&producer_waiting_, 1u, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // Ordering: flag store before the tail load (pairs with pop)
    const bool full = static_cast<uint32_t>(relaxed(head_) - acquire(tail_)) >= N;
    if (!full) __atomic_store_n(&producer_waiting_, 0u, __ATOMIC_RELAXED);  // (not sleeping: withdraw)
    return full;
  }

  // ---- consumer ----
  // Takes the oldest descriptor; false if empty (or broken). *signal: the
  // producer asked to be woken when a slot frees.
  bool pop(T* out, bool* signal) {
    const uint32_t tail = relaxed(tail_), head = acquire(head_);  // Ordering: acquire pairs with push's release
    const uint32_t n = head - tail;
    if (n == 0 || n > N) return false;
    *out = slots_[tail % N];
    Hook::at(10);
    __atomic_store_n(&tail_, tail + 1, __ATOMIC_RELEASE);  // Ordering: the slot is read before it is reused
    Hook::at(11);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // Ordering: tail store before the flag load
    *signal = __atomic_exchange_n(&producer_waiting_, 0u, __ATOMIC_RELAXED) != 0;
    Hook::at(12);
    return true;
  }
  // The consumer found the ring empty: true if it must sleep (still empty
  // after asking to be signalled), false to pop again now.
  bool prepare_wait() {
    __atomic_store_n(&consumer_waiting_, 1u, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // Ordering: flag store before the head load (pairs with push)
    // Nothing to take: empty, or a head more than N ahead (a broken peer:
    // sleeping is right — spinning on it would let one client hold its
    // server's CPU — and a sane push later wakes it).
    const uint32_t n = acquire(head_) - relaxed(tail_);
    const bool nothing = n == 0 || n > N;
    if (!nothing) __atomic_store_n(&consumer_waiting_, 0u, __ATOMIC_RELAXED);  // (not sleeping: withdraw)
    return nothing;
  }

  // Published and untaken (either side; a snapshot).
  uint32_t size() const { return static_cast<uint32_t>(acquire(head_) - acquire(tail_)); }
  static constexpr uint32_t capacity() { return N; }

 private:
  static uint32_t relaxed(const uint32_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }
  static uint32_t acquire(const uint32_t& v) { return __atomic_load_n(&v, __ATOMIC_ACQUIRE); }

  alignas(64) uint32_t head_ = 0;  // producer's
  uint32_t producer_waiting_ = 0;  // set by the producer, cleared by the consumer
  alignas(64) uint32_t tail_ = 0;  // consumer's
  uint32_t consumer_waiting_ = 0;  // set by the consumer, cleared by the producer
  alignas(64) T slots_[N];
};

}  // namespace keel::ring
