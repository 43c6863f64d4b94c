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

}  // namespace
}  // namespace keel::arm64
