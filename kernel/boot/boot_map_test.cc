// Builds the real boot tables on host memory from a QEMU DTB and a manifest
// shaped like the real kernel's, then checks that preflight passes, and that
// each fault-injection variant is caught by the named check.
#include "kernel/boot/boot_map.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kernel/boot/layout.h"
#include "kernel/boot/preflight.h"

namespace keel::boot {
namespace {

using arm64::kPageSize;

constexpr uint64_t kKernelPa = 0x4010'0000;
constexpr uint64_t kTrampolinePa = 0x4000'3000;

ImageManifest KernelLikeManifest() {
  ImageManifest m{};
  m.magic = kManifestMagic;
  m.version = kManifestVersion;
  m.kernel_vbase = layout::kKernelVirtBase;
  m.segment_count = 3;
  m.segments[0] = {layout::kKernelVirtBase, 0, 0x3000, 0x3000, kSegR | kSegX, 0};
  m.segments[1] = {layout::kKernelVirtBase + 0x3000, 0, 0x1000, 0x1000, kSegR, 0};
  m.segments[2] = {layout::kKernelVirtBase + 0x4000, 0, 0x1000, 0x8000, kSegR | kSegW, 0};
  m.kernel_entry = layout::kKernelVirtBase;
  m.kernel_vectors = layout::kKernelVirtBase + 0x800;
  m.kernel_stack_bottom = layout::kKernelVirtBase + 0x8000;
  m.kernel_stack_top = layout::kKernelVirtBase + 0xc000;
  m.kernel_span = 0xc000;
  return m;
}

struct Booted {
  BootMap map;
  PreflightReport report;
  Status status;
  const char* what = "";
};

class BootMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream f("kernel/dtb/a72_smp4_1g.dtb", std::ios::binary);
    std::vector<uint8_t> blob(std::istreambuf_iterator<char>(f), {});
    ASSERT_EQ(dtb::parse_dtb(blob.data(), blob.size(), &dtb_), Status::kOk);
    pool_ = static_cast<uint8_t*>(std::aligned_alloc(kPageSize, kPoolPages * kPageSize));
    manifest_ = KernelLikeManifest();
  }
  void TearDown() override { std::free(pool_); }

  Booted Boot(Inject inject) {
    Booted b;
    arm64::PageAllocator alloc(arm64::PhysWindow{}, reinterpret_cast<uint64_t>(pool_),
                               reinterpret_cast<uint64_t>(pool_) + kPoolPages * kPageSize);
    BootMapInput in{.dtb = &dtb_,
                    .manifest = &manifest_,
                    .kernel_pa = kKernelPa,
                    .trampoline_pa = kTrampolinePa,
                    .console_pa = dtb_.uart.mmio.base,
                    .pa_range_enc = 5,
                    .inject = inject};
    b.status = build_boot_map(in, arm64::PhysWindow{}, &alloc, &b.map, &b.what);
    if (b.status != Status::kOk) return b;
    uint64_t bootinfo_pa = 0x4000'8000;
    PreflightInput p{.regime = {.ttbr0 = b.map.ttbr0, .ttbr1 = b.map.ttbr1, .tcr = b.map.tcr},
                     .mair = b.map.mair,
                     .sctlr = b.map.sctlr,
                     .pa_range_enc = 5,
                     .max_pa = b.map.max_pa,
                     .trampoline_pa = kTrampolinePa,
                     .manifest = &manifest_,
                     .kernel_pa = kKernelPa,
                     .console_va = b.map.console_va,
                     .console_pa = dtb_.uart.mmio.base,
                     .bootinfo_va = layout::phys_to_linear(bootinfo_pa),
                     .bootinfo_pa = bootinfo_pa};
    run_preflight(p, arm64::PhysWindow{}, &b.report);
    return b;
  }

  static std::string FirstFailure(const Booted& b) {
    if (b.report.failed == 0) return "";
    return std::string(b.report.failures[0].check) + ": " + b.report.failures[0].detail;
  }

  static constexpr size_t kPoolPages = 64;
  dtb::DtbInfo dtb_;
  ImageManifest manifest_;
  uint8_t* pool_ = nullptr;
};

TEST_F(BootMapTest, CleanBootPassesEveryCheck) {
  Booted b = Boot(Inject::kNone);
  ASSERT_EQ(b.status, Status::kOk) << b.what;
  EXPECT_TRUE(b.report.ok()) << FirstFailure(b);
  EXPECT_EQ(b.report.checks, 13u);
  EXPECT_EQ(b.map.console_va, layout::kDeviceWindowBase);
  EXPECT_EQ(b.map.tcr.tg1(), arm64::Tg1::k4K);
  EXPECT_EQ(b.map.sctlr.m(), 1u);
  // The linear map covers all 1 GiB of RAM, and nothing past it.
  arm64::TranslationRegime r{.ttbr0 = b.map.ttbr0, .ttbr1 = b.map.ttbr1, .tcr = b.map.tcr};
  EXPECT_TRUE(arm64::translate(r, {}, layout::phys_to_linear(0x4000'0000)).ok());
  EXPECT_TRUE(arm64::translate(r, {}, layout::phys_to_linear(0x7fff'ffff)).ok());
  EXPECT_FALSE(arm64::translate(r, {}, layout::phys_to_linear(0x8000'0000)).ok());
  // TTBR0 maps the trampoline page and nothing else near it.
  EXPECT_TRUE(arm64::translate(r, {}, kTrampolinePa).ok());
  EXPECT_FALSE(arm64::translate(r, {}, kTrampolinePa + kPageSize).ok());
  EXPECT_FALSE(arm64::translate(r, {}, kKernelPa).ok()) << "the kernel must not run at its PA";
}

TEST_F(BootMapTest, NoMapReservedRangesStayOutOfTheLinearMap) {
  // A firmware carve-out marked no-map (widened to whole pages), one that is
  // merely reserved (mapped: the kernel just never allocates it), and a
  // no-map range that straddles the end of RAM.
  dtb_.reserved[0] = {0x5000'0800, 0x1'0000};
  dtb_.reserved_no_map[0] = true;
  dtb_.reserved[1] = {0x6000'0000, 0x1'0000};
  dtb_.reserved[2] = {0x7fff'0000, 0x2'0000};
  dtb_.reserved_no_map[2] = true;
  dtb_.reserved_count = 3;
  Booted b = Boot(Inject::kNone);
  ASSERT_EQ(b.status, Status::kOk) << b.what;
  EXPECT_TRUE(b.report.ok()) << FirstFailure(b);
  arm64::TranslationRegime r{.ttbr0 = b.map.ttbr0, .ttbr1 = b.map.ttbr1, .tcr = b.map.tcr};
  auto mapped = [&](uint64_t pa) { return arm64::translate(r, {}, layout::phys_to_linear(pa)).ok(); };
  EXPECT_TRUE(mapped(0x4fff'f000)) << "below the hole";
  EXPECT_FALSE(mapped(0x5000'0000)) << "the page holding the hole's start";
  EXPECT_FALSE(mapped(0x5001'0000)) << "the page holding its end";
  EXPECT_TRUE(mapped(0x5001'1000)) << "above the hole";
  EXPECT_TRUE(mapped(0x6000'0000)) << "reserved without no-map stays mapped";
  EXPECT_TRUE(mapped(0x7ffe'f000));
  EXPECT_FALSE(mapped(0x7fff'0000)) << "a hole at the end of RAM";
}

struct Case {
  Inject inject;
  const char* check;
  const char* detail_part;
};

class InjectTest : public BootMapTest, public ::testing::WithParamInterface<Case> {};

TEST_P(InjectTest, PreflightNamesTheFault) {
  const Case& c = GetParam();
  Booted b = Boot(c.inject);
  ASSERT_EQ(b.status, Status::kOk) << b.what;
  ASSERT_FALSE(b.report.ok()) << inject_name(c.inject) << " went unnoticed";
  EXPECT_STREQ(b.report.failures[0].check, c.check) << FirstFailure(b);
  EXPECT_NE(std::string(b.report.failures[0].detail).find(c.detail_part), std::string::npos) << FirstFailure(b);
}

INSTANTIATE_TEST_SUITE_P(Faults, InjectTest,
                         ::testing::Values(Case{Inject::kNoTrampolineMap, "trampoline.identity",
                                                "translation fault at level 0 (walking TTBR0)"},
                                           Case{Inject::kConsoleNormal, "console", "expected Device memory"},
                                           Case{Inject::kWrongMairIndex, "kernel.entry",
                                                "AttrIndx 4 -> MAIR 0x00 (Device-nGnRnE)"},
                                           Case{Inject::kNoKernelStack, "kernel.stack", "translation fault at level 3"},
                                           Case{Inject::kBadTcrGranule, "tcr.granule", "TCR_EL1.TG1 = 0b0"},
                                           Case{Inject::kUnmappedEntryNoPreflight, "kernel.entry",
                                                "translation fault at level 3 (walking TTBR1)"}),
                         [](const auto& i) { return std::string(inject_name(i.param.inject)); });

TEST_F(BootMapTest, WritableExecutableSegmentIsRefused) {
  manifest_.segments[0].flags = kSegR | kSegW | kSegX;
  Booted b = Boot(Inject::kNone);
  EXPECT_EQ(b.status, Status::kInvalidArgument);
  EXPECT_STREQ(b.what, "kernel segment is both writable and executable");
}

TEST_F(BootMapTest, OverlappingSegmentsAreRefused) {
  manifest_.segments[1].vaddr = manifest_.segments[0].vaddr;
  Booted b = Boot(Inject::kNone);
  EXPECT_EQ(b.status, Status::kOverlap);
}

}  // namespace
}  // namespace keel::boot
