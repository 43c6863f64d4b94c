// gic_v2.cc — GICv2: the distributor and the banked, memory-mapped CPU
// interface (GICC). No security extensions on QEMU virt: interrupts are
// Group 0, signalled as IRQ while GICC_CTLR.FIQEn is 0. Arm IHI 0048B.
#include "kernel/arch/arm64/kernel/gic_impl.h"
#include "kernel/arch/arm64/sysreg.h"

namespace keel::arm64::gic::v2 {
namespace {

constexpr uint64_t kGicdItargetsr = 0x800;
constexpr uint64_t kGicdSgir = 0xf00;
constexpr uint64_t kGiccCtlr = 0x000;
constexpr uint64_t kGiccPmr = 0x004;
constexpr uint64_t kGiccIar = 0x00c;
constexpr uint64_t kGiccEoir = 0x010;

}  // namespace

void init() { reg32(g_regs.distributor + kGicdCtlr) = 1; }  // EnableGrp0

uint64_t init_cpu(CpuIf& c) {
  // GICD_ITARGETSR0..7 are banked: byte 0 reads as this CPU's own interface bit.
  c.target = reg8(g_regs.distributor + kGicdItargetsr);
  reg32(g_regs.cpu + kGiccPmr) = 0xff;  // let every priority through
  reg32(g_regs.cpu + kGiccCtlr) = 1;
  return g_regs.distributor;  // SGI/PPI registers: the distributor's banked ones
}

void route_spi(uint32_t intid) { reg8(g_regs.distributor + kGicdItargetsr + intid) = 1; }  // CPU interface 0

void send_sgi(const CpuIf& c, uint32_t intid) {
  reg32(g_regs.distributor + kGicdSgir) = (uint32_t{c.target} << 16) | intid;
}

uint32_t ack() { return reg32(g_regs.cpu + kGiccIar) & 0x3ff; }

void eoi(uint32_t intid) { reg32(g_regs.cpu + kGiccEoir) = intid; }

}  // namespace keel::arm64::gic::v2
