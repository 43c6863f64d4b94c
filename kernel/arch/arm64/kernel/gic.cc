#include "kernel/arch/arm64/kernel/gic.h"

#include "kernel/arch/arm64/sysreg.h"

namespace keel::arm64 {
namespace {

GicRegs g_gic;
struct CpuIf {
  bool up;
  uint64_t redist;  // v3: its redistributor's RD_base
  uint64_t mpidr;   // v3: SGI routing by affinity
  uint8_t target;   // v2: its CPU interface bit for GICD_SGIR / ITARGETSR
};
CpuIf g_cpus[kGicMaxCpus];

constexpr uint64_t kGicdCtlr = 0x000;
constexpr uint64_t kGicdIgroupr = 0x080;
constexpr uint64_t kGicdIsenabler = 0x100;
constexpr uint64_t kGicdIcenabler = 0x180;
constexpr uint64_t kGicdIpriorityr = 0x400;
constexpr uint64_t kGicdItargetsr = 0x800;
constexpr uint64_t kGicdIrouter = 0x6000;
constexpr uint64_t kGiccCtlr = 0x000;
constexpr uint64_t kGiccPmr = 0x004;
constexpr uint64_t kGiccIar = 0x00c;
constexpr uint64_t kGiccEoir = 0x010;
constexpr uint64_t kGicdSgir = 0xf00;
constexpr uint64_t kGicrTyper = 0x0008;
constexpr uint64_t kGicrWaker = 0x0014;
constexpr uint64_t kGicrStride = 0x20000;   // RD_base + SGI_base frames of one redistributor
constexpr uint64_t kGicrSgiBase = 0x10000;  // SGI/PPI frame of a redistributor
constexpr uint8_t kPriority = 0x80;

volatile uint32_t& reg32(uint64_t va) { return *reinterpret_cast<volatile uint32_t*>(va); }
volatile uint8_t& reg8(uint64_t va) { return *reinterpret_cast<volatile uint8_t*>(va); }

}  // namespace

void gic_init(const GicRegs& regs) {
  g_gic = regs;
  if (regs.version == 2) {
    reg32(regs.distributor + kGicdCtlr) = 1;  // EnableGrp0
  } else {
    reg32(regs.distributor + kGicdCtlr) = (1u << 4) | (1u << 1);  // ARE_NS | EnableGrp1NS: affinity routing
  }
  dsb_sy();
}

bool gic_init_cpu(size_t index, uint64_t mpidr) {
  if (index >= kGicMaxCpus) return false;
  CpuIf& c = g_cpus[index];
  c.mpidr = mpidr;
  uint64_t sgi_base;  // where this CPU's SGI/PPI enable and priority registers are
  if (g_gic.version == 2) {
    // GICD_ITARGETSR0..7 are banked: byte 0 reads as this CPU's own interface bit.
    c.target = reg8(g_gic.distributor + kGicdItargetsr);
    reg32(g_gic.cpu + kGiccPmr) = 0xff;  // let every priority through
    reg32(g_gic.cpu + kGiccCtlr) = 1;
    sgi_base = g_gic.distributor;
  } else {
    // Find its redistributor: GICR_TYPER[63:32] is the affinity it serves.
    const uint64_t aff = ((mpidr >> 32) & 0xff) << 24 | (mpidr & 0xffffff);
    c.redist = 0;
    for (uint64_t off = 0; off + kGicrStride <= g_gic.cpu_size; off += kGicrStride) {
      uint64_t typer = *reinterpret_cast<volatile uint64_t*>(g_gic.cpu + off + kGicrTyper);
      if ((typer >> 32) == aff) c.redist = g_gic.cpu + off;
      if (c.redist != 0 || (typer & (1u << 4)) != 0) break;  // found, or Last
    }
    if (c.redist == 0) return false;
    // Wake it: clear ProcessorSleep, wait for ChildrenAsleep to clear.
    reg32(c.redist + kGicrWaker) = reg32(c.redist + kGicrWaker) & ~(1u << 1);
    while ((reg32(c.redist + kGicrWaker) & (1u << 2)) != 0) {
    }
    KEEL_WRITE_SYSREG(S3_0_C12_C12_5, KEEL_READ_SYSREG(S3_0_C12_C12_5) | 1);  // ICC_SRE_EL1.SRE
    isb();
    KEEL_WRITE_SYSREG(S3_0_C4_C6_0, 0xff);  // ICC_PMR_EL1
    KEEL_WRITE_SYSREG(S3_0_C12_C12_7, 1);   // ICC_IGRPEN1_EL1
    isb();
    sgi_base = c.redist + kGicrSgiBase;
    reg32(sgi_base + kGicdIgroupr) = reg32(sgi_base + kGicdIgroupr) | 0xffff;  // SGIs: Group 1
  }
  for (uint32_t sgi = 0; sgi < 16; ++sgi) reg8(sgi_base + kGicdIpriorityr + sgi) = kPriority;
  reg32(sgi_base + kGicdIsenabler) = 0xffff;
  dsb_sy();
  c.up = true;
  return true;
}

void gic_enable_ppi(size_t index, uint32_t intid) {
  if (index >= kGicMaxCpus) return;
  uint64_t base = g_gic.version == 2 ? g_gic.distributor : g_cpus[index].redist + kGicrSgiBase;
  reg8(base + kGicdIpriorityr + intid) = kPriority;
  // GICv3: non-secure Group 1. GICv2 (no security extensions on QEMU virt):
  // Group 0, which GICC signals as IRQ while GICC_CTLR.FIQEn is 0.
  if (g_gic.version == 3) reg32(base + kGicdIgroupr) = reg32(base + kGicdIgroupr) | (1u << intid);
  reg32(base + kGicdIsenabler) = 1u << intid;
  dsb_sy();
}

void gic_send_sgi(size_t index, uint32_t intid) {
  if (index >= kGicMaxCpus || !g_cpus[index].up || intid > 15) return;
  // The writes the target must see (its request, its run queue) complete
  // before the SGI is generated: on GICv3 the SGI comes from a system
  // register write, which a DMB does not order against memory; a DSB does
  // (and covers GICv2's Device-memory write to GICD_SGIR as well).
  dsb_ish();
  if (g_gic.version == 2) {
    reg32(g_gic.distributor + kGicdSgir) = (uint32_t{g_cpus[index].target} << 16) | intid;
  } else {
    write_sysreg(IccSgi1rEl1::to(g_cpus[index].mpidr, intid));
    isb();
  }
}

void gic_enable_spi(uint32_t intid) {
  const uint64_t d = g_gic.distributor, word = 4 * uint64_t{intid / 32}, bit = 1u << (intid % 32);
  reg8(d + kGicdIpriorityr + intid) = kPriority;
  if (g_gic.version == 2) {
    reg8(d + kGicdItargetsr + intid) = 1;  // CPU interface 0
  } else {
    reg32(d + kGicdIgroupr + word) = reg32(d + kGicdIgroupr + word) | static_cast<uint32_t>(bit);
    *reinterpret_cast<volatile uint64_t*>(d + kGicdIrouter + 8 * uint64_t{intid}) = 0;  // affinity 0.0.0.0
  }
  reg32(d + kGicdIsenabler + word) = static_cast<uint32_t>(bit);
  dsb_sy();
}

void gic_disable_spi(uint32_t intid) {
  reg32(g_gic.distributor + kGicdIcenabler + 4 * uint64_t{intid / 32}) = 1u << (intid % 32);
  dsb_sy();
}

uint32_t gic_ack() {
  if (g_gic.version == 2) return reg32(g_gic.cpu + kGiccIar) & 0x3ff;
  uint64_t v = KEEL_READ_SYSREG(S3_0_C12_C12_0);  // ICC_IAR1_EL1
  dsb_sy();
  return static_cast<uint32_t>(v & 0xffffff);
}

void gic_eoi(uint32_t intid) {
  if (g_gic.version == 2) {
    reg32(g_gic.cpu + kGiccEoir) = intid;
    return;
  }
  KEEL_WRITE_SYSREG(S3_0_C12_C12_1, intid);  // ICC_EOIR1_EL1
  isb();
}

}  // namespace keel::arm64
