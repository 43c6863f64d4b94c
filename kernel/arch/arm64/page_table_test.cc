#include "kernel/arch/arm64/page_table.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

namespace keel::arm64 {
namespace {

// Host memory stands in for physical memory: PA == host address.
class Arena {
 public:
  explicit Arena(size_t pages) : pages_(pages) {
    mem_ = static_cast<uint8_t*>(std::aligned_alloc(kPageSize, pages * kPageSize));
  }
  ~Arena() { std::free(mem_); }
  uint64_t base() const { return reinterpret_cast<uint64_t>(mem_); }
  uint64_t end() const { return base() + pages_ * kPageSize; }

 private:
  size_t pages_;
  uint8_t* mem_;
};

constexpr TcrEl1 kTcr = TcrEl1{}.t0sz(16).t1sz(16).tg0(Tg0::k4K).tg1(Tg1::k4K).ips(5);
constexpr uint64_t kKernelVa = 0xffff'ffff'8000'0000ull;

struct Fixture : ::testing::Test {
  Arena arena{64};
  PageAllocator alloc{PhysWindow{}, arena.base(), arena.end()};
  uint64_t root = alloc.alloc_page().value();
  PageTableBuilder b{PhysWindow{}, &alloc, root};
  TranslationRegime regime{.ttbr0 = root, .ttbr1 = root, .tcr = kTcr};
  Translation T(uint64_t va) { return translate(regime, PhysWindow{}, va); }
};

TEST_F(Fixture, PageMappingTranslatesWithAttributes) {
  MapAttrs text{.type = MemType::kNormal, .writable = false, .executable = true};
  ASSERT_EQ(b.map(kKernelVa, 0x4020'0000, 3 * kPageSize, text, {.allow_blocks = false}), Status::kOk);
  for (uint64_t i = 0; i < 3; ++i) {
    Translation t = T(kKernelVa + i * kPageSize + 0x123);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t.level, 3u);
    EXPECT_EQ(t.pa, 0x4020'0000 + i * kPageSize + 0x123);
    EXPECT_FALSE(t.pxn);
    EXPECT_TRUE(t.uxn);
    EXPECT_FALSE(t.el1_writable);
    EXPECT_FALSE(t.el0_readable);
    EXPECT_EQ(t.leaf.attr_index(), static_cast<uint64_t>(AttrIndex::kNormalWB));
    EXPECT_EQ(t.leaf.sh(), Shareability::kInner);
  }
  Translation after = T(kKernelVa + 3 * kPageSize);
  EXPECT_EQ(after.fault, WalkFault::kTranslation);
  EXPECT_EQ(after.level, 3u);
}

TEST_F(Fixture, BlocksWhereAlignedPagesAtTheEdges) {
  // 1 GiB + 2 MiB + 8 KiB starting 4 KiB before a 2 MiB boundary.
  uint64_t va = 0xffff'0000'4000'0000ull - kPageSize;
  uint64_t pa = 0x4000'0000 - kPageSize;
  uint64_t size = (1ull << 30) + (2ull << 20) + 2 * kPageSize;
  MapAttrs data{.type = MemType::kNormal, .writable = true};
  ASSERT_EQ(b.map(va, pa, size, data), Status::kOk);
  EXPECT_EQ(T(va).level, 3u);
  EXPECT_EQ(T(va + kPageSize).level, 1u);  // 1 GiB aligned both sides
  EXPECT_EQ(T(va + kPageSize + (1ull << 30)).level, 2u);
  EXPECT_EQ(T(va + kPageSize + (1ull << 30) + (2ull << 20)).level, 3u);
  EXPECT_FALSE(T(va + size).ok());
  Translation mid = T(va + 12345678);
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(mid.pa, pa + 12345678);
  EXPECT_TRUE(mid.pxn);
  EXPECT_TRUE(mid.el1_writable);
}

TEST_F(Fixture, NoBlocksWhenNotAllowed) {
  MapAttrs data{.writable = true};
  ASSERT_EQ(b.map(0x20'0000, 0x20'0000, 2 << 20, data, {.allow_blocks = false}), Status::kOk);
  EXPECT_EQ(T(0x20'0000).level, 3u);
}

TEST_F(Fixture, DeviceAndUserAttributes) {
  ASSERT_EQ(b.map(0xffff'fe00'0000'0000ull, 0x0900'0000, kPageSize,
                  MapAttrs{.type = MemType::kDevice, .writable = true, .executable = true}),
            Status::kOk);
  Translation d = T(0xffff'fe00'0000'0000ull);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.leaf.attr_index(), static_cast<uint64_t>(AttrIndex::kDeviceNGnRE));
  EXPECT_TRUE(d.pxn) << "device memory must never be executable";
  ASSERT_EQ(b.map(0x1000'0000, 0x5000'0000, kPageSize, MapAttrs{.writable = true, .user = true}), Status::kOk);
  Translation u = T(0x1000'0000);
  EXPECT_TRUE(u.el0_writable);
  EXPECT_TRUE(u.pxn);
  EXPECT_TRUE(u.uxn);
}

TEST_F(Fixture, OverlapIsRejectedAndChangesNothing) {
  MapAttrs data{.writable = true};
  ASSERT_EQ(b.map(0x4000'0000, 0x4000'0000, 2 << 20, data), Status::kOk);  // a 2 MiB block
  uint64_t used = alloc.used_end();
  // A page inside the block, a range straddling its end, the same range again.
  EXPECT_EQ(b.map(0x4000'1000, 0x1000, kPageSize, data), Status::kOverlap);
  EXPECT_EQ(b.map(0x401f'f000 - (4 << 20), 0x1000, (4 << 20) + 0x2000, data), Status::kOverlap);
  EXPECT_EQ(b.map(0x4000'0000, 0x4000'0000, 2 << 20, data), Status::kOverlap);
  EXPECT_EQ(alloc.used_end(), used) << "a failed map must not allocate";
  // The part before the block that the failed map covered is still unmapped.
  EXPECT_FALSE(T(0x401f'f000 - (4 << 20)).ok());
  // Pages next to existing pages are fine.
  ASSERT_EQ(b.map(0x4020'0000, 0x9000'0000, kPageSize, data, {.allow_blocks = false}), Status::kOk);
  ASSERT_EQ(b.map(0x4020'1000, 0x9000'1000, kPageSize, data, {.allow_blocks = false}), Status::kOk);
  EXPECT_EQ(b.map(0x4020'1000, 0x9000'1000, kPageSize, data), Status::kOverlap);
}

TEST_F(Fixture, BadArguments) {
  MapAttrs data{};
  EXPECT_EQ(b.map(0x1001, 0x1000, kPageSize, data), Status::kMisaligned);
  EXPECT_EQ(b.map(0x1000, 0x1000, 0, data), Status::kInvalidArgument);
  EXPECT_EQ(b.map(0x0001'0000'0000'0000ull, 0, kPageSize, data), Status::kOutOfRange);      // non-canonical
  EXPECT_EQ(b.map(0x0000'ffff'ffff'f000ull, 0, 2 * kPageSize, data), Status::kOutOfRange);  // crosses the hole
  EXPECT_EQ(b.map(0x1000, 1ull << 48, kPageSize, data), Status::kOutOfRange);
  EXPECT_EQ(b.map(0xffff'ffff'ffff'f000ull, 0x1000, 2 * kPageSize, data), Status::kOutOfRange);  // wraps
  // The very last page of the address space is fine.
  EXPECT_EQ(b.map(0xffff'ffff'ffff'f000ull, 0x1000, kPageSize, data), Status::kOk);
  EXPECT_EQ(T(0xffff'ffff'ffff'ffffull).pa, 0x1fffu);
}

TEST(PageTable, OutOfTablesIsReportedWithoutPartialMapping) {
  Arena arena{3};
  PageAllocator alloc{PhysWindow{}, arena.base(), arena.end()};
  uint64_t root = alloc.alloc_page().value();
  PageTableBuilder b{PhysWindow{}, &alloc, root};
  // Needs L1 + L2 + L3 = 3 tables, only 2 left.
  EXPECT_EQ(b.map(0x1000, 0x1000, kPageSize, MapAttrs{}), Status::kNoMemory);
  EXPECT_EQ(alloc.pages_left(), 2u);
  TranslationRegime r{.ttbr0 = root, .ttbr1 = root, .tcr = kTcr};
  EXPECT_FALSE(translate(r, PhysWindow{}, 0x1000).ok());
}

TEST_F(Fixture, UnmapPages) {
  MapAttrs data{.writable = true};
  ASSERT_EQ(b.map(kKernelVa, 0x4000'0000, 4 * kPageSize, data), Status::kOk);
  ASSERT_EQ(b.unmap_pages(kKernelVa + kPageSize, 2 * kPageSize), Status::kOk);
  EXPECT_TRUE(T(kKernelVa).ok());
  EXPECT_FALSE(T(kKernelVa + kPageSize).ok());
  EXPECT_FALSE(T(kKernelVa + 2 * kPageSize).ok());
  EXPECT_TRUE(T(kKernelVa + 3 * kPageSize).ok());
  EXPECT_EQ(b.unmap_pages(kKernelVa + kPageSize, kPageSize), Status::kNotFound);
  ASSERT_EQ(b.map(0x4000'0000, 0x4000'0000, 2 << 20, data), Status::kOk);
  EXPECT_EQ(b.unmap_pages(0x4000'1000, kPageSize), Status::kUnsupported);
}

TEST_F(Fixture, WalkerHonoursTcrAndDescriptorRules) {
  ASSERT_EQ(b.map(0x1000, 0x1000, kPageSize, MapAttrs{}), Status::kOk);
  TranslationRegime r = regime;
  r.tcr = kTcr.tg0(Tg0::k16K);
  EXPECT_EQ(translate(r, PhysWindow{}, 0x1000).fault, WalkFault::kUnsupported);
  r.tcr = kTcr.epd0(1);
  EXPECT_EQ(translate(r, PhysWindow{}, 0x1000).fault, WalkFault::kTranslation);
  r.tcr = kTcr.ips(0);  // 32-bit PA: host "physical" table addresses are above 4 GiB
  if (root >= (1ull << 32)) EXPECT_EQ(translate(r, PhysWindow{}, 0x1000).fault, WalkFault::kAddressSize);
  EXPECT_EQ(T(0x0001'0000'0000'0000ull).fault, WalkFault::kTranslation);  // non-canonical
  // AF = 0 is an access flag fault.
  ASSERT_EQ(b.map_raw(0x2000, 0x2000, kPageSize, leaf_template(MapAttrs{}).af(0)), Status::kOk);
  EXPECT_EQ(T(0x2000).fault, WalkFault::kAccessFlag);
}

TEST_F(Fixture, InstallTablesAndLeavesOneByOne) {
  // The caller supplies every table: L1, L2, L3 for one user page.
  uint64_t l1 = alloc.alloc_page().value(), l2 = alloc.alloc_page().value(), l3 = alloc.alloc_page().value();
  uint64_t va = 0x40'0000;
  Pte leaf = leaf_template(MapAttrs{.writable = true, .user = true, .global = false}).address(0x8000'0000);
  EXPECT_EQ(install_leaf({}, root, va, 3, leaf), Status::kNotFound) << "no tables yet";
  EXPECT_EQ(install_table({}, root, va, 2, l2), Status::kNotFound) << "L1 missing";
  ASSERT_EQ(install_table({}, root, va, 1, l1), Status::kOk);
  EXPECT_EQ(install_table({}, root, va, 1, l2), Status::kOverlap);
  ASSERT_EQ(install_table({}, root, va, 2, l2), Status::kOk);
  ASSERT_EQ(install_table({}, root, va, 3, l3), Status::kOk);
  ASSERT_EQ(install_leaf({}, root, va, 3, leaf), Status::kOk);
  EXPECT_EQ(install_leaf({}, root, va, 3, leaf), Status::kOverlap);
  EXPECT_EQ(install_leaf({}, root, va + 1, 3, leaf), Status::kInvalidArgument) << "unaligned";
  Translation t = T(va + 5);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.pa, 0x8000'0005u);
  EXPECT_TRUE(t.el0_writable);
  EXPECT_EQ(clear_entry({}, root, va, 3, 0x9000'0000, false), 0u) << "names another frame: left alone";
  EXPECT_EQ(clear_entry({}, root, va, 2, l3, false), 0u) << "a table is not a leaf";
  EXPECT_TRUE(T(va).ok());
  EXPECT_FALSE(table_empty({}, l3));
  EXPECT_NE(clear_entry({}, root, va, 3, 0x8000'0000, false), 0u);
  EXPECT_FALSE(T(va).ok());
  EXPECT_TRUE(table_empty({}, l3));
  EXPECT_EQ(clear_entry({}, root, va, 3, 0x8000'0000, false), 0u) << "already empty";
  EXPECT_EQ(clear_entry({}, root, 0x7000'0000'0000, 3, 0x8000'0000, false), 0u) << "missing path: nothing to clear";
  EXPECT_EQ(clear_entry({}, root, va, 1, l3, true), 0u) << "the level-1 entry names l2, not l3";
  EXPECT_NE(clear_entry({}, root, va, 2, l3, true), 0u);
  EXPECT_EQ(install_leaf({}, root, va, 3, leaf), Status::kNotFound) << "the L3 table is gone";
}

// The walker agrees with the builder on every mapping of a random layout.
TEST(PageTable, RandomLayoutsWalkerAgreesWithBuilder) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 20; ++round) {
    Arena arena{512};
    PageAllocator alloc{PhysWindow{}, arena.base(), arena.end()};
    uint64_t root = alloc.alloc_page().value();
    PageTableBuilder b{PhysWindow{}, &alloc, root};
    struct M {
      uint64_t va, pa, size;
      MapAttrs a;
    };
    std::vector<M> done;
    for (int i = 0; i < 40; ++i) {
      uint64_t va = (rng() % (1ull << 24)) << 12;  // within 64 GiB
      if (rng() & 1) va |= 0xffff'0000'0000'0000ull;
      uint64_t pages = 1 + rng() % 1200;
      uint64_t pa = ((rng() % (1ull << 20)) << 12) & ~((rng() & 1) ? ((2ull << 20) - 1) : 0);
      if (rng() & 1) va &= ~((2ull << 20) - 1);
      MapAttrs a{.type = (rng() & 1) ? MemType::kNormal : MemType::kDevice,
                 .writable = (rng() & 1) != 0,
                 .executable = (rng() & 1) != 0};
      Status s = b.map(va, pa, pages * kPageSize, a);
      bool overlaps = false;
      for (const M& m : done) {
        if (va < m.va + m.size && m.va < va + pages * kPageSize) overlaps = true;
      }
      if (overlaps) {
        EXPECT_EQ(s, Status::kOverlap);
      } else if (s == Status::kOk) {
        done.push_back({va, pa, pages * kPageSize, a});
      } else {
        EXPECT_EQ(s, Status::kNoMemory);
      }
    }
    TranslationRegime r{.ttbr0 = root, .ttbr1 = root, .tcr = kTcr};
    for (const M& m : done) {
      for (uint64_t off = 0; off < m.size; off += kPageSize * 7) {
        Translation t = translate(r, PhysWindow{}, m.va + off);
        ASSERT_TRUE(t.ok()) << std::hex << m.va + off;
        ASSERT_EQ(t.pa, m.pa + off);
        Pte want = leaf_template(m.a);
        ASSERT_EQ(t.leaf.attr_index(), want.attr_index());
        ASSERT_EQ(t.leaf.ap(), want.ap());
        ASSERT_EQ(t.pxn, want.pxn() != 0);
      }
    }
  }
}

// translate_with: another kernel's regime (the doctor's walk), 39-bit VAs
// in both halves (T0SZ = T1SZ = 25): the walk starts at level 1, whose
// table has 512 one-GiB entries. Memory is a map from PA to descriptor.
struct SparseMemory {
  std::vector<std::pair<uint64_t, uint64_t>> words;
  static bool read(void* ctx, uint64_t pa, uint64_t* out) {
    for (const auto& [a, v] : static_cast<SparseMemory*>(ctx)->words) {
      if (a == pa) {
        *out = v;
        return true;
      }
    }
    *out = 0;
    return pa < 0x100000;  // tables live below 1 MiB here; above: unreadable
  }
};

TEST(PageTable, GeneralWalkerStartsWhereTheVaSizeSays) {
  SparseMemory m;
  const uint64_t block = (1ull << 10) | (3ull << 8) | (1ull << 2) | 0b01;  // AF, inner shareable, AttrIndx 1, block
  m.words.push_back({0x1000 + 8 * 1, 0x40000000 | block});                 // TTBR0 L1[1]: VA 1 GiB -> PA 1 GiB
  m.words.push_back({0x2000 + 8 * 0, 0x40000000 | block});                 // TTBR1 L1[0]: the top half's first GiB
  TranslationRegime r;
  r.ttbr0 = 0x1000;
  r.ttbr1 = 0x2000;
  r.tcr = TcrEl1{}.t0sz(25).tg0(Tg0::k4K).t1sz(25).tg1(Tg1::k4K).ips(2);
  Translation t = translate_with(r, SparseMemory::read, &m, 0x40001234);
  ASSERT_TRUE(t.ok()) << walk_fault_name(t.fault);
  EXPECT_EQ(t.pa, 0x40001234u);
  EXPECT_EQ(t.level, 1u);
  EXPECT_EQ(t.leaf.attr_index(), 1u);
  t = translate_with(r, SparseMemory::read, &m, 0x80000000);
  EXPECT_EQ(t.fault, WalkFault::kTranslation);
  EXPECT_EQ(t.level, 1u) << "L1[2] of TTBR0 is empty";
  t = translate_with(r, SparseMemory::read, &m, 0xffffff8000000010ull);
  ASSERT_TRUE(t.ok()) << walk_fault_name(t.fault);
  EXPECT_EQ(t.pa, 0x40000010u) << "the first GiB of the top 512 GiB";
  EXPECT_EQ(translate_with(r, SparseMemory::read, &m, 1ull << 39).fault, WalkFault::kTranslation)
      << "between the halves";
  EXPECT_EQ(translate_with(r, SparseMemory::read, &m, 0xffffff0000000000ull).fault, WalkFault::kTranslation)
      << "below the top half's 512 GiB";
  r.tcr = TcrEl1{}.t0sz(25).tg0(Tg0::k64K).t1sz(25).tg1(Tg1::k4K).ips(2);
  t = translate_with(r, SparseMemory::read, &m, 0x40001234);
  EXPECT_EQ(t.fault, WalkFault::kTranslation) << "64 KiB: bits 38:29 index the root, entry 2 is empty";
  EXPECT_EQ(t.level, 2u);
  r.tcr = TcrEl1{}.t0sz(25).tg0(Tg0{0b11}).t1sz(25).tg1(Tg1::k4K).ips(2);
  EXPECT_EQ(translate_with(r, SparseMemory::read, &m, 0x40001234).fault, WalkFault::kUnsupported) << "TG0 0b11";
  // 48-bit VAs start at level 0: the same root now indexes bits 47:39.
  r.tcr = TcrEl1{}.t0sz(16).tg0(Tg0::k4K).t1sz(25).tg1(Tg1::k4K).ips(2);
  t = translate_with(r, SparseMemory::read, &m, 0x40001234);
  EXPECT_EQ(t.fault, WalkFault::kTranslation);
  EXPECT_EQ(t.level, 0u) << "L0[0] of 0x1000 is empty";
  // A table the reader cannot fetch.
  m.words.push_back({0x1000 + 8 * 3, 0x200000 | 0b11});
  r.tcr = TcrEl1{}.t0sz(25).tg0(Tg0::k4K).t1sz(25).tg1(Tg1::k4K).ips(2);
  EXPECT_EQ(translate_with(r, SparseMemory::read, &m, 0xc0000000).fault, WalkFault::kUnreadable);
}

// 16 and 64 KiB granules: 13 (64K) or 11 (16K) VA bits per level, blocks
// only at level 2, output addresses aligned to the granule.
TEST(PageTable, GeneralWalkerModelsEveryGranule) {
  SparseMemory m;
  const uint64_t af = 1ull << 10, block = af | 0b01, table = 0b11, page = af | 0b11;
  // 64 KiB, T0SZ 25 (39-bit VAs): the walk starts at level 2 (bits 38:29,
  // 512 MiB blocks), then level 3 (bits 28:16, 64 KiB pages).
  m.words.push_back({0x10000 + 8 * 2, 0x40000000 | block});   // L2[2]: VA 1 GiB -> PA 1 GiB, one 512 MiB block
  m.words.push_back({0x10000 + 8 * 0, 0x20000 | table});      // L2[0] -> L3 table at 0x20000
  m.words.push_back({0x20000 + 8 * 1, 0x50000 | page});       // L3[1]: VA 0x10000 -> PA 0x50000
  m.words.push_back({0x20000 + 8 * 2, 0x60000 | 0b01 | af});  // L3[2]: a block descriptor at level 3: invalid
  TranslationRegime r;
  r.ttbr0 = 0x10000;
  r.tcr = TcrEl1{}.t0sz(25).tg0(Tg0::k64K).t1sz(25).tg1(Tg1::k4K).epd1(1).ips(2);
  Translation t = translate_with(r, SparseMemory::read, &m, 0x40001234);
  ASSERT_TRUE(t.ok()) << walk_fault_name(t.fault);
  EXPECT_EQ(t.level, 2u);
  EXPECT_EQ(t.pa, 0x40001234u);
  t = translate_with(r, SparseMemory::read, &m, 0x1fedc);
  ASSERT_TRUE(t.ok()) << walk_fault_name(t.fault);
  EXPECT_EQ(t.level, 3u);
  EXPECT_EQ(t.pa, 0x5fedcu) << "a 64 KiB page keeps 16 bits of offset";
  t = translate_with(r, SparseMemory::read, &m, 0x20000);
  EXPECT_EQ(t.fault, WalkFault::kTranslation);
  EXPECT_EQ(t.level, 3u);
  // The same tables under a 4 KiB TG0 walk other bits: nothing is where they look.
  r.tcr = TcrEl1{}.t0sz(25).tg0(Tg0::k4K).t1sz(25).tg1(Tg1::k4K).epd1(1).ips(2);
  EXPECT_FALSE(translate_with(r, SparseMemory::read, &m, 0x40001234).ok());
  // 64 KiB with 48-bit VAs starts at level 1 (bits 47:42, 64 entries).
  r.tcr = TcrEl1{}.t0sz(16).tg0(Tg0::k64K).t1sz(25).tg1(Tg1::k4K).epd1(1).ips(2);
  t = translate_with(r, SparseMemory::read, &m, 0x40001234);
  EXPECT_EQ(t.level, 2u) << "L1[0] of 0x10000 is a table (to 0x20000), whose entry 2 reads as a level-2 block";
  // 16 KiB in the top half, T1SZ 17 (47-bit VAs): levels 1 (bits 46:36),
  // 2 (35:25, 32 MiB blocks), 3 (24:14); no blocks at level 1.
  const uint64_t top = 0xffff800000000000ull;
  m.words.push_back({0x4000 + 8 * 0, 0x8000 | table});          // L1[0] -> L2 at 0x8000
  m.words.push_back({0x8000 + 8 * 1, 0x42000000 | block});      // L2[1]: top + 32 MiB -> PA 0x42000000
  m.words.push_back({0x4000 + 8 * 1, 0x100000000ull | block});  // L1[1]: a level-1 block: not for 16 KiB
  r.ttbr1 = 0x4000;
  r.tcr = TcrEl1{}.t0sz(25).tg0(Tg0::k4K).epd0(1).t1sz(17).tg1(Tg1::k16K).ips(5);
  t = translate_with(r, SparseMemory::read, &m, top + (32ull << 20) + 0x123456);
  ASSERT_TRUE(t.ok()) << walk_fault_name(t.fault);
  EXPECT_EQ(t.level, 2u);
  EXPECT_EQ(t.pa, 0x42123456u);
  t = translate_with(r, SparseMemory::read, &m, top + (1ull << 36));
  EXPECT_EQ(t.fault, WalkFault::kTranslation) << "a block at level 1 is reserved with 16 KiB granules";
  EXPECT_EQ(t.level, 1u);
  // Reserved encodings: TG1 = 0b00, TG0 = 0b11.
  r.tcr = TcrEl1{}.t0sz(25).tg0(Tg0::k4K).t1sz(17).ips(5);
  EXPECT_EQ(translate_with(r, SparseMemory::read, &m, top).fault, WalkFault::kUnsupported);
  Granule g;
  EXPECT_FALSE(granule_of_tg0(0b11, &g));
  EXPECT_FALSE(granule_of_tg1(0b00, &g));
  ASSERT_TRUE(granule_of_tg1(0b11, &g));
  EXPECT_EQ(g.kib(), 64u);
  ASSERT_TRUE(granule_of_tg0(0b10, &g));
  EXPECT_EQ(g.kib(), 16u);
  EXPECT_EQ(Granule{16}.start_level(48), 1u);
  EXPECT_EQ(Granule{16}.start_level(42), 2u);
  EXPECT_EQ(Granule{14}.start_level(48), 0u);
  EXPECT_EQ(Granule{14}.start_level(36), 2u);
  EXPECT_EQ(Granule{12}.start_level(25), 2u);
}

}  // namespace
}  // namespace keel::arm64
