// thread.h — the Thread kernel object (a TCB), made by retyping untyped memory.
//
// Contract: a Thread occupies one 1 KiB object (object_size_bits(kThread)).
// While the thread is not running, `frame` holds its complete integer user
// context; FP/SIMD state is not touched by the kernel (built with
// -mgeneral-regs-only) and stays live in the registers while only one
// thread exists — the scheduler work switches it eagerly with the thread.
#pragma once

#include <stdint.h>

#include "kernel/arch/arm64/kernel/frame.h"

namespace keel {

enum class ThreadState : uint32_t { kInactive, kRunnable, kStopped };

struct Thread {
  arm64::ExceptionFrame frame;  // user context while not on the CPU
  uint64_t ttbr0;               // address-space root | ASID << 48
  uint64_t as_root;             // PA of the address space's root table
  ThreadState state;
  uint32_t asid;
  char name[24];
};
static_assert(sizeof(Thread) <= 1024, "a Thread fits its 1 KiB object");

// The thread the boot CPU runs (nullptr in the idle loop).
Thread* current_thread();
void set_current_thread(Thread* t);

}  // namespace keel
