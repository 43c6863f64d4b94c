// arm64_ops.h — kernel/arch/arch.h on the real CPU. Include arch.h, not this.
#pragma once

#include <stdint.h>

#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/arch/arm64/kernel/gic.h"
#include "kernel/arch/arm64/regs.h"
#include "kernel/arch/arm64/sysreg.h"
#include "kernel/boot/layout.h"

extern "C" {
extern char __kernel_stack_bottom[];
extern char __kernel_stack_top[];
extern char __emergency_stack_bottom[];
extern char __emergency_stack_top[];
}

namespace keel::arch {

// [lo, hi) of a stack.
struct StackBounds {
  uint64_t lo, hi;
};
// The boot CPU's kernel stack (every CPU's is this size), and the stack
// vectors.S switches to when a kernel stack overflows (kernel.ld).
inline StackBounds boot_stack() {
  return {reinterpret_cast<uint64_t>(__kernel_stack_bottom), reinterpret_cast<uint64_t>(__kernel_stack_top)};
}
inline StackBounds emergency_stack() {
  return {reinterpret_cast<uint64_t>(__emergency_stack_bottom), reinterpret_cast<uint64_t>(__emergency_stack_top)};
}

constexpr uint64_t phys_offset() { return layout::kLinearMapBase; }

inline arm64::PerCpu& this_percpu() {
  uint64_t p;
  asm("mrs %0, tpidr_el1" : "=r"(p));  // (not volatile: constant for as long as this code runs on this CPU)
  return *reinterpret_cast<arm64::PerCpu*>(p);
}
// Null before this CPU has a record (early boot, a panic then).
inline arm64::PerCpu* this_percpu_or_null() {
  uint64_t p;
  asm volatile("mrs %0, tpidr_el1" : "=r"(p));
  return reinterpret_cast<arm64::PerCpu*>(p);
}
inline void set_this_percpu(arm64::PerCpu* c) { KEEL_WRITE_SYSREG(tpidr_el1, reinterpret_cast<uint64_t>(c)); }

inline void table_writes_visible() { arm64::dsb_ishst(); }
inline void sync_context() { arm64::isb(); }
// Normal-memory writes (a command, a stream table entry) complete before a
// following Device-memory write (the queue's producer index) reaches a
// device that reads them by DMA: DSB SY (Arm ARM B2.3.12; the SMMUv3
// spec's §3.5 ordering of queue writes before PROD updates).
inline void io_writes_visible() { arm64::dsb_sy(); }

// [pa, pa + size) cleaned and invalidated to the point of coherency through
// the linear map (DC CIVAC per line, then DSB SY: arm64::dcache_clean_invalidate_poc).
inline void clean_invalidate_to_poc(uint64_t pa, uint64_t size) {
  const uint64_t va = phys_offset() + pa;
  arm64::dcache_clean_invalidate_poc(va, va + size);
}

// [pa, pa + size) zeroed through the linear map (Normal cacheable memory):
// DC ZVA per block when the range is whole blocks and EL1 may use it
// (DCZID_EL0: DZP clear, block 4 << BS bytes) — a 2 MiB frame in 32 Ki
// instructions instead of 256 Ki stores; else 16 bytes per store. DC ZVA
// is ordered as a store (Arm ARM D7.5.9), so the lock's release publishes
// the zeros like any other write.
inline void zero_memory(uint64_t pa, uint64_t size) {
  const uint64_t va = phys_offset() + pa;
  uint64_t dczid;
  asm volatile("mrs %0, dczid_el0" : "=r"(dczid));
  const uint64_t block = uint64_t{4} << (dczid & 0xf);
  if ((dczid & 0x10) == 0 && ((va | size) & (block - 1)) == 0) {
    uint64_t a = va;
    for (; a + 8 * block <= va + size; a += 8 * block) {  // eight blocks a turn: the loop costs less than the zeroing
      asm volatile(
          "dc zva, %0\n add x16, %0, %1\n dc zva, x16\n add x16, x16, %1\n dc zva, x16\n add x16, x16, %1\n"
          "dc zva, x16\n add x16, x16, %1\n dc zva, x16\n add x16, x16, %1\n dc zva, x16\n add x16, x16, %1\n"
          "dc zva, x16\n add x16, x16, %1\n dc zva, x16" ::"r"(a),
          "r"(block)
          : "x16", "memory");
    }
    for (; a < va + size; a += block) asm volatile("dc zva, %0" ::"r"(a) : "memory");
    return;
  }
  auto* p = reinterpret_cast<uint64_t*>(va);
  for (uint64_t i = 0; i < size / 8; i += 2) {
    asm volatile("stp xzr, xzr, [%0]" ::"r"(p + i) : "memory");
  }
}

inline void tlb_flush_page(uint64_t va, uint64_t asid) { arm64::tlb_flush_page(va, asid); }
inline void tlb_flush_asid(uint64_t asid) { arm64::tlb_flush_asid(asid); }
inline void tlb_flush_all() { arm64::tlb_flush_all(); }
// This PE only: TLBI VMALLE1, then DSB NSH (a local TLBI needs only this
// PE's completion, D8.13) and ISB.
inline void tlb_flush_local() {
  asm volatile("tlbi vmalle1" ::: "memory");
  arm64::dsb_nsh();
  arm64::isb();
}

inline void set_user_tables(uint64_t ttbr0) {
  arm64::write_sysreg(arm64::Ttbr0El1{ttbr0});
  arm64::isb();  // TTBR0 before any walk starts from it
}
// The same with no ISB: for a caller that erets next without touching user
// memory (the eret synchronizes: el0_switch.h switch_context).
inline void set_user_tables_before_eret(uint64_t ttbr0) { arm64::write_sysreg(arm64::Ttbr0El1{ttbr0}); }
inline void set_user_walks(bool on) {
  arm64::write_sysreg(arm64::read_sysreg<arm64::TcrEl1>().epd0(on ? 0 : 1));
  arm64::isb();  // in effect before the next walk (or the eret)
}
inline arm64::TcrEl1 translation_control() { return arm64::read_sysreg<arm64::TcrEl1>(); }

inline uint64_t user_tp() { return KEEL_READ_SYSREG(tpidr_el0); }
inline void set_user_tp(uint64_t tp, uint64_t tpro) {
  KEEL_WRITE_SYSREG(tpidr_el0, tp);
  KEEL_WRITE_SYSREG(tpidrro_el0, tpro);
}

// CPACR_EL1.FPEN: 0b11 EL0 and EL1 use FP/SIMD freely; 0b01 EL0 traps (EC
// 0x07). In effect from the eret (context synchronizing).
inline void set_fp_access(bool el0) {
  arm64::write_sysreg(arm64::CpacrEl1{}.fpen(el0 ? arm64::CpacrEl1::kFpenNoTrap : arm64::CpacrEl1::kFpenTrapEl0));
}
inline void fp_save(arm64::FpState* s) { arm64::fpsimd_save(s); }
inline void fp_restore(const arm64::FpState* s) { arm64::fpsimd_restore(s); }

// The EL1 physical timer (CNTP).
inline uint64_t timer_frequency() { return KEEL_READ_SYSREG(cntfrq_el0); }
inline void timer_arm(uint64_t ticks) {
  KEEL_WRITE_SYSREG(cntp_tval_el0, ticks);
  arm64::write_sysreg(arm64::CntpCtlEl0{}.enable(1).imask(0));
  arm64::isb();
}
inline void timer_stop() {
  arm64::write_sysreg(arm64::CntpCtlEl0{}.enable(0).imask(1));
  arm64::isb();
}
// The EL1 virtual timer (CNTV): the user timer (an IrqHandler for
// abi::kTimerIntid). CTL: ENABLE bit 0, IMASK bit 1 (Arm ARM D13.8.18);
// the ISB puts the new comparator in effect before the eret.
inline void user_timer_arm(uint64_t deadline) {
  KEEL_WRITE_SYSREG(cntv_cval_el0, deadline);
  KEEL_WRITE_SYSREG(cntv_ctl_el0, uint64_t{1});
  arm64::isb();
}
inline uint64_t virtual_count() {
  arm64::isb();  // (the count after what came before, not speculated earlier)
  return KEEL_READ_SYSREG(cntvct_el0);
}
inline void user_timer_stop() {
  KEEL_WRITE_SYSREG(cntv_ctl_el0, uint64_t{2});
  arm64::isb();
}

inline void irq_controller_init(const arm64::GicRegs& regs) { arm64::gic_init(regs); }
inline bool irq_cpu_init(uint64_t cpu, uint64_t mpidr) { return arm64::gic_init_cpu(cpu, mpidr); }
inline uint32_t irq_ack() { return arm64::gic_ack(); }
inline void irq_eoi(uint32_t intid) { arm64::gic_eoi(intid); }
inline void irq_enable(uint32_t spi) { arm64::gic_enable_spi(spi); }
inline void irq_set_edge(uint32_t spi) { arm64::gic_set_edge_spi(spi); }
inline void irq_disable(uint32_t spi) { arm64::gic_disable_spi(spi); }
inline void irq_enable_ppi(uint64_t cpu, uint32_t intid) { arm64::gic_enable_ppi(cpu, intid); }
inline void send_sgi(uint64_t cpu, uint32_t intid) { arm64::gic_send_sgi(cpu, intid); }

// Cycle and instruction counters for EL0 (the benchmarks), if there is a PMU.
inline void pmu_enable() {
  // EL0VCTEN (bit 1): EL0 reads the virtual counter. EVNTEN (bit 2) with
  // EVNTI = 11: an event each time counter bit 11 changes (every 2^12
  // ticks, 65 us at 62.5 MHz), so no WFE sleeps longer (wait_while).
  KEEL_WRITE_SYSREG(cntkctl_el1,
                    (KEEL_READ_SYSREG(cntkctl_el1) & ~uint64_t{0xfc}) | (1u << 1) | (1u << 2) | (11u << 4));
  uint64_t pmuver = (KEEL_READ_SYSREG(id_aa64dfr0_el1) >> 8) & 0xf;
  if (pmuver == 0 || pmuver == 0xf) return;  // none, or IMPLEMENTATION DEFINED
  KEEL_WRITE_SYSREG(pmevtyper0_el0, 0x08);   // event 0x08: instructions retired
  KEEL_WRITE_SYSREG(pmccfiltr_el0, 0);
  KEEL_WRITE_SYSREG(pmcntenset_el0, (1ull << 31) | 1);
  arm64::write_sysreg(arm64::PmcrEl0{}.e(1).p(1).c(1).lc(1));
  KEEL_WRITE_SYSREG(pmuserenr_el0, (1u << 2) | (1u << 3));  // CR, ER
  arm64::isb();
}

// The first return to EL0 on this CPU (vectors.S: resets the kernel stack,
// then restores the frame PerCpu::user_frame names and erets).
[[noreturn]] inline void enter_user() { arm64::enter_user(); }

inline void wait_for_interrupt() { arm64::wfi(); }
inline void cpu_relax() { asm volatile("yield" ::: "memory"); }
// One wait while *p == expected: LDAXR arms the exclusive monitor on p, and
// if the value is still `expected`, WFE sleeps until an event — another
// CPU's store to p clears the monitor, which is one (Arm ARM D1.6.1), as is
// the timer's event stream (pmu_enable: at most ~65 us). Returns at once if
// the value differs. The caller re-checks: wake-ups may be spurious.
inline void wait_while(const uint32_t* p, uint32_t expected) {
  uint32_t v;
  asm volatile("ldaxr %w0, [%1]" : "=r"(v) : "r"(p) : "memory");
  if (v == expected) asm volatile("wfe" ::: "memory");
}
inline void mask_interrupts() { asm volatile("msr daifset, #0xf" ::: "memory"); }
[[noreturn]] inline void halt() {
  asm volatile("msr daifset, #0xf");
  for (;;) arm64::wfe();
}

}  // namespace keel::arch
