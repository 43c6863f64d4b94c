#include "kernel/object/capability.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace keel::object {
namespace {

using abi::ObjectType;

struct Recorder {
  std::vector<std::pair<ObjectType, uint64_t>> made;
  std::vector<Capability> destroyed;
  ObjectHooks hooks() {
    return ObjectHooks{
        .init =
            [](void* c, ObjectType t, uint64_t pa, unsigned) {
              static_cast<Recorder*>(c)->made.push_back({t, pa});
            },
        .destroy = [](void* c, const Capability& cap) { static_cast<Recorder*>(c)->destroyed.push_back(cap); },
        .ctx = this};
  }
};

constexpr uint64_t kRam = 0x4000'0000;

class CapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Capability ut{.type = ObjectType::kUntyped, .rights = abi::kRightsAll, .size_bits = 20, .object = kRam};
    ASSERT_EQ(insert_original(&s[0], ut), Status::kOk);
  }
  Status Retype(ObjectType t, unsigned bits, const std::vector<int>& idx, int from = 0) {
    std::vector<Slot*> d;
    d.reserve(idx.size());
    for (int i : idx) d.push_back(&s[i]);
    return retype(&s[from], t, bits, d.data(), d.size(), rec.hooks());
  }
  Slot s[64];
  Recorder rec;
};

TEST_F(CapTest, RetypePlacesAlignedObjectsAndAdvancesTheWatermark) {
  ASSERT_EQ(Retype(ObjectType::kEndpoint, 0, {1, 2}), Status::kOk);
  EXPECT_EQ(s[1].cap.object, kRam);
  EXPECT_EQ(s[2].cap.object, kRam + 64);
  ASSERT_EQ(Retype(ObjectType::kFrame4K, 0, {3}), Status::kOk);
  EXPECT_EQ(s[3].cap.object, kRam + 4096) << "aligned to the object's size";
  EXPECT_EQ(s[0].cap.watermark, 8192u);
  ASSERT_EQ(Retype(ObjectType::kCNode, 4, {4}), Status::kOk);  // 16 slots = 1 KiB
  EXPECT_EQ(s[4].cap.size_bits, 4u);
  EXPECT_EQ(rec.made.size(), 4u);
  EXPECT_TRUE(has_children(&s[0]));
  EXPECT_EQ(parent_of(&s[1]), &s[0]);
}

TEST_F(CapTest, RetypeErrors) {
  EXPECT_EQ(Retype(ObjectType::kFrame2M, 0, {1}), Status::kNoMemory) << "2 MiB does not fit in 1 MiB";
  EXPECT_EQ(Retype(ObjectType::kFrame4K, 0, {1, 1}), Status::kInvalidArgument) << "the same destination twice";
  EXPECT_EQ(Retype(ObjectType::kIrqControl, 0, {1}), Status::kInvalidArgument);
  EXPECT_EQ(Retype(ObjectType::kCNode, 0, {1}), Status::kInvalidArgument);
  EXPECT_EQ(Retype(ObjectType::kUntyped, 8, {1}), Status::kInvalidArgument) << "untyped below 4 KiB";
  EXPECT_EQ(Retype(ObjectType::kEndpoint, 0, {0}), Status::kInvalidArgument) << "into its own slot";
  EXPECT_EQ(Retype(ObjectType::kEndpoint, 0, {5}, /*from=*/6), Status::kInvalidCapability) << "empty source";
  ASSERT_EQ(Retype(ObjectType::kEndpoint, 0, {1}), Status::kOk);
  EXPECT_EQ(Retype(ObjectType::kEndpoint, 0, {1}), Status::kSlotOccupied);
  EXPECT_EQ(Retype(ObjectType::kEndpoint, 0, {2}, /*from=*/1), Status::kInvalidCapability) << "not an untyped";
  // Fill the region exactly, then one more fails without side effects.
  Slot big[256];
  std::vector<Slot*> d;
  for (Slot& x : big) d.push_back(&x);
  ASSERT_EQ(retype(&s[0], ObjectType::kFrame4K, 0, d.data(), 255, rec.hooks()), Status::kOk);
  uint64_t wm = s[0].cap.watermark;
  EXPECT_EQ(wm, 1u << 20);
  EXPECT_EQ(retype(&s[0], ObjectType::kEndpoint, 0, &d[255], 1, rec.hooks()), Status::kNoMemory);
  EXPECT_EQ(s[0].cap.watermark, wm);
  EXPECT_TRUE(big[255].empty());
}

TEST_F(CapTest, DeviceUntypedOnlyMakesFramesAndUntyped) {
  Capability dev{.type = ObjectType::kUntyped,
                 .rights = abi::kRightsAll,
                 .size_bits = 16,
                 .flags = kFlagDevice,
                 .object = 0x0900'0000};
  ASSERT_EQ(insert_original(&s[40], dev), Status::kOk);
  EXPECT_EQ(Retype(ObjectType::kThread, 0, {41}, 40), Status::kInvalidArgument);
  EXPECT_EQ(Retype(ObjectType::kCNode, 2, {41}, 40), Status::kInvalidArgument);
  ASSERT_EQ(Retype(ObjectType::kFrame4K, 0, {41}, 40), Status::kOk);
  EXPECT_EQ(s[41].cap.flags, kFlagDevice);
  EXPECT_TRUE(rec.made.empty()) << "device memory is never zeroed or constructed";
}

TEST_F(CapTest, MintReducesRightsAndBadgesOnce) {
  ASSERT_EQ(Retype(ObjectType::kEndpoint, 0, {1}), Status::kOk);
  ASSERT_EQ(derive(&s[1], &s[2], abi::kRightWrite, 42), Status::kOk);
  EXPECT_EQ(s[2].cap.badge, 42u);
  EXPECT_EQ(s[2].cap.rights, abi::kRightWrite);
  EXPECT_EQ(parent_of(&s[2]), &s[1]);
  EXPECT_EQ(derive(&s[2], &s[3], abi::kRightWrite, 7), Status::kInvalidArgument) << "no rebadging";
  EXPECT_EQ(derive(&s[2], &s[3], abi::kRightWrite | abi::kRightRead, 0), Status::kInsufficientRights);
  ASSERT_EQ(derive(&s[2], &s[3], abi::kRightWrite, 0), Status::kOk);
  EXPECT_EQ(s[3].cap.badge, 42u) << "a copy keeps the badge";
  EXPECT_EQ(derive(&s[1], &s[3], abi::kRightWrite, 0), Status::kSlotOccupied);
  EXPECT_EQ(derive(&s[0], &s[4], abi::kRightsAll, 0), Status::kInvalidCapability) << "untyped is not copied";
  ASSERT_EQ(Retype(ObjectType::kFrame4K, 0, {5}), Status::kOk);
  EXPECT_EQ(derive(&s[5], &s[6], abi::kRightRead, 9), Status::kInvalidArgument) << "frames carry no badge";
}

TEST_F(CapTest, DeleteDestroysOnlyWithTheFinalCapability) {
  ASSERT_EQ(Retype(ObjectType::kEndpoint, 0, {1}), Status::kOk);
  ASSERT_EQ(derive(&s[1], &s[2], abi::kRightsAll, 0), Status::kOk);
  ASSERT_EQ(remove(&s[1], rec.hooks()), Status::kOk);
  EXPECT_TRUE(rec.destroyed.empty()) << "a copy still names the endpoint";
  EXPECT_TRUE(s[1].empty());
  ASSERT_EQ(remove(&s[2], rec.hooks()), Status::kOk);
  ASSERT_EQ(rec.destroyed.size(), 1u);
  EXPECT_EQ(rec.destroyed[0].type, ObjectType::kEndpoint);
  EXPECT_EQ(remove(&s[2], rec.hooks()), Status::kInvalidCapability);
}

// Found by capability_fuzz: deleting a capability whose copies follow it
// left them at their depth, behind its previous sibling's subtree — so a
// revoke of that unrelated sibling removed them.
TEST_F(CapTest, DeletedParentsChildrenMoveUpNotUnderASibling) {
  ASSERT_EQ(Retype(ObjectType::kEndpoint, 0, {1}), Status::kOk);  // s1: endpoint A
  ASSERT_EQ(Retype(ObjectType::kFrame4K, 0, {2}), Status::kOk);   // s2: frame B (linked right after the untyped)
  // List: untyped, B, A. A copy of each, right after its source.
  ASSERT_EQ(derive(&s[2], &s[3], abi::kRightsAll, 0), Status::kOk);  // B' after B
  ASSERT_EQ(derive(&s[1], &s[4], abi::kRightsAll, 0), Status::kOk);  // A' after A
  // Delete B: B' must become a child of the untyped, not of A (or of what precedes).
  ASSERT_EQ(remove(&s[2], rec.hooks()), Status::kOk);
  EXPECT_EQ(parent_of(&s[3]), &s[0]);
  ASSERT_EQ(revoke(&s[1], rec.hooks()), Status::kOk);  // A's own descendants: A' only
  EXPECT_TRUE(s[4].empty());
  EXPECT_FALSE(s[3].empty()) << "revoking the endpoint removed a copy of the frame";
  ASSERT_EQ(revoke(&s[0], rec.hooks()), Status::kOk);
  EXPECT_TRUE(s[3].empty()) << "the frame copy is still the untyped's descendant";
}

TEST_F(CapTest, MoveKeepsTheTreePosition) {
  ASSERT_EQ(Retype(ObjectType::kNotification, 0, {1}), Status::kOk);
  ASSERT_EQ(derive(&s[1], &s[2], abi::kRightsAll, 5), Status::kOk);
  ASSERT_EQ(move(&s[2], &s[9]), Status::kOk);
  EXPECT_TRUE(s[2].empty());
  EXPECT_EQ(s[9].cap.badge, 5u);
  EXPECT_EQ(first_child(&s[1]), &s[9]);
  EXPECT_EQ(move(&s[2], &s[10]), Status::kInvalidCapability);
  ASSERT_EQ(derive(&s[1], &s[3], abi::kRightsAll, 0), Status::kOk);
  EXPECT_EQ(move(&s[3], &s[9]), Status::kSlotOccupied);
  ASSERT_EQ(revoke(&s[1], rec.hooks()), Status::kOk);
  EXPECT_TRUE(s[9].empty()) << "the moved child is still revoked through its parent";
}

TEST_F(CapTest, RevokingUntypedDestroysEverythingAndFreesTheMemory) {
  ASSERT_EQ(Retype(ObjectType::kEndpoint, 0, {1, 2}), Status::kOk);
  ASSERT_EQ(Retype(ObjectType::kThread, 0, {3}), Status::kOk);
  ASSERT_EQ(Retype(ObjectType::kUntyped, 14, {4}), Status::kOk);
  ASSERT_EQ(Retype(ObjectType::kFrame4K, 0, {5}, /*from=*/4), Status::kOk);
  ASSERT_EQ(derive(&s[1], &s[6], abi::kRightWrite, 3), Status::kOk);
  ASSERT_EQ(derive(&s[6], &s[7], abi::kRightWrite, 0), Status::kOk);
  ASSERT_EQ(revoke(&s[0], rec.hooks()), Status::kOk);
  for (int i = 1; i <= 7; ++i) EXPECT_TRUE(s[i].empty()) << i;
  std::set<ObjectType> kinds;
  for (auto& c : rec.destroyed) kinds.insert(c.type);
  EXPECT_EQ(rec.destroyed.size(), 4u) << "2 endpoints, a thread, a frame: once each";
  EXPECT_TRUE(kinds.count(ObjectType::kThread));
  EXPECT_TRUE(kinds.count(ObjectType::kFrame4K));
  EXPECT_EQ(s[0].cap.watermark, 0u);
  EXPECT_FALSE(has_children(&s[0]));
  // The memory can be handed out again from the start.
  ASSERT_EQ(Retype(ObjectType::kFrame4K, 0, {1}), Status::kOk);
  EXPECT_EQ(s[1].cap.object, kRam);
}

TEST_F(CapTest, RevokeOfAMintedCapOnlyTakesItsSubtree) {
  ASSERT_EQ(Retype(ObjectType::kEndpoint, 0, {1}), Status::kOk);
  ASSERT_EQ(derive(&s[1], &s[2], abi::kRightWrite, 1), Status::kOk);
  ASSERT_EQ(derive(&s[1], &s[3], abi::kRightWrite, 2), Status::kOk);
  ASSERT_EQ(derive(&s[2], &s[4], abi::kRightWrite, 0), Status::kOk);
  ASSERT_EQ(revoke(&s[2], rec.hooks()), Status::kOk);
  EXPECT_FALSE(s[2].empty());
  EXPECT_TRUE(s[4].empty());
  EXPECT_FALSE(s[3].empty()) << "a sibling is not a descendant";
  EXPECT_TRUE(rec.destroyed.empty());
}

// The hostile shape of the bounded-time issue: a chain of copies, each the
// child of the one before. Removing a link in the middle re-parents the
// rest of the chain to the link's parent without visiting it (O(1)); the
// object dies with its last copy, wherever that is.
// s[0] an untyped, s[1] one object of `type` from it, s[i] a copy of s[i - 1].
void MakeChain(std::vector<Slot>& s, ObjectType type, Recorder& rec) {
  Capability ut{.type = ObjectType::kUntyped, .rights = abi::kRightsAll, .size_bits = 20, .object = kRam};
  ASSERT_EQ(insert_original(&s[0], ut), Status::kOk);
  Slot* d = &s[1];
  ASSERT_EQ(retype(&s[0], type, 0, &d, 1, rec.hooks()), Status::kOk);
  for (size_t i = 2; i < s.size(); ++i) ASSERT_EQ(derive(&s[i - 1], &s[i], abi::kRightsAll, 0), Status::kOk);
}

TEST(CapChain, RemovalInAChainReparentsAndTheObjectDiesWithItsLastCap) {
  constexpr int kN = 5000;
  std::vector<Slot> s(kN + 1);
  Recorder rec;
  MakeChain(s, ObjectType::kEndpoint, rec);
  ASSERT_EQ(parent_of(&s[kN]), &s[kN - 1]);
  ASSERT_EQ(remove(&s[kN / 2], rec.hooks()), Status::kOk);
  EXPECT_EQ(parent_of(&s[kN / 2 + 1]), &s[kN / 2 - 1]) << "the rest of the chain moved up one level";
  int seen = 0;
  for_each_same_object(&s[kN], [&](Slot* x) {
    ++seen;
    EXPECT_EQ(x->cap.type, ObjectType::kEndpoint);
  });
  EXPECT_EQ(seen, kN - 1) << "every remaining copy, from the deepest";
  for (int i = 1; i < kN; ++i) {
    if (i != kN / 2) ASSERT_EQ(remove(&s[i], rec.hooks()), Status::kOk);
  }
  EXPECT_TRUE(rec.destroyed.empty()) << "one copy is left";
  EXPECT_EQ(parent_of(&s[kN]), &s[0]);
  ASSERT_EQ(remove(&s[kN], rec.hooks()), Status::kOk);
  ASSERT_EQ(rec.destroyed.size(), 1u);
  EXPECT_FALSE(has_children(&s[0]));
}

// Revoke of a chain in bounded batches: kRestart with progress until done.
TEST(CapChain, RevokeOfADeepChainIsBatched) {
  constexpr int kN = 1000;
  std::vector<Slot> s(kN + 1);
  Recorder rec;
  MakeChain(s, ObjectType::kFrame4K, rec);
  int calls = 0;
  Status st = Status::kRestart;
  while (st == Status::kRestart) {
    st = revoke(&s[1], rec.hooks());
    ++calls;
  }
  EXPECT_EQ(st, Status::kOk);
  EXPECT_EQ(calls, (kN - 1 + static_cast<int>(kRevokeBatch) - 1) / static_cast<int>(kRevokeBatch));  // 999 in 64s
  for (int i = 2; i <= kN; ++i) ASSERT_TRUE(s[i].empty());
  EXPECT_FALSE(s[1].empty());
}

// An untyped's memory is not reused while hooks.settled says objects in it
// are still being taken apart.
TEST(CapSettled, RevokeOfAnUntypedWaitsUntilSettled) {
  Slot s[4];
  struct Ctx {
    int asked = 0;
  } ctx;
  ObjectHooks hooks{.settled = [](void* c) { return ++static_cast<Ctx*>(c)->asked >= 3; }, .ctx = &ctx};
  Capability ut{.type = ObjectType::kUntyped, .rights = abi::kRightsAll, .size_bits = 20, .object = kRam};
  ASSERT_EQ(insert_original(&s[0], ut), Status::kOk);
  Slot* d = &s[1];
  ASSERT_EQ(retype(&s[0], ObjectType::kFrame4K, 0, &d, 1, hooks), Status::kOk);
  EXPECT_EQ(revoke(&s[0], hooks), Status::kRestart);
  EXPECT_NE(s[0].cap.watermark, 0u) << "not reusable yet";
  EXPECT_EQ(revoke(&s[0], hooks), Status::kRestart);
  EXPECT_EQ(revoke(&s[0], hooks), Status::kOk);
  EXPECT_EQ(s[0].cap.watermark, 0u);
}

TEST(MappingRecord, RoundTripsThroughTheCapability) {
  Capability c{.type = ObjectType::kFrame4K, .rights = abi::kRightsAll, .object = 0x4000'0000};
  EXPECT_FALSE(MappingRecord::in(c));
  const MappingRecord m{.va = 0x7fff'1234'5000, .level = 3, .root = 0x4100'0000, .space_id = 77};
  m.store(&c);
  EXPECT_TRUE(MappingRecord::in(c));
  EXPECT_EQ(MappingRecord::of(c), m);
  EXPECT_EQ(c.badge, 0x7fff'1234'5000ull | (3 << 1) | 1);
  EXPECT_EQ(c.object, 0x4000'0000u) << "the object is untouched";
  MappingRecord::clear(&c);
  EXPECT_FALSE(MappingRecord::in(c));
  EXPECT_EQ(c.watermark, 0u);
  EXPECT_EQ(c.space_id, 0u);
}

TEST(MappingRecord, ACopyOfAMappingCapabilityRecordsNothing) {
  Slot a, b;
  Capability c{.type = ObjectType::kPageTable, .rights = abi::kRightsAll, .object = 0x4000'1000};
  MappingRecord{.va = 0x1000'0000, .level = 2, .root = 0x4100'0000, .space_id = 1}.store(&c);
  ASSERT_EQ(insert_original(&a, c), Status::kOk);
  ASSERT_EQ(derive(&a, &b, abi::kRightsAll, 0), Status::kOk);
  EXPECT_TRUE(MappingRecord::in(a.cap));
  EXPECT_FALSE(MappingRecord::in(b.cap)) << "a mapping belongs to the capability that made it";
}

// Random operation sequences keep the tree well-formed: the ring links are
// consistent, and revoke(untyped) always empties every derived slot.
TEST(CapRandom, TreeStaysConsistent) {
  std::mt19937 rng(99);
  for (int round = 0; round < 50; ++round) {
    Slot s[48];
    Recorder rec;
    ASSERT_EQ(insert_original(
                  &s[0],
                  Capability{.type = ObjectType::kUntyped, .rights = abi::kRightsAll, .size_bits = 22, .object = kRam}),
              Status::kOk);
    for (int op = 0; op < 300; ++op) {
      Slot* a = &s[rng() % 48];
      Slot* b = &s[1 + rng() % 47];
      switch (rng() % 5) {
        case 0: {
          Slot* d = b;
          (void)retype(&s[0], rng() % 2 ? ObjectType::kEndpoint : ObjectType::kFrame4K, 0, &d, 1, rec.hooks());
          break;
        }
        case 1: (void)derive(a, b, abi::kRightWrite, rng() % 3); break;
        case 2:
          if (a != &s[0]) (void)move(a, b);
          break;
        case 3:
          if (a != &s[0]) (void)remove(a, rec.hooks());
          break;
        case 4:
          if (a != &s[0]) (void)revoke(a, rec.hooks());
          break;
      }
      for (Slot& x : s) {
        for (MdbLink* l : {&x.sibling, &x.children}) {
          if (x.empty()) {
            ASSERT_TRUE(l->next == nullptr && l->prev == nullptr);
          } else {
            ASSERT_EQ(l->next->prev, l);
            ASSERT_EQ(l->prev->next, l);
          }
        }
      }
    }
    ASSERT_EQ(revoke(&s[0], rec.hooks()), Status::kOk);
    for (int i = 1; i < 48; ++i) ASSERT_TRUE(s[i].empty()) << "round " << round << " slot " << i;
    // Every object made was destroyed exactly once... frames and endpoints alike.
    std::multiset<uint64_t> made, gone;
    for (auto& m : rec.made) made.insert(m.second);
    for (auto& d : rec.destroyed) gone.insert(d.object);
    EXPECT_EQ(made, gone) << "round " << round;
  }
}

}  // namespace
}  // namespace keel::object
