// The virtio-pci capability reader against an emulated config space laid
// out with QEMU's virtio-blk-pci (modern) BAR layout, and against broken or
// hostile capability lists.
#include "keel/virtio_pci.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

namespace keel::virtio {
namespace {

// One function's 256 bytes of config space.
struct FakeFunction final : pci::Config {
  uint8_t space[256] = {};
  uint32_t read32(uint32_t, uint32_t off) override {
    uint32_t v = 0;
    if (off + 4 <= sizeof space) memcpy(&v, space + off, 4);
    return v;
  }
  void write32(uint32_t, uint32_t, uint32_t) override {}
  void put32(uint32_t off, uint32_t v) { memcpy(space + off, &v, 4); }
  // A vendor capability at `at` linking to `next`.
  void cap(uint32_t at, uint32_t next, uint8_t type, uint8_t bar, uint32_t offset, uint32_t length, uint8_t len = 16) {
    put32(at, 0x09 | next << 8 | uint32_t{len} << 16 | uint32_t{type} << 24);
    put32(at + 4, bar);
    put32(at + 8, offset);
    put32(at + 12, length);
  }
};

pci::Function blk_function() {
  pci::Function f;
  f.vendor = kVirtioVendor;
  f.device = 0x1042;
  f.bars[4] = {.size = 0x4000,
               .io = false,
               .mem64 = true,
               .prefetchable = true,
               .pci_address = 0x8000000000,
               .cpu_address = 0x8000000000};
  return f;
}

// QEMU's layout: common, ISR, device, notify in BAR 4 (4 KiB each), a
// PCI-config-access capability last.
void qemu_layout(FakeFunction* c) {
  c->put32(pci::kCommandStatus, 0x10u << 16);  // Status: capability list
  c->put32(pci::kCapabilities, 0x90);
  c->cap(0x90, 0x80, kPciCommon, 4, 0x0000, 0x1000);
  c->cap(0x80, 0x70, kPciIsr, 4, 0x1000, 0x1000);
  c->cap(0x70, 0x58, kPciDevice, 4, 0x2000, 0x1000);
  c->cap(0x58, 0x40, kPciNotify, 4, 0x3000, 0x1000, 20);
  c->put32(0x58 + 16, 4);  // notify_off_multiplier
  c->cap(0x40, 0x00, kPciConfigAccess, 0, 0, 0, 20);
}

TEST(VirtioPci, FindsQemusLayout) {
  FakeFunction c;
  qemu_layout(&c);
  const pci::Function f = blk_function();
  EXPECT_EQ(pci_device_type(f), 2u) << "block";
  PciLayout l;
  ASSERT_EQ(find_pci_layout(c, f, &l), nullptr);
  EXPECT_EQ(l.common.bar, 4);
  EXPECT_EQ(l.common.offset, 0u);
  EXPECT_EQ(l.isr.offset, 0x1000u);
  EXPECT_EQ(l.device.offset, 0x2000u);
  EXPECT_EQ(l.notify.offset, 0x3000u);
  EXPECT_EQ(l.notify_multiplier, 4u);
}

TEST(VirtioPci, RefusesWhatItCannotUse) {
  pci::Function f = blk_function();
  PciLayout l;
  {
    FakeFunction c;  // no capability list
    EXPECT_STREQ(find_pci_layout(c, f, &l), "it has no capability list");
  }
  {
    FakeFunction c;
    qemu_layout(&c);
    c.cap(0x90, 0x80, kPciCommon, 4, 0x3f00, 0x1000);  // past the end of BAR 4
    EXPECT_STREQ(find_pci_layout(c, f, &l), "no usable common configuration capability");
  }
  {
    FakeFunction c;
    qemu_layout(&c);
    c.cap(0x90, 0x80, kPciCommon, 7, 0, 0x1000);  // BAR 7 does not exist
    EXPECT_NE(find_pci_layout(c, f, &l), nullptr);
  }
  {
    FakeFunction c;
    qemu_layout(&c);
    c.put32(0x58 + 16, 3);  // an odd multiplier
    EXPECT_STREQ(find_pci_layout(c, f, &l), "its notify_off_multiplier is not 0 or an even power of 2");
  }
  {
    FakeFunction c;
    qemu_layout(&c);
    c.cap(0x90, 0x80, kPciCommon, 4, 0, 0x20);  // too short for the common fields
    EXPECT_STREQ(find_pci_layout(c, f, &l), "its common configuration is shorter than the spec's fields");
  }
  {
    FakeFunction c;
    qemu_layout(&c);
    pci::Function unplaced = f;
    unplaced.bars[4].cpu_address = 0;  // BAR 4 not placed by the bus task
    EXPECT_NE(find_pci_layout(c, unplaced, &l), nullptr);
  }
  {
    FakeFunction c;  // a list that loops back on itself: cut off, not endless
    qemu_layout(&c);
    c.cap(0x40, 0x90, kPciConfigAccess, 0, 0, 0, 20);
    EXPECT_EQ(find_pci_layout(c, f, &l), nullptr);
  }
  pci::Function legacy = f;
  legacy.device = 0x1001;  // transitional block device
  EXPECT_EQ(pci_device_type(legacy), 0u);
}

// A modern virtio-pci device's structures, emulated: the common
// configuration (feature windows, status, per-queue registers selected by
// queue_select), the notify area (doorbell writes recorded), the ISR byte
// (cleared on read) and a device configuration.
struct FakeStructures {
  struct Common final : Io {
    FakeStructures* dev;
    uint32_t read(uint32_t off, unsigned bytes) override { return dev->common_read(off, bytes); }
    void write(uint32_t off, uint32_t v, unsigned bytes) override { dev->common_write(off, v, bytes); }
  } common{};
  struct Notify final : Io {
    std::vector<std::pair<uint32_t, uint32_t>> writes;  // (offset, value)
    uint32_t read(uint32_t, unsigned) override { return 0; }
    void write(uint32_t off, uint32_t v, unsigned bytes) override {
      EXPECT_EQ(bytes, 2u) << "a doorbell is a 16-bit write";
      writes.push_back({off, v});
    }
  } notify;
  struct Isr final : Io {
    uint32_t value = 0;
    uint32_t read(uint32_t, unsigned) override { return std::exchange(value, 0); }
    void write(uint32_t, uint32_t, unsigned) override {}
  } isr;
  struct Device final : Io {
    uint32_t read(uint32_t off, unsigned) override { return off == 0 ? 0x800 : 0; }  // capacity: 2048 sectors
    void write(uint32_t, uint32_t, unsigned) override {}
  } device;
  uint64_t offered = kFeatureVersion1 | (1u << 9), accepted = 0;
  uint32_t feature_select = 0, driver_select = 0, status = 0, queue = 0;
  struct Q {
    uint32_t size = 0, max = 256, enable = 0, notify_off = 0;
    uint64_t desc = 0, driver = 0, device = 0;
  } queues[2];
  FakeStructures() {
    common.dev = this;
    queues[1].notify_off = 1;
  }
  uint32_t common_read(uint32_t off, unsigned bytes) {
    switch (off) {
      case kPciDeviceFeature: EXPECT_EQ(bytes, 4u); return static_cast<uint32_t>(offered >> (32 * feature_select));
      case kPciNumQueues: EXPECT_EQ(bytes, 2u); return 2;
      case kPciDeviceStatus: EXPECT_EQ(bytes, 1u); return status;
      case kPciConfigGeneration: return 0;
      case kPciQueueSize: EXPECT_EQ(bytes, 2u); return queues[queue].size ? queues[queue].size : queues[queue].max;
      case kPciQueueEnable: return queues[queue].enable;
      case kPciQueueNotifyOff: EXPECT_EQ(bytes, 2u); return queues[queue].notify_off;
      default: return 0;
    }
  }
  void common_write(uint32_t off, uint32_t v, unsigned bytes) {
    auto half = [&](uint64_t* field, uint32_t at) {
      EXPECT_EQ(bytes, 4u);
      const int shift = off == at ? 0 : 32;
      *field = (*field & ~(0xffffffffull << shift)) | uint64_t{v} << shift;
    };
    Q& q = queues[queue];
    switch (off) {
      case kPciDeviceFeatureSelect: feature_select = v; break;
      case kPciDriverFeatureSelect: driver_select = v; break;
      case kPciDriverFeature:
        accepted = (accepted & ~(0xffffffffull << (32 * driver_select))) | uint64_t{v} << (32 * driver_select);
        break;
      case kPciDeviceStatus:
        EXPECT_EQ(bytes, 1u) << "device_status is one byte";
        status = v;
        break;
      case kPciQueueSelect:
        EXPECT_EQ(bytes, 2u);
        queue = v < 2 ? v : 0;
        break;
      case kPciQueueSize: q.size = v; break;
      case kPciQueueEnable: q.enable = v; break;
      case kPciQueueDesc:
      case kPciQueueDesc + 4: half(&q.desc, kPciQueueDesc); break;
      case kPciQueueDriver:
      case kPciQueueDriver + 4: half(&q.driver, kPciQueueDriver); break;
      case kPciQueueDevice:
      case kPciQueueDevice + 4: half(&q.device, kPciQueueDevice); break;
      default: break;
    }
  }
};

// The transport-independent code (negotiate, Queue) runs over PCI as over MMIO.
TEST(VirtioPci, TransportDrivesNegotiationAndQueues) {
  FakeStructures dev;
  PciTransport t(dev.common, dev.notify, 0x1000, 4, dev.isr, dev.device);
  uint64_t got = 0;
  ASSERT_EQ(negotiate(t, 1u << 9, &got), nullptr);
  EXPECT_EQ(got, kFeatureVersion1 | (1u << 9));
  EXPECT_EQ(dev.accepted, got);
  EXPECT_EQ(dev.status, kAcknowledge | kDriver | kFeaturesOk);
  EXPECT_EQ(t.config32(0), 0x800u);
  void* mem = aligned_alloc(4096, Queue::kBytes);
  ASSERT_NE(mem, nullptr);
  const uint64_t va = reinterpret_cast<uint64_t>(mem);
  Queue q;
  ASSERT_EQ(q.setup(t, 1, {va, 0x4000'0000, Queue::kBytes}), nullptr);
  EXPECT_EQ(dev.queues[1].size, 128u) << "capped at kMaxQueueSize";
  EXPECT_EQ(dev.queues[1].desc, 0x4000'0000u);
  EXPECT_EQ(dev.queues[1].driver, 0x4000'1000u);
  EXPECT_EQ(dev.queues[1].device, 0x4000'2000u);
  EXPECT_EQ(dev.queues[1].enable, 1u);
  const int head = q.alloc_chain(1);
  ASSERT_GE(head, 0);
  q.submit(t, static_cast<uint16_t>(head));
  ASSERT_EQ(dev.notify.writes.size(), 1u);
  EXPECT_EQ(dev.notify.writes[0].first, 4u) << "queue_notify_off 1 x multiplier 4";
  EXPECT_EQ(dev.notify.writes[0].second, 1u) << "the queue's index";
  dev.isr.value = kUsedBuffer;
  EXPECT_EQ(t.take_interrupt_status(), kUsedBuffer);
  EXPECT_EQ(t.take_interrupt_status(), 0u) << "reading ISR acknowledged it";
  EXPECT_EQ(t.queue_max(2), 0u) << "a queue the device does not have";
  // A device that points a queue's doorbell past its notify structure: the
  // queue is refused, nothing enabled, no write anywhere.
  FakeStructures bad;
  bad.queues[0].notify_off = 0x800;  // x 4 = 8 KiB into a 4 KiB structure
  PciTransport tb(bad.common, bad.notify, 0x1000, 4, bad.isr, bad.device);
  Queue q2;
  EXPECT_STREQ(q2.setup(tb, 0, {va, 0x4000'0000, Queue::kBytes}),
               "the device's notification address for the queue is outside its notify structure");
  EXPECT_EQ(bad.queues[0].enable, 0u);
  free(mem);
}

}  // namespace
}  // namespace keel::virtio
