// The virtio-pci capability reader against an emulated config space laid
// out with QEMU's virtio-blk-pci (modern) BAR layout, and against broken or
// hostile capability lists.
#include "keel/virtio_pci.h"

#include <gtest/gtest.h>

#include <cstring>
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

}  // namespace
}  // namespace keel::virtio
