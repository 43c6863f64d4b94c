// locks.h — clang's thread-safety annotations (-Wthread-safety) and the
// lock word the IPC fastpath uses. Portable: the object types (endpoint.h)
// carry one. The big kernel lock is kernel/core/lock.h.
#pragma once

#include <stdint.h>

#define KEEL_CAPABILITY(x) __attribute__((capability(x)))
#define KEEL_GUARDED_BY(x) __attribute__((guarded_by(x)))
#define KEEL_REQUIRES(...) __attribute__((requires_capability(__VA_ARGS__)))
#define KEEL_ACQUIRE(...) __attribute__((acquire_capability(__VA_ARGS__)))
#define KEEL_RELEASE(...) __attribute__((release_capability(__VA_ARGS__)))
#define KEEL_TRY_ACQUIRE(...) __attribute__((try_acquire_capability(__VA_ARGS__)))
#define KEEL_NO_THREAD_SAFETY_ANALYSIS __attribute__((no_thread_safety_analysis))

namespace keel {

// A lock word for the IPC fastpath's endpoint locks (docs/smp.md). Zero is
// unlocked, so zeroed memory holds a free one (retype). Nobody waits on
// it: try_lock makes one attempt — a weak compare-and-swap, which may also
// fail when the exclusive store is interrupted by another CPU's access to
// the line — and the fastpath declines to the slow path on failure.
// Acquire/release ordering as SpinLock's.
class KEEL_CAPABILITY("mutex") WordLock {
 public:
  bool try_lock() KEEL_TRY_ACQUIRE(true) {
    uint32_t expected = 0;
    return __atomic_compare_exchange_n(&locked_, &expected, 1u, /*weak=*/true, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
  }
  void unlock() KEEL_RELEASE() { __atomic_store_n(&locked_, 0u, __ATOMIC_RELEASE); }
  bool held() const { return __atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0; }

 private:
  uint32_t locked_ = 0;
};

}  // namespace keel
