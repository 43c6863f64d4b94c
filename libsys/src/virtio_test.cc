// The virtio-mmio transport and split virtqueue against an emulated device
// (host memory for the DMA region; the "device" reads the available ring
// and writes used entries as a real one would, or as a hostile one might).
#include "keel/virtio.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace keel::virtio {
namespace {

// Registers: a map; Status and FEATURES_OK behave as the device chooses.
struct FakeDevice final : Regs {
  std::map<uint32_t, uint32_t> reg;
  uint64_t offered = kFeatureVersion1 | 1;  // VERSION_1 and one device bit
  uint64_t driver_features = 0;
  bool refuse_features = false;
  bool never_resets = false;
  int notifies = 0;
  MmioTransport mmio{*this};
  FakeDevice() {
    reg[kMagic] = kMagicValue;
    reg[kVersion] = kModernVersion;
    reg[kDeviceId] = kBlock;
    reg[kQueueNumMax] = 256;
  }
  uint32_t read(uint32_t off) override {
    if (off == kDeviceFeatures) return static_cast<uint32_t>(offered >> (reg[kDeviceFeaturesSel] ? 32 : 0));
    if (off == kStatus && never_resets) return 1;
    return reg[off];
  }
  void write(uint32_t off, uint32_t v) override {
    if (off == kDriverFeatures) {
      driver_features |= uint64_t{v} << (reg[kDriverFeaturesSel] ? 32 : 0);
      return;
    }
    if (off == kStatus && refuse_features) v &= ~kFeaturesOk;
    if (off == kQueueNotify) ++notifies;
    reg[off] = v;
  }
};

TEST(VirtioTransport, ChecksMagicVersionAndDevice) {
  FakeDevice d;
  EXPECT_EQ(check_transport(d, kBlock), nullptr);
  EXPECT_STREQ(check_transport(d, kNet), "a different kind of virtio device");
  d.reg[kVersion] = 1;
  EXPECT_NE(std::string(check_transport(d, kBlock)).find("-global virtio-mmio.force-legacy=false"), std::string::npos);
  d.reg[kVersion] = 2;
  d.reg[kDeviceId] = 0;
  EXPECT_STREQ(check_transport(d, kBlock), "no device behind this transport");
  d.reg[kMagic] = 0x12345678;
  EXPECT_STREQ(check_transport(d, kBlock), "not a virtio-mmio transport (bad magic)");
}

TEST(VirtioTransport, NegotiatesOnlyWhatBothSidesKnow) {
  FakeDevice d;
  d.offered = kFeatureVersion1 | (1u << 5) | (1u << 9);
  uint64_t got = 0;
  ASSERT_EQ(negotiate(d.mmio, (1u << 9) | (1u << 20), &got), nullptr);
  EXPECT_EQ(got, kFeatureVersion1 | (1u << 9)) << "bit 5 not wanted, bit 20 not offered";
  EXPECT_EQ(d.driver_features, got);
  EXPECT_EQ(d.reg[kStatus], kAcknowledge | kDriver | kFeaturesOk);

  FakeDevice legacy_only;
  legacy_only.offered = 1;
  EXPECT_STREQ(negotiate(legacy_only.mmio, 1, &got), "the device does not offer VIRTIO_F_VERSION_1");
  EXPECT_NE(legacy_only.reg[kStatus] & kFailed, 0u);

  FakeDevice refuses;
  refuses.refuse_features = true;
  EXPECT_STREQ(negotiate(refuses.mmio, 0, &got), "the device refused the features (FEATURES_OK did not stay set)");
  EXPECT_NE(refuses.reg[kStatus] & kFailed, 0u);

  FakeDevice stuck;
  stuck.never_resets = true;
  EXPECT_STREQ(negotiate(stuck.mmio, 0, &got), "the device does not reset (Status never reads 0)");
}

// A page-aligned DMA region in host memory (VA = PA for the test).
struct Memory {
  void* p = std::aligned_alloc(4096, Queue::kBytes);
  ~Memory() { std::free(p); }
  DmaRegion region() const { return {reinterpret_cast<uint64_t>(p), reinterpret_cast<uint64_t>(p), Queue::kBytes}; }
  uint16_t* avail() const { return reinterpret_cast<uint16_t*>(static_cast<uint8_t*>(p) + 4096); }
  uint16_t* used_hdr() const { return reinterpret_cast<uint16_t*>(static_cast<uint8_t*>(p) + 8192); }
  UsedElem* used() const { return reinterpret_cast<UsedElem*>(static_cast<uint8_t*>(p) + 8192 + 4); }
  // The device completes `id` with `len` bytes.
  void complete(uint32_t id, uint32_t len, uint16_t size) {
    used()[used_hdr()[1] % size] = UsedElem{id, len};
    ++used_hdr()[1];
  }
};

TEST(VirtioQueue, SetupProgramsTheRingsAndCapsTheSize) {
  FakeDevice d;
  Memory m;
  Queue q;
  ASSERT_EQ(q.setup(d.mmio, 0, m.region()), nullptr);
  EXPECT_EQ(q.size(), Queue::kMaxQueueSize) << "QueueNumMax 256, capped";
  EXPECT_EQ(d.reg[kQueueNum], Queue::kMaxQueueSize);
  EXPECT_EQ(d.reg[kQueueReady], 1u);
  const uint64_t pa = m.region().pa;
  EXPECT_EQ(d.reg[kQueueDescLow] | uint64_t{d.reg[kQueueDescHigh]} << 32, pa);
  EXPECT_EQ(d.reg[kQueueDriverLow] | uint64_t{d.reg[kQueueDriverHigh]} << 32, pa + 4096);
  EXPECT_EQ(d.reg[kQueueDeviceLow] | uint64_t{d.reg[kQueueDeviceHigh]} << 32, pa + 8192);
  FakeDevice small;
  small.reg[kQueueNumMax] = 100;
  Queue q2;
  ASSERT_EQ(q2.setup(small.mmio, 0, m.region()), nullptr);
  EXPECT_EQ(q2.size(), 64) << "never more than the device's maximum";
  small.reg[kQueueReady] = 1;
  EXPECT_STREQ(q2.setup(small.mmio, 0, m.region()), "the queue is in use already");
  FakeDevice none;
  none.reg[kQueueNumMax] = 0;
  EXPECT_STREQ(q2.setup(none.mmio, 1, m.region()), "the device has no such queue");
}

TEST(VirtioQueue, ChainsSubmitCompleteAndRecycle) {
  FakeDevice d;
  Memory m;
  Queue q;
  ASSERT_EQ(q.setup(d.mmio, 0, m.region()), nullptr);
  const uint16_t n = q.size();
  int head = q.alloc_chain(3);
  ASSERT_GE(head, 0);
  EXPECT_EQ(q.free_count(), n - 3);
  EXPECT_EQ(q.desc(head).flags & kDescNext, kDescNext);
  q.submit(d.mmio, static_cast<uint16_t>(head));
  EXPECT_EQ(m.avail()[1], 1) << "avail idx";
  EXPECT_EQ(m.avail()[2], head);
  EXPECT_EQ(d.notifies, 1);
  uint16_t got = 0;
  uint32_t len = 0;
  EXPECT_FALSE(q.take(&got, &len)) << "nothing used yet";
  m.complete(static_cast<uint32_t>(head), 512, n);
  ASSERT_TRUE(q.take(&got, &len));
  EXPECT_EQ(got, head);
  EXPECT_EQ(len, 512u);
  EXPECT_EQ(q.free_count(), n);
  // Every descriptor can be used again and again: the free list holds.
  for (int round = 0; round < 3 * n; ++round) {
    int h = q.alloc_chain(1 + round % 3);
    ASSERT_GE(h, 0) << round;
    q.submit(d.mmio, static_cast<uint16_t>(h));
    m.complete(static_cast<uint32_t>(h), 1, n);
    ASSERT_TRUE(q.take(&got, &len));
    ASSERT_EQ(got, h);
  }
  EXPECT_EQ(q.free_count(), n);
  EXPECT_EQ(q.alloc_chain(n + 1), -1);
  EXPECT_EQ(q.alloc_chain(0), -1);
}

TEST(VirtioQueue, InjectedWildDescriptorHitsOnlyTheNextChain) {
  FakeDevice d;
  Memory m;
  Queue q;
  ASSERT_EQ(q.setup(d.mmio, 0, m.region()), nullptr);
  int a = q.alloc_chain(1);
  ASSERT_GE(a, 0);
  q.desc(static_cast<uint16_t>(a)) = Desc{.addr = 0x4000'0000, .len = 512, .flags = 0, .next = 0};
  q.inject_wild();
  q.submit(d.mmio, static_cast<uint16_t>(a));
  EXPECT_EQ(q.desc(static_cast<uint16_t>(a)).addr, Queue::kWildAddress);
  EXPECT_EQ(q.desc(static_cast<uint16_t>(a)).len, Queue::kWildLength);
  int b = q.alloc_chain(1);
  ASSERT_GE(b, 0);
  q.desc(static_cast<uint16_t>(b)) = Desc{.addr = 0x4000'1000, .len = 512, .flags = 0, .next = 0};
  q.submit(d.mmio, static_cast<uint16_t>(b));
  EXPECT_EQ(q.desc(static_cast<uint16_t>(b)).addr, 0x4000'1000u) << "once only";
  EXPECT_FALSE(needs_reset(d.mmio));
  d.reg[kStatus] |= kNeedsReset;
  EXPECT_TRUE(needs_reset(d.mmio));
}

TEST(VirtioQueue, AHostileDeviceCannotCorruptTheFreeList) {
  FakeDevice d;
  Memory m;
  Queue q;
  ASSERT_EQ(q.setup(d.mmio, 0, m.region()), nullptr);
  const uint16_t n = q.size();
  int head = q.alloc_chain(2);
  q.submit(d.mmio, static_cast<uint16_t>(head));
  m.complete(9999, 4, n);                             // out of range
  m.complete(static_cast<uint32_t>(head) + 1, 4, n);  // inside the chain, not its head
  m.complete(static_cast<uint32_t>(head), 4, n);      // the real one
  m.complete(static_cast<uint32_t>(head), 4, n);      // again: no longer in flight
  uint16_t got = 0;
  uint32_t len = 0;
  ASSERT_TRUE(q.take(&got, &len));
  EXPECT_EQ(got, head);
  EXPECT_FALSE(q.take(&got, &len));
  EXPECT_EQ(q.bad_completions(), 3u);
  EXPECT_EQ(q.free_count(), n) << "each descriptor freed exactly once";
  // The device rewrote the chain's next fields: freeing does not follow them.
  head = q.alloc_chain(2);
  q.desc(static_cast<uint16_t>(head)).next = static_cast<uint16_t>(head);
  q.submit(d.mmio, static_cast<uint16_t>(head));
  m.complete(static_cast<uint32_t>(head), 0, n);
  ASSERT_TRUE(q.take(&got, &len));
  EXPECT_EQ(q.free_count(), n);
  std::map<int, int> seen;
  for (uint16_t i = 0; i < n; ++i) ++seen[q.alloc_chain(1)];
  EXPECT_EQ(seen.size(), n) << "n distinct descriptors, none twice";
}

TEST(VirtioQueue, NoKickWhenTheDeviceSaysSo) {
  FakeDevice d;
  Memory m;
  Queue q;
  ASSERT_EQ(q.setup(d.mmio, 0, m.region()), nullptr);
  m.used_hdr()[0] = 1;  // VIRTQ_USED_F_NO_NOTIFY
  q.submit(d.mmio, static_cast<uint16_t>(q.alloc_chain(1)));
  EXPECT_EQ(d.notifies, 0);
}

}  // namespace
}  // namespace keel::virtio
