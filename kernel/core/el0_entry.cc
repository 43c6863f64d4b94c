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
#include "kernel/core/console.h"
#include "kernel/core/cpu.h"
#include "kernel/core/el0_switch.h"
#include "kernel/core/fpu.h"
#include "kernel/core/invariants.h"
#include "kernel/core/ipc.h"
#include "kernel/core/irq.h"
#include "kernel/core/kernel_objects.h"
#include "kernel/core/panic.h"
#include "kernel/core/scheduler.h"
#include "kernel/core/syscall.h"
#include "kernel/core/uaccess.h"
#include "kernel/object/objects.h"

namespace keel {
namespace {

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

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
