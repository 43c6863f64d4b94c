// el0_switch.h — what the EL0 entry's slow path (el0_entry.cc) and its
// lockless paths (fast_paths.cc) share: the running thread, and making
// another thread this CPU's. Inline: the lockless paths make no calls.
#pragma once

#include <stdint.h>

#include "kernel/arch/arch.h"
#include "kernel/core/cpu.h"
#include "kernel/core/fpu.h"
#include "kernel/object/thread.h"

namespace keel {

// The thread this CPU runs is the one whose frame its PerCpu::user_frame
// names (cpu.h): Thread::frame is its first member.
inline Thread* running() { return reinterpret_cast<Thread*>(this_cpu().user_frame); }

// Makes `next` this CPU's thread, running in the tables `ttbr0` names (its
// current TTBR0 value). `from` is the thread whose EL0 registers the CPU
// still holds (null when it idled or lost its thread). Shared by the slow
// path (switch_to, under the big lock) and the fastpath (no slow path
// anywhere: fast_path_enter, or the CPU is alone); inline: the fastpath has
// no calls.
// kFastpath: the caller knows more, which spares tests — `from` is a thread
// and not `next` (a blocked partner), `from` ran at EL0 until this entry
// (so this CPU's state is what the slow path's last switch left: walks on,
// with `from`'s tables, and EL0's FP access on exactly if `from` owns the
// FP registers), and the eret follows with no access to user memory.
template <bool kFastpath = false>
[[gnu::always_inline]] inline void switch_context(Cpu& c, Thread* from, Thread* next, uint64_t ttbr0) {
  // EL0's FP access is on exactly while this CPU runs its fp_owner (fpu.h).
  // Between two threads of which neither owns the registers it stays off:
  // the fastpath compares the owner with both (the slow path also mends
  // what a served request changed: el0_entry.cc, cpu.cc kRequestSaveFp).
  if (!kFastpath || c.fp_owner == from || c.fp_owner == next) fp_set_access(next == c.fp_owner);
  if (kFastpath || next != from) {  // the EL0 thread-pointer registers are part of a thread's context
    if (kFastpath || from != nullptr) from->tpidr_el0 = arch::user_tp();
    arch::set_user_tp(next->tpidr_el0, next->tpidrro_el0);
  }
  if (ttbr0 != c.ttbr0) {  // (a thread's TTBR0 is never 0)
    if (kFastpath) {
      // Walks are on (`from` ran at EL0). No ISB: nothing here walks user
      // tables, and the eret is a context synchronization event, after
      // which EL0 translates with the new TTBR0 (Arm ARM, "Synchronization
      // requirements for AArch64 System registers": a direct write is
      // guaranteed to be seen by the instructions after the next context
      // synchronization event). A speculative walk meanwhile
      // uses the old value or the new one, each a live space's tables
      // under that space's own ASID.
      arch::set_user_tables_before_eret(ttbr0);
    } else if (c.ttbr0 == 0) {  // walks disabled (idle, or its thread was taken away): enable them with next's tables
      arch::set_user_tables(ttbr0);  // (synchronized: TTBR0 before walks can start from it)
      arch::set_user_walks(true);    // (synchronized: the new address space is in effect before the eret)
    } else {
      arch::set_user_tables(ttbr0);
    }
    c.ttbr0 = ttbr0;
  }
  c.user_frame = &next->frame;
}

}  // namespace keel
