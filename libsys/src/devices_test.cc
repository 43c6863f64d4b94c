// The device lookup init and drivers use, on DTBs QEMU wrote.
#include "keel/devices.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel/dtb/qemu_dtb_file.h"

namespace keel::devices {
namespace {

std::vector<uint8_t> Load(const std::string& name) { return dtb::testing::load_qemu_dtb(name); }

TEST(Devices, FindsByCompatibleIndexPathAndStdout) {
  const std::vector<uint8_t> dtb = Load("a53_smp1_128m");
  Device d;
  ASSERT_EQ(find(dtb.data(), dtb.size(), "arm,pl031", &d), Status::kOk);
  EXPECT_STREQ(d.path, "/pl031@9010000");
  ASSERT_EQ(d.range_count, 1u);
  EXPECT_EQ(d.ranges[0].base, 0x0901'0000u);
  EXPECT_EQ(d.ranges[0].size, 0x1000u);
  ASSERT_EQ(d.irq_count, 1u);
  EXPECT_EQ(d.irqs[0].intid, 34u);  // SPI 2

  Device console;
  ASSERT_EQ(find(dtb.data(), dtb.size(), "stdout", &console), Status::kOk);
  EXPECT_STREQ(console.path, "/pl011@9000000");
  EXPECT_EQ(console.ranges[0].base, 0x0900'0000u);
  EXPECT_EQ(console.irqs[0].intid, 33u);
  Device by_path;
  ASSERT_EQ(find(dtb.data(), dtb.size(), "/pl011@9000000", &by_path), Status::kOk);
  EXPECT_EQ(by_path.ranges[0].base, 0x0900'0000u);

  // The 32 virtio-mmio transports, in DTB order, each its own.
  EXPECT_EQ(count(dtb.data(), dtb.size(), "virtio,mmio"), 32u);
  Device v0, v31;
  ASSERT_EQ(find(dtb.data(), dtb.size(), "virtio,mmio#0", &v0), Status::kOk);
  ASSERT_EQ(find(dtb.data(), dtb.size(), "virtio,mmio#31", &v31), Status::kOk);
  EXPECT_NE(v0.ranges[0].base, v31.ranges[0].base);
  EXPECT_TRUE(v0.dma_coherent);
  EXPECT_TRUE(v0.irqs[0].edge);
  EXPECT_EQ(find(dtb.data(), dtb.size(), "virtio,mmio#32", &d), Status::kNotFound);
}

TEST(Devices, BadSpecsAndMissingDevices) {
  const std::vector<uint8_t> dtb = Load("a72_smp2_1g_gicv3_noits");
  Device d;
  const char* why = "";
  EXPECT_EQ(find(dtb.data(), dtb.size(), "arm,gic-v3-its", &d, &why), Status::kNotFound) << "its=off";
  for (const char* bad : {"", "virtio,mmio#", "virtio,mmio#x", "virtio,mmio#1x", "virtio,mmio#99999999999"}) {
    EXPECT_EQ(find(dtb.data(), dtb.size(), bad, &d, &why), Status::kInvalidArgument) << bad;
  }
  EXPECT_EQ(find(dtb.data(), dtb.size(), "/nowhere", &d), Status::kNotFound);
  EXPECT_EQ(find(dtb.data(), dtb.size(), "/pl011@9000000/x", &d), Status::kNotFound);
  // The secure UART is disabled in the normal world: never found.
  EXPECT_EQ(find(dtb.data(), dtb.size(), "arm,pl011#1", &d), Status::kNotFound);
  std::vector<uint8_t> broken = dtb;
  broken[0] ^= 1;
  EXPECT_EQ(find(broken.data(), broken.size(), "arm,pl011", &d, &why), Status::kMalformed);
  EXPECT_STREQ(why, "bad magic (not a DTB)");
  EXPECT_EQ(count(broken.data(), broken.size(), "arm,pl011"), 0u);
}

}  // namespace
}  // namespace keel::devices
