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

// A lock word for the IPC fastpath's locks (docs/smp.md): each CPU's fast
// lock (cpu.h) and each endpoint's. Zero is unlocked, so zeroed memory holds
// a free one (retype). try_lock never waits: the fastpath declines to the
// slow path instead. lock() waits, running `spin_hook` on every turn (which
// should also relax the CPU: arch::cpu_relax).
// Acquire/release ordering as SpinLock's.
class KEEL_CAPABILITY("mutex") WordLock {
 public:
  bool try_lock() KEEL_TRY_ACQUIRE(true) { return __atomic_exchange_n(&locked_, 1u, __ATOMIC_ACQUIRE) == 0; }
  void lock(void (*spin_hook)()) KEEL_ACQUIRE() {
    if (__builtin_expect(!try_lock(), false)) wait(spin_hook);
  }
  void unlock() KEEL_RELEASE() { __atomic_store_n(&locked_, 0u, __ATOMIC_RELEASE); }
  bool held() const { return __atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0; }

 private:
  // Out of line: the uncontended lock() is one exchange.
  [[gnu::noinline]] void wait(void (*spin_hook)()) KEEL_NO_THREAD_SAFETY_ANALYSIS {
    do {
      while (__atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0) spin_hook();
    } while (!try_lock());
  }

  uint32_t locked_ = 0;
};

}  // namespace keel
