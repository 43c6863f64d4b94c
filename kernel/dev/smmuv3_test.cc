// The SMMUv3 encoders against the architecture's field positions (Arm IHI
// 0070: STE §5.2, CD §5.4, commands §4, events §7.3), and QEMU's ID
// register values for its `virt` SMMU.
#include "kernel/dev/smmuv3.h"

#include <gtest/gtest.h>

namespace keel::smmuv3 {
namespace {

uint64_t bits(uint64_t v, unsigned hi, unsigned lo) { return (v >> lo) & ((uint64_t{2} << (hi - lo)) - 1); }

TEST(Smmuv3, SteSelectsStageOneThroughOneContextDescriptor) {
  uint64_t ste[kSteWords];
  make_ste_stage1(0x4123'4540, ste);
  EXPECT_EQ(bits(ste[0], 0, 0), 1u) << "V";
  EXPECT_EQ(bits(ste[0], 3, 1), 0b101u) << "Config: stage 1 translate, stage 2 bypass";
  EXPECT_EQ(bits(ste[0], 5, 4), 0u) << "S1Fmt: one CD";
  EXPECT_EQ(bits(ste[0], 51, 6) << 6, 0x4123'4540u) << "S1ContextPtr";
  EXPECT_EQ(bits(ste[0], 63, 59), 0u) << "S1CDMax";
  EXPECT_EQ(bits(ste[1], 27, 27), 0u) << "S1STALLD (QEMU refuses it)";
  EXPECT_EQ(bits(ste[1], 3, 2), 1u);
  EXPECT_EQ(bits(ste[1], 7, 6), 3u);
  for (unsigned i = 2; i < kSteWords; ++i) EXPECT_EQ(ste[i], 0u);
}

TEST(Smmuv3, ContextDescriptorIs48BitFourKiBWithFaultsRecorded) {
  uint64_t cd[kCdWords];
  make_cd(0x4567'8000, 0x1234, 5, 0x0044'ff04, cd);
  EXPECT_EQ(bits(cd[0], 5, 0), 16u) << "T0SZ";
  EXPECT_EQ(bits(cd[0], 7, 6), 0u) << "TG0 4 KiB";
  EXPECT_EQ(bits(cd[0], 14, 14), 0u) << "EPD0: walks TTB0";
  EXPECT_EQ(bits(cd[0], 30, 30), 1u) << "EPD1";
  EXPECT_EQ(bits(cd[0], 31, 31), 1u) << "V";
  EXPECT_EQ(bits(cd[0], 34, 32), 5u) << "IPS";
  EXPECT_EQ(bits(cd[0], 41, 41), 1u) << "AA64";
  EXPECT_EQ(bits(cd[0], 43, 42), 0u) << "no hardware access/dirty updates";
  EXPECT_EQ(bits(cd[0], 44, 44), 0u) << "S: never stall";
  EXPECT_EQ(bits(cd[0], 45, 45), 1u) << "R: record";
  EXPECT_EQ(bits(cd[0], 46, 46), 1u) << "A: abort";
  EXPECT_EQ(bits(cd[0], 63, 48), 0x1234u) << "ASID";
  EXPECT_EQ(bits(cd[1], 51, 4) << 4, 0x4567'8000u) << "TTB0";
  EXPECT_EQ(cd[3], 0x0044'ff04u) << "MAIR";
}

TEST(Smmuv3, CommandsCarryTheirOperands) {
  const Command ste = cmd_cfgi_ste(0x10);
  EXPECT_EQ(bits(ste.w[0], 7, 0), 0x03u);
  EXPECT_EQ(bits(ste.w[0], 63, 32), 0x10u);
  EXPECT_EQ(bits(ste.w[1], 0, 0), 1u);
  const Command va = cmd_tlbi_va(7, 0x1234'5678'9abcull);
  EXPECT_EQ(bits(va.w[0], 7, 0), 0x12u);
  EXPECT_EQ(bits(va.w[0], 63, 48), 7u);
  EXPECT_EQ(va.w[1], 0x1234'5678'9000ull) << "page aligned, not leaf-only";
  EXPECT_EQ(bits(cmd_tlbi_asid(9).w[0], 63, 48), 9u);
  EXPECT_EQ(cmd_sync().w[0], 0x46u) << "CS = SIG_NONE";
  EXPECT_EQ(cmdq_error(0x0100'0005), 1u) << "CERROR_ILL";
  EXPECT_EQ(queue_base(0x4000'1000, 5), (uint64_t{1} << 62) | 0x4000'1000 | 5);
}

TEST(Smmuv3, QueueIndicesWrap) {
  const QueueIndex q{2};  // 4 entries
  EXPECT_TRUE(q.empty(0, 0));
  EXPECT_TRUE(q.full(4, 0)) << "same index, other wrap";
  EXPECT_FALSE(q.full(3, 0));
  EXPECT_EQ(q.next(3), 4u);
  EXPECT_EQ(q.next(7), 0u);
}

TEST(Smmuv3, EventsName) {
  uint64_t e[4] = {kEvtTranslation | uint64_t{0x8} << 32, uint64_t{1} << 35, 0xdead'0000'0000ull, 0};
  Event ev = decode_event(e);
  EXPECT_EQ(ev.sid, 0x8u);
  EXPECT_TRUE(ev.has_address);
  EXPECT_EQ(ev.address, 0xdead'0000'0000ull);
  EXPECT_TRUE(ev.read);
  e[1] = 0;
  EXPECT_FALSE(decode_event(e).read);
  uint64_t bad[4] = {kEvtBadSte | uint64_t{0x10} << 32, 0, 0x1234, 0};
  ev = decode_event(bad);
  EXPECT_EQ(ev.sid, 0x10u);
  EXPECT_FALSE(ev.has_address) << "C_BAD_STE carries no address";
  EXPECT_STREQ(event_name(kEvtBadSte), "DMA from a stream nobody was given");
}

TEST(Smmuv3, QemuVirtIdRegisters) {
  // QEMU 7.2's values: IDR0 (stage 1, AArch64 tables, coherent, 16-bit
  // ASIDs, 2-level tables), IDR1 (16-bit SIDs, 2^19 command and event
  // queues max), IDR5 (48-bit OAS, 4 and 64 KiB granules).
  const Features f = decode_features(0x0c00'1c8a | (1u << 4), 0x00e7'0010 | (19u << 21) | (19u << 16), 0x55);
  EXPECT_TRUE(f.stage1);
  EXPECT_TRUE(f.aarch64_tables);
  EXPECT_TRUE(f.coherent);
  EXPECT_TRUE(f.asid16);
  EXPECT_EQ(f.sid_bits, 16u);
  EXPECT_EQ(f.oas_field, 5u);
  EXPECT_TRUE(f.granule_4k);
}

}  // namespace
}  // namespace keel::smmuv3
