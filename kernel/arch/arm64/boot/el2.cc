// el2.cc — when entered at EL2: make EL2 transparent and prepare the drop
// to EL1 (head.S performs the eret). Runs with the MMU off, on SP_EL2.
//
// Values, each from its portable register type (regs.h):
//   HCR_EL2     RW = 1 (EL1 is AArch64), no traps, no stage 2
//   CNTHCTL_EL2 EL1PCTEN | EL1PCEN: EL1 and EL0 use the physical counter and timer
//   CNTVOFF_EL2 0: virtual and physical counts agree
//   CPTR_EL2    RES1 bits only: FP/SIMD and SVE not trapped
//   MDCR_EL2    HPMN = PMCR_EL0.N: every PMU counter stays usable at EL1
//   VTTBR_EL2   0
//   ICC_SRE_EL2 SRE | Enable when a GICv3 CPU interface exists
//   SCTLR_EL1   MMU off, RES1 bits set: a known state, whatever came before
//   SPSR_EL2    EL1h with D, A, I, F masked
#include <stdint.h>

#include "kernel/arch/arm64/regs.h"
#include "kernel/arch/arm64/sysreg.h"

namespace keel::arm64 {
namespace {

constexpr uint64_t kCptrEl2Res1 = 0x33ff;  // CPTR_EL2 RES1 bits [13:12] and [9:0] (E2H == 0)

}  // namespace

extern "C" void el2_setup() {
  write_sysreg(HcrEl2{}.rw(1));
  write_sysreg(CnthctlEl2{}.el1pcten(1).el1pcen(1));
  KEEL_WRITE_SYSREG(cntvoff_el2, 0);
  KEEL_WRITE_SYSREG(cptr_el2, kCptrEl2Res1);
  KEEL_WRITE_SYSREG(mdcr_el2, read_sysreg<PmcrEl0>().n());  // HPMN: every counter to EL1
  KEEL_WRITE_SYSREG(vttbr_el2, 0);
  uint64_t gic_sysregs = (KEEL_READ_SYSREG(id_aa64pfr0_el1) >> 24) & 0xf;
  if (gic_sysregs != 0) {
    KEEL_WRITE_SYSREG(S3_4_C12_C9_5, 0x9);  // ICC_SRE_EL2: SRE (bit 0) | Enable (bit 3)
    isb();
  }
  write_sysreg(SctlrEl1{SctlrEl1::kRes1});
  KEEL_WRITE_SYSREG(spsr_el2, Spsr{}.m(Spsr::kEl1h).d(1).a(1).i(1).f(1).raw);
  isb();  // all of the above in effect before the eret
}

}  // namespace keel::arm64
