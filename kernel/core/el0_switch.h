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
// path (switch_to, under the big lock) and the fastpath (fast_path_enter:
// no slow path anywhere); inline: the fastpath has no calls. kOther: the
// caller knows `from` is a thread and not `next` (the fastpath: a blocked
// partner), which spares the tests.
template <bool kOther = false>
[[gnu::always_inline]] inline void switch_context(Cpu& c, Thread* from, Thread* next, uint64_t ttbr0) {
  fp_set_access(next == c.fp_owner);
  if (kOther || next != from) {  // the EL0 thread-pointer registers are part of a thread's context
    if (kOther || from != nullptr) from->tpidr_el0 = arch::user_tp();
    arch::set_user_tp(next->tpidr_el0, next->tpidrro_el0);
  }
  if (ttbr0 != c.ttbr0) {  // (a thread's TTBR0 is never 0)
    if (c.ttbr0 == 0) {    // walks disabled (idle, or its thread was taken away): enable them with next's tables
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
