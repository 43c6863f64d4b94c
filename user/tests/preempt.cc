// preempt — runs as init: two threads at the same priority spin without
// ever entering the kernel. Only timer preemption lets both make progress;
// when each has seen the other advance, one signals init. Then: FP/SIMD
// registers survive switches; and the syscall register contract
// (keel/abi.h) — no thread ever sees another thread's register values.
#include "keel/sys.h"
#include "keel/testing.h"

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace slot = keel::abi::init_slot;

namespace {

// (Slots the kernel never fills: init's boot frames from 32 on grow with the image.)
constexpr uint64_t kUt = slot::kFirstFree, kNtfn = kUt + 1, kSpinA = kUt + 2, kSpinB = kUt + 3, kFpA = kUt + 4,
                   kFpB = kUt + 5;
constexpr uint64_t kMarker = kUt + 6, kProber = kUt + 7, kFaulter = kUt + 8, kPollNtfn = kUt + 9;
constexpr uint64_t kRounds = 3;  // each spinner must see the other move this many times

alignas(16) char stack_a[8192];
alignas(16) char stack_b[8192];
alignas(16) char stack_c[8192];
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

// ---- the syscall register contract ------------------------------------------
// A marker thread fills x0..x28 with kForeign and yields or spins (so the
// timer takes it with them live: an interrupt saves all); a faulting thread
// dies with kForeign in x0..x30 (a fault saves all, and the kernel reads
// its frame to report it). A prober meanwhile makes syscalls of every path
// (short, general) through sys::svc_checked: none of x0..x18 may hold
// kForeign afterwards, x7 and x9..x18 must be zero, x8 and x19..x28 kept.
constexpr uint64_t kForeign = 0x0ff00ff00ff00ff0;  // (the assembly's marker)
static_assert(static_cast<uint64_t>(keel::abi::Syscall::kYield) == 9);
}  // namespace
// (At file scope: a declaration in an anonymous namespace would not name
// the assembly's symbols.)
extern "C" [[noreturn]] void marker_thread(uint64_t);
extern "C" [[noreturn]] void faulting_thread(uint64_t);
asm(R"(
  .text
  .p2align 2
  .global marker_thread
  .type marker_thread, %function
marker_thread:
  mov x0, #0x0ff00ff00ff00ff0
  .irp r, 1,2,3,4,5,6,7,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28
  mov x\r, x0
  .endr
  mov x8, #9                    // Yield
  svc #0
  mov x29, #3000                // then spin with them live
1:subs x29, x29, #1
  b.ne 1b
  b marker_thread
  .size marker_thread, . - marker_thread

  .global faulting_thread
  .type faulting_thread, %function
faulting_thread:
  mov x0, #0x0ff00ff00ff00ff0
  .irp r, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
  mov x\r, x0
  .endr
  udf #0
  .size faulting_thread, . - faulting_thread

)");
namespace {

volatile uint64_t probe_result[5];  // per kind: 0 untouched, else 1 + the bits seen
volatile uint64_t probe_done;

// Each kind of syscall a few thousand times; records any broken rule.
[[noreturn]] void prober(uint64_t log_slot) {
  using keel::abi::Syscall;
  const uint64_t number[5] = {static_cast<uint64_t>(Syscall::kYield), keel::abi::kSyscallDebugWrite,
                              keel::abi::kSyscallDebugWrite, static_cast<uint64_t>(Syscall::kPoll), 77};
  // DebugWrite (buffer, length, log): of nothing, with the log's slot, then a bad slot.
  const uint64_t arg0[5] = {0, 0, 0, kPollNtfn, 0};
  const uint64_t arg2[5] = {0, log_slot, 4095, 0, 0};
  const Error expect[5] = {Error::kOk, Error::kOk, Error::kInvalidSlot, Error::kOk, Error::kUnknownSyscall};
  uint64_t seen[5] = {};
  for (int round = 0; round < 2000; ++round) {
    for (int k = 0; k < 5; ++k) {
      sys::SyscallResult res{};
      uint64_t bits = sys::svc_checked(number[k], keel::abi::Registers{{arg0[k], 0, arg2[k]}}, &res, kForeign);
      if (res.error != expect[k]) bits |= 16;
      seen[k] |= bits;
    }
  }
  for (int k = 0; k < 5; ++k) probe_result[k] = 1 + seen[k];
  probe_done = 1;
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
  // The syscall register contract (above).
  bool regs_ok = sys::Untyped(kUt).retype(ObjectType::kNotification, 0, kPollNtfn) == Error::kOk &&
                 start(kMarker, marker_thread, stack_a, 0) && start(kFaulter, faulting_thread, stack_b, 0) &&
                 start(kProber, prober, stack_c, sys::debug_log_slot());
  while (regs_ok && probe_done == 0) regs_ok = sys::Notification(kNtfn).wait(&word) == Error::kOk;
  regs_ok =
      regs_ok && sys::ThreadCap(kMarker).suspend() == Error::kOk && sys::ThreadCap(kProber).suspend() == Error::kOk;
  static const char* const kKinds[5] = {"Yield", "DebugWrite of nothing", "DebugWrite, bad slot", "Poll",
                                        "unknown syscall"};
  for (int k = 0; k < 5; ++k) {
    const uint64_t r = probe_result[k];
    const bool ok = regs_ok && r == 1;
    checks.report(ok, "syscall_register_contract", "%s x2000: %s%s%s%s%s%s%s", kKinds[k], r == 0 ? "did not run" : "",
                  r == 1 ? "x0..x18 never another thread's, x7/x9..x18 zero, "
                           "x8/x19..x28/LR kept, right error"
                         : "",
                  r != 0 && ((r - 1) & 1) ? "callee-saved changed; " : "",
                  r != 0 && ((r - 1) & 2) ? "clobbered not zero; " : "",
                  r != 0 && ((r - 1) & 4) ? "ANOTHER THREAD'S VALUE SEEN; " : "",
                  r != 0 && ((r - 1) & 8) ? "x8 changed; " : "", r != 0 && ((r - 1) & 16) ? "wrong error; " : "");
  }
  return checks.summary("preempt");
}
