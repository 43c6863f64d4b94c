// kernel_attacks — the kernel's capability-integrity holes, tried as a
// hostile task would: an ordinary task started by init with its normal
// capabilities (its CNode, thread, address space and the page tables of its
// image) and some untyped memory of its own (test/security/attacks.system).
// Each check names the hole it proves closed (docs/security.md); every one
// failed on the kernel before the fix.
//
// Threads in address spaces of our own making run a few instructions copied
// into a frame (probe_* below: position-independent, registers only).
#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "keel/loader.h"
#include "keel/sys.h"
#include "keel/task.h"
#include "keel/testing.h"
#include "keel/thread.h"

namespace {

using keel::abi::Error;
using keel::abi::ObjectType;
namespace sys = keel::sys;
namespace abi = keel::abi;
namespace slot = keel::abi::task_slot;

constexpr uint64_t kPage = 4096;
sys::Checks g_checks("security");
void check(bool ok, const char* what, Error e = Error::kOk) { g_checks.check(ok, what, e); }

const sys::CNode self(slot::kCNode);

// Slots: 256.. the ASID check's threads; 560.. everything else; 620..639 the
// scratch mapping's tables.
constexpr uint64_t kAsidThreads = 256;
constexpr uint64_t kAsidSpaces = 300;  // more than the 255 ASIDs of 8-bit hardware
constexpr uint64_t kWork = 560;        // .. kImage (640)
constexpr uint64_t kScratchVa = 0x5000'0000'0000;
constexpr uint64_t kCodeVa = 0x4000'0000;

// The untyped at slot::kUntyped (4 MiB), split: 2 MiB for the ASID check's
// spaces, 1 MiB for threads, two 512 KiB pieces (A for the checks, B for
// the scratch mapping's tables). A check revokes what it used when done.
constexpr uint64_t kBig = kWork, kMid = kWork + 1, kSmallA = kWork + 2, kSmallB = kWork + 3;
constexpr uint64_t kNext = kWork + 4;
uint64_t g_next = kNext;
uint64_t take() { return g_next++; }

// ---- code run in foreign address spaces -------------------------------------
// Receives on the endpoint whose slot arrives in x0, forever.
extern "C" void probe_recv_loop();
// Receives once (holding the caller's reply), then spins.
extern "C" void probe_recv_spin();
asm(R"(
  .text
  .p2align 2
  .global probe_recv_loop
probe_recv_loop:
  mov x19, x0                   // (callee-saved: x9..x18 do not survive an SVC)
1:mov x0, x19
  mov x6, #0
  mov x8, #4
  svc #0
  b 1b
  .global probe_recv_spin
probe_recv_spin:
  mov x6, #0
  mov x8, #4
  svc #0
2:b 2b
  .global probe_end
probe_end:
)");
extern "C" char probe_end[];

// A frame holding the probes, its capability at `code` (written through a
// copy mapped in our own space, deleted again).
sys::LoadContext g_ctx;

Error make_code_frame(uint64_t ut, uint64_t code) {
  Error e = sys::Untyped(ut).retype(ObjectType::kFrame4K, 0, code);
  uint64_t copy = take();
  if (e == Error::kOk) e = self.copy(copy, code, abi::kRightsAll);
  if (e == Error::kOk) e = sys::map_with_tables(g_ctx, copy, slot::kAddressSpace, kScratchVa, abi::kMapWrite);
  if (e != Error::kOk) return e;
  const auto* src = reinterpret_cast<const volatile uint8_t*>(&probe_recv_loop);
  size_t n = static_cast<size_t>(probe_end - reinterpret_cast<const char*>(&probe_recv_loop));
  auto* dst = reinterpret_cast<volatile uint8_t*>(kScratchVa);
  for (size_t i = 0; i < n; ++i) dst[i] = src[i];
  asm volatile("dsb ish" ::: "memory");  // (as the loader: EL0 has no I-cache maintenance, SCTLR.UCI = 0)
  return self.remove(copy);
}

uint64_t probe_offset(void (*probe)()) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(probe) - reinterpret_cast<uintptr_t>(&probe_recv_loop));
}

// A space with the probes at kCodeVa: address space, three tables and a
// copy of the code frame, all from `ut`, capabilities from `first` on.
struct Space {
  uint64_t as, l1, l2, l3, code;
};
Error make_space(uint64_t ut, uint64_t code_frame, Space* s) {
  *s = Space{take(), take(), take(), take(), take()};
  Error e = sys::Untyped(ut).retype(ObjectType::kAddressSpace, 0, s->as);
  if (e == Error::kOk) e = sys::Untyped(ut).retype(ObjectType::kPageTable, 0, s->l1);
  if (e == Error::kOk) e = sys::Untyped(ut).retype(ObjectType::kPageTable, 0, s->l2);
  if (e == Error::kOk) e = sys::Untyped(ut).retype(ObjectType::kPageTable, 0, s->l3);
  if (e == Error::kOk) e = sys::PageTableCap(s->l1).map(s->as, kCodeVa, 1);
  if (e == Error::kOk) e = sys::PageTableCap(s->l2).map(s->as, kCodeVa, 2);
  if (e == Error::kOk) e = sys::PageTableCap(s->l3).map(s->as, kCodeVa, 3);
  if (e == Error::kOk) e = self.copy(s->code, code_frame, abi::kRightRead);
  if (e == Error::kOk) e = sys::FrameCap(s->code).map(s->as, kCodeVa, abi::kMapExecute);
  return e;
}

// A thread (from thread_ut) in space `as` with our CNode, running `probe` with x0 = arg.
Error start_probe(uint64_t thread_ut, uint64_t th, uint64_t as, void (*probe)(), uint64_t arg, unsigned priority) {
  Error e = sys::Untyped(thread_ut).retype(ObjectType::kThread, 0, th);
  if (e == Error::kOk) e = sys::ThreadCap(th).configure(slot::kCNode, as, priority);
  if (e == Error::kOk) e = sys::ThreadCap(th).start(kCodeVa + probe_offset(probe), 0, arg);
  return e;
}

unsigned my_priority() { return static_cast<unsigned>(abi::start_info()->priority); }

// ---- hole 1: a page table installed twice ---------------------------------------
void table_installs_once() {
  constexpr uint64_t kVa = 0x6000'0000'0000;  // a level-0 entry nobody uses
  // Our own image's tables, through copies (a copy starts unmapped): none
  // may be installed again, at any level.
  uint64_t copy = take();
  int tables = 0, installed = 0;
  Error worst = Error::kOk;
  for (uint64_t s = slot::kImage; s < slot::kImageMax; ++s) {
    if (self.copy(copy, s, abi::kRightsAll) != Error::kOk) continue;
    for (unsigned level = 1; level <= 3; ++level) {
      Error e = sys::PageTableCap(copy).map(slot::kAddressSpace, kVa, level);
      if (e == Error::kOk) ++installed, worst = e;
      if (e == Error::kSlotOccupied && level == 1) ++tables;
    }
    (void)self.remove(copy);  // (unmaps whatever a successful install made)
  }
  check(tables > 0 && installed == 0, "hole 1: a copy of an installed table cannot install it again");

  // A fresh table: installed once; a copy cannot install it one level down.
  uint64_t t = take(), t2 = take();
  Error e = sys::Untyped(kSmallA).retype(ObjectType::kPageTable, 0, t);
  if (e == Error::kOk) e = sys::PageTableCap(t).map(slot::kAddressSpace, kVa, 1);
  check(e == Error::kOk, "hole 1: a fresh table installs", e);
  e = self.copy(t2, t, abi::kRightsAll);
  Error twice = sys::PageTableCap(t2).map(slot::kAddressSpace, kVa, 2);
  check(e == Error::kOk && twice == Error::kSlotOccupied, "hole 1: the same table at a second level is refused", twice);
  Error again = sys::PageTableCap(t).map(slot::kAddressSpace, kVa + (1ull << 39), 1);
  check(again == Error::kSlotOccupied, "hole 1: the installing capability cannot install it again", again);
  // Uninstalled (its mapping capability deleted), it is a table like any other.
  e = self.remove(t);
  if (e == Error::kOk) e = sys::PageTableCap(t2).map(slot::kAddressSpace, kVa, 1);
  check(e == Error::kOk, "hole 1: once uninstalled, the table installs again", e);
  (void)self.remove(t2);
  (void)self.revoke(kSmallA);
}

// ---- hole 2: unmapping in a space that has no ASID -------------------------------
void unmap_without_asid() {
  const uint64_t ut = kSmallA;
  uint64_t code = take(), f = take(), g = take();
  Space s{};
  Error e = make_code_frame(ut, code);
  if (e == Error::kOk) e = make_space(ut, code, &s);  // never runs: no ASID
  constexpr uint64_t kDataVa = kCodeVa + kPage;
  if (e == Error::kOk) e = sys::Untyped(ut).retype(ObjectType::kFrame4K, 0, f);
  if (e == Error::kOk) e = sys::FrameCap(f).map(s.as, kDataVa, abi::kMapWrite);
  check(e == Error::kOk, "hole 2: setup", e);
  // Deleting the mapping capability must clear the entry: the page would
  // otherwise stay mapped after its memory is freed.
  e = self.remove(f);
  Error remap = Error::kOk;
  if (e == Error::kOk) e = sys::Untyped(ut).retype(ObjectType::kFrame4K, 0, g);
  if (e == Error::kOk) remap = sys::FrameCap(g).map(s.as, kDataVa, abi::kMapWrite);
  check(e == Error::kOk && remap == Error::kOk,
        "hole 2: deleting a frame capability unmaps it in a space without an ASID", remap);
  (void)self.revoke(ut);
}

// ---- hole 3: threads of a destroyed address space ---------------------------------
void threads_stop_with_their_space() {
  const uint64_t space_ut = kSmallA, thread_ut = kMid;
  uint64_t code = take(), ep = take(), th = take();
  Space s{};
  Error e = sys::Untyped(thread_ut).retype(ObjectType::kEndpoint, 0, ep);
  if (e == Error::kOk) e = make_code_frame(space_ut, code);
  if (e == Error::kOk) e = make_space(space_ut, code, &s);
  if (e == Error::kOk) e = start_probe(thread_ut, th, s.as, probe_recv_loop, ep, my_priority());
  check(e == Error::kOk, "hole 3: setup", e);
  // The probe receives on ep: once a non-blocking send finds it, it is a receiver.
  sys::Message m;
  m.length = 1;
  Error sent = Error::kWouldBlock;
  for (int i = 0; i < 1000 && sent != Error::kOk; ++i) {
    (void)sys::yield();
    sent = sys::Endpoint(ep).nb_send(m);
  }
  for (int i = 0; i < 10; ++i) (void)sys::yield();  // back in its Recv
  check(sent == Error::kOk && sys::Endpoint(ep).nb_send(m) == Error::kOk, "hole 3: the probe receives in its space");
  for (int i = 0; i < 10; ++i) (void)sys::yield();
  // Its space goes (the thread object stays): it must never be an IPC partner again.
  e = self.revoke(space_ut);
  Error after = sys::Endpoint(ep).nb_send(m);
  m.length = 20;  // a long message: the kernel would copy into the freed space's buffer
  Error after_long = sys::Endpoint(ep).nb_send(m);
  check(e == Error::kOk && after == Error::kWouldBlock && after_long == Error::kWouldBlock,
        "hole 3: a thread whose space is destroyed is no longer a receiver", after);
  (void)self.revoke(thread_ut);
  (void)self.remove(ep);
  (void)self.remove(th);
}

// ---- hole 10: the caller of a thread stopped for losing its space -----------------
uint64_t g_call_result = ~0ull;
uint64_t g_caller_done = 0;
uint64_t g_call_ep = 0;
alignas(16) uint8_t g_caller_stack[4096];

void caller(uint64_t) {
  sys::Message m;
  m.length = 1;
  Error e = sys::Endpoint(g_call_ep).call(m);
  __atomic_store_n(&g_call_result, static_cast<uint64_t>(e), __ATOMIC_RELEASE);
  __atomic_store_n(&g_caller_done, 1, __ATOMIC_RELEASE);
  for (;;) (void)sys::yield();
}

void caller_released() {
  const uint64_t space_ut = kSmallA, thread_ut = kMid;
  uint64_t code = take(), ep = take(), th = take(), helper = take();
  Space s{};
  Error e = sys::Untyped(thread_ut).retype(ObjectType::kEndpoint, 0, ep);
  if (e == Error::kOk) e = make_code_frame(space_ut, code);
  if (e == Error::kOk) e = make_space(space_ut, code, &s);
  if (e == Error::kOk) e = start_probe(thread_ut, th, s.as, probe_recv_spin, ep, my_priority());
  g_call_ep = ep;
  if (e == Error::kOk) {
    e = sys::start_thread(
        sys::ThreadSpec{.untyped = thread_ut,
                        .slot = helper,
                        .priority = my_priority(),
                        .entry = caller,
                        .stack_top = reinterpret_cast<uint64_t>(g_caller_stack + sizeof g_caller_stack)});
  }
  check(e == Error::kOk, "hole 10: setup", e);
  // The probe takes the call and spins holding the reply; the time slice
  // puts it back in the run queue while we run.
  for (int i = 0; i < 20; ++i) (void)sys::yield();
  e = self.revoke(space_ut);
  for (int i = 0; i < 1000 && __atomic_load_n(&g_caller_done, __ATOMIC_ACQUIRE) == 0; ++i) (void)sys::yield();
  Error got = static_cast<Error>(__atomic_load_n(&g_call_result, __ATOMIC_ACQUIRE));
  check(e == Error::kOk && __atomic_load_n(&g_caller_done, __ATOMIC_ACQUIRE) == 1 && got == Error::kObjectDestroyed,
        "hole 10: the caller of a thread that lost its space is released with 'object destroyed'", got);
  (void)self.remove(helper);
  (void)self.remove(th);
  (void)self.revoke(thread_ut);
  (void)self.remove(ep);
}

// ---- hole 9: ASIDs run out for everyone ---------------------------------------
void asids_never_run_out() {
  // Many live spaces, each with a thread that runs (its first instruction
  // faults: the space is empty; the fault comes to us as a message).
  uint64_t fault_ep = take(), as = take();
  Error e = sys::Untyped(kSmallA).retype(ObjectType::kEndpoint, 0, fault_ep);
  uint64_t made = 0;
  for (; e == Error::kOk && made < kAsidSpaces; ++made) {
    const uint64_t th = kAsidThreads + made;
    e = sys::Untyped(kBig).retype(ObjectType::kAddressSpace, 0, as);
    if (e == Error::kOk) e = sys::Untyped(kMid).retype(ObjectType::kThread, 0, th);
    if (e == Error::kOk) e = sys::ThreadCap(th).configure(slot::kCNode, as, my_priority() - 1, fault_ep);
    if (e == Error::kOk) e = self.remove(as);  // the thread holds the space now
    if (e == Error::kOk) e = sys::ThreadCap(th).start(kCodeVa, 0, 0);
    if (e != Error::kOk) break;
  }
  check(e == Error::kOk && made == kAsidSpaces, "hole 9: 300 address spaces with a thread each are configured", e);
  uint64_t faults = 0;
  sys::Message m;
  for (uint64_t i = 0; i < made; ++i) {
    if (sys::Endpoint(fault_ep).recv(m) == Error::kOk && m.label == abi::kFaultMemory && m.mr[1] == kCodeVa) ++faults;
  }
  check(faults == made && made == kAsidSpaces, "hole 9: every one of them ran in its own space (300 > 255 ASIDs)");
  for (uint64_t i = 0; i < made; ++i) (void)self.remove(kAsidThreads + i);
  (void)self.revoke(kBig);
  (void)self.revoke(kMid);
  (void)self.revoke(kSmallA);
}

// ---- the kernel's console and the PMU ----------------------------------------------
// Writes PMCR_EL0 (resets and stops every counter): EL0 may read the
// counters, never program them.
extern "C" void probe_pmu_write();
asm(R"(
  .text
  .p2align 2
  .global probe_pmu_write
probe_pmu_write:
  mov x0, #7
  msr pmcr_el0, x0
1:b 1b
)");
alignas(16) uint8_t g_pmu_stack[1024];

void console_and_counters() {
  // DebugWrite is an authority: a task holds no KernelLog capability.
  Error plain = sys::debug_write("forged: keel ready\n", 19);
  sys::set_debug_log(slot::kConsole);  // an endpoint is not a KernelLog either
  Error wrong = sys::debug_write("forged: keel ready\n", 19);
  sys::set_debug_log(abi::init_slot::kKernelLog);
  check(plain == Error::kInvalidCapability && wrong == Error::kInvalidCapability,
        "DebugWrite needs a KernelLog capability", plain);

  // A thread of ours writes PMCR_EL0: the write traps (to our fault endpoint).
  uint64_t ep = take(), th = take();
  Error e = sys::Untyped(kSmallA).retype(ObjectType::kEndpoint, 0, ep);
  if (e == Error::kOk) e = sys::Untyped(kSmallA).retype(ObjectType::kThread, 0, th);
  if (e == Error::kOk) e = sys::ThreadCap(th).configure(slot::kCNode, slot::kAddressSpace, my_priority(), ep);
  if (e == Error::kOk) {
    e = sys::ThreadCap(th).start(reinterpret_cast<uint64_t>(&probe_pmu_write),
                                 reinterpret_cast<uint64_t>(g_pmu_stack + sizeof g_pmu_stack), 0);
  }
  sys::Message m;
  if (e == Error::kOk) e = sys::Endpoint(ep).recv(m);
  check(e == Error::kOk && m.label == abi::kFaultException && (m.mr[0] >> 26) == 0x18 &&
            m.mr[2] == reinterpret_cast<uint64_t>(&probe_pmu_write) + 4,
        "EL0 cannot program the PMU (a write to PMCR_EL0 traps)", e);
  uint64_t cycles = 0;
  asm volatile("mrs %0, pmccntr_el0" : "=r"(cycles));
  check(cycles != 0, "EL0 still reads the cycle counter");
  (void)self.remove(th);
  (void)self.revoke(kSmallA);
}

}  // namespace

int main() {
  sys::set_console(slot::kConsole);
  const sys::Untyped ut(slot::kUntyped);
  Error e = ut.retype(ObjectType::kUntyped, 21, kBig);
  if (e == Error::kOk) e = ut.retype(ObjectType::kUntyped, 20, kMid);
  if (e == Error::kOk) e = ut.retype(ObjectType::kUntyped, 19, kSmallA, 2);
  check(e == Error::kOk, "setup: untyped pieces", e);
  g_ctx = sys::LoadContext{.cnode = slot::kCNode,
                           .untyped = kSmallB,
                           .caller_as = slot::kAddressSpace,
                           .scratch_va = kScratchVa,
                           .next_slot = 620,
                           .slot_limit = 640};
  table_installs_once();
  g_next = kNext;
  unmap_without_asid();
  g_next = kNext;
  threads_stop_with_their_space();
  g_next = kNext;
  caller_released();
  g_next = kNext;
  console_and_counters();
  g_next = kNext;
  asids_never_run_out();
  g_checks.summary("kernel_attacks");
  return 0;
}
