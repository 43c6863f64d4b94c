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

}  // namespace keel::arm64
