// pmu.h — the PMU counters the kernel lets EL0 read (PMUSERENR_EL0 = CR |
// ER): cycles and, in counter 0, instructions retired (exact under QEMU
// -icount; 0 and unchanging without). For the benchmarks.
#pragma once

#include <stdint.h>

namespace keel::sys {

inline uint64_t pmu_cycles() {
  uint64_t v;
  asm volatile("isb; mrs %0, pmccntr_el0" : "=r"(v));
  return v;
}
inline uint64_t pmu_instructions() {
  uint64_t v;
  asm volatile("isb; mrs %0, pmevcntr0_el0" : "=r"(v));
  return v;
}

}  // namespace keel::sys
