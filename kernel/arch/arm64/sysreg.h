// sysreg.h — the AArch64 instructions behind the portable register types.
// Target only. Every barrier is the caller's responsibility unless named.
#pragma once

#include <stdint.h>

#include "kernel/arch/arm64/regs.h"

#define KEEL_READ_SYSREG(reg)                 \
  ({                                          \
    uint64_t v_;                              \
    asm volatile("mrs %0, " #reg : "=r"(v_)); \
    v_;                                       \
  })
#define KEEL_WRITE_SYSREG(reg, v) asm volatile("msr " #reg ", %0" ::"r"(static_cast<uint64_t>(v)) : "memory")

namespace keel::arm64 {

// Typed access to the registers regs.h binds to a type (SysReg<R>): each
// type reads and writes only its own register, so a value of one register
// cannot be written to another (no such call exists). read_sysreg<MidrEl1>(),
// write_sysreg(TcrEl1{...}).
template <class R>
R read_sysreg();

#define KEEL_BIND_SYSREG_READ(Type, reg)                              \
  template <>                                                         \
  inline Type read_sysreg<Type>() {                                   \
    static_assert(SysReg<Type>::kBound, "regs.h names the register"); \
    return Type{KEEL_READ_SYSREG(reg)};                               \
  }
#define KEEL_BIND_SYSREG(Type, reg)                                 \
  KEEL_BIND_SYSREG_READ(Type, reg)                                  \
  inline void write_sysreg(Type v) {                                \
    static_assert(SysReg<Type>::kWritable, "a read-only register"); \
    KEEL_WRITE_SYSREG(reg, v.raw);                                  \
  }
KEEL_BIND_SYSREG(TcrEl1, tcr_el1)
KEEL_BIND_SYSREG(SctlrEl1, sctlr_el1)
KEEL_BIND_SYSREG(MairEl1, mair_el1)
KEEL_BIND_SYSREG(HcrEl2, hcr_el2)
KEEL_BIND_SYSREG(CnthctlEl2, cnthctl_el2)
KEEL_BIND_SYSREG(CpacrEl1, cpacr_el1)
KEEL_BIND_SYSREG(CntpCtlEl0, cntp_ctl_el0)
KEEL_BIND_SYSREG(PmcrEl0, pmcr_el0)
KEEL_BIND_SYSREG(IccSgi1rEl1, S3_0_C12_C11_5)
KEEL_BIND_SYSREG(Ttbr0El1, ttbr0_el1)
KEEL_BIND_SYSREG_READ(MidrEl1, midr_el1)
#undef KEEL_BIND_SYSREG
#undef KEEL_BIND_SYSREG_READ

inline void isb() { asm volatile("isb" ::: "memory"); }
inline void dsb_sy() { asm volatile("dsb sy" ::: "memory"); }
inline void dsb_ish() { asm volatile("dsb ish" ::: "memory"); }
inline void dsb_ishst() { asm volatile("dsb ishst" ::: "memory"); }
inline void dsb_nsh() { asm volatile("dsb nsh" ::: "memory"); }
inline void wfe() { asm volatile("wfe"); }
inline void sev() { asm volatile("dsb ish; sev" ::: "memory"); }  // (the stores before it visible first)
inline void wfi() { asm volatile("wfi"); }

inline unsigned current_el() { return static_cast<unsigned>((KEEL_READ_SYSREG(CurrentEL) >> 2) & 3); }

// TLB maintenance for one ASID's translations, broadcast to the inner
// shareable domain, waited for (a TLBI completes only at the following DSB,
// Arm ARM D8.13) and synchronized before the next instruction.
inline void tlb_flush_asid(uint64_t asid) {
  asm volatile("tlbi aside1is, %0" ::"r"(asid << 48) : "memory");
  dsb_ish();
  isb();
}
// The same for one page of one ASID.
inline void tlb_flush_page(uint64_t va, uint64_t asid) {
  asm volatile("tlbi vae1is, %0" ::"r"((va >> 12) | (asid << 48)) : "memory");
  dsb_ish();
  isb();
}

// Every EL1&0 translation of every ASID, on every CPU of the inner
// shareable domain (an ASID generation rollover).
inline void tlb_flush_all() {
  asm volatile("tlbi vmalle1is" ::: "memory");
  dsb_ish();
  isb();
}

// Smallest data cache line (CTR_EL0.DminLine, log2 of words) in bytes.
inline uint64_t dcache_line_size() { return 4ull << ((KEEL_READ_SYSREG(ctr_el0) >> 16) & 0xf); }

// Invalidate [start, end) to the point of coherency (DC IVAC), then DSB SY.
// Used on memory written with the MMU (and so the data cache) off, so that no
// stale line can hide those writes once the caches are on. Arm ARM D7.5.9.
// Four lines a turn while four fit (the boot stage invalidates the
// kernel's whole BSS: one loop trip per line was ~23,000 instructions).
inline void dcache_invalidate_poc(uint64_t start, uint64_t end) {
  const uint64_t line = dcache_line_size();
  uint64_t a = start & ~(line - 1);
  for (; a + 4 * line <= end; a += 4 * line) {
    asm volatile(
        "dc ivac, %0\n add x16, %0, %1\n dc ivac, x16\n add x16, x16, %1\n dc ivac, x16\n"
        " add x16, x16, %1\n dc ivac, x16" ::"r"(a),
        "r"(line)
        : "x16", "memory");
  }
  for (; a < end; a += line) asm volatile("dc ivac, %0" ::"r"(a) : "memory");
  dsb_sy();
}

// Clean and invalidate [start, end) to the point of coherency (DC CIVAC).
inline void dcache_clean_invalidate_poc(uint64_t start, uint64_t end) {
  uint64_t line = dcache_line_size();
  for (uint64_t a = start & ~(line - 1); a < end; a += line) asm volatile("dc civac, %0" ::"r"(a) : "memory");
  dsb_sy();
}

}  // namespace keel::arm64
