// time.h — wall time in user space: the generic timer's virtual counter
// (the kernel lets EL0 read CNTVCT_EL0 and CNTFRQ_EL0).
#pragma once

#include <stdint.h>

namespace keel::sys {

// The virtual counter and its frequency (the user timer's deadlines).
inline uint64_t counter() {
  uint64_t t;
  asm volatile("isb; mrs %0, cntvct_el0" : "=r"(t));
  return t;
}
inline uint64_t counter_frequency() {
  uint64_t f;
  asm volatile("mrs %0, cntfrq_el0" : "=r"(f));
  return f;
}

inline uint64_t now_ns() {
  const uint64_t t = counter(), f = counter_frequency();
  return (t / f) * 1000000000u + (t % f) * 1000000000u / f;  // (no 128-bit division in user space)
}

}  // namespace keel::sys
