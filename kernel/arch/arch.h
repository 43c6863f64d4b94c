// arch.h — everything kernel/core and kernel/object may ask of the CPU.
//
// One line between the portable kernel and the machine: core and objects
// include this header and never write a system register, issue a barrier
// or reach physical memory any other way. Two implementations define the
// operations below (inline, in namespace keel::arch):
//   kernel/arch/arm64_ops.h  the real CPU (target builds)
//   kernel/arch/host_ops.h   a recording stand-in (host builds: the
//                                 invocation tests run the kernel's object
//                                 code on host memory and inspect it)
// //kernel/arch:arch picks one by platform (KEEL_ARCH_ARM64 / KEEL_ARCH_HOST).
//
// The operations (ordering contracts: Arm ARM D8.13 for TLB maintenance,
// B2.3 for barriers; each arm64 definition cites what it issues):
//
//   physical memory   phys_offset()                VA of PA 0 in the kernel's window (the linear map)
//   stacks            boot_stack(), emergency_stack()   bounds, for backtraces
//   this CPU          this_percpu(), this_percpu_or_null(), set_this_percpu(PerCpu*)
//   ordering          table_writes_visible()       new descriptors visible to table walks (DSB ISHST)
//                     sync_context()               system-register writes in effect (ISB)
//                     io_writes_visible()          memory writes seen by a device before the next MMIO write (DSB SY)
//   caches            clean_invalidate_to_poc(pa, size)   DC CIVAC over the range, complete (DSB SY)
//   memory            zero_memory(pa, size)        zeroes (size a multiple of 16): DC ZVA where it can
//   TLB               tlb_flush_page(va, asid), tlb_flush_asid(asid), tlb_flush_all()   inner shareable, complete
//                     tlb_flush_local()            this CPU only, every ASID
//   user tables       set_user_tables(ttbr0)       TTBR0, synchronized
//                     set_user_walks(on)           TCR.EPD0, synchronized
//                     translation_control()        TCR (uaccess walks with it)
//   thread pointers   user_tp(), set_user_tp(tp, tpro)
//   FP/SIMD           set_fp_access(el0), fp_save(FpState*), fp_restore(const FpState*)
//   timer             timer_frequency(), timer_arm(ticks), timer_stop(),
//                     user_timer_arm(deadline), user_timer_stop()
//   interrupts        irq_controller_init(regs), irq_cpu_init(cpu, mpidr),
//                     irq_ack(), irq_eoi(id), irq_enable(spi), irq_set_edge(spi), irq_disable(spi),
//                     irq_enable_ppi(cpu, id), send_sgi(cpu, id)
//   PMU               pmu_enable()
//   EL0               enter_user() (the first return to EL0 on this CPU)
//   waiting           wait_for_interrupt(), cpu_relax(), wait_while(p, v) (WFE until *p may have changed),
//                     mask_interrupts(), halt() (masked, forever)
#pragma once

#include <stdint.h>

#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/arch/arm64/page_table.h"

#if defined(KEEL_ARCH_ARM64)
#include "kernel/arch/arm64_ops.h"
#elif defined(KEEL_ARCH_HOST)
#include "kernel/arch/host_ops.h"
#else
#error "depend on //kernel/arch:arch (it defines KEEL_ARCH_ARM64 or KEEL_ARCH_HOST)"
#endif

namespace keel::arch {

// Physical address pa as the kernel reaches it.
template <class T>
inline T* phys(uint64_t pa) {
  return reinterpret_cast<T*>(phys_offset() + pa);
}

// The same window for the portable page-table code.
inline arm64::PhysWindow phys_window() { return arm64::PhysWindow{phys_offset()}; }

}  // namespace keel::arch
