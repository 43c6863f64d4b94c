#include "kernel/object/memory_map.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace keel::object {
namespace {

std::vector<UntypedBlock> Carve(std::vector<Region> ram, std::vector<Region> res, unsigned min_bits = 12) {
  std::vector<UntypedBlock> out(256);
  size_t n = carve_untyped(ram.data(), ram.size(), res.data(), res.size(), min_bits, out.data(), out.size());
  EXPECT_LE(n, out.size());
  out.resize(n);
  return out;
}

TEST(MemoryMap, WholeRamIsOneBlockWhenAligned) {
  auto b = Carve({{0x4000'0000, 1ull << 30}}, {});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].base, 0x4000'0000u);
  EXPECT_EQ(b[0].size_bits, 30u);
}

TEST(MemoryMap, ReservationsAreCutOutAndBlocksAreAligned) {
  // 128 MiB with the image at +2 MiB (3 MiB long) and the DTB at +64 MiB.
  auto b = Carve({{0x4000'0000, 128ull << 20}}, {{0x4020'0000, 3ull << 20}, {0x4400'0000, 0x10'0000}});
  uint64_t total = 0;
  for (const auto& x : b) {
    EXPECT_EQ(x.base & ((1ull << x.size_bits) - 1), 0u) << "naturally aligned";
    uint64_t end = x.base + (1ull << x.size_bits);
    EXPECT_FALSE(x.base < 0x4050'0000 && end > 0x4020'0000) << std::hex << x.base;
    EXPECT_FALSE(x.base < 0x4410'0000 && end > 0x4400'0000) << std::hex << x.base;
    total += 1ull << x.size_bits;
  }
  EXPECT_EQ(total, (128ull << 20) - (3ull << 20) - 0x10'0000);
  EXPECT_EQ(b.front().base, 0x4000'0000u);
  EXPECT_EQ(b.front().size_bits, 21u);
}

TEST(MemoryMap, OverlappingAndOutsideReservations) {
  auto b = Carve({{0x1000, 0x9000}}, {{0x0, 0x2000}, {0x1800, 0x1000}, {0x20000, 0x1000}, {0x5000, 0}});
  uint64_t total = 0;
  for (const auto& x : b) {
    EXPECT_GE(x.base, 0x3000u);
    total += 1ull << x.size_bits;
  }
  EXPECT_EQ(total, 0x7000u);
}

TEST(MemoryMap, SmallLeftoversAreDroppedAndCapIsReported) {
  auto b = Carve({{0x1000, 0x800}}, {});
  EXPECT_TRUE(b.empty());
  std::vector<UntypedBlock> out(2);
  Region ram{0x1000, 0x7000};  // 4K@0x1000, 8K@0x2000, 16K@0x4000: three blocks
  EXPECT_EQ(carve_untyped(&ram, 1, nullptr, 0, 12, out.data(), 2), 3u);
}

TEST(MemoryMap, MergeSortsAndCoalesces) {
  // Several devices in one page (virtio-mmio style), a touching pair, a gap.
  std::vector<Region> r = {{0x3000, 0x1000}, {0xa000200, 0x200}, {0x1000, 0x2000}, {0xa000000, 0x200},
                           {0x9000, 0},      {0x2000, 0x3000},   {0x8000, 0x1000}};
  r.resize(merge_regions(r.data(), r.size()));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].base, 0x1000u);
  EXPECT_EQ(r[0].size, 0x4000u);
  EXPECT_EQ(r[1].base, 0x8000u);
  EXPECT_EQ(r[2].base, 0xa000000u);
  EXPECT_EQ(r[2].size, 0x400u);
}

TEST(MemoryMap, RandomLayoutsCoverExactlyTheFreePages) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 200; ++round) {
    Region ram{(rng() % 64) << 12, (1 + rng() % 4096) << 12};
    std::vector<Region> res;
    res.reserve(5);
    for (int i = 0; i < 5; ++i) res.push_back({ram.base + ((rng() % 4096) << 12), (rng() % 64) << 12});
    auto b = Carve({ram}, res);
    std::vector<bool> covered(4096 + 64 + 1, false);
    for (const auto& x : b) {
      for (uint64_t p = x.base >> 12; p < (x.base + (1ull << x.size_bits)) >> 12; ++p) {
        ASSERT_FALSE(covered[p]) << "blocks overlap";
        covered[p] = true;
      }
    }
    for (uint64_t p = ram.base >> 12; p < (ram.base + ram.size) >> 12; ++p) {
      bool reserved = false;
      for (const auto& r : res) reserved |= (p << 12) >= r.base && (p << 12) < r.base + r.size;
      ASSERT_EQ(covered[p], !reserved) << "page " << p << " round " << round;
    }
  }
}

TEST(PlaceAtTop, HighestFreePlace) {
  Region ram[2] = {{0x4000'0000, 0x1000'0000}, {0x8000'0000, 0x10'0000}};
  uint64_t at = 0;
  ASSERT_TRUE(place_at_top(ram, 2, nullptr, 0, 0x2000, &at));
  EXPECT_EQ(at, 0x800f'e000u);
  Region res[2] = {{0x800f'f000, 0x1000}, {0x800f'0000, 0x1000}};
  ASSERT_TRUE(place_at_top(ram, 2, res, 2, 0x2000, &at));
  EXPECT_EQ(at, 0x800f'd000u) << "below the reservation at the top";
  ASSERT_TRUE(place_at_top(ram, 2, res, 2, 0x10'0000, &at));
  EXPECT_EQ(at, 0x4ff0'0000u) << "does not fit the second range: the first one";
  EXPECT_TRUE(place_at_top(ram, 2, res, 2, 0x1001, &at));
  EXPECT_EQ(at % 0x1000, 0u);
  EXPECT_FALSE(place_at_top(ram, 2, res, 2, 0x2000'0000, &at));
}

// A withheld range that is not page aligned takes its whole pages with it,
// even from a device that shares one of them; devices sharing a page merge.
TEST(CarveDeviceUntyped, WithheldPagesNeverDescribed) {
  Region dev[3] = {{0x0900'0000, 0x200}, {0x0900'0800, 0x100}, {0x0800'0000, 0x3000}};
  Region held[1] = {{0x0800'1ff0, 0x20}};  // straddles the pages at 0x8001000 and 0x8002000
  size_t ndev = 3, nheld = 1;
  UntypedBlock out[8];
  size_t n = carve_device_untyped(dev, &ndev, held, &nheld, out, 8);
  EXPECT_EQ(ndev, 2u) << "the UART's two ranges share a page";
  ASSERT_EQ(nheld, 1u);
  EXPECT_EQ(held[0].base, 0x0800'1000u);
  EXPECT_EQ(held[0].size, 0x2000u);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(out[0].base, 0x0800'0000u);
  EXPECT_EQ(out[0].size_bits, 12u);
  EXPECT_EQ(out[1].base, 0x0900'0000u);
  EXPECT_EQ(out[1].size_bits, 12u);
}

}  // namespace
}  // namespace keel::object
