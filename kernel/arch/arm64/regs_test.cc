#include "kernel/arch/arm64/regs.h"

#include <gtest/gtest.h>

#include "kernel/arch/arm64/pte.h"

namespace keel::arm64 {
namespace {

TEST(Regs, TcrGranuleEncodingsDifferBetweenHalves) {
  // D19.2 TCR_EL1: TG0 4K = 0b00, TG1 4K = 0b10.
  TcrEl1 t = TcrEl1{}.tg0(Tg0::k4K).tg1(Tg1::k4K);
  EXPECT_EQ(bits(t.raw, 15, 14), 0b00u);
  EXPECT_EQ(bits(t.raw, 31, 30), 0b10u);
  EXPECT_EQ(TcrEl1{}.tg0(Tg0::k16K).raw, 0b10ull << 14);
  EXPECT_EQ(TcrEl1{}.tg1(Tg1::k16K).raw, 0b01ull << 30);
}

TEST(Regs, TcrFieldsRoundTripAndDoNotOverlap) {
  TcrEl1 t = TcrEl1{}.t0sz(16).t1sz(16).ips(5).irgn1(WalkCache::kWbWa).sh1(Shareability::kInner).epd0(1);
  EXPECT_EQ(t.t0sz(), 16u);
  EXPECT_EQ(t.t1sz(), 16u);
  EXPECT_EQ(t.ips(), 5u);
  EXPECT_EQ(t.irgn1(), WalkCache::kWbWa);
  EXPECT_EQ(t.sh1(), Shareability::kInner);
  EXPECT_EQ(t.epd0(), 1u);
  EXPECT_EQ(t.raw, 16ull | (1ull << 7) | (16ull << 16) | (1ull << 24) | (3ull << 28) | (5ull << 32));
  // A too-wide value is masked to its field.
  EXPECT_EQ(TcrEl1{}.t0sz(0xff).raw, 0x3full);
}

TEST(Regs, PaRangeEncoding) {
  EXPECT_EQ(pa_bits_from_encoding(0), 32u);
  EXPECT_EQ(pa_bits_from_encoding(2), 40u);
  EXPECT_EQ(pa_bits_from_encoding(5), 48u);
  EXPECT_EQ(pa_bits_from_encoding(7), 0u);
}

TEST(Regs, SctlrBits) {
  SctlrEl1 s = SctlrEl1{SctlrEl1::kRes1}.m(1).c(1).i(1);
  EXPECT_EQ(s.raw & 1, 1u);
  EXPECT_EQ((s.raw >> 2) & 1, 1u);
  EXPECT_EQ((s.raw >> 12) & 1, 1u);
  EXPECT_EQ(s.raw & SctlrEl1::kRes1, SctlrEl1::kRes1);
  EXPECT_EQ(s.ee(), 0u);
}

TEST(Regs, KeelMairLayout) {
  EXPECT_EQ(kKeelMair.attr(static_cast<unsigned>(AttrIndex::kDeviceNGnRE)), 0x04);
  EXPECT_EQ(kKeelMair.attr(static_cast<unsigned>(AttrIndex::kNormalWB)), 0xff);
  EXPECT_EQ(kKeelMair.raw, 0xff440400ull);
  EXPECT_TRUE(mair_attr_is_device(kKeelMair.attr(7)));
  EXPECT_STREQ(mair_attr_name(0x04), "Device-nGnRE");
}

TEST(Regs, PteFields) {
  Pte p = Pte{}.valid(1).table_or_page(1).attr_index(3).ap(Ap::kRoNone).sh(Shareability::kInner).af(1).pxn(1).uxn(1);
  p = p.address(0x4020'3000);
  EXPECT_EQ(p.address(), 0x4020'3000u);
  EXPECT_EQ(p.attr_index(), 3u);
  EXPECT_EQ(p.ap(), Ap::kRoNone);
  EXPECT_EQ(p.raw, 0x0060'0000'4020'3000ull | 0x3 | (3 << 2) | (2 << 6) | (3 << 8) | (1 << 10));
  // Address bits outside [47:12] are dropped.
  EXPECT_EQ(Pte{}.address(0xffff'8000'0000'1fffull).address(), 0x8000'0000'1000ull);
  EXPECT_EQ(level_size(1), 1ull << 30);
  EXPECT_EQ(level_size(2), 2ull << 20);
  EXPECT_EQ(level_index(0xffff'ffff'8020'3000ull, 0), 511u);
  EXPECT_EQ(level_index(0xffff'ffff'8020'3000ull, 2), 1u);
  EXPECT_EQ(level_index(0xffff'ffff'8020'3000ull, 3), 3u);
}

// The registers keel once shifted by hand, against the Arm ARM's encodings.
TEST(Regs, CpacrCntpPmcr) {
  EXPECT_EQ(CpacrEl1{}.fpen(CpacrEl1::kFpenNoTrap).raw, 3ull << 20);
  EXPECT_EQ(CpacrEl1{}.fpen(CpacrEl1::kFpenTrapEl0).raw, 1ull << 20);
  EXPECT_EQ(CntpCtlEl0{}.enable(1).imask(0).raw, 1u);
  EXPECT_EQ(CntpCtlEl0{}.enable(0).imask(1).raw, 2u);
  EXPECT_EQ(PmcrEl0{}.e(1).p(1).c(1).lc(1).raw, (1u << 0) | (1u << 1) | (1u << 2) | (1u << 6));
  EXPECT_EQ(PmcrEl0{0x41023000 | (6u << 11)}.n(), 6u);  // (a Cortex-A72's PMCR: IMP, IDCODE, N = 6)
}

TEST(Regs, IccSgi1rTargetsOnePeByAffinity) {
  // MPIDR Aff3 = 0x12, Aff2 = 0x34, Aff1 = 0x56, Aff0 = 5: SGI 2.
  const IccSgi1rEl1 v = IccSgi1rEl1::to(0x12'0000'0000ull | 0x34'5605ull, 2);
  EXPECT_EQ(v.target_list(), 1u << 5);
  EXPECT_EQ(v.aff1(), 0x56u);
  EXPECT_EQ(v.aff2(), 0x34u);
  EXPECT_EQ(v.aff3(), 0x12u);
  EXPECT_EQ(v.intid(), 2u);
  EXPECT_EQ(v.irm(), 0u);
  EXPECT_EQ(v.raw, (0x12ull << 48) | (0x34ull << 32) | (2ull << 24) | (0x56ull << 16) | (1u << 5));
}

TEST(Regs, MidrNamesTheCore) {
  EXPECT_STREQ(cpu_name(MidrEl1{0x410fd083}), "cortex-a72");  // QEMU's cortex-a72
  EXPECT_STREQ(cpu_name(MidrEl1{0x410fd034}), "cortex-a53");
  EXPECT_STREQ(cpu_name(MidrEl1{0x000f0510}), "QEMU max");
  EXPECT_STREQ(cpu_name(MidrEl1{0x461f0010}), "a64fx");  // QEMU's a64fx
  EXPECT_STREQ(cpu_name(MidrEl1{0x411fd040}), "cortex-a35");
  EXPECT_EQ(MidrEl1{0x410fd083}.implementer(), 0x41u);
  EXPECT_EQ(MidrEl1{0x410fd083}.partnum(), 0xd08u);
  EXPECT_EQ(MidrEl1{0x410fd083}.revision(), 3u);
}

TEST(Regs, Ttbr0HoldsRootAndAsid) {
  const Ttbr0El1 t = Ttbr0El1::of(0x4123'4000, 0xab);
  EXPECT_EQ(t.raw, 0x4123'4000ull | (0xabull << 48));
  EXPECT_EQ(t.root(), 0x4123'4000u);
  EXPECT_EQ(t.asid(), 0xabu);
}

// A value is written only to its own register: sysreg.h's write_sysreg
// takes exactly the bound type (WritableAs), and read-only registers have
// no write. (Writing a TCR value into SCTLR does not compile.)
TEST(Regs, ValuesAreBoundToTheirRegisters) {
  static_assert(WritableAs<TcrEl1, TcrEl1>);
  static_assert(!WritableAs<SctlrEl1, TcrEl1>);
  static_assert(!WritableAs<MidrEl1, MidrEl1>, "MIDR_EL1 is read only");
  static_assert(!WritableAs<Spsr, Spsr>, "not a register keel writes with write_sysreg");
  EXPECT_STREQ(SysReg<IccSgi1rEl1>::kName, "ICC_SGI1R_EL1");
  EXPECT_STREQ(SysReg<CpacrEl1>::kName, "CPACR_EL1");
}

}  // namespace
}  // namespace keel::arm64
