// gic.h — the Arm Generic Interrupt Controller, v2 or v3 as the DTB says.
//
// Boot CPU only for now: the distributor, this CPU's interface (GICv2 GICC,
// or GICv3 redistributor + ICC system registers). Interrupts are Group 1,
// priority 0x80, delivered as IRQ. Register layouts: Arm IHI 0048B (GICv2),
// IHI 0069 (GICv3).
#pragma once

#include <stdint.h>

namespace keel::arm64 {

struct GicRegs {
  unsigned version = 0;      // 2 or 3
  uint64_t distributor = 0;  // VA of GICD
  uint64_t cpu = 0;          // VA of GICC (v2) or of this CPU's redistributor RD_base (v3)
};

constexpr uint32_t kSpuriousIntid = 1023;

// Enables the distributor and this CPU's interface.
void gic_init(const GicRegs& regs);
// Enables a private (PPI) interrupt on this CPU.
void gic_enable_ppi(uint32_t intid);
// Shared peripheral interrupts (INTID 32..1019), routed to the boot CPU.
void gic_enable_spi(uint32_t intid);
void gic_disable_spi(uint32_t intid);
// Acknowledges the highest pending interrupt; kSpuriousIntid if none.
uint32_t gic_ack();
void gic_eoi(uint32_t intid);

}  // namespace keel::arm64
