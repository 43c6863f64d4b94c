// gic_v3.cc — GICv3: affinity routing, one redistributor per CPU (found by
// affinity in the redistributor region), and the CPU interface as system
// registers (ICC_*). Interrupts are non-secure Group 1. Arm IHI 0069.
#include "kernel/arch/arm64/kernel/gic_impl.h"
#include "kernel/arch/arm64/regs.h"
#include "kernel/arch/arm64/sysreg.h"

namespace keel::arm64::gic::v3 {
namespace {

constexpr uint64_t kGicdIrouter = 0x6000;
constexpr uint64_t kGicrTyper = 0x0008;
constexpr uint64_t kGicrWaker = 0x0014;
constexpr uint64_t kGicrStride = 0x20000;  // RD_base + SGI_base frames of one redistributor

}  // namespace

void init() {
  reg32(g_regs.distributor + kGicdCtlr) = (1u << 4) | (1u << 1);  // ARE_NS | EnableGrp1NS: affinity routing
}

uint64_t init_cpu(CpuIf& c) {
  // Find its redistributor: GICR_TYPER[63:32] is the affinity it serves.
  const uint64_t aff = ((c.mpidr >> 32) & 0xff) << 24 | (c.mpidr & 0xffffff);
  c.redist = 0;
  for (uint64_t off = 0; off + kGicrStride <= g_regs.cpu_size; off += kGicrStride) {
    const uint64_t typer = reg64(g_regs.cpu + off + kGicrTyper);
    if ((typer >> 32) == aff) c.redist = g_regs.cpu + off;
    if (c.redist != 0 || (typer & (1u << 4)) != 0) break;  // found, or Last
  }
  if (c.redist == 0) return 0;
  // Wake it: clear ProcessorSleep, wait for ChildrenAsleep to clear.
  reg32(c.redist + kGicrWaker) = reg32(c.redist + kGicrWaker) & ~(1u << 1);
  while ((reg32(c.redist + kGicrWaker) & (1u << 2)) != 0) {
  }
  KEEL_WRITE_SYSREG(S3_0_C12_C12_5, KEEL_READ_SYSREG(S3_0_C12_C12_5) | 1);  // ICC_SRE_EL1.SRE
  isb();
  KEEL_WRITE_SYSREG(S3_0_C4_C6_0, 0xff);  // ICC_PMR_EL1: every priority
  KEEL_WRITE_SYSREG(S3_0_C12_C12_7, 1);   // ICC_IGRPEN1_EL1
  isb();
  const uint64_t sgi_base = c.redist + kGicrSgiBase;
  reg32(sgi_base + kGicdIgroupr) = reg32(sgi_base + kGicdIgroupr) | 0xffff;  // SGIs: Group 1
  return sgi_base;
}

void route_spi(uint32_t intid) {
  const uint64_t word = 4 * uint64_t{intid / 32};
  reg32(g_regs.distributor + kGicdIgroupr + word) =
      reg32(g_regs.distributor + kGicdIgroupr + word) | (1u << (intid % 32));
  reg64(g_regs.distributor + kGicdIrouter + 8 * uint64_t{intid}) = 0;  // affinity 0.0.0.0
}

void send_sgi(const CpuIf& c, uint32_t intid) {
  write_sysreg(IccSgi1rEl1::to(c.mpidr, intid));
  isb();
}

uint32_t ack() {
  const uint64_t v = KEEL_READ_SYSREG(S3_0_C12_C12_0);  // ICC_IAR1_EL1
  dsb_sy();
  return static_cast<uint32_t>(v & 0xffffff);
}

void eoi(uint32_t intid) {
  KEEL_WRITE_SYSREG(S3_0_C12_C12_1, intid);  // ICC_EOIR1_EL1
  isb();
}

}  // namespace keel::arm64::gic::v3
