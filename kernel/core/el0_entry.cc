// el0_entry.cc — every exception from EL0: syscalls, interrupts, FP
// traps and faults; the thread switch on the way out; the idle loop.
//
// vectors.S saves the user context straight into the current Thread's frame
// (PerCpu::user_frame); syscalls and invocations work on Thread frames
// (syscall.cc); then the scheduler picks who runs, and switching threads is
// pointing PerCpu at another frame. Any other exception from EL0 is a user
// fault: it goes to the thread's fault endpoint if it has one; otherwise the
// thread is stopped, the fault reported decoded (with a user backtrace the
// runner symbolizes), and the kernel carries on with the other threads.
#include <stdint.h>

#include "keel/abi.h"
#include "kernel/arch/arch.h"
#include "kernel/arch/arm64/esr.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/core/abi_map.h"
#include "kernel/core/console.h"
#include "kernel/core/cpu.h"
#include "kernel/core/fpu.h"
#include "kernel/core/invariants.h"
#include "kernel/core/ipc.h"
#include "kernel/core/ipc_fast.h"
#include "kernel/core/irq.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/panic.h"
#include "kernel/core/scheduler.h"
#include "kernel/core/syscall.h"
#include "kernel/core/uaccess.h"
#include "kernel/object/objects.h"

namespace keel {
namespace {

// The thread this CPU runs is the one whose frame its PerCpu::user_frame
// names (cpu.h): Thread::frame is its first member.
Thread* running() { return reinterpret_cast<Thread*>(this_cpu().user_frame); }

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

// Makes `next` this CPU's thread, running in the tables `ttbr0` names (its
// current TTBR0 value). `from` is the thread whose EL0 registers the CPU
// still holds (null when it idled or lost its thread). Shared by the slow
// path (switch_to, under the big lock) and the fastpath (fast_path_enter:
// no slow path anywhere); inline: the fastpath has no calls.
[[gnu::always_inline]] inline void switch_context(Cpu& c, Thread* from, Thread* next, uint64_t ttbr0) {
  fp_set_access(next == c.fp_owner);
  if (next != from) {  // the EL0 thread-pointer registers are part of a thread's context
    if (from != nullptr) from->tpidr_el0 = arch::user_tp();
    arch::set_user_tp(next->tpidr_el0, next->tpidrro_el0);
  }
  if (c.ttbr0 == 0) {  // walks disabled (idle, or its thread was taken away): enable them with next's tables
    arch::set_user_tables(ttbr0);  // (synchronized: TTBR0 before walks can start from it)
    arch::set_user_walks(true);    // (synchronized: the new address space is in effect before the eret)
  } else if (ttbr0 != c.ttbr0) {
    arch::set_user_tables(ttbr0);
  }
  c.ttbr0 = ttbr0;
  c.user_frame = &next->frame;
}

// switch_context with next's TTBR0 brought up to date: its space's ASID
// may have changed since it last ran (a rollover).
void switch_to(Thread* from, Thread* next) KEEL_REQUIRES(g_kernel_lock) {
  cpu_set_has_thread(true);
  switch_context(this_cpu(), from, next, thread_ttbr0(next));
}

// Kernel output since the last exception wakes the log's reader; done here,
// on the way out, because kprintf runs in the middle of kernel operations.
void signal_kernel_log() KEEL_REQUIRES(g_kernel_lock) {
  if (__builtin_expect(!console_log_may_signal(), true)) return;
  uint64_t pa = 0, badge = 0;
  if (console_log_take_signal(&pa, &badge)) ntfn_signal(scheduler(), arch::phys<Notification>(pa), badge);
}

}  // namespace

// Nothing runnable on this CPU: drop the lock and wait for an interrupt
// (with IRQs masked, WFI still wakes on a pending one, which is then taken
// from the GIC here, under the lock) that makes a thread runnable here — a
// device, or an SGI from a CPU that queued one — and run it. `last` is the
// thread whose EL0 registers the CPU still holds (or null).
[[noreturn]] void cpu_idle(Thread* last) {
  Cpu& c = this_cpu();
  c.user_frame = nullptr;
  cpu_set_has_thread(false);  // (no lockless path runs here until it picks one, under the lock)
  // Its EL0 thread pointer now: once the lock is dropped, `last` may run on
  // another CPU, and this one must not write to it later.
  if (last != nullptr) last->tpidr_el0 = arch::user_tp();
  timer_stop();
  static bool said = false;  // once: with servers waiting for interrupts, idling is normal
  if (!said && c.index == 0) {
    kprintf("keel: all threads are waiting; the CPU idles until an interrupt wakes one\n");
    said = true;
  }
  for (;;) {
    // What the kernel printed reaches the log's reader (the UART server)
    // now, not at the next interrupt: that may wake it, so pick after.
    signal_kernel_log();
    if (Thread* next = scheduler().pick()) {
      timer_restart();
      switch_to(nullptr, next);
      check_invariants();
      kernel_exit();
      arch::enter_user();
    }
    cpu_user_walks_off();  // the last thread's tables may be freed while this CPU waits
    kernel_exit();
    arch::wait_for_interrupt();
    kernel_enter();
    while (irq_dispatch() != IrqResult::kNone) {
    }
  }
}

namespace {

// The user fault report: decoded like a kernel panic, but it stops only the
// thread. Backtrace frames are read with copy_from_user, never dereferenced.
void report_user_fault(const Thread& t, const arm64::ExceptionFrame& f, uint64_t slot) {
  char meaning[96];
  if (slot % 4 == 0) {
    arm64::describe_esr(f.esr, meaning, sizeof meaning);
  } else {
    meaning[0] = '\0';
  }
  uint32_t ec = arm64::esr_ec(f.esr);
  kprintf("keel: USER FAULT in thread %s: %s%s\n", t.name, slot % 4 == 0 ? meaning : "unexpected ",
          slot % 4 == 0 ? "" : arm64::vector_kind(slot));
  kprintf("  EC 0x%02x (%s)  ESR 0x%016llx  FAR 0x%016llx\n  PC 0x%016llx  SP 0x%016llx\n", ec,
          arm64::exception_class_name(ec), ull(f.esr), ull(f.far), ull(f.elr), ull(f.sp));
  kprintf("  backtrace:\n    #0 0x%016llx in %s\n", ull(f.elr), t.name);
  uint64_t fp = f.frame_pointer();
  for (int depth = 1; depth < 16 && fp != 0 && (fp & 15) == 0; ++depth) {
    uint64_t rec[2];
    if (copy_from_user(t, fp, sizeof rec, rec) != Status::kOk || rec[1] == 0) break;
    kprintf("    #%d 0x%016llx in %s\n", depth, ull(rec[1] - 4), t.name);
    if (rec[0] <= fp) break;
    fp = rec[0];
  }
  kprintf("  end of backtrace\n");
  kprintf("keel: thread %s stopped; the kernel carries on\n", t.name);
}

}  // namespace

void set_current_thread(Thread* t) KEEL_REQUIRES(g_kernel_lock) {
  this_cpu().user_frame = t != nullptr ? &t->frame : nullptr;
  cpu_set_has_thread(t != nullptr);
}

namespace {

// The scheduler's queues, read by the fastpath without the big lock: they
// are written only by big-lock holders (none runs while a fastpath does:
// cpu.h fast_path_enter), and the fastpath itself does not enqueue.
const Scheduler& fastpath_scheduler() KEEL_NO_THREAD_SAFETY_ANALYSIS { return g_scheduler; }
uint32_t fastpath_asid_generation() KEEL_NO_THREAD_SAFETY_ANALYSIS { return g_asids.generation(); }

}  // namespace

// The IPC fastpath (docs/performance.md; locking: docs/smp.md): Call and
// ReplyRecv in the common case, first thing on a syscall, without the big
// lock. It runs between fast_path_enter and fast_path_exit (cpu.h: no slow
// path runs anywhere meanwhile) and holds the endpoint's lock
// (which orders fastpaths of different CPUs on one endpoint); it touches
// only threads of this CPU. Checks first — any unusual case declines,
// having changed nothing, and the slow path runs the syscall from the
// start — then ipc.cc's commit and the switch. Returns whether it ran the
// syscall; the frame PerCpu::user_frame names is then the one to restore.
// vectors.S calls it only for an SVC from EL0 with x8 = Call or ReplyRecv,
// and restores and returns at once when it says true; else user_exception
// runs as for any other exception.
extern "C" bool user_fastpath(const arm64::ExceptionFrame* f) {
  Cpu& c = this_cpu();
  const bool call = f->syscall_number() == static_cast<uint64_t>(abi::Syscall::kCall);
  if (__atomic_load_n(&c.request, __ATOMIC_RELAXED) != 0) return false;  // served on the slow path
  if (!fast_path_enter(c)) return false;  // a big-lock holder is at work: wait for it there
  Thread* t = running();                  // (null once taken away: lost_current)
  Thread* next = nullptr;
  if (c.lost_current == 0 && t != nullptr && t->cpu == c.index) {
    const auto a = t->regs().args<abi::IpcArgs>();
    const Found<Endpoint> ep = lookup<Endpoint>(*t, a.cap, call ? abi::kRightWrite : abi::kRightRead);
    if ((call || a.reply == 0) && ep.ok() && ep.object->fast_lock.try_lock()) {
      const Scheduler& s = fastpath_scheduler();
      const uint32_t gen = fastpath_asid_generation();
      next = call ? ipc_fastpath_call(s, ep.object, t, ep.badge(), gen) : ipc_fastpath_reply_recv(s, ep.object, t, gen);
      ep.object->fast_lock.unlock();
    }
  }
  if (next == nullptr) {
    fast_path_exit(c);
    return false;
  }
  // next's cached TTBR0 is current (the bodies checked its ASID generation).
  switch_context(c, t, next, next->ttbr0);
  fast_path_exit(c);
  return true;
}

// The short path (keel/abi.h's register contract; docs/performance.md): a
// syscall that completes on its caller's CPU without switching threads,
// between fast_path_enter and fast_path_exit (cpu.h: no slow path runs
// anywhere meanwhile) instead of under the big lock. vectors.S
// calls it for every SVC but Call and ReplyRecv with only x0..x8 and LR
// saved in the frame: x19..x29 are still the caller's in the registers
// (C code preserves them). Done: the results are in the frame's x0..x6 and
// vectors.S returns at once, zeroing x7 and x9..x18. Declined: nothing has
// changed and the general path runs the syscall from the start. Returns
// the frame to return with (the caller's), or null to decline. Serves
//   DebugWrite of nothing: the capability check alone (writing takes the
//     console, under the big lock);
//   Yield with nothing queued here at the caller's priority or above: the
//     caller would be picked again at once.
// A leaf (no calls, to_abi inlined): no frame of its own to save.
extern "C" arm64::ExceptionFrame* user_syscall_short(arm64::ExceptionFrame* f) {
  Cpu& c = this_cpu();
  if (__atomic_load_n(&c.request, __ATOMIC_RELAXED) != 0) return nullptr;  // served on the general path
  if (!fast_path_enter(c)) return nullptr;
  Thread* t = running();
  arm64::ExceptionFrame* done = nullptr;
  if (c.lost_current == 0 && t != nullptr && t->cpu == c.index) {
    abi::SyscallView r = t->regs();
    switch (f->syscall_number()) {
      case abi::kSyscallDebugWrite: {
        const auto a = r.args<abi::DebugWriteArgs>();
        if (a.length != 0) break;
        object::Slot* log = nullptr;
        r.set_error(to_abi(lookup_slot(*t, a.log, abi::ObjectType::kKernelLog, abi::kRightWrite, &log)));
        done = f;
        break;
      }
      case static_cast<uint64_t>(abi::Syscall::kYield):
        if (fastpath_scheduler().highest_on(static_cast<unsigned>(c.index)) >= static_cast<int>(t->priority)) break;
        r.set_error(abi::Error::kOk);
        done = f;
        break;
      default: break;
    }
  }
  fast_path_exit(c);
  return done;
}

// Called by vectors.S for every exception from EL0; the user context is
// already saved in the current thread's frame (f). Returning resumes the
// frame PerCpu::user_frame names then.
extern "C" void user_exception(arm64::ExceptionFrame* f, uint64_t slot) {
  kernel_enter();  // from here the big kernel lock is held (lock.h)
  Cpu& c = this_cpu();
  if (c.lost_current != 0) {
    // While this CPU waited for the lock, another took its thread away
    // (cpu.h: stall protocol). The saved frame is not ours any more: serve
    // only the interrupt, if that is what brought us here, and move on.
    c.lost_current = 0;
    if (slot == 9) {
      while (irq_dispatch() != IrqResult::kNone) {
      }
    }
    signal_kernel_log();
    cpu_idle(nullptr);  // runs the next thread here, or waits for one
  }
  Thread* t = running();
  if (t == nullptr || f != &t->frame) panic("exception from EL0 (ESR 0x%llx) with no current thread", ull(f->esr));
  const uint32_t ec = arm64::esr_ec(f->esr);
  const bool synchronous = slot == 8;               // lower EL, AArch64, synchronous
  if (synchronous && ec == arm64::ec::kFpAccess) {  // load its FP/SIMD state, retry the instruction
    fp_claim(t);
    kernel_exit();
    return;
  }
  bool yield = false;
  if (synchronous && ec == arm64::ec::kSvc64) {
    yield = syscall_dispatch(t);
    drain_deferred();
  } else if (slot == 9) {  // IRQ from EL0: the tick ends the time slice; devices signal; SGIs
    for (IrqResult r = irq_dispatch(); r != IrqResult::kNone; r = irq_dispatch()) yield |= r == IrqResult::kTick;
  } else {
    bool memory = ec == arm64::ec::kDataAbortLower || ec == arm64::ec::kInstAbortLower;
    if (slot % 4 != 0 || !deliver_fault(t, memory ? abi::kFaultMemory : abi::kFaultException)) {
      report_user_fault(*t, *f, slot);
      thread_stop(scheduler(), t);
    }
  }
  signal_kernel_log();
  // Keep running t unless it blocked, yielded, moved to another CPU, or a
  // higher-priority thread woke here.
  Thread* next = t;
  bool moved = t->cpu != c.index;
  if (t->state != ThreadState::kRunnable || yield || moved ||
      scheduler().highest_on(static_cast<unsigned>(c.index)) > static_cast<int>(t->priority)) {
    if (t->state == ThreadState::kRunnable) scheduler().enqueue(t);  // (its own CPU's queue)
    next = scheduler().pick();
  }
  if (next == nullptr) cpu_idle(t);
  // The same thread again (a syscall that did not block): nothing to switch
  // unless its TTBR0 (ASID) or its FP access changed meanwhile.
  if (next != t || t->ttbr0_gen != g_asids.generation() || c.ttbr0 != t->ttbr0 ||
      c.cpacr != fp_access_value(t == c.fp_owner)) {
    switch_to(t, next);
  }
  check_invariants();
  kernel_exit();
}

}  // namespace keel
