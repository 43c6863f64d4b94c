#include "kernel/dtb/dtb.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernel/dtb/qemu_dtb_file.h"

namespace keel::dtb {
namespace {

std::vector<uint8_t> Load(const std::string& name) { return dtb::testing::load_qemu_dtb(name); }

struct Expect {
  const char* name;
  size_t cpus;
  uint64_t mem;
  unsigned gic;
  PsciConduit psci;
};

class QemuDtb : public ::testing::TestWithParam<Expect> {};

TEST_P(QemuDtb, ParsesWhatQemuConfigured) {
  const Expect& e = GetParam();
  std::vector<uint8_t> blob = Load(e.name);
  DtbInfo info;
  ASSERT_EQ(parse_dtb(blob.data(), blob.size(), &info), Status::kOk) << info.error;
  EXPECT_EQ(info.cpu_count, e.cpus);
  EXPECT_EQ(info.memory_bytes(), e.mem);
  ASSERT_EQ(info.memory_count, 1u);
  EXPECT_EQ(info.memory[0].base, 0x4000'0000u);
  EXPECT_EQ(info.gic.version, e.gic);
  EXPECT_EQ(info.gic.distributor.base, 0x0800'0000u);
  EXPECT_EQ(info.gic.cpu_or_redist.base, e.gic == 3 ? 0x080a'0000u : 0x0801'0000u);
  EXPECT_EQ(info.psci, e.psci);
  ASSERT_TRUE(info.uart.present);
  EXPECT_EQ(info.uart.mmio.base, 0x0900'0000u);
  EXPECT_EQ(info.uart.mmio.size, 0x1000u);
  EXPECT_EQ(info.uart.intid, 33u);  // SPI 1
  ASSERT_TRUE(info.timer.present);
  EXPECT_EQ(info.timer.phys_ns_intid, 30u);
  EXPECT_EQ(info.timer.virt_intid, 27u);
  for (size_t i = 0; i < e.cpus; ++i) EXPECT_EQ(info.cpu_mpidr[i], i) << "cpu " << i;
  EXPECT_EQ(header_total_size(blob.data(), blob.size()).value(), info.total_size);
  // Device MMIO includes the UART and the GIC distributor; never RAM.
  bool uart = false, gicd = false;
  for (size_t i = 0; i < info.device_count && i < kMaxDeviceRanges; ++i) {
    uart |= info.devices[i].base == 0x0900'0000;
    gicd |= info.devices[i].base == 0x0800'0000;
    EXPECT_FALSE(info.devices[i].base >= 0x4000'0000 && info.devices[i].base < 0x4000'0000 + e.mem)
        << std::hex << info.devices[i].base;
  }
  EXPECT_TRUE(uart && gicd);
}

INSTANTIATE_TEST_SUITE_P(Configs, QemuDtb,
                         ::testing::Values(Expect{"a53_smp1_128m", 1, 128ull << 20, 2, PsciConduit::kHvc},
                                           Expect{"a72_smp4_1g", 4, 1ull << 30, 2, PsciConduit::kHvc},
                                           Expect{"max_smp8_4g_gicv3", 8, 4ull << 30, 3, PsciConduit::kHvc},
                                           Expect{"a57_smp2_512m_el2", 2, 512ull << 20, 2, PsciConduit::kSmc},
                                           Expect{"a53_smp8_2g_gicv2", 8, 2ull << 30, 2, PsciConduit::kHvc},
                                           Expect{"a72_smp2_1g_gicv3_noits", 2, 1ull << 30, 3, PsciConduit::kHvc},
                                           Expect{"max_smp4_2g_gicv3_el2", 4, 2ull << 30, 3, PsciConduit::kSmc},
                                           Expect{"a72_smp2_1g_smmuv3", 2, 1ull << 30, 2, PsciConduit::kHvc}),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- malformed input -------------------------------------------------------

void Put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  b[off] = v >> 24;
  b[off + 1] = v >> 16;
  b[off + 2] = v >> 8;
  b[off + 3] = v;
}
uint32_t Get32(const std::vector<uint8_t>& b, size_t off) {
  return (uint32_t{b[off]} << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
}

Status Parse(const std::vector<uint8_t>& b, std::string* why = nullptr) {
  DtbInfo info;
  Status s = parse_dtb(b.data(), b.size(), &info);
  if (why != nullptr) *why = info.error;
  return s;
}

TEST(DtbMalformed, HeaderErrors) {
  std::vector<uint8_t> good = Load("a53_smp1_128m");
  std::string why;
  EXPECT_EQ(Parse(std::vector<uint8_t>(good.begin(), good.begin() + 20), &why), Status::kTruncated);
  auto b = good;
  b[0] ^= 1;
  EXPECT_EQ(Parse(b, &why), Status::kMalformed);
  EXPECT_EQ(why, "bad magic (not a DTB)");
  b = good;
  Put32(b, 4, static_cast<uint32_t>(good.size() + 1));  // totalsize beyond the buffer
  EXPECT_EQ(Parse(b), Status::kTruncated);
  b = good;
  Put32(b, 4, static_cast<uint32_t>(kMaxDtbSize + 1));  // beyond keel's limit: said so, not "truncated"
  EXPECT_EQ(Parse(b, &why), Status::kUnsupported);
  EXPECT_EQ(why, "larger than the 2 MiB keel accepts");
  const char* reason = "";
  EXPECT_EQ(header_total_size(b.data(), b.size(), &reason).status(), Status::kUnsupported);
  EXPECT_STREQ(reason, "larger than the 2 MiB keel accepts");
  b = good;
  Put32(b, 8, 0xfffffff0);  // off_dt_struct
  EXPECT_EQ(Parse(b), Status::kMalformed);
  b = good;
  Put32(b, 36, 0xffffffff);  // size_dt_struct
  EXPECT_EQ(Parse(b), Status::kMalformed);
  b = good;
  Put32(b, 12, 0xffffff00);  // off_dt_strings
  EXPECT_EQ(Parse(b), Status::kMalformed);
  b = good;
  Put32(b, 20, 3);  // version
  EXPECT_EQ(Parse(b), Status::kUnsupported);
  b = good;
  Put32(b, 16, 0xffffff00);  // off_mem_rsvmap
  EXPECT_EQ(Parse(b), Status::kMalformed);
}

TEST(DtbMalformed, StructureErrors) {
  std::vector<uint8_t> good = Load("a53_smp1_128m");
  uint32_t off_struct = Get32(good, 8);
  std::string why;
  // Unknown token where the root node begins.
  auto b = good;
  Put32(b, off_struct, 0x77);
  EXPECT_EQ(Parse(b, &why), Status::kMalformed);
  EXPECT_EQ(why, "unknown structure token");
  // Structure block cut short: no FDT_END.
  b = good;
  Put32(b, 36, 8);
  EXPECT_EQ(Parse(b, &why), Status::kTruncated);
  // A property name offset beyond the strings block: find the first property.
  b = good;
  size_t prop = off_struct;
  while (Get32(b, prop) != 3) prop += 4;
  Put32(b, prop + 8, 0x7fffffff);
  EXPECT_EQ(Parse(b, &why), Status::kMalformed);
  EXPECT_EQ(why, "property name offset outside strings block");
  // A property length running off the structure block.
  b = good;
  Put32(b, prop + 4, 0x7ffffff0);
  EXPECT_EQ(Parse(b, &why), Status::kTruncated);
}

TEST(DtbMalformed, DeepNestingIsRefusedNotRecursed) {
  // Hand-built DTB: 40 nested nodes.
  std::vector<uint8_t> s;
  auto tok = [&](uint32_t v) {
    s.resize(s.size() + 4);
    Put32(s, s.size() - 4, v);
  };
  tok(1);
  tok(0);  // root, empty name padded
  for (int i = 0; i < 40; ++i) {
    tok(1);
    tok(0x61000000);
  }  // "a"
  for (int i = 0; i < 41; ++i) tok(2);
  tok(9);
  std::vector<uint8_t> b(40 + 16, 0);
  Put32(b, 0, kMagic);
  Put32(b, 16, 40);  // rsvmap at 40, a single (0,0) entry
  Put32(b, 20, 17);
  Put32(b, 24, 16);
  Put32(b, 8, static_cast<uint32_t>(b.size()));
  Put32(b, 36, static_cast<uint32_t>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
  Put32(b, 12, static_cast<uint32_t>(b.size()));
  Put32(b, 32, 0);
  Put32(b, 4, static_cast<uint32_t>(b.size()));
  std::string why;
  EXPECT_EQ(Parse(b, &why), Status::kUnsupported);
  EXPECT_EQ(why, "nodes nested too deeply");
}

// Random corruption of real DTBs must always end in a Status, never a crash
// (run under ASan/valgrind to also catch silent out-of-bounds reads).
TEST(DtbMalformed, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(7);
  for (const char* name : {"a53_smp1_128m", "max_smp8_4g_gicv3"}) {
    std::vector<uint8_t> good = Load(name);
    uint32_t struct_end = Get32(good, 8) + Get32(good, 36);
    uint32_t strings_end = Get32(good, 12) + Get32(good, 32);
    uint32_t used = std::max(struct_end, strings_end);
    for (int i = 0; i < 3000; ++i) {
      // Copy only the used part into an exact-size heap buffer so any
      // over-read leaves the allocation.
      std::vector<uint8_t> b(good.begin(), good.begin() + used);
      Put32(b, 4, used);
      int flips = 1 + rng() % 8;
      for (int k = 0; k < flips; ++k) b[rng() % used] = static_cast<uint8_t>(rng());
      if (rng() % 4 == 0) b.resize(rng() % used);
      DtbInfo info;
      Status s = parse_dtb(b.data(), b.size(), &info);
      if (s != Status::kOk) EXPECT_STRNE(info.error, "") << "every failure says why";
    }
  }
}

TEST(Dtb, ReservedMemoryAndChosenConsole) {
  std::ifstream f("test/dtb/reserved.dtb", std::ios::binary);
  ASSERT_TRUE(f.good());
  std::vector<uint8_t> b(std::istreambuf_iterator<char>(f), {});
  DtbInfo info;
  ASSERT_EQ(parse_dtb(b.data(), b.size(), &info), Status::kOk) << info.error;
  ASSERT_EQ(info.reserved_count, 5u);
  EXPECT_EQ(info.reserved[0].base, 0x4800'0000u);
  EXPECT_EQ(info.reserved[0].size, 0x1'0000u);
  EXPECT_FALSE(info.reserved_no_map[0]) << "/memreserve/ entries are reserved, not no-map";
  EXPECT_EQ(info.reserved[1].base, 0x4a00'0000u);
  EXPECT_EQ(info.reserved[2].base, 0x5000'0000u);
  EXPECT_EQ(info.reserved[2].size, 0x10'0000u);
  EXPECT_TRUE(info.reserved_no_map[2]);
  // Both ranges of the second child, neither no-map.
  EXPECT_EQ(info.reserved[3].base, 0x5200'0000u);
  EXPECT_EQ(info.reserved[3].size, 0x1'0000u);
  EXPECT_EQ(info.reserved[4].base, 0x5300'0000u);
  EXPECT_EQ(info.reserved[4].size, 0x2'0000u);
  EXPECT_FALSE(info.reserved_no_map[3]);
  EXPECT_FALSE(info.reserved_no_map[4]);
  ASSERT_EQ(info.memory_count, 2u);
  EXPECT_EQ(info.memory[1].base, 0x1'0000'0000u);
  EXPECT_EQ(info.memory_bytes(), 0x3000'0000u);
  EXPECT_EQ(info.cpu_count, 3u);
  EXPECT_EQ(info.cpu_mpidr[2], 0x200u);
  EXPECT_EQ(info.psci, PsciConduit::kSmc);
  EXPECT_EQ(info.uart.mmio.base, 0x0904'0000u) << "stdout-path names the second UART";
  EXPECT_EQ(info.uart.intid, 40u);
  EXPECT_EQ(info.gic.version, 0u);
  EXPECT_FALSE(info.timer.present);
  EXPECT_STREQ(info.bootargs, "seed=0x2a calls=100");
}

}  // namespace
}  // namespace keel::dtb

namespace keel::dtb {
namespace {

// The generic reader on a QEMU DTB: what a driver's lookup needs.
TEST(Walk, FindsDevicesByCompatibleWithRegAndInterrupts) {
  std::vector<uint8_t> blob = Load("a72_smp4_1g");
  struct Seen {
    int virtio = 0;
    Range first_virtio, uart;
    Interrupt uart_irq, virtio_irq;
    bool uart_path = false;
    char stdout_path[64] = {};
    int disabled = 0;
  } seen;
  auto visit = [](void* ctx, const NodeView& n) {
    auto* s = static_cast<Seen*>(ctx);
    if (!n.enabled()) ++s->disabled;
    if (n.is_compatible("virtio,mmio")) {
      if (s->virtio++ == 0) {
        EXPECT_TRUE(n.reg(0, &s->first_virtio));
        EXPECT_TRUE(n.interrupt(0, &s->virtio_irq));
      }
    }
    if (n.is_compatible("arm,pl011")) {
      EXPECT_EQ(n.reg_count(), 1u);
      EXPECT_TRUE(n.reg(0, &s->uart));
      EXPECT_FALSE(n.reg(1, &s->uart));
      EXPECT_EQ(n.interrupt_count(), 1u);
      EXPECT_TRUE(n.interrupt(0, &s->uart_irq));
      s->uart_path = n.path_is("/pl011@9000000") && !n.path_is("/pl011@900000") && !n.path_is("/pl011");
    }
    if (n.path_is("/chosen")) {
      const char* p = n.string("stdout-path");
      for (size_t i = 0; p[i] != '\0' && i + 1 < sizeof s->stdout_path; ++i) s->stdout_path[i] = p[i];
    }
    return Status::kOk;
  };
  const char* why = "";
  ASSERT_EQ(walk(blob.data(), blob.size(), visit, &seen, &why), Status::kOk) << why;
  EXPECT_EQ(seen.virtio, 32);
  EXPECT_EQ(seen.uart.base, 0x0900'0000u);
  EXPECT_EQ(seen.uart.size, 0x1000u);
  EXPECT_EQ(seen.uart_irq.intid, 33u);
  EXPECT_FALSE(seen.uart_irq.edge);
  EXPECT_TRUE(seen.uart_path);
  EXPECT_STREQ(seen.stdout_path, "/pl011@9000000");
  EXPECT_EQ(seen.virtio_irq.intid >= 32 + 16 && seen.virtio_irq.intid < 32 + 48, true) << seen.virtio_irq.intid;
  EXPECT_TRUE(seen.virtio_irq.edge);
  EXPECT_EQ(seen.first_virtio.size, 0x200u);

  // A visitor's error stops the walk and comes back.
  int calls = 0;
  auto stop = [](void* ctx, const NodeView&) {
    ++*static_cast<int*>(ctx);
    return Status::kNotFound;
  };
  EXPECT_EQ(walk(blob.data(), blob.size(), stop, &calls), Status::kNotFound);
  EXPECT_EQ(calls, 1);
  // Structural errors are the walker's.
  std::vector<uint8_t> bad = blob;
  bad[0] = 0;
  EXPECT_EQ(walk(bad.data(), bad.size(), visit, &seen, &why), Status::kMalformed);
  EXPECT_STREQ(why, "bad magic (not a DTB)");
}

}  // namespace
}  // namespace keel::dtb
