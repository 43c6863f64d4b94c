// host_ops.h — kernel/arch/arch.h on the host: a recording stand-in for the
// CPU, so the kernel's object code runs in host tests. Include arch.h, not
// this. Physical memory is a host buffer the test provides (phys_offset:
// its address minus the PA it stands for); system-register writes land in
// HostCpu (reads come back from there); TLB maintenance and SGIs are counted
// for tests to check.
#pragma once

#include <stdint.h>

#include "kernel/arch/arm64/gic_regs.h"
#include "kernel/arch/arm64/kernel/frame.h"
#include "kernel/arch/arm64/regs.h"

namespace keel::arch {

struct HostCpu {
  uint64_t ttbr0 = 0;
  bool user_walks = true;
  // 48-bit VAs, 4 KiB granules, as the kernel's boot sets TCR_EL1.
  uint64_t tcr = arm64::TcrEl1{}.t0sz(16).t1sz(16).tg0(arm64::Tg0::k4K).tg1(arm64::Tg1::k4K).ips(5).raw;
  uint64_t tp = 0, tpro = 0;
  bool fp_el0 = false;
  bool timer_armed = false;
  uint64_t timer_ticks = 0;
  uint64_t user_timer_deadline = 0;  // 0: stopped
  uint64_t tlb_flushes = 0;          // every kind
  uint64_t cache_cleans = 0;         // clean_invalidate_to_poc calls
  uint64_t sgis_sent = 0;
  uint64_t irq_enabled[1024 / 64] = {};
  uint32_t pending_irq = 1023;  // what irq_ack returns next (1023: none)
};

// The host "machine": tests set these up.
struct HostMachine {
  uint64_t phys_offset = 0;  // host address of PA 0 (a test's buffer minus its base PA)
  arm64::PerCpu* percpu = nullptr;
  HostCpu cpu;
};
extern HostMachine g_host;

struct StackBounds {
  uint64_t lo, hi;
};
inline StackBounds boot_stack() { return {0, 0}; }  // (no backtraces on the host)
inline StackBounds emergency_stack() { return {0, 0}; }

inline uint64_t phys_offset() { return g_host.phys_offset; }

inline arm64::PerCpu& this_percpu() { return *g_host.percpu; }
inline arm64::PerCpu* this_percpu_or_null() { return g_host.percpu; }
inline void set_this_percpu(arm64::PerCpu* c) { g_host.percpu = c; }

inline void table_writes_visible() {}
inline void sync_context() {}
inline void io_writes_visible() {}

inline void clean_invalidate_to_poc(uint64_t, uint64_t) { ++g_host.cpu.cache_cleans; }
inline void wait_while(const uint32_t*, uint32_t) {}  // (host tests run one thread)
inline void zero_memory(uint64_t pa, uint64_t size) {
  auto* p = reinterpret_cast<uint64_t*>(g_host.phys_offset + pa);
  for (uint64_t i = 0; i < size / 8; ++i) p[i] = 0;
}
inline void tlb_flush_page(uint64_t, uint64_t) { ++g_host.cpu.tlb_flushes; }
inline void tlb_flush_asid(uint64_t) { ++g_host.cpu.tlb_flushes; }
inline void tlb_flush_all() { ++g_host.cpu.tlb_flushes; }
inline void tlb_flush_local() { ++g_host.cpu.tlb_flushes; }

inline void set_user_tables(uint64_t ttbr0) { g_host.cpu.ttbr0 = ttbr0; }
inline void set_user_tables_before_eret(uint64_t ttbr0) { g_host.cpu.ttbr0 = ttbr0; }
inline void set_user_walks(bool on) { g_host.cpu.user_walks = on; }
inline arm64::TcrEl1 translation_control() { return arm64::TcrEl1{g_host.cpu.tcr}; }

inline uint64_t user_tp() { return g_host.cpu.tp; }
inline void set_user_tp(uint64_t tp, uint64_t tpro) {
  g_host.cpu.tp = tp;
  g_host.cpu.tpro = tpro;
}

inline void set_fp_access(bool el0) { g_host.cpu.fp_el0 = el0; }
inline void fp_save(arm64::FpState*) {}
inline void fp_restore(const arm64::FpState*) {}

inline uint64_t timer_frequency() { return 62'500'000; }
inline void timer_arm(uint64_t ticks) {
  g_host.cpu.timer_armed = true;
  g_host.cpu.timer_ticks = ticks;
}
inline void timer_stop() { g_host.cpu.timer_armed = false; }
inline void user_timer_arm(uint64_t deadline) { g_host.cpu.user_timer_deadline = deadline; }
inline void user_timer_stop() { g_host.cpu.user_timer_deadline = 0; }
inline uint64_t virtual_count() { return 0; }

inline void irq_controller_init(const arm64::GicRegs&) {}
inline bool irq_cpu_init(uint64_t, uint64_t) { return true; }
inline uint32_t irq_ack() {
  const uint32_t id = g_host.cpu.pending_irq;
  g_host.cpu.pending_irq = 1023;
  return id;
}
inline void irq_eoi(uint32_t) {}
inline void irq_enable(uint32_t spi) { g_host.cpu.irq_enabled[spi / 64 % 16] |= 1ull << (spi % 64); }
inline void irq_set_edge(uint32_t) {}
inline void irq_disable(uint32_t spi) { g_host.cpu.irq_enabled[spi / 64 % 16] &= ~(1ull << (spi % 64)); }
inline void irq_enable_ppi(uint64_t, uint32_t) {}
inline void send_sgi(uint64_t, uint32_t) { ++g_host.cpu.sgis_sent; }

inline void pmu_enable() {}

[[noreturn]] void enter_user();  // host_ops.cc: aborts (no EL0 on the host)

inline void wait_for_interrupt() {}
inline void cpu_relax() {}
inline void mask_interrupts() {}
[[noreturn]] void halt();  // host.cc: aborts the test

}  // namespace keel::arch
