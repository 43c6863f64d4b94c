// The PCI library against QEMU's own DTBs (the host bridge of `virt`, with
// and without the SMMUv3) and an emulated config space: functions with
// 32- and 64-bit BARs, a multi-function device, a bridge.
#include "keel/pci.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "kernel/dtb/qemu_dtb_file.h"

namespace keel::pci {
namespace {

TEST(PciHost, QemuVirtHostBridgeFromItsDtb) {
  const std::vector<uint8_t> blob = dtb::testing::load_qemu_dtb("a72_smp2_1g_smmuv3");
  Host h;
  const char* why = "";
  ASSERT_EQ(find_host(blob.data(), blob.size(), 0, &h, &why), Status::kOk) << why;
  EXPECT_STREQ(h.path, "/pcie@10000000");
  EXPECT_EQ(h.ecam.base, 0x4010000000u) << "virt's high ECAM";
  EXPECT_EQ(h.ecam.size, 0x10000000u);
  EXPECT_EQ(h.bus_first, 0u);
  EXPECT_EQ(h.bus_last, 255u);
  ASSERT_EQ(h.window_count, 3u);
  EXPECT_EQ(h.windows[0].kind, Window::kIo);
  EXPECT_EQ(h.windows[0].cpu_base, 0x3eff0000u);
  EXPECT_EQ(h.windows[1].kind, Window::kMem32);
  EXPECT_EQ(h.windows[1].pci_base, 0x10000000u);
  EXPECT_EQ(h.windows[1].cpu_base, 0x10000000u);
  EXPECT_EQ(h.windows[1].size, 0x2eff0000u);
  EXPECT_EQ(h.windows[2].kind, Window::kMem64);
  EXPECT_EQ(h.windows[2].cpu_base, 0x8000000000u);
  EXPECT_TRUE(h.dma_coherent);
  // virt routes INTA..D of device slot d to SPI 3 + (d + pin - 1) % 4.
  EXPECT_EQ(h.route_count, 16u);
  for (uint32_t dev = 0; dev < 4; ++dev) {
    for (uint8_t pin = 1; pin <= 4; ++pin) {
      Function f;
      f.bdf = dev << 3;
      f.pin = pin;
      dtb::Interrupt irq;
      ASSERT_TRUE(intx(h, f, &irq)) << dev << " " << int{pin};
      EXPECT_EQ(irq.intid, 32 + 3 + (dev + pin - 1) % 4) << dev << " " << int{pin};
      EXPECT_FALSE(irq.edge);
    }
  }
  Function far;
  far.bdf = 6 << 3;  // slot 6: the mask keeps two bits, as slot 2
  far.pin = 1;
  dtb::Interrupt irq;
  ASSERT_TRUE(intx(h, far, &irq));
  EXPECT_EQ(irq.intid, 32u + 3 + 2);
  far.pin = 0;
  EXPECT_FALSE(intx(h, far, &irq)) << "no pin, no route";
  // iommu-map: every requester ID to the SMMU, stream ID = RID.
  ASSERT_TRUE(h.iommu);
  uint32_t sid = 0;
  ASSERT_TRUE(stream_id(h, 0x0010, &sid));
  EXPECT_EQ(sid, 0x10u);
  EXPECT_FALSE(stream_id(h, 0x10000, &sid));
  EXPECT_EQ(find_host(blob.data(), blob.size(), 1, &h), Status::kNotFound) << "one host bridge";
}

TEST(PciHost, WithoutAnIommuNoStreamIds) {
  const std::vector<uint8_t> blob = dtb::testing::load_qemu_dtb("a53_smp1_128m");
  Host h;
  ASSERT_EQ(find_host(blob.data(), blob.size(), 0, &h), Status::kOk);
  EXPECT_FALSE(h.iommu);
  uint32_t sid = 0;
  EXPECT_FALSE(stream_id(h, 0x10, &sid));
}

// Config space of a few emulated functions: BARs answer size masks as
// hardware does (writable bits above the size, type bits fixed).
struct FakeBus final : Config {
  struct Dev {
    uint32_t id, class_rev = 0x01000000, header = 0, pin = 0;
    uint32_t command = 0;
    uint64_t bar_size[6] = {};   // 0: none
    uint32_t bar_flags[6] = {};  // low bits: 1 I/O, 4 64-bit, 8 prefetchable
    uint32_t bar[6] = {};
  };
  std::map<uint32_t, Dev> devs;
  std::vector<std::pair<uint32_t, uint32_t>> command_writes;  // (bdf, value)
  uint32_t read32(uint32_t bdf, uint32_t off) override {
    auto it = devs.find(bdf);
    if (it == devs.end()) return 0xffffffffu;
    Dev& d = it->second;
    switch (off) {
      case kVendorDevice: return d.id;
      case kCommandStatus: return d.command;
      case kClassRevision: return d.class_rev;
      case kHeaderType: return d.header << 16;
      case kInterrupt: return d.pin << 8;
      default: break;
    }
    if (off >= kBar0 && off < kBar0 + 24) {
      const unsigned i = (off - kBar0) / 4;
      return d.bar_size[i] != 0 ? (d.bar[i] & ~0xfu) | d.bar_flags[i] : d.bar[i];  // type bits are read-only
    }
    return 0;
  }
  void write32(uint32_t bdf, uint32_t off, uint32_t v) override {
    auto it = devs.find(bdf);
    if (it == devs.end()) return;
    Dev& d = it->second;
    if (off == kCommandStatus) {
      d.command = v & 0xffff;
      command_writes.push_back({bdf, v});
      return;
    }
    if (off < kBar0 || off >= kBar0 + 24) return;
    const unsigned i = (off - kBar0) / 4;
    // The BAR's writable bits: above its size; a 64-bit BAR's high half
    // (the next index, size 0 here) is all writable but for a size >= 4 GiB.
    if (d.bar_size[i] != 0) {
      const uint64_t mask = ~(d.bar_size[i] - 1);
      d.bar[i] = (v & static_cast<uint32_t>(mask) & ~0xfu) | d.bar_flags[i];
    } else if (i > 0 && (d.bar_flags[i - 1] & 4) != 0 && d.bar_size[i - 1] != 0) {
      d.bar[i] = v & static_cast<uint32_t>(~(d.bar_size[i - 1] - 1) >> 32);
    } else {
      d.bar[i] = 0;
    }
  }
};

TEST(PciBus, EnumeratesSizesAndPlacesBars) {
  const std::vector<uint8_t> blob = dtb::testing::load_qemu_dtb("a72_smp2_1g_smmuv3");
  Host h;
  ASSERT_EQ(find_host(blob.data(), blob.size(), 0, &h), Status::kOk);
  h.bus_last = 1;  // (a short walk)
  FakeBus bus;
  bus.devs[0x00] = {.id = 0x00081b36, .class_rev = 0x06000000};  // the host bridge: no BARs
  FakeBus::Dev blk{.id = 0x10421af4, .pin = 1};                  // virtio-blk (modern)
  blk.bar_size[1] = 0x1000;                                      // MSI-X table: 4 KiB, 32-bit
  blk.bar_size[4] = 0x4000;                                      // virtio capabilities: 16 KiB, 64-bit prefetchable
  blk.bar_flags[4] = 4 | 8;
  blk.command = kMemorySpace | kBusMaster;  // (left on by someone: sizing turns decode off, then restores)
  bus.devs[2 << 3] = blk;
  FakeBus::Dev multi{.id = 0x12341234, .header = 0x80};  // a multi-function device: functions 0 and 3
  multi.bar_size[0] = 0x100000;
  bus.devs[3 << 3] = multi;
  FakeBus::Dev f3{.id = 0x56785678};
  f3.bar_size[0] = 0x20;
  f3.bar_flags[0] = 1;  // I/O: not placed
  bus.devs[3 << 3 | 3] = f3;
  bus.devs[4 << 3 | 5] = {.id = 0x99999999};           // function 5 without a function 0: not there
  bus.devs[1 << 8] = {.id = 0xabcdabcd, .header = 1};  // a bridge's function on bus 1 (listed, not sized)
  Function fs[16];
  const size_t n = enumerate(bus, h, fs, 16);
  ASSERT_EQ(n, 5u);
  EXPECT_EQ(fs[1].bdf, 2u << 3);
  EXPECT_EQ(fs[1].vendor, 0x1af4);
  EXPECT_EQ(fs[1].device, 0x1042);
  EXPECT_EQ(fs[1].pin, 1);
  EXPECT_EQ(fs[1].bars[1].size, 0x1000u);
  EXPECT_FALSE(fs[1].bars[1].mem64);
  EXPECT_EQ(fs[1].bars[4].size, 0x4000u);
  EXPECT_TRUE(fs[1].bars[4].mem64);
  EXPECT_TRUE(fs[1].bars[4].prefetchable);
  EXPECT_EQ(fs[1].bars[5].size, 0u) << "the high half of BAR 4";
  EXPECT_EQ(fs[2].bdf, 3u << 3);
  EXPECT_EQ(fs[3].bdf, (3u << 3) | 3);
  EXPECT_TRUE(fs[3].bars[0].io);
  EXPECT_EQ(fs[4].header_type, 1);
  EXPECT_EQ(bus.devs[2 << 3].command, kMemorySpace | kBusMaster) << "restored after sizing";
  bool decode_off_while_sizing = false;
  for (const auto& [bdf, v] : bus.command_writes) decode_off_while_sizing |= bdf == (2u << 3) && (v & 3) == 0;
  EXPECT_TRUE(decode_off_while_sizing);

  ASSERT_EQ(assign(bus, h, fs, n), Status::kOk);
  // The 1 MiB BAR first (largest), in the 32-bit window; the 64-bit BAR in
  // the 64-bit window; each naturally aligned.
  EXPECT_EQ(fs[2].bars[0].pci_address, 0x10000000u);
  EXPECT_EQ(fs[2].bars[0].cpu_address, 0x10000000u);
  EXPECT_EQ(bus.devs[3 << 3].bar[0], 0x10000000u);
  EXPECT_EQ(fs[1].bars[4].pci_address, 0x8000000000u);
  EXPECT_EQ(bus.devs[2 << 3].bar[4], 0x0000000cu) << "low half: flags only";
  EXPECT_EQ(bus.devs[2 << 3].bar[5], 0x80u) << "high half";
  EXPECT_EQ(fs[1].bars[1].pci_address, 0x10100000u);
  EXPECT_EQ(fs[1].bars[1].pci_address % 0x1000, 0u);
  EXPECT_EQ(fs[3].bars[0].cpu_address, 0u) << "I/O BARs are not placed";
  char name[32];
  describe(fs[1], name, sizeof name);
  EXPECT_STREQ(name, "1af4:1042 at 00:02.0");
}

TEST(PciBus, ABarThatFitsNowhereIsLeftUnplaced) {
  Host h;
  h.bus_last = 0;
  h.windows[h.window_count++] = {.kind = Window::kMem32,
                                 .prefetchable = false,
                                 .pci_base = 0x1000'0000,
                                 .cpu_base = 0x1000'0000,
                                 .size = 0x10'0000};
  FakeBus bus;
  FakeBus::Dev big{.id = 0x11111111};
  big.bar_size[0] = 0x20'0000;  // 2 MiB into a 1 MiB window
  FakeBus::Dev small{.id = 0x22222222};
  small.bar_size[0] = 0x1000;
  bus.devs[1 << 3] = big;
  bus.devs[2 << 3] = small;
  Function fs[4];
  const size_t n = enumerate(bus, h, fs, 4);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(assign(bus, h, fs, n), Status::kNoMemory);
  EXPECT_EQ(fs[0].bars[0].cpu_address, 0u);
  EXPECT_EQ(fs[1].bars[0].cpu_address, 0x1000'0000u) << "the rest still placed";
}

TEST(PciHost, EcamConfigStaysInsideItsWindow) {
  std::vector<uint32_t> mem(2 << 18, 0);  // two buses of ECAM
  mem[0x10c000 / 4] = 0x12345678;         // bus 1, device 1, function 4 (bdf 0x10c): its page at 0x10c000
  EcamConfig ecam(reinterpret_cast<uint64_t>(mem.data()), 0, mem.size() * 4);
  EXPECT_EQ(ecam.read32(0x10c, 0), 0x12345678u);
  EXPECT_EQ(ecam.read32(0x200, 0), 0xffffffffu) << "bus 2 is outside the mapping";
  EXPECT_EQ(ecam.read32(0x10c, 0x1000), 0xffffffffu) << "offset past the function's 4 KiB";
  ecam.write32(0x200, 0, 1);  // (ignored, no crash)
}

}  // namespace
}  // namespace keel::pci

namespace keel::pci {
namespace {

TEST(PciSpec, ParsesVendorDeviceAndClass) {
  Match m;
  ASSERT_EQ(parse_match("pci:1af4:1042", &m), nullptr);
  EXPECT_FALSE(m.by_class);
  EXPECT_EQ(m.vendor, 0x1af4);
  EXPECT_EQ(m.device, 0x1042);
  EXPECT_EQ(m.instance, 0u);
  ASSERT_EQ(parse_match("pci:1AF4:1041#2", &m), nullptr);
  EXPECT_EQ(m.device, 0x1041);
  EXPECT_EQ(m.instance, 2u);
  ASSERT_EQ(parse_match("pci:0100", &m), nullptr);
  EXPECT_TRUE(m.by_class);
  EXPECT_EQ(m.class_code, 0x010000u);
  EXPECT_EQ(m.class_mask, 0xffff00u);
  ASSERT_EQ(parse_match("pci:010802#1", &m), nullptr);
  EXPECT_EQ(m.class_code, 0x010802u);
  EXPECT_EQ(m.class_mask, 0xffffffu);
  EXPECT_EQ(m.instance, 1u);
  for (const char* bad : {"pci:", "pci:1af4:", "pci:1af4:10422", "pci:af4:1042", "pci:01000", "pci:1af4:1042#",
                          "pci:1af4:1042#1000", "pci:1af4:1042x", "pci:zz", "virtio,mmio", "pci:1af4:1042#1#2"}) {
    EXPECT_NE(parse_match(bad, &m), nullptr) << bad;
  }
  EXPECT_TRUE(is_spec("pci:0100"));
  EXPECT_FALSE(is_spec("pc"));

  Function blk;
  blk.vendor = 0x1af4;
  blk.device = 0x1042;
  blk.class_code = 0x010000;
  ASSERT_EQ(parse_match("pci:1af4:1042", &m), nullptr);
  EXPECT_TRUE(matches(blk, m));
  ASSERT_EQ(parse_match("pci:0100", &m), nullptr);
  EXPECT_TRUE(matches(blk, m));
  ASSERT_EQ(parse_match("pci:010001", &m), nullptr);
  EXPECT_FALSE(matches(blk, m));
  blk.header_type = 1;
  ASSERT_EQ(parse_match("pci:1af4:1042", &m), nullptr);
  EXPECT_FALSE(matches(blk, m)) << "bridges are the bus task's";
}

// Config space as bytes: one function with a capability list (a vendor
// capability at 0x40, MSI-X at 0x50, MSI at 0x60).
struct ByteConfig final : Config {
  uint8_t bytes[4096] = {};
  uint32_t read32(uint32_t, uint32_t off) override {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | bytes[off + static_cast<uint32_t>(i)];
    return v;
  }
  void write32(uint32_t, uint32_t off, uint32_t v) override {
    for (uint32_t i = 0; i < 4; ++i) bytes[off + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  ByteConfig() {
    write32(0, kVendorDevice, 0x10421af4);
    write32(0, kCommandStatus, (1u << 20) | kMemorySpace | kBusMaster);  // capabilities list; decode, BME on
    write32(0, kBar0 + 16, 0x8000000c);
    bytes[kCapabilities] = 0x40;
    bytes[0x40] = 0x09, bytes[0x41] = 0x50, bytes[0x42] = 16;  // vendor (virtio), next 0x50
    bytes[0x50] = 0x11, bytes[0x51] = 0x60;                    // MSI-X, next 0x60
    bytes[0x60] = 0x05, bytes[0x61] = 0x00;                    // MSI, end
  }
};

TEST(PciPolicy, ADriverWritesOnlyWhatCannotHurtOthers) {
  ByteConfig c;
  // Reads: anywhere in the function's 4 KiB, aligned.
  EXPECT_EQ(check_config_access(c, 0, 0x10, 4, false), Status::kOk);
  EXPECT_EQ(check_config_access(c, 0, 0xffc, 4, false), Status::kOk);
  EXPECT_EQ(check_config_access(c, 0, 0x1000, 4, false), Status::kInvalidArgument);
  EXPECT_EQ(check_config_access(c, 0, 0x11, 2, false), Status::kInvalidArgument) << "misaligned";
  EXPECT_EQ(check_config_access(c, 0, 0x10, 3, false), Status::kInvalidArgument) << "no 3-byte accesses";
  EXPECT_EQ(check_config_access(c, 0, 0x10, 8, false), Status::kInvalidArgument);
  // Writes: never a BAR, the ROM BAR, the IDs, the interrupt line, extended space.
  for (uint32_t off : {0x10u, 0x14u, 0x20u, 0x24u, 0x30u, 0x00u, 0x08u, 0x0cu, 0x3cu, 0x34u}) {
    EXPECT_EQ(check_config_access(c, 0, off, 4, true), Status::kInsufficientRights) << std::hex << off;
  }
  EXPECT_EQ(check_config_access(c, 0, 0x100, 4, true), Status::kInsufficientRights);
  // Nor MSI-X's or MSI's structures, any byte of them.
  EXPECT_EQ(check_config_access(c, 0, 0x52, 2, true), Status::kInsufficientRights) << "MSI-X control";
  EXPECT_EQ(check_config_access(c, 0, 0x54, 4, true), Status::kInsufficientRights) << "MSI-X table offset";
  EXPECT_EQ(check_config_access(c, 0, 0x64, 4, true), Status::kInsufficientRights) << "MSI address";
  EXPECT_EQ(check_config_access(c, 0, 0x62, 1, true), Status::kInsufficientRights) << "MSI enable";
  // The vendor capability (virtio's PCI config access window) is the driver's.
  EXPECT_EQ(check_config_access(c, 0, 0x44, 4, true), Status::kOk);
  EXPECT_EQ(check_config_access(c, 0, 0x4c, 4, true), Status::kOk);

  // The Command register: only INTx-disable changes.
  ASSERT_EQ(check_config_access(c, 0, kCommandStatus, 2, true), Status::kOk);
  config_write(c, 0, kCommandStatus, 2, kIntxDisable);  // (asks decode and BME off too)
  EXPECT_EQ(config_read(c, 0, kCommandStatus, 2), kMemorySpace | kBusMaster | kIntxDisable);
  config_write(c, 0, kCommandStatus, 4, 0xffffffff);
  EXPECT_EQ(config_read(c, 0, kCommandStatus, 2), kMemorySpace | kBusMaster | kIntxDisable) << "no more bits";
  config_write(c, 0, kCommandStatus + 1, 1, 0);
  EXPECT_EQ(config_read(c, 0, kCommandStatus, 2), kMemorySpace | kBusMaster) << "high byte: INTx-disable off";
  EXPECT_EQ(check_config_access(c, 0, kCommandStatus, 1, true), Status::kInsufficientRights)
      << "the low byte holds decode and bus mastering only";
  // A narrow write elsewhere keeps its neighbours.
  c.write32(0, 0x44, 0x11223344);
  config_write(c, 0, 0x45, 1, 0xaa);
  EXPECT_EQ(c.read32(0, 0x44), 0x1122aa44u);
  EXPECT_EQ(config_read(c, 0, 0x46, 2), 0x1122u);
}

TEST(PciPolicy, ALoopingCapabilityListEnds) {
  ByteConfig c;
  c.bytes[0x61] = 0x40;  // MSI -> the vendor capability again: a loop
  EXPECT_EQ(check_config_access(c, 0, 0x80, 4, true), Status::kOk);
  EXPECT_EQ(check_config_access(c, 0, 0x64, 4, true), Status::kInsufficientRights);
}

}  // namespace
}  // namespace keel::pci
