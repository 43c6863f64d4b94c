#include "kernel/core/cpu.h"

#include "kernel/arch/arch.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/panic.h"
#include "kernel/core/scheduler.h"
#include "kernel/object/thread.h"

namespace keel {

namespace {

alignas(128) Cpu g_cpus[kMaxCpus];
uint64_t g_online_mask = 0;  // bit i: CPU i runs the kernel (atomic; the one record of who is online)
// Bit i: CPU i has a thread to run, so it may be inside a lockless path
// (Cpu::fast_busy) whenever the big lock is free. Written under the big lock
// by the CPU itself (cpu_set_has_thread); a CPU without one idles, and
// picks its next thread under the lock, so kernel_enter need not wait for
// it. Boot: no CPU has one.
uint64_t g_has_thread_mask = 0;

enum : uint64_t { kRequestPark = 1, kRequestSaveFp = 2, kRequestHalt = 4, kRequestLetWaitersIn = 8 };

// Serves what the lock holder asked of this CPU. Runs with the user context
// saved and without the lock; the requester holds it and waits for `served`.
// kRequestLetWaitersIn is not the holder's: a CPU starving for the lock
// posts it to every other CPU (no SGI, nobody waits for it); a CPU about to
// enter the kernel then lets a waiter have the lock first. It is not
// counted in `served` (the holder's requests are, one at a time).
[[gnu::noinline]] void serve_requests_now(bool entering) {
  Cpu& c = this_cpu();
  uint64_t r = __atomic_exchange_n(&c.request, 0, __ATOMIC_ACQUIRE);
  if ((r & kRequestLetWaitersIn) != 0) {
    if (entering) g_kernel_lock.let_waiters_first();
    r &= ~kRequestLetWaitersIn;
    if (r == 0) return;
  }
  if ((r & kRequestHalt) != 0) halt_cpu_silently();  // another CPU panicked and reports
  if ((r & kRequestPark) != 0 && c.user_frame != nullptr) {
    // Its EL0 thread pointer, too: the asker may stop the thread for good,
    // and this CPU will not switch away from it in the usual way.
    reinterpret_cast<Thread*>(c.user_frame)->tpidr_el0 = arch::user_tp();
    // And no more walks of its tables from here: the asker may be about to
    // free them (switch_to enables walks again with the next thread's).
    cpu_user_walks_off();
  }
  if ((r & kRequestSaveFp) != 0 && c.fp_owner != nullptr) {
    auto* owner = static_cast<Thread*>(c.fp_owner);
    arch::fp_save(&owner->fp);  // (EL1 may use FP/SIMD: CPACR traps EL0 only)
    owner->fp_live_on = 0;
    c.fp_owner = nullptr;
  }
  __atomic_fetch_add(&c.served, 1, __ATOMIC_RELEASE);  // parked: its thread's registers are in memory
}

// The common case is one load, inline; serving is out of line.
inline void serve_requests(bool entering = false) {
  if (__builtin_expect(__atomic_load_n(&this_cpu().request, __ATOMIC_RELAXED) != 0, false)) {
    serve_requests_now(entering);
  }
}

// The starving hook: every other online CPU lets waiters in before it next
// enters the kernel.
void ask_to_let_waiters_in() {
  const uint64_t me = this_cpu().index;
  uint64_t set = __atomic_load_n(&g_online_mask, __ATOMIC_ACQUIRE) & ~(uint64_t{1} << me);
  for (; set != 0; set &= set - 1) {
    __atomic_fetch_or(&g_cpus[__builtin_ctzll(set)].request, kRequestLetWaitersIn, __ATOMIC_RELEASE);
  }
}

// Asks CPU `index` for `what` and waits until it has served it. Only the
// lock holder asks, one request at a time.
void request(size_t index, uint64_t what) {
  Cpu& c = g_cpus[index];
  uint64_t before = __atomic_load_n(&c.served, __ATOMIC_ACQUIRE);
  __atomic_fetch_or(&c.request, what, __ATOMIC_RELEASE);
  arch::send_sgi(index, kSgiRequest);
  // (WFE on the counter's low word: the server's increment wakes this CPU.)
  while (__atomic_load_n(&c.served, __ATOMIC_ACQUIRE) == before) {
    arch::wait_while(reinterpret_cast<const uint32_t*>(&c.served), static_cast<uint32_t>(before));
  }
}

}  // namespace

SpinLock g_kernel_lock{[] { serve_requests(); }, ask_to_let_waiters_in};

Cpu& cpu_record(size_t index) { return g_cpus[index]; }

bool cpu_online(size_t index) {
  return index < kMaxCpus && ((__atomic_load_n(&g_online_mask, __ATOMIC_ACQUIRE) >> index) & 1) != 0;
}

size_t cpus_online() {
  return static_cast<size_t>(__builtin_popcountll(__atomic_load_n(&g_online_mask, __ATOMIC_ACQUIRE)));
}

namespace {
// Its address only (the queue itself is the big lock's).
const RunQueue& run_queue_of(unsigned cpu) KEEL_NO_THREAD_SAFETY_ANALYSIS { return g_scheduler.queue_of(cpu); }
}  // namespace

void cpu_install(size_t index, uint64_t mpidr, uint64_t kstack_top) {
  g_cpus[index] = Cpu{};
  g_cpus[index].index = index;
  g_cpus[index].mpidr = mpidr;
  g_cpus[index].kstack_top = kstack_top;
  g_cpus[index].run_queue = &run_queue_of(static_cast<unsigned>(index));
  g_cpus[index].alone = index == 0 ? 1 : 0;  // (until cpu_expect_peers)
  arch::set_this_percpu(&g_cpus[index]);
}

void cpu_expect_peers() { this_cpu().alone = 0; }

void cpu_user_walks_off() {
  Cpu& c = this_cpu();
  if (c.ttbr0 == 0) return;
  arch::set_user_walks(false);  // no walk through TTBR0 starts after this (TLB entries under live ASIDs stay valid)
  c.ttbr0 = 0;
}

void cpu_set_online(size_t index) { __atomic_fetch_or(&g_online_mask, uint64_t{1} << index, __ATOMIC_RELEASE); }

// Which CPU holds the lock (index + 1; 0: none), kept by checked kernels
// (g_check_lock_holder: images built with invariants = True): checked on every
// entry and exit, so a path that leaves the kernel still holding the lock, or
// drops it twice, stops with a panic that names it instead of hanging every
// CPU later. Other kernels skip it: it costs every slow-path entry.
uint64_t g_lock_holder = 0;
bool g_check_lock_holder = false;

namespace {

void serve_and_relax() {
  serve_requests();
  arch::cpu_relax();
}

// After taking the big lock: waits until no other CPU runs a lockless
// path (Cpu::fast_busy; the other half of cpu.h fast_path_enter).
// The barrier orders the lock word's store before the loads below. Only
// CPUs with a thread can be in one (g_has_thread_mask: an idle CPU runs
// none, and takes this lock to pick a thread first).
void wait_for_fast_paths(const Cpu& c) {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  uint64_t set = __atomic_load_n(&g_has_thread_mask, __ATOMIC_RELAXED) & ~(uint64_t{1} << c.index);
  for (; set != 0; set &= set - 1) {
    const Cpu& other = g_cpus[__builtin_ctzll(set)];
    while (__atomic_load_n(&other.fast_busy, __ATOMIC_ACQUIRE) != 0) serve_and_relax();
  }
}

}  // namespace

void cpu_set_has_thread(bool has) {
  Cpu& c = this_cpu();
  const uint64_t bit = uint64_t{1} << c.index;
  const uint64_t now = __atomic_load_n(&g_has_thread_mask, __ATOMIC_RELAXED);
  if (((now & bit) != 0) == has) return;
  // Getting a thread: its fastpath key from the current generation (while
  // it keeps having one, rollovers update it: cpus_set_asid_generation).
  if (has) c.fast_key = cpu_fast_key(g_asids.generation(), static_cast<uint32_t>(c.index));
  __atomic_store_n(&g_has_thread_mask, has ? now | bit : now & ~bit, __ATOMIC_RELAXED);
}

void cpus_set_asid_generation(uint32_t generation) {
  for (size_t i = 0; i < kMaxCpus; ++i) g_cpus[i].fast_key = cpu_fast_key(generation, static_cast<uint32_t>(i));
}

void kernel_enter() {
  Cpu& c = this_cpu();
  const uint64_t me = c.index + 1;
  const bool checked = g_check_lock_holder;
  if (checked && __atomic_load_n(&g_lock_holder, __ATOMIC_RELAXED) == me)
    panic("cpu %llu takes the kernel lock it holds", static_cast<unsigned long long>(me - 1));
  serve_requests(/*entering=*/true);
  g_kernel_lock.lock();
  wait_for_fast_paths(c);
  c.holder_checked = checked ? 1 : 0;
  if (checked) __atomic_store_n(&g_lock_holder, me, __ATOMIC_RELAXED);
}

namespace {
// The exit with work beyond dropping the locks: a checked kernel's holder
// check, or a restart's hand-off to waiting CPUs (holder_checked's bits).
[[gnu::noinline]] void kernel_exit_slow(Cpu& c) KEEL_NO_THREAD_SAFETY_ANALYSIS {
  const uint64_t me = c.index + 1;
  if ((c.holder_checked & 1) != 0) {
    if (__atomic_load_n(&g_lock_holder, __ATOMIC_RELAXED) != me)
      panic("cpu %llu drops a kernel lock it does not hold", static_cast<unsigned long long>(me - 1));
    __atomic_store_n(&g_lock_holder, 0, __ATOMIC_RELAXED);
  }
  const bool let_in = (c.holder_checked & kExitLetIn) != 0;
  c.holder_checked = 0;
  if (let_in) {
    g_kernel_lock.unlock_for_waiters();
  } else {
    g_kernel_lock.unlock();
  }
}
}  // namespace

void kernel_exit() KEEL_NO_THREAD_SAFETY_ANALYSIS {  // (both paths release it; the analysis sees one)
  Cpu& c = this_cpu();
  if (c.holder_checked != 0) {  // (one test for both rare cases)
    kernel_exit_slow(c);
    return;
  }
  g_kernel_lock.unlock();
}

Thread* cpu_current(size_t index) { return reinterpret_cast<Thread*>(g_cpus[index].user_frame); }

void cpu_take_current(size_t index) {
  if (g_cpus[index].user_frame == nullptr || index == this_cpu().index) return;
  request(index, kRequestPark);
  // It waits for the lock with its user context saved; it will not touch
  // the thread again (kernel_enter's caller checks lost_current).
  g_cpus[index].user_frame = nullptr;
  g_cpus[index].lost_current = 1;
}

void cpus_release_thread(const Thread* t) {
  for (size_t i = 0; i < kMaxCpus; ++i) {
    if (cpu_online(i) && cpu_current(i) == t) cpu_take_current(i);
  }
}

void cpus_release_address_space(uint64_t as_root) {
  for (size_t i = 0; i < kMaxCpus; ++i) {
    Thread* t = cpu_online(i) ? cpu_current(i) : nullptr;
    if (t != nullptr && t->as_root == as_root) cpu_take_current(i);
  }
}

void cpu_fetch_fp(size_t index) {
  if (index != this_cpu().index && g_cpus[index].fp_owner != nullptr) request(index, kRequestSaveFp);
}

// The scheduler's hooks (scheduler.h).
unsigned current_cpu() { return static_cast<unsigned>(this_cpu().index); }
void kick_cpu(unsigned cpu) { cpu_kick(cpu); }

void cpu_kick(size_t index) {
  if (index != this_cpu().index && cpu_online(index)) {
    arch::send_sgi(index, kSgiReschedule);
  }
}

// TTBR0 held the trampoline's identity map; from now on it belongs to user
// address spaces. Disable walks through it (EPD0; switch_to enables them
// again with a thread's table) and drop any translation this CPU cached from
// it (local TLBI: every CPU does this for itself). The table stays in the
// boot pool: secondary CPUs pass through the same trampoline.
void cpu_drop_identity_map() {
  arch::set_user_walks(false);  // (synchronized before the invalidation)
  arch::tlb_flush_local();
}

// The PMU for benchmarks: the cycle counter and event counter 0 counting
// INST_RETIRED (event 0x08) at EL0 and EL1, readable (not writable) from
// EL0 (PMUSERENR_EL0.CR|ER). Exposing counters to user space is a timing side
// channel keel accepts for now: it is a measurement kernel as much as a
// product. Skipped when the CPU has no PMU (ID_AA64DFR0_EL1.PMUVer == 0).
void cpu_enable_pmu() {
  // The virtual counter too (CNTKCTL_EL1.EL0VCTEN): wall time for user
  // space. EL0 may read the cycle and event counters (PMUSERENR_EL0.CR, ER),
  // not program or reset them (EN stays 0): one task cannot disturb what
  // others measure.
  arch::pmu_enable();
}

void cpus_halt_others() {
  if (arch::this_percpu_or_null() == nullptr) return;  // before the per-CPU records exist: no other CPU runs the kernel
  for (size_t i = 0; i < kMaxCpus; ++i) {
    if (!cpu_online(i) || &g_cpus[i] == &this_cpu()) continue;
    __atomic_fetch_or(&g_cpus[i].request, kRequestHalt, __ATOMIC_RELEASE);  // seen while waiting for the lock
    arch::send_sgi(i, kSgiHalt);                                            // or as an interrupt
  }
}

}  // namespace keel
