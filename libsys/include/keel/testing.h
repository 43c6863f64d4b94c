// testing.h — what user-space tests and benchmarks share.
//
// Checks: one "TEST <suite> <what>: PASS" or "... FAIL (<error>)" line per
// check (the QEMU tests fail on FAIL lines), then "<program>: N passed, M
// failed". Completion: waiting for worker threads. echo_server: the other
// end of IPC round trips.
#pragma once

#include "keel/abi.h"
#include "keel/sys.h"

namespace keel::sys {

class Checks {
 public:
  explicit constexpr Checks(const char* suite) : suite_(suite) {}
  void check(bool ok, const char* what, abi::Error e = abi::Error::kOk) {
    (ok ? passed_ : failed_) += 1;
    if (ok) {
      print("TEST %s %s: PASS\n", suite_, what);
    } else {
      print("TEST %s %s: FAIL (%s)\n", suite_, what, abi::error_name(e));
    }
  }
  void summary(const char* program) const { print("%s: %d passed, %d failed\n", program, passed_, failed_); }
  int failed() const { return failed_; }

 private:
  const char* suite_;
  int passed_ = 0, failed_ = 0;
};

// Worker threads that finish count themselves, then signal a notification
// (signals merge; the count does not). wait_for(n) blocks until n more have
// finished than the last wait asked for.
class Completion {
 public:
  explicit constexpr Completion(uint64_t notification_slot) : ntfn_(notification_slot) {}
  void finished() {
    __atomic_fetch_add(&done_, 1, __ATOMIC_ACQ_REL);
    (void)Notification(ntfn_).signal();
  }
  void wait_for(uint64_t more) {
    awaited_ += more;
    while (__atomic_load_n(&done_, __ATOMIC_ACQUIRE) < awaited_) {
      uint64_t word = 0;
      if (Notification(ntfn_).wait(&word) != abi::Error::kOk) return;
    }
  }

 private:
  uint64_t ntfn_;
  uint64_t done_ = 0;
  uint64_t awaited_ = 0;
};

// Answers every Call on endpoint `ep_slot` with MR0 + 1 (one word).
[[noreturn]] inline void echo_server(uint64_t ep_slot) {
  const Endpoint ep(ep_slot);
  Message m;
  abi::Error e = ep.recv(m);
  for (;;) {
    m.mr[0] += 1;
    m.length = 1;
    e = e == abi::Error::kOk ? ep.reply_recv(m, m) : ep.recv(m);
  }
}

}  // namespace keel::sys
