// testing.h — what user-space tests and benchmarks share.
//
// Checks: how every user test program reports, so its QEMU test can expect
// the standard lines (tools/build/defs.bzl keel_qemu_test, `checks`): one
// "TEST [<suite> ]<what>: PASS" or "...: FAIL" line per check, with the
// error or a detail after it, then "<program>: N passed, M failed" last.
// Completion: waiting for worker threads. echo_server: the other end of IPC
// round trips.
#pragma once

#include <stdarg.h>

#include "keel/abi.h"
#include "keel/sys.h"
#include "kernel/lib/fmt.h"

namespace keel::sys {

// One SVC with the syscall register contract (keel/abi.h) checked around
// it (src/svc_checked.S): x7 and x9..x18 must come back zero, x8, x19..x28
// and LR as they were, and — if `foreign` is not 0 — none of x0..x18 may
// hold it (a value only another thread has). Returns the rules broken.
enum SvcViolation : uint64_t {
  kSvcCalleeSaved = 1,   // x19..x28 or LR changed
  kSvcNotZeroed = 2,     // x7 or x9..x18 not zero
  kSvcForeignValue = 4,  // another thread's value seen
  kSvcNumberChanged = 8  // x8 changed
};
extern "C" uint64_t keel_svc_checked(uint64_t number, const uint64_t in[7], uint64_t out[7], uint64_t foreign);
inline uint64_t svc_checked(uint64_t number, const abi::Registers& in, SyscallResult* out, uint64_t foreign = 0) {
  uint64_t o[abi::kArgumentRegisters];
  const uint64_t broken = keel_svc_checked(number, in.x, o, foreign);
  out->error = static_cast<abi::Error>(o[0]);
  for (unsigned i = 1; i < abi::kArgumentRegisters; ++i) out->r[i - 1] = o[i];
  return broken;
}

class Checks {
 public:
  // suite: a word before every check's name (nullptr: none).
  explicit constexpr Checks(const char* suite = nullptr) : suite_(suite) {}
  // "TEST <what>: PASS", or "...: FAIL (<error>)".
  void check(bool ok, const char* what, abi::Error e = abi::Error::kOk) {
    count(ok);
    if (ok) {
      print("TEST %s%s%s: PASS\n", prefix(), gap(), what);
    } else {
      print("TEST %s%s%s: FAIL (%s)\n", prefix(), gap(), what, abi::error_name(e));
    }
  }
  // "TEST <what>: PASS: <detail>" or "...: FAIL: <detail>" (printf-style).
  void report(bool ok, const char* what, const char* fmt, ...) __attribute__((format(printf, 4, 5))) {
    count(ok);
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnformat(detail, sizeof detail, fmt, ap);
    va_end(ap);
    print("TEST %s%s%s: %s: %s\n", prefix(), gap(), what, ok ? "PASS" : "FAIL", detail);
  }
  // The last line: "<program>: N passed, M failed". Returns M (main's result).
  int summary(const char* program) const {
    print("%s: %d passed, %d failed\n", program, passed_, failed_);
    return failed_;
  }
  int failed() const { return failed_; }

 private:
  void count(bool ok) { (ok ? passed_ : failed_) += 1; }
  const char* prefix() const { return suite_ != nullptr ? suite_ : ""; }
  const char* gap() const { return suite_ != nullptr ? " " : ""; }
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

// The same server in registers only: its loop keeps the endpoint in a
// callee-saved register and the message in x1..x5, so between two SVCs it
// runs four instructions (add one to MR0, restore the endpoint slot and the
// reply slot, branch; the syscall number stays in x8). For the benchmark's register row.
[[noreturn]] inline void echo_server_registers(uint64_t ep_slot) {
  register uint64_t x0 asm("x0") = ep_slot;
  asm volatile(
      "mov x19, x0\n"
      "mov x6, xzr\n"
      "mov x8, %[recv]\n"
      "svc #0\n"                 // Recv
      "mov x8, %[reply_recv]\n"  // (x8 survives an SVC: keel/abi.h)
      "1:\n"
      "add x2, x2, #1\n"  // MR0 + 1, the rest of the message as it came
      "mov x0, x19\n"
      "mov x6, xzr\n"
      "svc #0\n"  // ReplyRecv
      "b 1b\n"
      :
      : "r"(x0), [recv] "i"(static_cast<uint64_t>(abi::Syscall::kRecv)),
        [reply_recv] "i"(static_cast<uint64_t>(abi::Syscall::kReplyRecv))
      : "x1", "x2", "x3", "x4", "x5", "x6", "x8", "x19", "memory");
  __builtin_unreachable();
}

}  // namespace keel::sys
