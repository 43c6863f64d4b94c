#include "kernel/object/page_info.h"

#include <gtest/gtest.h>

#include <vector>

namespace keel::object {
namespace {

constexpr uint64_t kBase = 0x4000'0000;

TEST(PageInfoTable, RangeAndLiveness) {
  std::vector<PageInfo> entries(16);
  PageInfoTable t;
  t.init(entries.data(), kBase, entries.size());
  EXPECT_EQ(t.at(kBase - 1), nullptr);
  EXPECT_EQ(t.at(kBase + 16 * uint64_t{4096}), nullptr);
  EXPECT_EQ(t.at(kBase + 5 * uint64_t{4096} + 123), &entries[5]);
  PageInfo* a = t.new_space(kBase + 4096);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(t.live_space(kBase + 4096, a->id), a);
  EXPECT_EQ(t.live_space(kBase + 4096, a->id + 1), nullptr);
  EXPECT_EQ(t.live_space(kBase + 4096, 0), nullptr);
  uint32_t old = a->id;
  *a = PageInfo{};  // destroyed
  EXPECT_EQ(t.live_space(kBase + 4096, old), nullptr);
  // The same page becomes a space again: a record of the old one does not match.
  PageInfo* b = t.new_space(kBase + 4096);
  EXPECT_NE(b->id, old);
  EXPECT_EQ(t.live_space(kBase + 4096, old), nullptr);
  EXPECT_EQ(t.new_space(kBase - 4096), nullptr);
}

TEST(AsidPool, AssignsDistinctAndKeepsThem) {
  AsidPool pool(4);  // 15 usable
  std::vector<PageInfo> spaces(15);
  bool flush = true;
  for (auto& s : spaces) {
    uint32_t a = pool.get(&s, nullptr, 0, &flush);
    EXPECT_FALSE(flush);
    EXPECT_NE(a, 0u);
  }
  for (size_t i = 0; i < spaces.size(); ++i) {
    for (size_t j = i + 1; j < spaces.size(); ++j) EXPECT_NE(spaces[i].asid, spaces[j].asid);
  }
  uint32_t again = pool.get(&spaces[3], nullptr, 0, &flush);
  EXPECT_EQ(again, spaces[3].asid);
  EXPECT_FALSE(flush);
  EXPECT_EQ(pool.in_use(), 15u);
}

TEST(AsidPool, ReleaseFreesOne) {
  AsidPool pool(2);  // 3 usable
  PageInfo s[4] = {};
  bool flush = false;
  for (int i = 0; i < 3; ++i) pool.get(&s[i], nullptr, 0, &flush);
  uint32_t a1 = s[1].asid;
  pool.release(&s[1]);
  EXPECT_FALSE(pool.live(s[1]));
  EXPECT_EQ(pool.get(&s[3], nullptr, 0, &flush), a1);
  EXPECT_FALSE(flush);
}

TEST(AsidPool, RolloverKeepsRunningSpacesAndAsksForAFlush) {
  AsidPool pool(2);  // 3 usable
  PageInfo s[5] = {};
  bool flush = false;
  for (int i = 0; i < 3; ++i) pool.get(&s[i], nullptr, 0, &flush);
  PageInfo* running[2] = {&s[0], nullptr};
  uint32_t kept = s[0].asid;
  uint32_t a = pool.get(&s[3], running, 2, &flush);
  EXPECT_TRUE(flush);
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, kept);
  EXPECT_TRUE(pool.live(s[0]));
  EXPECT_EQ(s[0].asid, kept);
  EXPECT_FALSE(pool.live(s[1]));  // stale: gets a new one when it runs again
  EXPECT_FALSE(pool.live(s[2]));
  uint32_t b = pool.get(&s[1], running, 2, &flush);
  EXPECT_FALSE(flush);
  EXPECT_NE(b, kept);
  EXPECT_NE(b, a);
  // Many more spaces than ASIDs: every get succeeds, live ASIDs never collide.
  std::vector<PageInfo> many(100);
  for (auto& m : many) {
    uint32_t x = pool.get(&m, running, 2, &flush);
    EXPECT_NE(x, 0u);
    EXPECT_TRUE(pool.live(s[0]));
    EXPECT_NE(x, s[0].asid);
  }
}

}  // namespace
}  // namespace keel::object
