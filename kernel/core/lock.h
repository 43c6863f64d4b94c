// lock.h — the kernel's lock and clang's thread-safety annotations.
//
// Locking strategy (docs/smp.md): one big kernel lock. A CPU takes it on
// every entry from EL0 (syscall, fault, interrupt) and in its idle loop
// after each wake-up, and drops it just before returning to EL0 or waiting
// for an interrupt. Everything the kernel shares between CPUs — capabilities
// and the derivation tree, kernel objects, run queues, ASIDs, IRQ bindings,
// the kernel log — is touched only with it held; what is marked
// KEEL_GUARDED_BY(g_kernel_lock) is checked by the compiler
// (-Wthread-safety): a function that touches it must say KEEL_REQUIRES.
// The exceptions, per CPU and written without the lock, are in cpu.h. The
// paths without it are the same-CPU IPC fastpath and the syscall short
// path (el0_entry.cc), which exclude every slow path through Cpu::fast_busy
// (cpu.h fast_path_enter; the fastpath also takes the endpoint's
// kernel/lib/locks.h WordLock).
#pragma once

#include <stdint.h>

#include "kernel/arch/arch.h"
#include "kernel/lib/locks.h"

namespace keel {

// A test-and-test-and-set lock. Not a ticket lock: under an emulator that
// runs more vCPUs than it has host cores, a ticket lock hands the lock to
// the next waiter in line even when that vCPU is not running, and everyone
// waits for the host to schedule it (measured here with 4 vCPUs on 2 host
// cores: about a thousand acquisitions a second, and smp_test's stress run
// did not finish in 150 s; with this lock it takes about 15 s).
//
// Fairness where it matters: a long operation split into bounded steps (a
// revoke that restarts) drops the lock with unlock_for_waiters(), which
// does not return while another CPU waits and none has taken the lock
// since — so the restarted step cannot retake it ahead of a waiter (the
// test-and-test-and-set window is a few hundred instructions; a waiter on
// another CPU used to lose it for a whole 420 ms revoke).
//
// Waiting: a waiter sleeps in WFE on the lock word (arch::wait_while: the
// holder's releasing store clears its exclusive monitor and wakes it; the
// generic timer's event stream bounds the sleep), running `spin_hook`
// between sleeps (cpu.cc: it serves cross-CPU requests meanwhile).
// Acquire/release ordering: everything written before unlock() is visible to
// the next owner after its lock().
class KEEL_CAPABILITY("mutex") SpinLock {
 public:
  // spin_hook runs on every turn of a wait; starving_hook every
  // kStarvingTurns turns of one (cpu.cc: it asks the other CPUs to let
  // waiters in before they next enter: a CPU entering in a tight loop
  // could otherwise retake the lock every time — QEMU's round-robin -icount
  // mode did that to a secondary CPU's first entry, for good).
  constexpr SpinLock(void (*spin_hook)(), void (*starving_hook)())
      : spin_hook_(spin_hook), starving_hook_(starving_hook) {}
  void lock() KEEL_ACQUIRE() {
    if (__builtin_expect(__atomic_exchange_n(&locked_, 1u, __ATOMIC_ACQUIRE) != 0, false)) wait();
  }
  void unlock() KEEL_RELEASE() { __atomic_store_n(&locked_, 0u, __ATOMIC_RELEASE); }
  // Whether some CPU holds it: a sequentially consistent load (LDAR), so
  // ordered after the caller's sequentially consistent store (STLR) before
  // it, and a false answer makes the last holder's writes visible. For
  // cpu.h's fast_path_enter.
  bool held() const { return __atomic_load_n(&locked_, __ATOMIC_SEQ_CST) != 0; }

  // For a CPU about to enter (cpu.cc, on a waiter's request): lets one of
  // the CPUs already waiting have the lock first, or gives up after a
  // bounded wait (a waiter whose vCPU the host does not run must not hold
  // everyone up, the reason this is not a ticket lock).
  [[gnu::noinline]] void let_waiters_first() {
    const uint32_t seen = __atomic_load_n(&contended_, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < kPoliteWaits && __atomic_load_n(&waiters_, __ATOMIC_ACQUIRE) != 0 &&
                         __atomic_load_n(&contended_, __ATOMIC_ACQUIRE) == seen;
         ++i) {
      if (spin_hook_ != nullptr) spin_hook_();
      arch::wait_while(&contended_, seen);
    }
  }

  // unlock(), then, if a CPU waits for the lock, wait until one has taken
  // it (or none waits any more). Out of line: only restarts use it.
  [[gnu::noinline]] void unlock_for_waiters() KEEL_RELEASE() KEEL_NO_THREAD_SAFETY_ANALYSIS {
    const uint32_t handed = __atomic_load_n(&contended_, __ATOMIC_RELAXED);
    unlock();
    while (__atomic_load_n(&waiters_, __ATOMIC_ACQUIRE) != 0 &&
           __atomic_load_n(&contended_, __ATOMIC_ACQUIRE) == handed) {
      if (spin_hook_ != nullptr) spin_hook_();
      arch::wait_while(&contended_, handed);
    }
  }

 private:
  static constexpr unsigned kPoliteWaits = 256;   // (each at most one event-stream period, 65 us)
  static constexpr unsigned kStarvingTurns = 64;  // turns of a wait before it asks for a turn

  // Out of line: the uncontended lock() is one exchange.
  [[gnu::noinline]] void wait() KEEL_NO_THREAD_SAFETY_ANALYSIS {
    __atomic_fetch_add(&waiters_, 1u, __ATOMIC_RELAXED);
    unsigned turns = 0;
    do {
      while (__atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0) {
        if (spin_hook_ != nullptr) spin_hook_();
        if (++turns % kStarvingTurns == 0 && starving_hook_ != nullptr) starving_hook_();
        arch::wait_while(&locked_, 1u);
      }
    } while (__atomic_exchange_n(&locked_, 1u, __ATOMIC_ACQUIRE) != 0);
    // Ordering: a waiter that got the lock says so (contended_) before it
    // stops counting as a waiter, so unlock_for_waiters sees one or the other.
    __atomic_fetch_add(&contended_, 1u, __ATOMIC_RELEASE);
    __atomic_fetch_sub(&waiters_, 1u, __ATOMIC_RELEASE);
  }

  uint32_t locked_ = 0;     // first: the profiler watches this word (tools/profile)
  uint32_t waiters_ = 0;    // CPUs in wait()
  uint32_t contended_ = 0;  // acquisitions by waiters so far
  void (*const spin_hook_)();
  void (*const starving_hook_)();
};

extern SpinLock g_kernel_lock;

}  // namespace keel
