// fpu.h — lazy FP/SIMD switching, per CPU.
//
// A CPU's FP/SIMD registers hold its fp_owner's state (Cpu, cpu.h). Any
// other thread runs there with EL0 FP access trapped (CPACR_EL1.FPEN =
// 0b01); its first FP instruction traps (EC 0x07), the owner's state is
// saved, its own loaded, and it retries. IPC between threads that do not
// use FP never pays for it. A thread whose state is still in another CPU's
// registers (it moved) has that CPU save it first.
#pragma once

#include "kernel/arch/arch.h"
#include "kernel/core/cpu.h"
#include "kernel/core/lock.h"
#include "kernel/object/thread.h"

namespace keel {

// This CPU at boot: no owner, EL0 FP trapped.
void fp_init();
// EL0 FP access on this CPU (in effect from the next eret; CPACR_EL1.FPEN
// 0b11 or 0b01). Inline: every thread switch asks.
// The CPACR_EL1.FPEN value fp_set_access(el0) sets (and Cpu::cpacr caches).
constexpr uint64_t fp_access_value(bool el0) { return (el0 ? 3ull : 1ull) << 20; }
inline void fp_set_access(bool el0) {
  Cpu& c = this_cpu();
  const uint64_t v = fp_access_value(el0);
  if (v == c.cpacr) return;
  arch::set_fp_access(el0);  // in effect from the eret (context synchronizing)
  c.cpacr = v;
}
// The FP trap: t's state into this CPU's registers.
void fp_claim(Thread* t) KEEL_REQUIRES(g_kernel_lock);
// A destroyed thread owns no CPU's registers any more.
void fp_forget(const Thread* t);

}  // namespace keel
