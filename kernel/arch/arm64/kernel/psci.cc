#include "kernel/arch/arm64/kernel/psci.h"

namespace keel::arm64 {

int64_t psci_call(dtb::PsciConduit conduit, uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3) {
  register uint64_t x0 asm("x0") = fn;
  register uint64_t x1 asm("x1") = a1;
  register uint64_t x2 asm("x2") = a2;
  register uint64_t x3 asm("x3") = a3;
  switch (conduit) {
    case dtb::PsciConduit::kHvc:
      asm volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
      return static_cast<int64_t>(x0);
    case dtb::PsciConduit::kSmc:
      asm volatile("smc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
      return static_cast<int64_t>(x0);
    case dtb::PsciConduit::kNone: break;
  }
  return -1;
}

}  // namespace keel::arm64
