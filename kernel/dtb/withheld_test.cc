// withheld_test — the hardware the kernel keeps, on every QEMU `virt`
// configuration keel boots (DTBs QEMU itself wrote): the interrupt
// controller with all its frames (GICv2 CPU interface and virtualization
// frames, GICv3 redistributors), the MSI frames (v2m, ITS) and the SMMUv3
// are withheld, and no device untyped carved from the same DTB (the
// kernel's own function, object::carve_device_untyped) overlaps any page of
// them, while every other device stays covered.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernel/dtb/dtb.h"
#include "kernel/dtb/qemu_dtb_file.h"
#include "kernel/object/memory_map.h"

namespace keel::dtb {
namespace {

std::vector<uint8_t> Load(const std::string& name) { return dtb::testing::load_qemu_dtb(name); }

struct Expect {
  const char* name;
  std::vector<Range> withheld;  // exactly these
};

constexpr Range kGicd{0x0800'0000, 0x10000};
constexpr Range kGicc{0x0801'0000, 0x10000};
constexpr Range kV2m{0x0802'0000, 0x1000};
constexpr Range kGich{0x0803'0000, 0x10000};
constexpr Range kGicv{0x0804'0000, 0x10000};
constexpr Range kIts{0x0808'0000, 0x20000};
constexpr Range kGicr{0x080a'0000, 0xf6'0000};
constexpr Range kSmmu{0x0905'0000, 0x20000};

class Withheld : public ::testing::TestWithParam<Expect> {};

bool overlaps(uint64_t b, uint64_t e, const Range& r) { return b < r.base + r.size && r.base < e; }

TEST_P(Withheld, KernelHardwareNeverBecomesDeviceUntyped) {
  const Expect& e = GetParam();
  std::vector<uint8_t> blob = Load(e.name);
  static DtbInfo info;
  ASSERT_EQ(parse_dtb(blob.data(), blob.size(), &info), Status::kOk) << info.error;

  // (as a set: a child node ends, and is recorded, before its parent)
  std::vector<std::pair<uint64_t, uint64_t>> got, want;
  for (size_t i = 0; i < info.withheld_count; ++i) got.emplace_back(info.withheld[i].base, info.withheld[i].size);
  for (const Range& r : e.withheld) want.emplace_back(r.base, r.size);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);

  object::Region dev[kMaxDeviceRanges], held[kMaxWithheldRanges];
  size_t ndev = 0, nheld = 0;
  ASSERT_LE(info.device_count, kMaxDeviceRanges);
  for (size_t i = 0; i < info.device_count; ++i) dev[ndev++] = {info.devices[i].base, info.devices[i].size};
  for (size_t i = 0; i < info.withheld_count; ++i) held[nheld++] = {info.withheld[i].base, info.withheld[i].size};
  object::UntypedBlock blocks[256];
  size_t n = object::carve_device_untyped(dev, &ndev, held, &nheld, blocks, 256);
  ASSERT_LE(n, 256u);
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t b = blocks[i].base, end = b + (uint64_t{1} << blocks[i].size_bits);
    bytes += end - b;
    for (const Range& w : e.withheld) {
      EXPECT_FALSE(overlaps(b, end, w)) << std::hex << "block [0x" << b << ", 0x" << end << ") overlaps 0x" << w.base;
    }
  }
  // Everything else stays: the UART, the RTC, the first and last
  // virtio-mmio transports, the flash's second bank (its second reg range),
  // the PCIe ECAM and both of the host bridge's memory windows (where BARs
  // are placed: the first and last page of the 32-bit one, the 64-bit one).
  for (uint64_t pa : {0x0900'0000ull, 0x0901'0000ull, 0x0a00'0000ull, 0x0a00'3e00ull, 0x0400'0000ull, 0x40'1000'0000ull,
                      0x1000'0000ull, 0x3efe'f000ull, 0x80'0000'0000ull, 0xff'ffff'f000ull}) {
    bool covered = false;
    for (size_t i = 0; i < n; ++i) {
      covered |= pa >= blocks[i].base && pa - blocks[i].base < (uint64_t{1} << blocks[i].size_bits);
    }
    EXPECT_TRUE(covered) << std::hex << "0x" << pa;
  }
  EXPECT_GT(bytes, 64ull << 20);
}

INSTANTIATE_TEST_SUITE_P(
    Configs, Withheld,
    ::testing::Values(Expect{"a53_smp1_128m", {kGicd, kGicc, kV2m}},                    // GICv2
                      Expect{"a53_smp8_2g_gicv2", {kGicd, kGicc, kV2m}},                // GICv2, 8 CPUs
                      Expect{"a57_smp2_512m_el2", {kGicd, kGicc, kGich, kGicv, kV2m}},  // + virtualization
                      Expect{"max_smp8_4g_gicv3", {kGicd, kGicr, kIts}},                // GICv3 with its ITS
                      Expect{"a72_smp2_1g_gicv3_noits", {kGicd, kGicr}},                // its=off
                      Expect{"max_smp4_2g_gicv3_el2", {kGicd, kGicr, kIts}},            // GICv3 + virtualization
                      Expect{"a72_smp2_1g_smmuv3", {kGicd, kGicc, kV2m, kSmmu}}),       // the IOMMU
    [](const auto& info) { return std::string(info.param.name); });

// A GIC under a bus with a non-identity `ranges`: the withheld range is the
// translated CPU address; a bus without `ranges` is not memory-mapped, so
// nothing under it is a device range.
TEST(Withheld, TranslatesThroughRanges) {
  // Built by hand: / { #a=2 #s=2; soc { #a=1 #s=1; ranges = <0x0 0x0 0x10000000 0x1000000>;
  //   gic@0 { compatible="arm,gic-v3"; reg=<0x0 0x10000 0xa0000 0x20000>; } };
  //   hidden { #a=1 #s=1; dev@0 { compatible="x"; reg=<0x100 0x100>; } } }
  std::vector<uint8_t> s, strings;
  auto u32 = [](std::vector<uint8_t>& v, uint32_t x) {
    for (int sh = 24; sh >= 0; sh -= 8) v.push_back(static_cast<uint8_t>(x >> sh));
  };
  auto str_off = [&](const char* name) {
    uint32_t off = static_cast<uint32_t>(strings.size());
    for (const char* c = name; *c; ++c) strings.push_back(static_cast<uint8_t>(*c));
    strings.push_back(0);
    return off;
  };
  auto begin = [&](const char* name) {
    u32(s, 1);
    for (const char* c = name; *c; ++c) s.push_back(static_cast<uint8_t>(*c));
    s.push_back(0);
    while (s.size() % 4) s.push_back(0);
  };
  auto prop = [&](const char* name, const std::vector<uint32_t>& cells) {
    u32(s, 3);
    u32(s, static_cast<uint32_t>(cells.size() * 4));
    u32(s, str_off(name));
    for (uint32_t c : cells) u32(s, c);
  };
  auto prop_str = [&](const char* name, const char* v) {
    u32(s, 3);
    u32(s, static_cast<uint32_t>(strlen(v) + 1));
    u32(s, str_off(name));
    for (const char* c = v; *c; ++c) s.push_back(static_cast<uint8_t>(*c));
    s.push_back(0);
    while (s.size() % 4) s.push_back(0);
  };
  auto end = [&] { u32(s, 2); };
  begin("");
  prop("#address-cells", {2});
  prop("#size-cells", {2});
  begin("memory@40000000");
  prop_str("device_type", "memory");
  prop("reg", {0, 0x4000'0000, 0, 0x1000'0000});
  end();
  begin("cpus");
  prop("#address-cells", {1});
  prop("#size-cells", {0});
  begin("cpu@0");
  prop_str("device_type", "cpu");
  prop("reg", {0});
  end();
  end();
  begin("soc");
  prop("#address-cells", {1});
  prop("#size-cells", {1});
  prop("ranges", {0x0, 0x0, 0x1000'0000, 0x100'0000});
  begin("gic@0");
  prop_str("compatible", "arm,gic-v3");
  prop("reg", {0x0, 0x10000, 0xa0000, 0x20000});
  end();
  end();
  begin("hidden");
  prop("#address-cells", {1});
  prop("#size-cells", {1});
  begin("dev@100");
  prop_str("compatible", "x");
  prop("reg", {0x100, 0x100});
  end();
  end();
  end();
  u32(s, 9);
  std::vector<uint8_t> b(40, 0);
  const uint32_t rsv = 40, st = rsv + 16, str = st + static_cast<uint32_t>(s.size());
  b.resize(rsv + 16);
  b.insert(b.end(), s.begin(), s.end());
  b.insert(b.end(), strings.begin(), strings.end());
  std::vector<uint32_t> hdr = {0xd00dfeed,
                               static_cast<uint32_t>(b.size()),
                               st,
                               str,
                               rsv,
                               17,
                               16,
                               0,
                               static_cast<uint32_t>(strings.size()),
                               static_cast<uint32_t>(s.size())};
  for (size_t i = 0; i < hdr.size(); ++i) {
    for (int k = 0; k < 4; ++k) b[i * 4 + k] = static_cast<uint8_t>(hdr[i] >> (24 - 8 * k));
  }
  static DtbInfo info;
  ASSERT_EQ(parse_dtb(b.data(), b.size(), &info), Status::kOk) << info.error;
  ASSERT_EQ(info.withheld_count, 2u);
  EXPECT_EQ(info.withheld[0].base, 0x1000'0000u);  // (one node: its reg in order)
  EXPECT_EQ(info.withheld[1].base, 0x100a'0000u);
  EXPECT_EQ(info.withheld[1].size, 0x20000u);
  EXPECT_EQ(info.gic.version, 3u);
  EXPECT_EQ(info.device_count, 2u);  // the GIC's two; dev@100 sits on a bus that is not memory-mapped
}

}  // namespace
}  // namespace keel::dtb
