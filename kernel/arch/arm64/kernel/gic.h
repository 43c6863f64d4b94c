// gic.h — the Arm Generic Interrupt Controller, v2 or v3 as the DTB says.
//
// The distributor once (gic_init), then every CPU its own interface
// (gic_init_cpu: GICv2 GICC, banked at one address; GICv3 its redistributor,
// found in the region by affinity, and the ICC system registers). Interrupts
// are Group 1 (GICv3) / Group 0 (GICv2, signalled as IRQ), priority 0x80.
// SGIs wake and interrupt other CPUs. Register layouts: Arm IHI 0048B
// (GICv2), IHI 0069 (GICv3).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keel/abi.h"
#include "kernel/arch/arm64/gic_regs.h"

namespace keel::arm64 {

constexpr uint32_t kSpuriousIntid = 1023;
constexpr size_t kGicMaxCpus = abi::kMaxCpus;

// Enables the distributor.
void gic_init(const GicRegs& regs);
// Enables the calling CPU's interface; `index` is keel's CPU number, `mpidr`
// its MPIDR_EL1. Returns false if GICv3 has no redistributor for it.
bool gic_init_cpu(size_t index, uint64_t mpidr);
// Enables a private (PPI) interrupt on the calling CPU (`index`).
void gic_enable_ppi(size_t index, uint32_t intid);
// Shared peripheral interrupts (INTID 32..1019), routed to the boot CPU.
void gic_enable_spi(uint32_t intid);
void gic_set_edge_spi(uint32_t intid);  // (before enabling it: a device that pulses its line)
void gic_disable_spi(uint32_t intid);
// Raises SGI `intid` (0..15) on CPU `index` (a no-op before gic_init_cpu ran there).
void gic_send_sgi(size_t index, uint32_t intid);
// Acknowledges the highest pending interrupt; kSpuriousIntid if none.
uint32_t gic_ack();
void gic_eoi(uint32_t intid);

}  // namespace keel::arm64
