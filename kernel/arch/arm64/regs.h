// regs.h — AArch64 system-register values as portable constexpr types.
//
// Each type names its fields as the Arm Architecture Reference Manual
// (DDI 0487J.a) does and cites the register's description. These types only
// compute values: the mrs/msr instructions live in sysreg.h, so everything
// here compiles and is unit-tested on the host (regs_test.cc).
//
//   TcrEl1{}.t1sz(16).tg1(Tg1::k4K)...      -> raw 64-bit value
//   TcrEl1{raw}.tg1()                        -> decode a value read back
#pragma once

#include <stdint.h>

#include "kernel/arch/arm64/bitfield.h"

namespace keel::arm64 {

// Translation granule encodings differ between TTBR0 (TG0) and TTBR1 (TG1):
// Arm ARM D19.2 "TCR_EL1", fields TG0 [15:14] and TG1 [31:30]. Mixing them
// up is a classic silent boot hang, hence two enum types.
enum class Tg0 : uint64_t { k4K = 0b00, k64K = 0b01, k16K = 0b10 };
enum class Tg1 : uint64_t { k16K = 0b01, k4K = 0b10, k64K = 0b11 };
// Cacheability of table walks (IRGNn/ORGNn).
enum class WalkCache : uint64_t { kNonCacheable = 0b00, kWbWa = 0b01, kWt = 0b10, kWbNoWa = 0b11 };
// Shareability (SHn, and descriptor SH[9:8]).
enum class Shareability : uint64_t { kNon = 0b00, kOuter = 0b10, kInner = 0b11 };

// TCR_EL1, Translation Control Register (EL1). Arm ARM D19.2.
struct TcrEl1 {
  uint64_t raw = 0;
  KEEL_FIELD(t0sz, 5, 0)
  KEEL_FIELD(epd0, 7, 7)
  KEEL_FIELD_T(irgn0, WalkCache, 9, 8)
  KEEL_FIELD_T(orgn0, WalkCache, 11, 10)
  KEEL_FIELD_T(sh0, Shareability, 13, 12)
  KEEL_FIELD_T(tg0, Tg0, 15, 14)
  KEEL_FIELD(t1sz, 21, 16)
  KEEL_FIELD(a1, 22, 22)
  KEEL_FIELD(epd1, 23, 23)
  KEEL_FIELD_T(irgn1, WalkCache, 25, 24)
  KEEL_FIELD_T(orgn1, WalkCache, 27, 26)
  KEEL_FIELD_T(sh1, Shareability, 29, 28)
  KEEL_FIELD_T(tg1, Tg1, 31, 30)
  KEEL_FIELD(ips, 34, 32)
  KEEL_FIELD(as, 36, 36)
  KEEL_FIELD(tbi0, 37, 37)
  KEEL_FIELD(tbi1, 38, 38)
};

// Physical address size: TCR_EL1.IPS and ID_AA64MMFR0_EL1.PARange share this
// encoding (Arm ARM D19.2, ID_AA64MMFR0_EL1.PARange).
constexpr unsigned pa_bits_from_encoding(uint64_t enc) {
  switch (enc) {
    case 0: return 32;
    case 1: return 36;
    case 2: return 40;
    case 3: return 42;
    case 4: return 44;
    case 5: return 48;
    case 6: return 52;
    default: return 0;
  }
}

// SCTLR_EL1, System Control Register (EL1). Arm ARM D19.2.
struct SctlrEl1 {
  uint64_t raw = 0;
  KEEL_FIELD(m, 0, 0)       // stage 1 MMU enable
  KEEL_FIELD(a, 1, 1)       // alignment fault checking
  KEEL_FIELD(c, 2, 2)       // data cacheability
  KEEL_FIELD(sa, 3, 3)      // SP alignment check, EL1
  KEEL_FIELD(sa0, 4, 4)     // SP alignment check, EL0
  KEEL_FIELD(i, 12, 12)     // instruction cacheability
  KEEL_FIELD(dze, 14, 14)   // EL0 may use DC ZVA
  KEEL_FIELD(uct, 15, 15)   // EL0 may read CTR_EL0
  KEEL_FIELD(ntwi, 16, 16)  // WFI at EL0 not trapped
  KEEL_FIELD(ntwe, 18, 18)  // WFE at EL0 not trapped
  KEEL_FIELD(wxn, 19, 19)   // writable implies execute-never
  KEEL_FIELD(e0e, 24, 24)   // EL0 big-endian
  KEEL_FIELD(ee, 25, 25)    // EL1 big-endian (also the table walk endianness)
  KEEL_FIELD(uci, 26, 26)   // EL0 cache maintenance allowed

  // Bits that are RES1 in Armv8.0 (EOS, TSCXT, EIS, SPAN, nTLSMD, LSMAOE):
  // later extensions give them meanings whose value 1 is the v8.0 behaviour.
  static constexpr uint64_t kRes1 =
      (1ull << 11) | (1ull << 20) | (1ull << 22) | (1ull << 23) | (1ull << 28) | (1ull << 29);
};

// HCR_EL2, Hypervisor Configuration Register. Arm ARM D19.2. keel only sets
// RW (EL1 is AArch64); every trap bit stays 0.
struct HcrEl2 {
  uint64_t raw = 0;
  KEEL_FIELD(rw, 31, 31)
};

// CNTHCTL_EL2: EL1PCTEN [0] and EL1PCEN [1] give EL1/EL0 the physical counter
// and timer (with HCR_EL2.E2H == 0). Arm ARM D19.12.
struct CnthctlEl2 {
  uint64_t raw = 0;
  KEEL_FIELD(el1pcten, 0, 0)
  KEEL_FIELD(el1pcen, 1, 1)
};

// SPSR_ELx for an exception return: target mode and masked DAIF.
// Arm ARM C5.2.19 "SPSR_EL2". M[3:0] = 0b0101 is EL1h (EL1, SP_EL1).
struct Spsr {
  uint64_t raw = 0;
  KEEL_FIELD(m, 3, 0)
  KEEL_FIELD(f, 6, 6)
  KEEL_FIELD(i, 7, 7)
  KEEL_FIELD(a, 8, 8)
  KEEL_FIELD(d, 9, 9)
  static constexpr uint64_t kEl1h = 0b0101;
  static constexpr uint64_t kEl0t = 0b0000;
};

// MAIR_EL1: eight 8-bit memory attribute encodings. Arm ARM D19.2 "MAIR_EL1".
struct MairEl1 {
  uint64_t raw = 0;
  constexpr uint8_t attr(unsigned idx) const { return static_cast<uint8_t>(raw >> (8 * idx)); }
  constexpr MairEl1 attr(unsigned idx, uint8_t v) const { return MairEl1{set_bits(raw, 8 * idx + 7, 8 * idx, v)}; }
};

// MAIR attribute encodings keel uses.
namespace mair_attr {
constexpr uint8_t kDeviceNGnRnE = 0x00;
constexpr uint8_t kDeviceNGnRE = 0x04;
constexpr uint8_t kNormalNonCacheable = 0x44;
constexpr uint8_t kNormalWriteBack = 0xff;  // inner+outer WB, read+write allocate, non-transient
}  // namespace mair_attr

constexpr bool mair_attr_is_device(uint8_t a) { return (a & 0xf0) == 0; }
constexpr bool mair_attr_is_normal_wb(uint8_t a) { return a == mair_attr::kNormalWriteBack; }
constexpr const char* mair_attr_name(uint8_t a) {
  switch (a) {
    case mair_attr::kDeviceNGnRnE: return "Device-nGnRnE";
    case mair_attr::kDeviceNGnRE: return "Device-nGnRE";
    case 0x08: return "Device-nGRE";
    case 0x0c: return "Device-GRE";
    case mair_attr::kNormalNonCacheable: return "Normal non-cacheable";
    case mair_attr::kNormalWriteBack: return "Normal write-back";
    default: return "Normal (other cacheability)";
  }
}

// keel's fixed MAIR layout: the one definition that descriptors' AttrIndx
// refers to. Indices 4..7 are left 0 (Device-nGnRnE) and never used.
enum class AttrIndex : uint8_t { kDeviceNGnRnE = 0, kDeviceNGnRE = 1, kNormalNC = 2, kNormalWB = 3 };
constexpr MairEl1 kKeelMair = MairEl1{}
                                  .attr(0, mair_attr::kDeviceNGnRnE)
                                  .attr(1, mair_attr::kDeviceNGnRE)
                                  .attr(2, mair_attr::kNormalNonCacheable)
                                  .attr(3, mair_attr::kNormalWriteBack);

// CPACR_EL1, Architectural Feature Access Control. Arm ARM D19.2. FPEN:
// 0b11 nothing traps; 0b01 EL0 FP/SIMD traps (EC 0x07); 0b00/0b10 EL1 too.
struct CpacrEl1 {
  uint64_t raw = 0;
  KEEL_FIELD(fpen, 21, 20)
  static constexpr uint64_t kFpenTrapEl0 = 0b01;
  static constexpr uint64_t kFpenNoTrap = 0b11;
};

// CNTP_CTL_EL0, the EL1 physical timer's control. Arm ARM D19.12.
struct CntpCtlEl0 {
  uint64_t raw = 0;
  KEEL_FIELD(enable, 0, 0)
  KEEL_FIELD(imask, 1, 1)
  KEEL_FIELD(istatus, 2, 2)  // (read only)
};

// PMCR_EL0, the PMU's control. Arm ARM D19.11.
struct PmcrEl0 {
  uint64_t raw = 0;
  KEEL_FIELD(e, 0, 0)    // enable the counters
  KEEL_FIELD(p, 1, 1)    // reset the event counters
  KEEL_FIELD(c, 2, 2)    // reset the cycle counter
  KEEL_FIELD(lc, 6, 6)   // 64-bit cycle counter overflow
  KEEL_FIELD(n, 15, 11)  // event counters implemented (read only)
};

// ICC_SGI1R_EL1 (GICv3 system register interface): generates a Group 1
// SGI. Arm IHI 0069, 12.2.20.
struct IccSgi1rEl1 {
  uint64_t raw = 0;
  KEEL_FIELD(target_list, 15, 0)  // Aff0 values 0..15 of the targets, one bit each
  KEEL_FIELD(aff1, 23, 16)
  KEEL_FIELD(intid, 27, 24)
  KEEL_FIELD(aff2, 39, 32)
  KEEL_FIELD(irm, 40, 40)  // 1: every PE but this one
  KEEL_FIELD(aff3, 55, 48)
  // SGI `intid` to the one PE whose MPIDR_EL1 is `mpidr`.
  static constexpr IccSgi1rEl1 to(uint64_t mpidr, uint32_t intid) {
    return IccSgi1rEl1{}
        .target_list(1ull << (mpidr & 0xf))
        .aff1((mpidr >> 8) & 0xff)
        .aff2((mpidr >> 16) & 0xff)
        .aff3((mpidr >> 32) & 0xff)
        .intid(intid);
  }
};

// MIDR_EL1, Main ID Register (read only). Arm ARM D19.2.
struct MidrEl1 {
  uint64_t raw = 0;
  KEEL_FIELD(revision, 3, 0)
  KEEL_FIELD(partnum, 15, 4)
  KEEL_FIELD(architecture, 19, 16)
  KEEL_FIELD(variant, 23, 20)
  KEEL_FIELD(implementer, 31, 24)
};

// The core MIDR_EL1 names, for the boot line.
constexpr const char* cpu_name(MidrEl1 midr) {
  const uint64_t implementer = midr.implementer(), part = midr.partnum();
  if (implementer == 0x41) {
    switch (part) {
      case 0xd03: return "cortex-a53";
      case 0xd04: return "cortex-a35";
      case 0xd05: return "cortex-a55";
      case 0xd07: return "cortex-a57";
      case 0xd08: return "cortex-a72";
      case 0xd0b: return "cortex-a76";
      case 0xd0c: return "neoverse-n1";
      case 0xd40: return "neoverse-v1";
      case 0xd49: return "neoverse-n2";
      default: return "Arm core";
    }
  }
  if (implementer == 0x46 && part == 0x001) return "a64fx";
  if (implementer == 0x00) return "QEMU max";
  return "unknown core";
}

// TTBR0_EL1 for a user address space: the root table and its ASID (8-bit
// ASIDs: TCR_EL1.AS = 0). Arm ARM D19.2.
struct Ttbr0El1 {
  uint64_t raw = 0;
  KEEL_FIELD(baddr, 47, 1)  // the root table's PA (bit 0 is CnP, left 0)
  KEEL_FIELD(asid, 63, 48)
  static constexpr Ttbr0El1 of(uint64_t root_pa, uint64_t asid) { return Ttbr0El1{}.baddr(root_pa >> 1).asid(asid); }
  constexpr uint64_t root() const { return baddr() << 1; }
};

// Which system register each type is: sysreg.h reads and writes a type only
// through its own register (a TCR value cannot be written to SCTLR: no
// such call exists). Read-only registers have no write.
template <class R>
struct SysReg {
  static constexpr bool kBound = false;
};
#define KEEL_SYSREG_NAME(Type, text, writable)  \
  template <>                                   \
  struct SysReg<Type> {                         \
    static constexpr bool kBound = true;        \
    static constexpr bool kWritable = writable; \
    static constexpr const char* kName = text;  \
  };
KEEL_SYSREG_NAME(TcrEl1, "TCR_EL1", true)
KEEL_SYSREG_NAME(SctlrEl1, "SCTLR_EL1", true)
KEEL_SYSREG_NAME(MairEl1, "MAIR_EL1", true)
KEEL_SYSREG_NAME(HcrEl2, "HCR_EL2", true)
KEEL_SYSREG_NAME(CnthctlEl2, "CNTHCTL_EL2", true)
KEEL_SYSREG_NAME(CpacrEl1, "CPACR_EL1", true)
KEEL_SYSREG_NAME(CntpCtlEl0, "CNTP_CTL_EL0", true)
KEEL_SYSREG_NAME(PmcrEl0, "PMCR_EL0", true)
KEEL_SYSREG_NAME(IccSgi1rEl1, "ICC_SGI1R_EL1", true)
KEEL_SYSREG_NAME(MidrEl1, "MIDR_EL1", false)
KEEL_SYSREG_NAME(Ttbr0El1, "TTBR0_EL1", true)
#undef KEEL_SYSREG_NAME

template <class R, class V>
concept WritableAs = SysReg<R>::kBound && SysReg<R>::kWritable && __is_same(R, V);

}  // namespace keel::arm64
