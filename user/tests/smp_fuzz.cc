// smp_fuzz — runs as init: hostile syscalls on every CPU at once, from
// workers that hold real objects, while a supervisor destroys and rebuilds
// them under their feet. Meant for images with the invariant checker on:
// the kernel must answer every call, stay up, and keep its state sound.
//
// Each worker is a thread (in init's address space, so it has code to run)
// with a CNode of its own holding: the CNode itself, its thread, a copy of
// init's address space, copies of four shared endpoints (two badged) and two
// notifications, IRQ control, a Reply object, an untyped playground and its
// peers' threads. It throws random syscalls and invocations, drawn from the
// ABI's own lists (abi::kAllSyscalls, abi::kAllMethods): random slots,
// rights, badges, sizes and types, wild values (kernel-half, non-canonical,
// unmapped), long messages and capability transfer through its IPC buffer,
// blocking IPC included. The supervisor (init's thread) keeps count; every
// round it revokes one worker's whole block — CNode, thread, playground —
// while that worker runs on another CPU, and rebuilds it; a worker that has
// stopped making progress (blocked forever, or stopped by a fault) is
// rebuilt too.
//
// Reproducing: the seed is printed; every worker's stream derives from it
// (interleavings across CPUs still vary run to run).
#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "keel/sys.h"
#include "keel/testing.h"

namespace {

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace islot = keel::abi::init_slot;

// Defaults; boot arguments (bazel run //:fuzz -- --seed S --calls M --minutes T)
// override them. The QEMU test uses these.
uint64_t g_seed = 0x5eed0f0123456789ull;
uint64_t g_target_calls = 6000;  // (~40 s on 4 vCPUs with the invariant checker on)
uint64_t g_minutes = 0;          // 0: no time limit
constexpr unsigned kMaxWorkers = 8;

// init's slots.
// (above the kernel's: frames of init's image from 32, untyped from 128)
constexpr uint64_t kDeviceFrame = 450;
constexpr uint64_t kPool = 400, kEp = 401 /* ..404 */, kNtfn = 405 /* ..406 */, kBlock = 410 /* + worker */,
                   kWorkerCNode = 420 /* + worker */, kWorkerThread = 430 /* + worker */, kTmp = 440 /* + worker */;
// A worker's CNode (2^8 slots).
constexpr unsigned kWorkerCNodeBits = 8;
enum : uint64_t {
  wCNode = 1,
  wThread = 2,
  wSpace = 3,
  wEp = 4 /* ..7 */,
  wNtfn = 8 /* ..9 */,
  wIrq = 10,
  wDevice = 16,  // a device frame (MMIO): mapped anywhere, then used as a buffer
  wReply = 11,
  wPlay = 12,
  wPeers = 13 /* ..15 */,
  wFree = 20
};

const sys::CNode self(islot::kCNode);

// ---- per-worker state (init's memory; each worker writes only its own) -------------
struct alignas(64) Worker {
  uint64_t calls;
  uint64_t errors[16];
  uint64_t per_syscall[16];
  uint64_t per_method[sizeof abi::kAllMethods / sizeof abi::kAllMethods[0]];
  uint64_t rng;
  uint64_t contract_broken;  // keel::sys::SvcViolation bits seen after any call (0: the contract held)
};
Worker g_w[kMaxWorkers];
alignas(4096) uint8_t g_ipc[kMaxWorkers][4096];
alignas(16) uint8_t g_stack[kMaxWorkers][8192];
alignas(16) uint8_t g_spare_stack[4][4096];     // for threads the workers start (shared: they may collide)
constexpr unsigned kSpawned = kMaxWorkers - 1;  // the counters threads started by workers use
uint64_t g_cpus = 1;

uint64_t next(uint64_t& s) {  // xorshift64*
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 0x2545f4914f6cdd1dull;
}

uint64_t wild(uint64_t& r) {
  switch (next(r) % 8) {
    case 0: return next(r);
    case 1: return 0xffff'0000'4000'0000ull + (next(r) % 0x1000'0000);  // the kernel's linear map
    case 2: return 0x0001'0000'0000'0000ull | next(r);                  // non-canonical
    case 3: return 0x1000'0000 + (next(r) % 256) * 0x1000;              // unmapped user pages
    case 4: return next(r) % 64;
    case 5: return reinterpret_cast<uint64_t>(&g_ipc[next(r) % kMaxWorkers][0]);  // somebody's IPC buffer
    case 6: return 0x4000'0000 + (next(r) % 1024) * 0x1000;  // where workers map frames (device ones too)
    default: return next(r) % 4096;
  }
}

uint64_t slot(uint64_t& r) {
  switch (next(r) % 8) {
    case 0: return next(r);               // anything
    case 1: return wFree + next(r) % 64;  // what it made
    default: return next(r) % 24;         // its objects
  }
}

// A thread start that does no harm in init's space: it exits at once.
[[noreturn]] void harmless(uint64_t) {
  for (;;) (void)sys::syscall(sys::sysno(abi::Syscall::kExit), 0);
}

[[noreturn]] void fuzz_loop(uint64_t index);
[[noreturn]] void spawned(uint64_t seed) {
  g_w[kSpawned].rng = seed | 1;
  fuzz_loop(kSpawned);
}

[[noreturn]] void worker(uint64_t index) { fuzz_loop(index); }

// Every call goes through sys::svc_checked: the syscall register contract
// (keel/abi.h) is checked after each one, whatever it did.
sys::SyscallResult checked(Worker& w, uint64_t number, const abi::Registers& regs) {
  sys::SyscallResult res{};
  const uint64_t broken = sys::svc_checked(number, regs, &res);
  if (broken != 0) w.contract_broken |= broken;
  return res;
}

[[noreturn]] void fuzz_loop(uint64_t index) {
  Worker& w = g_w[index];
  auto* ipc = reinterpret_cast<abi::IpcBuffer*>(&g_ipc[index][0]);
  sys::set_ipc_buffer_pointer(ipc);
  uint64_t& r = w.rng;
  for (;;) {
    // Its IPC buffer: words for long messages, a capability to send, a slot to receive into.
    ipc->send_cap = slot(r);
    ipc->receive_slot = next(r) % 4 == 0 ? 0 : wFree + next(r) % 64;
    for (int i = 4; i < 8; ++i) ipc->mr[i] = wild(r);
    sys::SyscallResult res{};
    const uint64_t pick = next(r) % 10;
    if (pick < 4) {  // an IPC or notification syscall, blocking ones included (rarely)
      abi::Syscall s = abi::kAllSyscalls[next(r) % (sizeof abi::kAllSyscalls / sizeof abi::kAllSyscalls[0])];
      if (s == abi::Syscall::kInvoke) s = abi::Syscall::kNBSend;
      if ((s == abi::Syscall::kExit || s == abi::Syscall::kRecv || s == abi::Syscall::kWait) && next(r) % 16 != 0) {
        s = abi::Syscall::kPoll;  // (blocking for good: rare, the supervisor rebuilds it)
      }
      const uint64_t target = next(r) % 2 ? wEp + next(r) % 4 : next(r) % 2 ? wNtfn + next(r) % 2 : slot(r);
      const uint64_t info = abi::message_info(next(r) % 8, next(r) % 40, next(r) % 4 == 0 ? 1 : 0);
      res = checked(w, sys::sysno(s),
                    abi::syscall_registers(abi::IpcArgs{.cap = target,
                                                        .info = info,
                                                        .mr = {wild(r), wild(r), wild(r), wild(r)},
                                                        .reply = next(r) % 3 == 0 ? wReply : slot(r)}));
      ++w.per_syscall[static_cast<uint64_t>(s) % 16];
    } else if (pick < 9) {  // an invocation
      const size_t m = next(r) % (sizeof abi::kAllMethods / sizeof abi::kAllMethods[0]);
      const abi::Method method = abi::kAllMethods[m];
      uint64_t target = slot(r);
      // By default slot-like and wild words in every argument register;
      // the cases below draw the fields that matter by name.
      abi::Registers regs{{target, sys::method(method), slot(r), wild(r), wild(r), wild(r), slot(r)}};
      auto with = [&](const auto& args) { regs = abi::invocation(target, args); };
      auto cnode_slot = [&] { return next(r) % 2 ? wFree + next(r) % 64 : slot(r); };
      switch (method) {
        case abi::Method::kUntypedRetype:  // types, sizes, counts into its free slots
          target = next(r) % 2 ? wPlay : target;
          with(abi::UntypedRetype{.type = 1 + next(r) % 13,
                                  .size_bits = next(r) % 22,
                                  .dest = wFree + next(r) % 64,
                                  .count = 1 + next(r) % 4});
          break;
        case abi::Method::kCNodeCopy:
          target = next(r) % 4 ? wCNode : target;
          with(abi::CNodeCopy{.dest = cnode_slot(), .source = slot(r), .rights = next(r) % 8});
          break;
        case abi::Method::kCNodeMint:
          target = next(r) % 4 ? wCNode : target;
          with(abi::CNodeMint{.dest = cnode_slot(),
                              .source = slot(r),
                              .rights = next(r) % 8,
                              .badge = next(r) % 2 ? next(r) % 100 : next(r)});
          break;
        case abi::Method::kCNodeMove:
          target = next(r) % 4 ? wCNode : target;
          with(abi::CNodeMove{.dest = cnode_slot(), .source = slot(r)});
          break;
        case abi::Method::kCNodeDelete:
        case abi::Method::kCNodeRevoke:
          target = next(r) % 4 ? wCNode : target;
          regs.x[abi::kFirstMethodArgument] =
              next(r) % 4 ? wFree + next(r) % 64 : slot(r);  // (its own objects too, rarely)
          break;
        case abi::Method::kThreadStart:
          // A thread that fuzzes too (with whatever CNode it was configured
          // with), one that exits, or one that faults at once.
          with(abi::ThreadStart{.pc = next(r) % 2   ? reinterpret_cast<uint64_t>(&spawned)
                                      : next(r) % 2 ? reinterpret_cast<uint64_t>(&harmless)
                                                    : 0,
                                .sp = reinterpret_cast<uint64_t>(&g_spare_stack[next(r) % 4][0] + 4096),
                                .arg = next(r)});  // its seed
          break;
        case abi::Method::kThreadConfigure:
          with(abi::ThreadConfigure{.cnode = slot(r),
                                    .address_space = next(r) % 2 ? wSpace : slot(r),
                                    .priority = next(r) % 300,
                                    .fault_endpoint = slot(r)});
          break;
        case abi::Method::kThreadSetAffinity: with(abi::ThreadSetAffinity{.cpu = next(r) % (g_cpus + 1)}); break;
        case abi::Method::kPageTableMap:
          with(abi::PageTableMap{.address_space = next(r) % 2 ? wSpace : slot(r),
                                 .va = next(r) % 2 ? 0x4000'0000 + (next(r) % 1024) * 0x1000 : wild(r),
                                 .level = next(r) % 5});
          break;
        case abi::Method::kFrameMap:
          with(abi::FrameMap{.address_space = next(r) % 2 ? wSpace : slot(r),
                             .va = next(r) % 2 ? 0x4000'0000 + (next(r) % 1024) * 0x1000 : wild(r),
                             .flags = next(r) % 9});  // (8: unknown)
          break;
        default: break;
      }
      regs.x[0] = target;
      res = checked(w, sys::sysno(abi::Syscall::kInvoke), regs);
      ++w.per_method[m];
    } else {  // yield, or an unknown syscall number
      res = next(r) % 2 ? checked(w, sys::sysno(abi::Syscall::kYield), abi::Registers{})
                        : checked(w, 13 + next(r) % 200, abi::Registers{{wild(r), wild(r)}});
    }
    ++w.errors[static_cast<uint64_t>(res.error) < 16 ? static_cast<uint64_t>(res.error) : 15];
    __atomic_store_n(&w.calls, w.calls + 1, __ATOMIC_RELEASE);
  }
}

uint64_t g_built = 0;

// Makes worker i from its block (revoked first: a rebuild starts clean).
Error build(unsigned i, uint64_t generation) {
  const sys::Untyped block(kBlock + i);
  Error e = self.revoke(kBlock + i);
  const uint64_t cn = kWorkerCNode + i, th = kWorkerThread + i;
  auto put = [&](uint64_t dst, uint64_t src, uint8_t rights, uint64_t badge) {
    // Into the worker's CNode, from init's (cross-CNode copy / mint).
    return badge == 0 ? sys::CNode(cn).copy(dst, src, rights, islot::kCNode)
                      : sys::CNode(cn).mint(dst, src, rights, badge, islot::kCNode);
  };
  if (e == Error::kOk) e = block.retype(ObjectType::kCNode, kWorkerCNodeBits, cn);
  if (e == Error::kOk) e = block.retype(ObjectType::kThread, 0, th);
  if (e == Error::kOk) e = put(wCNode, cn, abi::kRightsAll, 0);
  if (e == Error::kOk) e = put(wThread, th, abi::kRightsAll, 0);
  if (e == Error::kOk) e = put(wSpace, islot::kAddressSpace, abi::kRightsAll, 0);
  for (uint64_t k = 0; e == Error::kOk && k < 4; ++k) e = put(wEp + k, kEp + k, abi::kRightsAll, k < 2 ? i + 1 : 0);
  for (uint64_t k = 0; e == Error::kOk && k < 2; ++k)
    e = put(wNtfn + k, kNtfn + k, abi::kRightsAll, k == 0 ? i + 1 : 0);
  if (e == Error::kOk) e = put(wIrq, islot::kIrqControl, abi::kRightsAll, 0);
  if (e == Error::kOk) e = put(wDevice, kDeviceFrame, abi::kRightsAll, 0);
  if (e == Error::kOk) e = block.retype(ObjectType::kReply, 0, kTmp + i);
  if (e == Error::kOk) {
    e = sys::CNode(cn).move(wReply, kTmp + i, islot::kCNode);
  }
  if (e == Error::kOk) e = block.retype(ObjectType::kUntyped, 20, kTmp + i);  // the playground: 1 MiB
  if (e == Error::kOk) {
    e = sys::CNode(cn).move(wPlay, kTmp + i, islot::kCNode);
  }
  for (unsigned j = 0, n = 0; e == Error::kOk && j < kMaxWorkers && n < 3; ++j) {
    if (j != i && ((g_built >> j) & 1) != 0 && put(wPeers + n, kWorkerThread + j, abi::kRightsAll, 0) == Error::kOk)
      ++n;
  }
  Worker& w = g_w[i];
  w.rng = g_seed ^ (0x9e3779b97f4a7c15ull * (i + 1)) ^ (generation << 32);
  if (w.rng == 0) w.rng = 1;
  const sys::ThreadCap t(th);
  // (init's priority: the supervisor's yields let CPU 0's workers run)
  if (e == Error::kOk) e = t.configure(cn, islot::kAddressSpace, abi::kMaxPriority);
  if (e == Error::kOk && i % g_cpus != 0) e = t.set_affinity(i % g_cpus);
  if (e == Error::kOk) e = t.set_ipc_buffer(reinterpret_cast<uint64_t>(&g_ipc[i][0]));
  if (e == Error::kOk) {
    e = t.start(reinterpret_cast<uint64_t>(&worker), reinterpret_cast<uint64_t>(&g_stack[i][0] + sizeof g_stack[i]), i);
  }
  if (e == Error::kOk) g_built |= 1ull << i;
  return e;
}

uint64_t total_calls(unsigned n) {
  uint64_t s = 0;
  for (unsigned i = 0; i < n; ++i) s += __atomic_load_n(&g_w[i].calls, __ATOMIC_ACQUIRE);
  return s;
}

uint64_t counter() {
  uint64_t v = 0;
  asm volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
  return v;
}
uint64_t counter_hz() {
  uint64_t v = 0;
  asm volatile("mrs %0, cntfrq_el0" : "=r"(v));
  return v;
}

// "seed=0x2a calls=1000000 minutes=10": any of them, in any order.
void parse_bootargs(const char* s) {
  bool seed_given = false;
  while (*s != '\0') {
    while (*s == ' ') ++s;
    const char* key = s;
    while (*s != '\0' && *s != '=' && *s != ' ') ++s;
    if (*s != '=') continue;
    const size_t klen = static_cast<size_t>(s - key);
    ++s;
    uint64_t v = 0;
    const bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    if (hex) s += 2;
    for (; *s != '\0' && *s != ' '; ++s) {
      const char c = *s;
      const uint64_t d = c >= '0' && c <= '9'   ? c - '0'
                         : c >= 'a' && c <= 'f' ? c - 'a' + 10
                         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                : 99;
      if (d >= (hex ? 16u : 10u)) break;
      v = v * (hex ? 16 : 10) + d;
    }
    auto is = [&](const char* k) {
      size_t i = 0;
      while (i < klen && k[i] == key[i]) ++i;
      return i == klen && k[i] == '\0';
    };
    if (is("seed")) g_seed = v, seed_given = true;
    if (is("calls")) g_target_calls = v;
    if (is("minutes")) g_minutes = v;
  }
  // Boot arguments but no seed: a fresh one from the clock (printed).
  if (!seed_given && sys::init_boot_info()->bootargs[0] != '\0') g_seed = counter() * 0x9e3779b97f4a7c15ull;
  if (g_seed == 0) g_seed = 1;
}

}  // namespace

int main() {
  const abi::InitBootInfo* info = sys::init_boot_info();
  parse_bootargs(info->bootargs);
  const uint64_t deadline = g_minutes == 0 ? ~0ull : counter() + g_minutes * 60 * counter_hz();
  g_cpus = info->cpus_online == 0 ? 1 : info->cpus_online;
  const unsigned workers =
      static_cast<unsigned>(g_cpus < 2 ? 2 : (g_cpus > kMaxWorkers - 1 ? kMaxWorkers - 1 : g_cpus));
  sys::print("smp_fuzz: seed 0x%llx, %u workers on %llu CPUs, %llu calls\n", static_cast<unsigned long long>(g_seed),
             workers, static_cast<unsigned long long>(g_cpus), static_cast<unsigned long long>(g_target_calls));
  const sys::Untyped pool(kPool);
  Error e = sys::Untyped(islot::kFirstUntyped).retype(ObjectType::kUntyped, 25, kPool);  // 32 MiB
  if (e == Error::kOk) e = pool.retype(ObjectType::kEndpoint, 0, kEp, 4);
  if (e == Error::kOk) e = pool.retype(ObjectType::kNotification, 0, kNtfn, 2);
  for (unsigned i = 0; e == Error::kOk && i < workers; ++i) e = pool.retype(ObjectType::kUntyped, 21, kBlock + i);
  // A device frame for the workers: the first page of the largest device
  // untyped (PCIe MMIO on virt: nothing answers there, reads see all ones).
  const abi::BootUntyped* dev = nullptr;
  for (uint64_t k = 0; k < info->untyped_count; ++k) {
    if (info->untyped[k].device != 0 && (dev == nullptr || info->untyped[k].size_bits > dev->size_bits)) {
      dev = &info->untyped[k];
    }
  }
  if (e == Error::kOk && dev == nullptr) e = Error::kInvalidCapability;
  if (e == Error::kOk) e = sys::Untyped(dev->slot).retype(ObjectType::kFrame4K, 0, kDeviceFrame);
  for (unsigned i = 0; e == Error::kOk && i < workers; ++i) e = build(i, 0);
  if (e != Error::kOk) {
    sys::Checks checks;
    checks.report(false, "smp_fuzz", "setup: %s", abi::error_name(e));
    return checks.summary("smp_fuzz");
  }
  // The supervisor: beside the workers of CPU 0, yielding. Every round it
  // destroys one worker in full flight and rebuilds those that stalled.
  uint64_t destroyed = 0, restarted = 0, rounds = 0, rng = g_seed;
  uint64_t last[kMaxWorkers] = {};
  while (total_calls(workers) < g_target_calls && counter() < deadline) {
    for (int k = 0; k < 200; ++k) (void)sys::yield();
    ++rounds;
    if (rounds % 16 == 0) {
      sys::print("smp_fuzz: round %llu, %llu calls, %llu destroyed, %llu restarted\n",
                 static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(total_calls(workers)),
                 static_cast<unsigned long long>(destroyed), static_cast<unsigned long long>(restarted));
    }
    const unsigned victim = static_cast<unsigned>(next(rng) % workers);
    if (build(victim, rounds) == Error::kOk) ++destroyed;
    for (unsigned i = 0; i < workers; ++i) {
      const uint64_t c = __atomic_load_n(&g_w[i].calls, __ATOMIC_ACQUIRE);
      if (i != victim && c == last[i] && rounds % 4 == 0) {  // no progress over a round: blocked for good, or stopped
        if (build(i, rounds) == Error::kOk) ++restarted;
      }
      last[i] = __atomic_load_n(&g_w[i].calls, __ATOMIC_ACQUIRE);
    }
  }
  for (unsigned i = 0; i < workers; ++i) (void)self.revoke(kBlock + i);  // every worker gone
  // The kernel is still up and still right: a fresh object works.
  uint64_t word = 0;
  bool ok = pool.retype(ObjectType::kNotification, 0, kTmp) == Error::kOk &&
            sys::Notification(kTmp).signal() == Error::kOk && sys::Notification(kTmp).poll(&word) == Error::kOk &&
            word == 1;
  uint64_t errors[16] = {}, syscalls[16] = {}, methods = 0, calls = 0, broken = 0;
  for (unsigned i = 0; i < kMaxWorkers; ++i) {  // (the workers' and the threads they started)
    calls += g_w[i].calls;
    broken |= g_w[i].contract_broken;
    for (int k = 0; k < 16; ++k) errors[k] += g_w[i].errors[k], syscalls[k] += g_w[i].per_syscall[k];
    for (uint64_t m : g_w[i].per_method) methods += m;
  }
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  sys::print(
      "smp_fuzz: %llu calls (%llu invocations over %zu methods), %llu workers destroyed in flight, %llu restarted\n",
      u(calls), u(methods), sizeof abi::kAllMethods / sizeof abi::kAllMethods[0], u(destroyed), u(restarted));
  sys::print(
      "smp_fuzz: results: ok %llu, invalid capability %llu, invalid slot %llu, slot occupied %llu, rights %llu, "
      "argument %llu, memory %llu, revoke first %llu, address %llu, unknown %llu, destroyed %llu, would block %llu, "
      "no table %llu\n",
      u(errors[0]), u(errors[1]), u(errors[2]), u(errors[3]), u(errors[4]), u(errors[5]), u(errors[6]), u(errors[7]),
      u(errors[8]), u(errors[9]), u(errors[10]), u(errors[11]), u(errors[12]));
  for (size_t m = 0; m < sizeof abi::kAllMethods / sizeof abi::kAllMethods[0]; ++m) {
    uint64_t n = 0;
    for (const Worker& w : g_w) n += w.per_method[m];
    sys::print("smp_fuzz: method %llu: %llu calls\n", u(static_cast<uint64_t>(abi::kAllMethods[m])), u(n));
  }
  sys::Checks checks;
  checks.report(ok, "smp_fuzz", "seed 0x%llx, %llu calls", u(g_seed), u(calls));
  checks.report(broken == 0, "smp_fuzz_register_contract",
                "after every one of %llu calls: x7/x9..x18 zero %s, x8/x19..x28/LR kept %s", u(calls),
                (broken & sys::kSvcNotZeroed) != 0 ? "NO" : "yes",
                (broken & (sys::kSvcCalleeSaved | sys::kSvcNumberChanged)) != 0 ? "NO" : "yes");
  return checks.summary("smp_fuzz");
}
