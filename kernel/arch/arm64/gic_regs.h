// gic_regs.h — where the GIC's registers are mapped (portable: the kernel's
// interrupt code hands it to the arch line, kernel/arch/arch.h).
#pragma once

#include <stdint.h>

namespace keel::arm64 {

struct GicRegs {
  unsigned version = 0;      // 2 or 3
  uint64_t distributor = 0;  // VA of GICD
  uint64_t cpu = 0;          // VA of GICC (v2) or of the redistributor region (v3)
  uint64_t cpu_size = 0;     // bytes mapped at `cpu`
};

}  // namespace keel::arm64
