// preempt — runs as init: two threads at the same priority spin without
// ever entering the kernel. Only timer preemption lets both make progress;
// when each has seen the other advance, one signals init.
#include "keel/sys.h"
#include "keel/testing.h"

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace slot = keel::abi::init_slot;

namespace {

constexpr uint64_t kUt = 100, kNtfn = 101, kSpinA = 102, kSpinB = 103, kFpA = 104, kFpB = 105;
constexpr uint64_t kRounds = 3;  // each spinner must see the other move this many times

alignas(16) char stack_a[8192];
alignas(16) char stack_b[8192];
volatile uint64_t progress[2];

[[noreturn]] void spin(uint64_t me) {
  uint64_t other = 1 - me, last_seen = progress[other], seen_moves = 0;
  for (;;) {
    progress[me] = progress[me] + 1;
    if (progress[other] != last_seen) {
      last_seen = progress[other];
      if (++seen_moves == kRounds) (void)sys::Notification(kNtfn).signal();
    }
  }
}

// Puts its own value in d0, d31 and TPIDR_EL0, then yields to the other FP thread many
// times, checking after each switch that its values are still there.
volatile uint64_t fp_result[2];

[[noreturn]] void fp_thread(uint64_t me) {
  const uint64_t mine = 0x1111'1111'1111'1111ull * (me + 1);
  asm volatile(".arch_extension fp\n fmov d0, %0\n fmov d31, %0\n msr tpidr_el0, %0" ::"r"(mine));
  uint64_t result = 1;
  for (int i = 0; i < 200 && result == 1; ++i) {
    (void)sys::yield();
    uint64_t a, b, tp;
    asm volatile(".arch_extension fp\n fmov %0, d0\n fmov %1, d31\n mrs %2, tpidr_el0" : "=r"(a), "=r"(b), "=r"(tp));
    if (a != mine || b != mine || tp != mine) result = 2;
  }
  fp_result[me] = result;
  (void)sys::Notification(kNtfn).signal();
  for (;;) (void)sys::yield();
}

bool start(uint64_t th_slot, void (*entry)(uint64_t), char* stack, uint64_t arg) {
  sys::ThreadCap th(th_slot);
  return sys::Untyped(kUt).retype(ObjectType::kThread, 0, th_slot) == Error::kOk &&
         th.configure(slot::kCNode, slot::kAddressSpace, 100) == Error::kOk &&
         th.start(reinterpret_cast<uint64_t>(entry), reinterpret_cast<uint64_t>(stack) + 8192, arg) == Error::kOk;
}

}  // namespace

int main() {
  bool ok = sys::Untyped(slot::kFirstUntyped).retype(ObjectType::kUntyped, 16, kUt) == Error::kOk &&
            sys::Untyped(kUt).retype(ObjectType::kNotification, 0, kNtfn) == Error::kOk &&
            start(kSpinA, spin, stack_a, 0) && start(kSpinB, spin, stack_b, 1);
  uint64_t word = 0;
  ok = ok && sys::Notification(kNtfn).wait(&word) == Error::kOk;  // only preemption can get us here
  ok = ok && sys::ThreadCap(kSpinA).suspend() == Error::kOk && sys::ThreadCap(kSpinB).suspend() == Error::kOk;
  sys::Checks checks;
  checks.report(ok, "time_slicing", "spinners at %llu and %llu", static_cast<unsigned long long>(progress[0]),
                static_cast<unsigned long long>(progress[1]));
  // FP/SIMD registers survive thread switches (reusing the spinners' stacks).
  bool fp_ok = start(kFpA, fp_thread, stack_a, 0) && start(kFpB, fp_thread, stack_b, 1);
  while (fp_ok && (fp_result[0] == 0 || fp_result[1] == 0)) fp_ok = sys::Notification(kNtfn).wait(&word) == Error::kOk;
  fp_ok = fp_ok && fp_result[0] == 1 && fp_result[1] == 1;
  checks.report(fp_ok, "fpsimd_switch", "FP/SIMD and TPIDR_EL0 survive switches");
  return checks.summary("preempt");
}
