// cpu.h — per-CPU state, kernel entry and exit, and cross-CPU requests.
//
// Each CPU has a Cpu record (TPIDR_EL1 points to it) and its own
// kernel stack, run queue (scheduler.h), timer and GIC interface. Written
// without the big kernel lock (lock.h), and only as described here:
//   user_frame   by its own CPU, under the lock, or by vectors.S on entry;
//   request      set by the lock holder; served (and `served` advanced) by
//                the target CPU as soon as it is in the kernel with its user
//                context saved, even while it waits for the lock;
//   fp_owner     by its own CPU under the lock or when serving a request;
//                cleared by the lock holder when the owner is destroyed.
//
// The stall protocol: before the lock holder frees or suspends a thread that
// another CPU is running at EL0 (or an address space it runs in), it makes
// that CPU enter the kernel (an SGI), waits until it has saved the thread's
// registers, and marks it lost_current: on getting the lock the CPU drops the
// thread without touching it and picks another. FP/SIMD state that lives in
// another CPU's registers is fetched the same way (kRequestSaveFp).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/core/lock.h"
#include "kernel/core/panic.h"
#include "kernel/core/scheduler.h"

namespace keel {

struct Thread;

constexpr size_t kMaxCpus = abi::kMaxCpus;

// SGIs keel uses.
constexpr uint32_t kSgiReschedule = 1;  // a thread was queued for you (or moved away)
constexpr uint32_t kSgiRequest = 2;     // serve your Cpu::request
constexpr uint32_t kSgiHalt = 3;        // another CPU panicked: stop

// A CPU's record: what the architecture keeps (arm64::PerCpu: the thread
// it runs, its stack, its number) and the core's state beside it.
struct Cpu : arm64::PerCpu {
  // Cross-CPU requests (cpu.cc): written by the lock holder, served by this
  // CPU as soon as it enters the kernel, lock or not.
  uint64_t request;       // kRequest* bits, set by the requester
  uint64_t served;        // requests served so far (a counter the requester waits on)
  uint64_t lost_current;  // the thread it ran was taken away while it waited for the lock
  void* fp_owner;         // the Thread whose FP/SIMD state this CPU's registers hold
  uint64_t cpacr;         // the FP access last set (fpu.h)
  uint64_t ttbr0;         // TTBR0_EL1 as last written for a thread (0: walks disabled, EPD0 = 1)
  // 1 while this CPU runs the IPC fastpath or the syscall short path,
  // which run without the big lock and exclude every slow path meanwhile
  // (docs/smp.md): fast_path_enter sets it and then checks that the big
  // lock is free; kernel_enter takes the big lock and then waits until it
  // is clear on every other CPU that has a thread (cpu.cc
  // wait_for_fast_paths). Written only by this CPU.
  uint32_t fast_busy;
  uint32_t holder_checked;    // bit 0: this entry set g_lock_holder (checked kernels: kernel_enter); bit 1
                              // (kExitLetIn): a restarted operation, kernel_exit lets lock waiters in first
  const RunQueue* run_queue;  // this CPU's (the lockless paths read it: cpu_install)
  // The key a thread's fastpath-eligible word must equal for the IPC
  // fastpath to switch to it here: fast_key_of(the ASID pool's generation,
  // this CPU, false) (thread.h). Written under the big lock: when the CPU
  // first has a thread (cpu_set_has_thread) and, for every CPU, when the
  // generation rolls over (cpus_set_asid_generation).
  uint64_t fast_key;
  // 1 on the boot CPU while no other CPU can run kernel code: set by
  // cpu_install for CPU 0, cleared for good by cpu_expect_peers before
  // the first secondary is started. The lockless paths then skip the
  // exclusion and the endpoint lock — there is no one to exclude
  // (docs/smp.md "One CPU"). Read only by its own CPU.
  uint32_t alone;
  uint32_t pad32;
  uint64_t pad[2];  // one 128-byte line per CPU
};
static_assert(sizeof(Cpu) == 128, "one cache line per CPU");
constexpr uint32_t kExitLetIn = 2;  // Cpu::holder_checked

// This CPU's record (inline: every kernel entry reads it several times).
inline Cpu& this_cpu() { return static_cast<Cpu&>(arch::this_percpu()); }

// The lockless paths' side of the exclusion (Cpu::fast_busy): true if no
// slow path runs anywhere and none can start until fast_path_exit — then
// everything the last big-lock holder wrote is visible. False: a slow path
// runs or is starting; nothing was touched. Dekker's pattern: this side
// stores fast_busy then loads the lock word, kernel_enter stores the lock
// word then loads every fast_busy, the store ordered before the load on
// both sides — so at least one of them sees the other. Here by the
// instructions themselves: a store-release (STLR) and a later load-acquire
// (LDAR) are observed in program order (Arm ARM B2.3, Barrier-ordered-
// before; C++: both sequentially consistent); kernel_enter, whose store is
// the lock's exclusive store, by a full barrier (DMB ISH) after it.
inline bool fast_path_enter(Cpu& c) {
  __atomic_store_n(&c.fast_busy, 1u, __ATOMIC_SEQ_CST);
  if (__builtin_expect(g_kernel_lock.held(), false)) {
    __atomic_store_n(&c.fast_busy, 0u, __ATOMIC_RELEASE);
    return false;
  }
  return true;
}
// Ends it: what the path wrote is visible to the next big-lock holder.
inline void fast_path_exit(Cpu& c) { __atomic_store_n(&c.fast_busy, 0u, __ATOMIC_RELEASE); }
Cpu& cpu_record(size_t index);
size_t cpus_online();
bool cpu_online(size_t index);
// Sets up the record of CPU `index` and points TPIDR_EL1 at it.
void cpu_install(size_t index, uint64_t mpidr, uint64_t kstack_top);
void cpu_set_online(size_t index);
// The boot CPU, before it starts any other: from now on it may not be
// alone (Cpu::alone), whether or not the others come up.
void cpu_expect_peers();

// Entry: the user context is saved; take the lock (serving requests while
// waiting), then wait until no other CPU runs a lockless path (Cpu::
// fast_busy): none starts until kernel_exit (docs/smp.md).
void kernel_enter() KEEL_ACQUIRE(g_kernel_lock);
// Whether this CPU now has a thread to run (false: it idles). Tells
// kernel_enter on the other CPUs whether this one may be in a lockless path.
void cpu_set_has_thread(bool has) KEEL_REQUIRES(g_kernel_lock);
// A new ASID generation: every CPU's Cpu::fast_key follows it (before any
// lockless path runs again: the caller holds the big lock).
void cpus_set_asid_generation(uint32_t generation) KEEL_REQUIRES(g_kernel_lock);
// Checked kernels (invariants images) track which CPU holds the big lock
// and panic on a double take or a release by a non-holder. Set at boot.
extern bool g_check_lock_holder;
// Exit: about to return to EL0 (or to wait for an interrupt).
void kernel_exit() KEEL_RELEASE(g_kernel_lock);

// The thread CPU `index` runs at EL0, or null.
Thread* cpu_current(size_t index) KEEL_REQUIRES(g_kernel_lock);
// Stall protocol (above): returns once `index` has parked the thread it runs.
void cpu_take_current(size_t index) KEEL_REQUIRES(g_kernel_lock);
// Stalls every other CPU running `t`, or a thread in address space `as_root`.
void cpus_release_thread(const Thread* t) KEEL_REQUIRES(g_kernel_lock);
void cpus_release_address_space(uint64_t as_root) KEEL_REQUIRES(g_kernel_lock);
// Has CPU `index` save the FP/SIMD state its registers hold into its owner.
void cpu_fetch_fp(size_t index) KEEL_REQUIRES(g_kernel_lock);
// Asks CPU `index` to look at its run queue again.
void cpu_kick(size_t index);

// This CPU's own state after the MMU switch: TTBR0 walks off and its TLB
// cleaned of the trampoline's identity map; the PMU for benchmarks.
void cpu_drop_identity_map();
void cpu_enable_pmu();
// Disables this CPU's walks through TTBR0 (TCR.EPD0 = 1) while it runs no
// thread, so it never walks (even speculatively) tables that may be freed
// meanwhile; switch_to enables them again (Cpu::ttbr0 says which).
void cpu_user_walks_off();
// Runs threads from this CPU's run queue, idling when there are none; never
// returns. `last`: the thread whose EL0 registers the CPU still holds.
[[noreturn]] void cpu_idle(Thread* last) KEEL_REQUIRES(g_kernel_lock);
// Makes t this CPU's thread (boot: init, before the first entry to EL0).
void set_current_thread(Thread* t) KEEL_REQUIRES(g_kernel_lock);

}  // namespace keel
