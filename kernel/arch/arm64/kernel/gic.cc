// gic.cc — the GIC driver's front: what both versions share (the SGI/PPI
// and SPI enable and priority registers, which have one layout) and the
// choice of version; gic_v2.cc and gic_v3.cc hold what differs.
#include "kernel/arch/arm64/kernel/gic.h"

#include "kernel/arch/arm64/kernel/gic_impl.h"
#include "kernel/arch/arm64/sysreg.h"

namespace keel::arm64 {

namespace gic {
GicRegs g_regs;
CpuIf g_cpus[kGicMaxCpus];
}  // namespace gic

using namespace gic;  // NOLINT(google-build-using-namespace): the driver's own internals

namespace {

bool is_v3() { return g_regs.version == 3; }

uint64_t ppi_base(size_t index) { return is_v3() ? g_cpus[index].redist + kGicrSgiBase : g_regs.distributor; }

}  // namespace

void gic_init(const GicRegs& regs) {
  g_regs = regs;
  if (is_v3()) {
    gic::v3::init();
  } else {
    gic::v2::init();
  }
  dsb_sy();
}

bool gic_init_cpu(size_t index, uint64_t mpidr) {
  if (index >= kGicMaxCpus) return false;
  CpuIf& c = g_cpus[index];
  c.mpidr = mpidr;
  const uint64_t sgi_base = is_v3() ? gic::v3::init_cpu(c) : gic::v2::init_cpu(c);
  if (sgi_base == 0) return false;
  for (uint32_t sgi = 0; sgi < 16; ++sgi) reg8(sgi_base + kGicdIpriorityr + sgi) = kPriority;
  reg32(sgi_base + kGicdIsenabler) = 0xffff;
  dsb_sy();
  c.up = true;
  return true;
}

void gic_enable_ppi(size_t index, uint32_t intid) {
  if (index >= kGicMaxCpus) return;
  const uint64_t base = ppi_base(index);
  reg8(base + kGicdIpriorityr + intid) = kPriority;
  // GICv3: non-secure Group 1. GICv2 (no security extensions on QEMU virt):
  // Group 0, which GICC signals as IRQ while GICC_CTLR.FIQEn is 0.
  if (is_v3()) reg32(base + kGicdIgroupr) = reg32(base + kGicdIgroupr) | (1u << intid);
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
  if (is_v3()) {
    gic::v3::send_sgi(g_cpus[index], intid);
  } else {
    gic::v2::send_sgi(g_cpus[index], intid);
  }
}

void gic_enable_spi(uint32_t intid) {
  reg8(g_regs.distributor + kGicdIpriorityr + intid) = kPriority;
  if (is_v3()) {
    gic::v3::route_spi(intid);
  } else {
    gic::v2::route_spi(intid);
  }
  reg32(g_regs.distributor + kGicdIsenabler + 4 * uint64_t{intid / 32}) = 1u << (intid % 32);
  dsb_sy();
}

void gic_set_edge_spi(uint32_t intid) {
  // GICD_ICFGR<n>: two bits per interrupt, the upper one 1 = edge-triggered
  // (GICv2 and v3 alike, offset 0xc00; Arm IHI 0048B 4.3.13).
  const uint64_t at = g_regs.distributor + 0xc00 + 4 * uint64_t{intid / 16};
  reg32(at) = reg32(at) | (2u << (2 * (intid % 16)));
  dsb_sy();
}

void gic_disable_spi(uint32_t intid) {
  reg32(g_regs.distributor + kGicdIcenabler + 4 * uint64_t{intid / 32}) = 1u << (intid % 32);
  dsb_sy();
}

uint32_t gic_ack() { return is_v3() ? gic::v3::ack() : gic::v2::ack(); }

void gic_eoi(uint32_t intid) {
  if (is_v3()) {
    gic::v3::eoi(intid);
  } else {
    gic::v2::eoi(intid);
  }
}

}  // namespace keel::arm64
