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
constexpr uint64_t kEcho = kUt + 10, kEchoEp = kUt + 11;  // the register echo server the prober calls
constexpr uint64_t kFpEp = kUt + 12, kFpServer = kUt + 13, kFpClient = kUt + 14;  // FP across the IPC fastpath
constexpr uint64_t kRounds = 3;  // each spinner must see the other move this many times

alignas(16) char stack_a[8192];
alignas(16) char stack_b[8192];
alignas(16) char stack_c[8192];
alignas(16) char stack_d[4096];
alignas(16) char stack_e[4096];
alignas(16) char stack_f[4096];
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

// ---- FP/SIMD across the IPC fastpath ----------------------------------------
// A client and a server above everything else here (nothing queued
// outranks either, so each Call and each reply take the fastpath) each put
// their own value in d31 right before every SVC and read it right after.
// The fastpath leaves EL0's FP access alone only between two threads of
// which neither owns the CPU's FP registers (el0_switch.h): if it ever left
// it on for the other one, that one would read its partner's d31.
constexpr int kFpCalls = 1000;
volatile uint64_t fp_ipc_result;  // 0 running, 1 every value kept, 2 + the call that saw a wrong one

// One SVC (x8 = number, x0..x6 in and out) with d31 = mine just before it;
// returns d31 just after.
uint64_t svc_with_d31(uint64_t number, uint64_t (&x)[7], uint64_t mine) {
  register uint64_t x0 asm("x0") = x[0], x1 asm("x1") = x[1], x2 asm("x2") = x[2], x3 asm("x3") = x[3];
  register uint64_t x4 asm("x4") = x[4], x5 asm("x5") = x[5], x6 asm("x6") = x[6], x8 asm("x8") = number;
  uint64_t seen;
  asm volatile(".arch_extension fp\n fmov d31, %[mine]\n svc #0\n fmov %[seen], d31"
               : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6), [seen] "=r"(seen)
               : [mine] "r"(mine), "r"(x8)
               : KEEL_SVC_CLOBBERS, "v31");
  x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3, x[4] = x4, x[5] = x5, x[6] = x6;
  return seen;
}

// Answers MR0 + 1, or 0 if its d31 came back changed.
[[noreturn]] void fp_ipc_server(uint64_t ep) {
  using keel::abi::Syscall;
  const uint64_t mine = 0x5e5e'5e5e'0000'0001ull;
  uint64_t x[7] = {ep};
  bool kept = svc_with_d31(static_cast<uint64_t>(Syscall::kRecv), x, mine) == mine;
  for (;;) {
    const uint64_t answer = kept ? x[2] + 1 : 0;
    for (uint64_t& r : x) r = 0;
    x[0] = ep, x[1] = keel::abi::message_info(0, 1), x[2] = answer;
    kept = svc_with_d31(static_cast<uint64_t>(Syscall::kReplyRecv), x, mine) == mine;
  }
}

[[noreturn]] void fp_ipc_client(uint64_t ep) {
  const uint64_t mine = 0xc1c1'c1c1'0000'0002ull;
  uint64_t result = 1;
  for (int i = 0; i < kFpCalls && result == 1; ++i) {
    uint64_t x[7] = {ep, keel::abi::message_info(0, 1), static_cast<uint64_t>(i) + 1};
    const uint64_t seen = svc_with_d31(static_cast<uint64_t>(keel::abi::Syscall::kCall), x, mine);
    if (seen != mine || x[0] != 0 || x[2] != static_cast<uint64_t>(i) + 2) result = 2 + static_cast<uint64_t>(i);
  }
  fp_ipc_result = result;
  (void)sys::Notification(kNtfn).signal();
  for (;;) {  // (then waits as a second receiver on its endpoint: no one calls again)
    sys::Message m;
    (void)sys::Endpoint(ep).recv(m);
  }
}

// ---- the syscall register contract ------------------------------------------
// A marker thread fills x0..x28 with kForeign and yields or spins (so the
// timer takes it with them live: an interrupt saves all); a faulting thread
// dies with kForeign in x0..x30 (a fault saves all, and the kernel reads
// its frame to report it). A prober meanwhile makes syscalls of every path
// (short, general, the IPC fastpath: a Call to a register echo server above
// the marker's priority) through sys::svc_checked: none of x0..x18 may hold
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

constexpr int kProbeKinds = 6;
volatile uint64_t probe_result[kProbeKinds];  // per kind: 0 untouched, else 1 + the bits seen
volatile uint64_t probe_done;

// Each kind of syscall a few thousand times; records any broken rule.
[[noreturn]] void prober(uint64_t log_slot) {
  using keel::abi::Syscall;
  const uint64_t number[kProbeKinds] = {static_cast<uint64_t>(Syscall::kYield),
                                        keel::abi::kSyscallDebugWrite,
                                        keel::abi::kSyscallDebugWrite,
                                        static_cast<uint64_t>(Syscall::kPoll),
                                        77,
                                        static_cast<uint64_t>(Syscall::kCall)};
  // DebugWrite (buffer, length, log): of nothing, with the log's slot, then a
  // bad slot. Call (endpoint, info, MR0): one word, which comes back plus one.
  const uint64_t arg0[kProbeKinds] = {0, 0, 0, kPollNtfn, 0, kEchoEp};
  const uint64_t arg1[kProbeKinds] = {0, 0, 0, 0, 0, keel::abi::message_info(0, 1)};
  const uint64_t arg2[kProbeKinds] = {0, log_slot, 4095, 0, 0, 41};
  const Error expect[kProbeKinds] = {Error::kOk, Error::kOk, Error::kInvalidSlot, Error::kOk, Error::kUnknownSyscall,
                                     Error::kOk};
  uint64_t seen[kProbeKinds] = {};
  for (int round = 0; round < 2000; ++round) {
    for (int k = 0; k < kProbeKinds; ++k) {
      sys::SyscallResult res{};
      // Before the Call, a spin with x9..x15 live and not zero, where the
      // timer's interrupts land (a full save: the frame's x9..x18 slots then
      // hold them until an SVC zeroes them — for the Call, its fastpath
      // entry; svc_checked then sees whether any came back).
      if (number[k] == static_cast<uint64_t>(Syscall::kCall)) {
        asm volatile(
            "mov x9, #9\n mov x10, #10\n mov x11, #11\n mov x12, #12\n mov x13, #13\n mov x14, #14\n"
            "mov x15, #15\n mov x16, #20000\n"
            "1: subs x16, x16, #1\n b.ne 1b\n" ::
                : "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "cc");
      }
      uint64_t bits = sys::svc_checked(number[k], keel::abi::Registers{{arg0[k], arg1[k], arg2[k]}}, &res, kForeign);
      if (res.error != expect[k]) bits |= 16;
      if (number[k] == static_cast<uint64_t>(Syscall::kCall) && res.r[1] != 42) bits |= 16;  // (x2: MR0)
      seen[k] |= bits;
    }
  }
  for (int k = 0; k < kProbeKinds; ++k) probe_result[k] = 1 + seen[k];
  probe_done = 1;
  (void)sys::Notification(kNtfn).signal();
  for (;;) (void)sys::yield();
}

bool start(uint64_t th_slot, void (*entry)(uint64_t), char* stack, uint64_t arg, unsigned priority = 100,
           uint64_t stack_size = 8192) {
  sys::ThreadCap th(th_slot);
  return sys::Untyped(kUt).retype(ObjectType::kThread, 0, th_slot) == Error::kOk &&
         th.configure(slot::kCNode, slot::kAddressSpace, priority) == Error::kOk &&
         th.start(reinterpret_cast<uint64_t>(entry), reinterpret_cast<uint64_t>(stack) + stack_size, arg) == Error::kOk;
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
  // FP/SIMD registers survive Call and reply through the IPC fastpath.
  bool fp_ipc_ok = sys::Untyped(kUt).retype(ObjectType::kEndpoint, 0, kFpEp) == Error::kOk &&
                   start(kFpServer, fp_ipc_server, stack_e, kFpEp, 105, sizeof stack_e) &&
                   start(kFpClient, fp_ipc_client, stack_f, kFpEp, 104, sizeof stack_f);
  while (fp_ipc_ok && fp_ipc_result == 0) fp_ipc_ok = sys::Notification(kNtfn).wait(&word) == Error::kOk;
  fp_ipc_ok = fp_ipc_ok && sys::ThreadCap(kFpServer).suspend() == Error::kOk &&
              sys::ThreadCap(kFpClient).suspend() == Error::kOk;
  checks.report(fp_ipc_ok && fp_ipc_result == 1, "fpsimd_ipc", "%d Calls through the fastpath: %s (%llu)", kFpCalls,
                fp_ipc_result == 1 ? "each side's d31 kept" : "A D31 CHANGED OR A WRONG ANSWER",
                static_cast<unsigned long long>(fp_ipc_result));
  // The syscall register contract (above).
  // (The echo server above the marker: nothing queued outranks it when the
  // prober calls, so the Call and its reply take the fastpath.)
  bool regs_ok = sys::Untyped(kUt).retype(ObjectType::kNotification, 0, kPollNtfn) == Error::kOk &&
                 sys::Untyped(kUt).retype(ObjectType::kEndpoint, 0, kEchoEp) == Error::kOk &&
                 start(kEcho, sys::echo_server_registers, stack_d, kEchoEp, 101, sizeof stack_d) &&
                 start(kMarker, marker_thread, stack_a, 0) && start(kFaulter, faulting_thread, stack_b, 0) &&
                 start(kProber, prober, stack_c, sys::debug_log_slot());
  while (regs_ok && probe_done == 0) regs_ok = sys::Notification(kNtfn).wait(&word) == Error::kOk;
  regs_ok =
      regs_ok && sys::ThreadCap(kMarker).suspend() == Error::kOk && sys::ThreadCap(kProber).suspend() == Error::kOk;
  static const char* const kKinds[kProbeKinds] = {"Yield", "DebugWrite of nothing", "DebugWrite, bad slot",
                                                  "Poll",  "unknown syscall",       "Call (fastpath)"};
  for (int k = 0; k < kProbeKinds; ++k) {
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
