// fuzz — runs as init and throws tens of thousands of random syscalls and
// invocations with random arguments at the kernel: wrong types, missing
// rights, wild slots, kernel and unmapped addresses, bogus methods. The
// kernel must answer every one with an error or a success and stay up.
//
// Excluded, because they would stop the test rather than test the kernel:
// calls that block (Call, Send, Recv, ReplyRecv, Wait), Exit, ThreadSuspend,
// and destructive operations on init's own slots (its CNode, thread, address
// space, image frames and untyped memory) — ipc_test covers those.
#include "keel/sys.h"
#include "keel/testing.h"

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace slot = keel::abi::init_slot;

namespace {

uint64_t g_state = 0x9e3779b97f4a7c15ull;
uint64_t rnd() {  // xorshift64*
  g_state ^= g_state >> 12;
  g_state ^= g_state << 25;
  g_state ^= g_state >> 27;
  return g_state * 0x2545f4914f6cdd1dull;
}

// The fuzzer's own slots: ones the kernel never fills (init's boot frames
// from 32 on grow with the image).
constexpr uint64_t kFirstOwn = slot::kFirstFree, kLastOwn = kFirstOwn + 67;
constexpr uint64_t kIterations = 30000;

uint64_t any_slot() {
  switch (rnd() % 4) {
    case 0: return kFirstOwn + rnd() % (kLastOwn - kFirstOwn + 1);
    case 1: return rnd() % 140;
    case 2: return rnd();
    default: return kFirstOwn + rnd() % 8;
  }
}
// Every call goes through sys::svc_checked: the syscall register contract
// (keel/abi.h) is checked after each one, whatever it did; g_broken
// collects the rules broken (keel::sys::SvcViolation bits).
uint64_t g_broken = 0;
sys::SyscallResult call(uint64_t number, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                        uint64_t a4 = 0, uint64_t a5 = 0) {
  sys::SyscallResult r{};
  g_broken |= sys::svc_checked(number, keel::abi::Registers{{a0, a1, a2, a3, a4, a5, 0}}, &r);
  return r;
}
// An invocation with raw method number and argument words (a typed form
// could not send most of what the fuzzer sends).
Error invoke_raw(uint64_t slot, uint64_t method, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0) {
  return call(sys::sysno(keel::abi::Syscall::kInvoke), slot, method, a2, a3, a4, a5).error;
}

uint64_t own_slot() { return kFirstOwn + rnd() % (kLastOwn - kFirstOwn + 1); }

uint64_t any_value() {
  switch (rnd() % 6) {
    case 0: return rnd() % 64;
    case 1: return rnd();
    case 2: return 0xffff'ff80'0000'0000ull + (rnd() % 0x10000000);  // kernel addresses
    case 3: return 0x1000'0000 + (rnd() % 64) * 0x1000;              // unmapped user pages
    case 4: return 0x400000 + (rnd() % 16) * 0x1000;                 // init's own image
    default: return rnd() % 4096;
  }
}

}  // namespace

int main() {
  uint64_t counts[16] = {};
  sys::Untyped ut(slot::kFirstUntyped);
  (void)ut.retype(ObjectType::kUntyped, 22, kFirstOwn);  // a 4 MiB playground
  constexpr uint64_t kSeeds[] = {0x9e3779b97f4a7c15ull, 0x0123456789abcdefull, 0xfeedfacecafebeefull};
  for (uint64_t i = 0; i < kIterations; ++i) {
    if (i % (kIterations / 3) == 0) g_state = kSeeds[i / (kIterations / 3)];  // three fixed, reproducible runs
    Error e = Error::kOk;
    switch (rnd() % 8) {
      case 0:  // non-blocking IPC and notifications on anything
        e = call(rnd() % 2 ? 3 : 8, any_slot(), any_value(), any_value(), any_value()).error;
        break;
      case 1:  // Signal, Yield, DebugWrite with wild buffers, unknown numbers
        switch (rnd() % 4) {
          case 0: e = call(6, any_slot()).error; break;
          case 1: e = call(sys::sysno(keel::abi::Syscall::kYield)).error; break;
          case 2: {  // never from init's own image: its bytes could spell a test verdict
            uint64_t addr = rnd() % 2 ? 0xffff'ff80'0000'0000ull + rnd() % 0x1000'0000 : 0x1000'0000 + rnd();
            e = call(100, addr, rnd() % 2 ? rnd() % 64 : any_value()).error;
            break;
          }
          default: e = call(12 + rnd() % 200, any_value(), any_value()).error; break;
        }
        break;
      case 2:  // retype anything from the playground (or from anywhere)
        e = invoke_raw(rnd() % 4 ? kFirstOwn : any_slot(), static_cast<uint64_t>(keel::abi::Method::kUntypedRetype),
                       rnd() % 16, rnd() % 24, own_slot(), 1 + rnd() % 3);  // (types to IoSpace and beyond)
        break;
      case 3: {  // CNode operations: destinations (and moved-out sources) are the fuzzer's own slots
        uint64_t m = 1 + rnd() % 5;
        e = invoke_raw(slot::kCNode, m, own_slot(), m == 3 ? own_slot() : any_slot(), rnd() % 8, rnd() % 4);
        break;
      }
      case 4: {  // thread operations (not Suspend: a copy of init's own thread cap could stop the test)
        uint64_t m = rnd() % 3 == 0 ? 35 : 32 + rnd() % 2;
        uint64_t target = own_slot();
        if (m == sys::method(keel::abi::Method::kThreadConfigure)) {
          e = invoke_raw(target, m, any_slot(), rnd() % 2 ? slot::kAddressSpace : any_slot(), rnd() % 300, any_slot());
        } else if (m == sys::method(keel::abi::Method::kThreadStart)) {
          // Started threads begin at PC 0 and fault at once: the kernel must
          // report and stop them (they are not init, whose faults fail the test).
          e = invoke_raw(target, m, rnd() % 2 ? 0 : any_value() & ~3ull, any_value() & ~15ull, 0);
        } else {
          e = invoke_raw(target, m, any_value(), any_value(), any_value());
        }
        break;
      }
      case 5:  // mapping frames and tables anywhere
        e = invoke_raw(own_slot(), 48 + rnd() % 2, rnd() % 2 ? slot::kAddressSpace : any_slot(), any_value(),
                       rnd() % 5);
        break;
      case 6:  // IRQ control and handlers; IO control (Bind) and IoSpaces (Faults)
        if (rnd() % 2 != 0) {
          e = invoke_raw(rnd() % 2 ? slot::kIrqControl : own_slot(), 64 + rnd() % 3, rnd() % 1100, own_slot());
        } else {
          e = invoke_raw(rnd() % 2 ? slot::kIoControl : own_slot(), 96 + rnd() % 2, own_slot(), rnd() % 300,
                         any_value());
        }
        break;
      default: {  // anything on anything, invoke-wise (but no deleting or suspending init's own)
        uint64_t target = any_slot(), m = rnd() % 100;
        if ((target == slot::kCNode && m >= 3 && m <= 5) || m == 34) target = own_slot();
        e = invoke_raw(target, m, any_value(), any_value(), any_value(), any_value());
        break;
      }
    }
    ++counts[static_cast<uint64_t>(e) < 16 ? static_cast<uint64_t>(e) : 15];
  }
  // Still alive and still correct: a plain retype and a notification round.
  uint64_t word = 0;
  bool ok = ut.retype(ObjectType::kNotification, 0, 59) == Error::kOk && sys::Notification(59).signal() == Error::kOk &&
            sys::Notification(59).poll(&word) == Error::kOk && word == 1;
  sys::Checks checks;
  checks.report(ok, "fuzz",
                "%llu calls; ok %llu, invalid capability %llu, invalid slot %llu, slot occupied %llu, "
                "rights %llu, argument %llu, memory %llu, address %llu, unknown %llu",
                (unsigned long long)kIterations, (unsigned long long)counts[0], (unsigned long long)counts[1],
                (unsigned long long)counts[2], (unsigned long long)counts[3], (unsigned long long)counts[4],
                (unsigned long long)counts[5], (unsigned long long)counts[6], (unsigned long long)counts[8],
                (unsigned long long)counts[9]);
  checks.report(g_broken == 0, "fuzz_register_contract", "after every call: x7/x9..x18 zero %s, x8/x19..x28/LR kept %s",
                (g_broken & sys::kSvcNotZeroed) != 0 ? "NO" : "yes",
                (g_broken & (sys::kSvcCalleeSaved | sys::kSvcNumberChanged)) != 0 ? "NO" : "yes");
  return checks.summary("fuzz");
}
